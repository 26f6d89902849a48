"""The list queries are answered by the indexes made for them, in their order: no sort of the matches.

The page's keys are read from one table with the filters; the plan of each such query is checked with
EXPLAIN. On PostgreSQL the planner prefers a sequential scan and a sort on tables this small, so those
are switched off for the check: what is asserted is that an index can give the order, not the choice
the planner makes at a given size (bench/ measures that at a million cases). On SQLite the filters
that are not the chosen index's are written so that they cannot use an index, which makes the choice
certain, and the very index is checked.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kefu.api.pagination import encode_cursor
from kefu.cases.models import Case
from kefu.core.testing import CaseFactory

from .conftest import Api

pytestmark = pytest.mark.django_db


def key_queries(api, path, params=None, table="cases_case"):
    with CaptureQueriesContext(connection) as ctx:
        r = api.get(path, params)
    assert r.status_code == 200, r.content
    pattern = re.compile(rf'^SELECT "{table}"\."updated_at"( AS "updated_at")?, "{table}"\."id"( AS "id")? '
                         rf'FROM "{table}"( |$)')
    found = [q["sql"] for q in ctx.captured_queries if pattern.match(q["sql"])]
    assert found, [q["sql"] for q in ctx.captured_queries]
    return found


def plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            return "\n".join(row[-1] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        try:
            cursor.execute("EXPLAIN " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")
            cursor.execute("RESET enable_bitmapscan")


def assert_ordered_by_index(sql: str, index: str):
    text = plan(sql)
    if connection.vendor == "sqlite":
        assert "TEMP B-TREE" not in text, f"sorted instead of read in index order:\n{text}\n{sql}"
        assert f"INDEX {index}" in text, f"expected index {index}:\n{text}\n{sql}"
    else:
        # which of the fitting indexes PostgreSQL takes depends on its statistics; none needs a sort
        assert "Sort" not in text, f"sorted instead of read in index order:\n{text}\n{sql}"
        assert "Index" in text and "Seq Scan on cases_case" not in text, f"no index used:\n{text}\n{sql}"


@pytest.fixture
def rows(centre):
    for i in range(30):
        CaseFactory(team=centre.hospital_team if i % 2 else centre.hotline_team,
                    status=["new", "open", "pending", "solved"][i % 4],
                    assignee=centre.xiaowang if i % 2 and i % 3 else None,
                    customer=centre.zhangdoctor if i % 5 == 0 else centre.hospital)
    last = Case.objects.order_by("-updated_at", "-id")[10]
    return encode_cursor("cases", last.updated_at.isoformat(), last.pk)


@pytest.mark.parametrize("params,index", [
    ({}, "case_updated"),
    ({"status": "open", "team": "HOSPITAL"}, "case_status_team"),
    ({"status": ["open", "new"], "team": "HOSPITAL"}, "case_status_team"),
    ({"team": "HOSPITAL"}, "case_team"),
    ({"team": "HOSPITAL", "type": "inquiry", "channel": "phone", "grade": "A"}, "case_team"),
    ({"assignee": "XIAOWANG", "status": "open"}, "case_assignee"),
    ({"assignee": "XIAOWANG"}, "case_assignee"),
    ({"assignee": "none", "status": "new"}, "case_assignee"),
    ({"assignee": "XIAOWANG", "team": "HOSPITAL", "status": ["new", "open"]}, "case_assignee"),
    ({"customer": "ZHANG", "status": "open"}, "case_customer"),
    ({"status": "open", "type": "inquiry", "priority": "normal"}, "case_updated"),
])
@pytest.mark.parametrize("deep", [False, True])
def test_case_lists_of_a_manager_follow_an_index(centre, rows, params, index, deep):
    ids = {"HOSPITAL": centre.hospital_team.pk, "XIAOWANG": centre.xiaowang.pk, "ZHANG": centre.zhangdoctor.pk}
    params = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
    if deep:
        params["cursor"] = rows
    for sql in key_queries(Api(centre.limanager), "cases", params):
        assert_ordered_by_index(sql, index)


@pytest.mark.parametrize("params", [{}, {"status": "open"}, {"status": ["open", "pending"]}])
def test_an_agents_list_reads_each_team_by_its_index(centre, rows, params):
    """xiaowang sees the hospital team's cases and those involving the service department: the team's
    part follows the team's index; the department's part is read from the involvement rows."""
    found = key_queries(Api(centre.xiaowang), "cases", params)
    team_parts = [sql for sql in found if f'"team_id" = {centre.hospital_team.pk}' in sql.replace("%s", "")]
    assert len(team_parts) == max(1, len(params.get("status", [])) if isinstance(params.get("status"), list) else 1)
    for sql in team_parts:
        assert_ordered_by_index(sql, "case_status_team" if params else "case_team")
    assert len(found) == len(team_parts) + 1  # and the department's part


@pytest.mark.parametrize("params,index", [({}, "customer_updated"), ({"grade": "A"}, "customer_grade_updated")])
def test_customer_lists_follow_an_index(centre, params, index):
    for sql in key_queries(Api(centre.xiaowang), "customers", params, table="customers_customer"):
        assert_ordered_by_index(sql, index)
