"""Token authentication reads the token, the user's few fields and their teams in one query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kefu.api.auth import lookup_token
from kefu.core import tokens
from kefu.core.testing import TeamFactory, UserFactory
from kefu.people.queries import team_ids_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("teams", [0, 1, 3])
def test_the_user_comes_with_their_teams(centre, teams):
    person = UserFactory(username="p", email="p@example.com", department=centre.quality_dept)
    expected = []
    for i in range(teams):
        team = TeamFactory(name=f"组{i}", department=centre.service_dept)
        team.members.add(person)
        expected.append(team.pk)
    _row, raw = tokens.create_token(None, person, "t")
    with CaptureQueriesContext(connection) as ctx:
        found = lookup_token(raw)
        assert team_ids_of(found.user) == sorted(expected)
        assert found.user.pk == person.pk and found.user.username == "p"
        assert found.user.department_id == centre.quality_dept.pk
        assert found.user.sees_everything is False and found.user.is_active is True
    assert len(ctx.captured_queries) == 1
    assert found.user.email == "p@example.com"  # a field it did not read loads when asked for


def test_unknown_and_malformed_tokens(centre):
    _row, raw = tokens.create_token(None, centre.xiaowang, "t")
    assert lookup_token(raw).user.pk == centre.xiaowang.pk
    for other in (raw[:-1] + ("A" if raw[-1] != "A" else "B"), "kefu_", "nokefu_" + raw, raw + "x" * 200):
        assert lookup_token(other) is None


def test_a_revoked_token_is_seen_as_revoked_at_once(centre):
    row, raw = tokens.create_token(None, centre.xiaowang, "t")
    assert lookup_token(raw).revoked_at is None
    tokens.revoke_token(centre.xiaowang, row)
    assert lookup_token(raw).revoked_at is not None
