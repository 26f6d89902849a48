"""Personal API tokens: the service, the API endpoints and the `kefu token` command."""

import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from kefu.core import tokens
from kefu.core.errors import DomainError, Forbidden
from kefu.core.models import ApiToken, Event, hash_token

from .conftest import Api, assert_error

pytestmark = pytest.mark.django_db


# --- service ----------------------------------------------------------------------------------------------

def test_only_the_digest_is_stored(centre):
    token, raw = tokens.create_token(centre.xiaowang, centre.xiaowang, "CRM 同步")
    assert raw.startswith("kefu_") and len(raw) > 40
    row = ApiToken.objects.get(pk=token.pk)
    assert row.digest == hash_token(raw) and row.prefix == raw[:12]
    stored = [str(getattr(row, f.attname)) for f in ApiToken._meta.concrete_fields]
    assert not any(raw in value for value in stored)
    event = Event.objects.get(verb="token.created", subject_id=token.pk)
    assert raw not in str(event.data) and event.actor_id == centre.xiaowang.pk


def test_create_token_rules(centre):
    with pytest.raises(DomainError):
        tokens.create_token(None, centre.xiaowang, "  ")
    with pytest.raises(DomainError):
        tokens.create_token(None, centre.xiaowang, "x", expires_at=timezone.now() - timedelta(days=1))
    with pytest.raises(Forbidden):
        tokens.create_token(centre.xiaoli, centre.xiaowang, "not mine")
    centre.xiaowang.is_active = False
    with pytest.raises(DomainError):
        tokens.create_token(None, centre.xiaowang, "disabled")
    assert tokens.create_token(centre.admin, centre.xiaoli, "by the administrator")[0].user == centre.xiaoli


def test_revoke_token(centre):
    token, raw = tokens.create_token(None, centre.xiaowang, "x")
    with pytest.raises(Forbidden):
        tokens.revoke_token(centre.xiaoli, token)
    tokens.revoke_token(centre.xiaowang, token)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    tokens.revoke_token(centre.xiaowang, token)  # again: no change, no second event
    assert Event.objects.filter(verb="token.revoked", subject_id=token.pk).count() == 1


# --- API --------------------------------------------------------------------------------------------------

def test_token_endpoints(centre):
    api = Api(centre.xiaowang)
    r = api.post("tokens", {"name": "报表脚本", "expires_at": (timezone.now() + timedelta(days=30)).isoformat()})
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["token"].startswith("kefu_") and created["prefix"] == created["token"][:12]
    assert created["is_active"] is True and created["expires_at"] is not None
    new_api = Api.__new__(Api)
    from django.test import Client

    new_api.client = Client(HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    assert new_api.client.get("/api/v1/users/me").json()["username"] == "xiaowang"

    listed = api.get("tokens").json()["items"]
    assert [t["name"] for t in listed] == ["报表脚本", "tests xiaowang"]
    assert all("token" not in t and "digest" not in t for t in listed)

    # somebody else's token is not there for you
    other = Api(centre.xiaoli)
    assert_error(other.delete(f"tokens/{created['id']}"), 404)
    assert [t["name"] for t in other.get("tokens").json()["items"]] == ["tests xiaoli"]

    r = api.delete(f"tokens/{created['id']}")
    assert r.status_code == 204
    assert_error(new_api.client.get("/api/v1/users/me"), 401)
    assert api.get("tokens").json()["items"][0]["revoked_at"] is not None


@pytest.mark.parametrize("body,status,field", [
    ({}, 422, "name"),
    ({"name": ""}, 400, "name"),
    ({"name": "x" * 101}, 422, "name"),
    ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, 400, "expires_at"),
    ({"name": "x", "expires_at": "soon"}, 422, "expires_at"),
])
def test_create_token_bad_input(centre, body, status, field):
    api = Api(centre.xiaowang)
    assert assert_error(api.post("tokens", body), status)["field"] == field
    assert ApiToken.objects.filter(user=centre.xiaowang).count() == 1


# --- command ----------------------------------------------------------------------------------------------

def run(*args):
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_create_list_revoke(centre):
    out, err = run("create", "--user", "xiaowang", "--name", "CRM sync", "--expires-days", "90")
    raw = out.strip()
    assert raw.startswith("kefu_") and "shown only once" in err
    token = ApiToken.objects.get(digest=hash_token(raw))
    assert token.user == centre.xiaowang and token.expires_at > timezone.now() + timedelta(days=89)
    assert Event.objects.get(verb="token.created", subject_id=token.pk).actor_kind == "system"

    listing, _ = run("list", "--user", "xiaowang")
    assert "CRM sync" in listing and token.prefix in listing and raw not in listing and "active" in listing
    out, _ = run("revoke", str(token.pk))
    assert "revoked" in out
    assert "revoked" in run("list")[0]
    assert "already revoked" in run("revoke", str(token.pk))[0]


def test_command_errors(centre):
    with pytest.raises(CommandError, match="nobody"):
        run("create", "--user", "nobody", "--name", "x")
    with pytest.raises(CommandError, match="nobody"):
        run("list", "--user", "nobody")
    with pytest.raises(CommandError, match="99999"):
        run("revoke", "99999")
    with pytest.raises(CommandError, match="expires-days"):
        run("create", "--user", "xiaowang", "--name", "x", "--expires-days", "0")
    with pytest.raises(CommandError):
        run("create", "--user", "xiaowang", "--name", "   ")
    assert run("list")[0].strip() == "no tokens"


def test_command_help_and_usage_errors(tmp_path):
    env = {"KEFU_DATA_DIR": str(tmp_path), "KEFU_SECRET_KEY": "test", "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "kefu", "token"]
    helped = subprocess.run([*cmd, "create", "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert helped.returncode == 0 and "--expires-days" in helped.stdout and "--user" in helped.stdout
    missing = subprocess.run([*cmd, "create", "--name", "x"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert missing.returncode != 0 and "--user" in missing.stderr
