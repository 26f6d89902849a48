"""Every list answers in a fixed number of queries, however many rows it shows (no N+1)."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kefu.cases import services
from kefu.core import tokens
from kefu.core.testing import CaseFactory, TeamFactory, UserFactory
from kefu.customers import services as customer_services

from .conftest import Api

pytestmark = pytest.mark.django_db
serial = itertools.count()


def count(api, path, params=None):
    api.get(path, params)  # warm up: the token's last_used_at is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        r = api.get(path, params)
    assert r.status_code == 200, r.content
    return len(ctx.captured_queries), len(r.json()["items"])


def grow(centre, case, user, n):
    """n more of everything: customers with identities and tags, cases, messages with attachments,
    teams with members, tokens."""
    for _ in range(n):
        i = next(serial)
        customer = customer_services.create_customer(
            centre.admin, name=f"客户{i}", identities=[("email", f"c{i}@example.com")], tags=[f"标签{i}", "共同"],
            grade=centre.grade_a, grade_reason="r", organisation=centre.hospital)
        CaseFactory(team=centre.hospital_team, customer=customer, assignee=centre.xiaowang)
        services.add_message(centre.xiaowang, case, kind="staff", body=f"回复{i}",
                             attachments=[services.Upload("a.txt", b"x", "text/plain")])
        team = TeamFactory(department=centre.service_dept)
        team.members.set([UserFactory(department=centre.quality_dept)])
        tokens.create_token(None, user, f"t{i}")


@pytest.mark.parametrize("user", ["limanager", "xiaowang"])
def test_list_query_counts_do_not_grow(centre, user):
    case = services.create_case(centre.limanager, customer=centre.zhangdoctor, subject="s", type=centre.inquiry,
                                channel="phone", body="b", team=centre.hospital_team)
    api = Api(getattr(centre, user))
    lists = [("cases", None), ("cases", {"status": ["new", "open"], "grade": "A", "type": "inquiry"}),
             ("customers", None), ("customers", {"grade": "A", "tag": "共同"}),
             (f"cases/{case.pk}/messages", None), (f"cases/{case.pk}/events", None), ("teams", None),
             ("users", None), ("tokens", None), ("case-types", None), ("grades", None)]
    grow(centre, case, api.user, 2)
    before = [count(api, path, params) for path, params in lists]
    grow(centre, case, api.user, 7)
    after = [count(api, path, params) for path, params in lists]
    for (path, params), (q0, rows0), (q1, rows1) in zip(lists, before, after, strict=True):
        assert q1 == q0, f"{path} {params}: {q0} queries for {rows0} rows, {q1} for {rows1}"
        assert q1 <= 10, f"{path} {params}: {q1} queries"
        if path not in ("case-types", "grades"):
            assert rows1 > rows0, f"{path} {params} did not grow: {rows0} -> {rows1}"
