"""Authentication: API tokens and the session, active staff only, 401 JSON otherwise."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kefu.core import tokens
from kefu.core.models import ApiToken

from .conftest import Api, assert_error

pytestmark = pytest.mark.django_db


def test_no_credentials_is_401_json(centre):
    r = Client().get("/api/v1/cases")
    body = assert_error(r, 401, "not_authenticated")
    assert "Bearer" in body["detail"]
    assert r["WWW-Authenticate"].startswith("Bearer")


def test_ping_needs_no_credentials():
    r = Client().get("/api/v1/ping")
    assert r.status_code == 200 and r.json() == {"ok": True}


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Basic dXNlcjpwYXNz", "Bearer kefu_unknown",
                                    "Bearer not-even-a-kefu-token"])
def test_bad_authorization_headers_are_401(centre, header):
    r = Client(HTTP_AUTHORIZATION=header).get("/api/v1/users/me")
    assert_error(r, 401, "not_authenticated")


def test_token_authenticates_its_user(centre):
    api = Api(centre.xiaowang)
    r = api.get("users/me")
    assert r.status_code == 200
    assert r.json()["username"] == "xiaowang"
    assert r.json()["teams"] == [{"id": centre.hospital_team.pk, "name": "医院客户组"}]


def test_revoked_token_is_refused(centre):
    api = Api(centre.xiaowang)
    tokens.revoke_token(centre.xiaowang, api.token_row)
    body = assert_error(api.get("users/me"), 401, "not_authenticated")
    assert "revoked" in body["detail"]


def test_expired_token_is_refused(centre):
    api = Api(centre.xiaowang)
    ApiToken.objects.filter(pk=api.token_row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    body = assert_error(api.get("users/me"), 401, "not_authenticated")
    assert "expired" in body["detail"]


def test_token_of_a_disabled_account_is_refused(centre):
    api = Api(centre.xiaowang)
    centre.xiaowang.is_active = False
    centre.xiaowang.save()
    assert_error(api.get("users/me"), 401, "not_authenticated")


def test_a_bad_token_does_not_fall_back_to_the_session(centre):
    client = Client(HTTP_AUTHORIZATION="Bearer kefu_wrong")
    client.force_login(centre.limanager)
    assert_error(client.get("/api/v1/users/me"), 401)


def test_token_auth_is_one_query_and_last_used_is_written_once_a_minute(centre):
    api = Api(centre.limanager)
    assert api.token_row.last_used_at is None
    api.get("case-types")
    first = ApiToken.objects.get(pk=api.token_row.pk).last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as ctx:
        assert api.get("case-types").status_code == 200
    # the token joined with its user, then the case types: no write within the minute
    assert len(ctx.captured_queries) == 2, [q["sql"] for q in ctx.captured_queries]
    assert "JOIN" in ctx.captured_queries[0]["sql"]
    assert ApiToken.objects.get(pk=api.token_row.pk).last_used_at == first
    ApiToken.objects.filter(pk=api.token_row.pk).update(last_used_at=first - timedelta(minutes=2))
    api.get("case-types")
    assert ApiToken.objects.get(pk=api.token_row.pk).last_used_at > first - timedelta(minutes=2)


def test_session_auth_reads_without_csrf(centre):
    client = Client(enforce_csrf_checks=True)
    client.force_login(centre.xiaowang)
    r = client.get("/api/v1/users/me")
    assert r.status_code == 200 and r.json()["username"] == "xiaowang"


def test_session_auth_changes_need_the_csrf_token(centre):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(centre.xiaowang)
    data = {"name": "脚本"}
    r = client.post("/api/v1/tokens", data, content_type="application/json")
    assert_error(r, 403, "csrf_failed")
    assert not ApiToken.objects.filter(user=centre.xiaowang).exists()
    client.get("/accounts/login/")  # sets the csrftoken cookie, as any page does
    csrf = client.cookies["csrftoken"].value
    r = client.post("/api/v1/tokens", data, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert r.status_code == 201, r.content
    assert r.json()["token"].startswith("kefu_")


def test_session_of_a_disabled_account_is_401(centre):
    client = Client()
    client.force_login(centre.xiaowang)
    centre.xiaowang.is_active = False
    centre.xiaowang.save()
    assert_error(client.get("/api/v1/users/me"), 401)


def test_openapi_and_docs_are_public():
    assert Client().get("/api/v1/openapi.json").status_code == 200
    assert Client().get("/api/v1/docs").status_code == 200
