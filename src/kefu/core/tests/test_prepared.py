"""Prepared queries answer exactly what their querysets answer, for any parameter values."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kefu.cases import services
from kefu.cases.models import Case
from kefu.core.models import ApiToken
from kefu.core.prepared import PreparedQuery
from kefu.core.tokens import create_token

pytestmark = pytest.mark.django_db

COLUMNS = ("id", "subject", "status", "type__code", "customer__grade__code", "team__name", "assignee__username",
           "created_at", "first_response_at", "solved_at", "departments__code")


def by_id(case_id):
    return Case.objects.filter(pk=case_id).order_by("departments__code").values_list(*COLUMNS)


def test_rows_equal_the_querysets_rows(centre):
    plain = services.create_case(centre.limanager, customer=centre.hospital, subject="50% 的货 'broken' %s",
                                 type=centre.inquiry, channel="phone")
    full = services.create_case(centre.limanager, customer=centre.zhangdoctor, subject="全", type=centre.refund,
                                channel="wechat", body="b", team=centre.hospital_team, assignee=centre.xiaowang,
                                departments=[centre.quality_dept, centre.logistics_dept])
    services.add_message(centre.xiaowang, full, kind="staff", body="好的")
    prepared = PreparedQuery(by_id, int)
    for case in (plain, full, full, plain):
        rows = prepared.rows(case.pk)
        assert rows == list(by_id(case.pk))
        assert all(isinstance(row, tuple) for row in rows)
    assert len(prepared.rows(full.pk)) == 2  # one row per department
    created_at = prepared.rows(plain.pk)[0][COLUMNS.index("created_at")]
    assert created_at == plain.created_at and created_at.tzinfo is not None  # aware, as the ORM gives it
    assert prepared.rows(10**12) == []


def test_string_parameters_and_constants(centre):
    token, _raw = create_token(None, centre.xiaowang, "t")
    prepared = PreparedQuery(lambda digest: ApiToken.objects.filter(digest=digest, revoked_at__isnull=True)
                             .values_list("id", "user__username"), str)
    assert prepared.rows(token.digest) == [(token.pk, "xiaowang")]
    for nasty in ("", "%s", "%(p0)s", "100%", "' OR 1=1 --", "引号\"'"):
        assert prepared.rows(nasty) == []


def test_each_run_is_one_query(centre):
    prepared = PreparedQuery(lambda pk: Case.objects.filter(pk=pk).values_list("id"), int)
    prepared.rows(1)
    with CaptureQueriesContext(connection) as ctx:
        prepared.rows(2)
    assert len(ctx.captured_queries) == 1


@pytest.mark.parametrize("build", [
    lambda text: Case.objects.filter(subject__icontains=text).values_list("id"),  # the value is rewritten
    lambda text: Case.objects.filter(subject="x").values_list("id"),  # the parameter is not used
])
def test_parameters_that_cannot_be_prepared_are_refused(build):
    with pytest.raises(ValueError, match="cannot be prepared"):
        PreparedQuery(build, str).rows("x")
