"""The case list and page answer from database rows without ninja's response validation. These tests
hold those answers to the schemas the OpenAPI document promises (field for field, byte for byte as
ninja would render them) and to the models' own view of the same cases, and pin their query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kefu.api.cases import CaseItem, CaseOut
from kefu.api.common import RENDERER
from kefu.api.pagination import Page
from kefu.cases import services
from kefu.cases.models import Case, CaseType
from kefu.core.testing import CustomerFactory, UserFactory
from kefu.customers.models import Customer

from .conftest import Api

pytestmark = pytest.mark.django_db


def rendered_by_ninja(schema, body: dict) -> bytes:
    """What ninja answers for ``body`` when it validates it against ``schema`` itself."""
    return RENDERER.render(None, schema.model_validate(body).model_dump(), response_status=200).encode()


@pytest.fixture
def cases(centre):
    """Cases with every optional part present or missing."""
    nobody = UserFactory(username="nodisplay", display_name="", department=centre.service_dept)
    centre.hospital_team.members.add(nobody)
    no_grade = CustomerFactory(name="无等级客户", grade=None)
    bare = services.create_case(centre.limanager, customer=no_grade, subject="无队无人", type=centre.inquiry,
                                channel="portal")
    full = services.create_case(centre.zhaolead, customer=centre.zhangdoctor, subject="样样都有", type=centre.refund,
                                channel="wechat", body="退款", team=centre.hospital_team, assignee=nobody,
                                priority="high", stage="in_sale",
                                departments=[centre.quality_dept, centre.logistics_dept])
    services.add_message(nobody, full, kind="staff", body="收到")
    services.change_status(centre.zhaolead, full, "solved")
    system = services.create_case(None, customer=centre.hospital, subject="系统建的", type=centre.complaint,
                                  channel="email", team=centre.hotline_team)
    services.merge_cases(centre.limanager, system, services.create_case(
        centre.limanager, customer=centre.hospital, subject="并入", type=centre.complaint, channel="email",
        team=centre.hotline_team))
    return [bare, full, system]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_case_page_and_list_match_their_schemas_and_the_models(centre, cases, language):
    api = Api(centre.limanager, HTTP_ACCEPT_LANGUAGE=language)
    listed = api.get("cases", {"limit": 100})
    assert listed.status_code == 200
    assert listed["Content-Type"] == "application/json; charset=utf-8"
    assert listed.content == rendered_by_ninja(Page[CaseItem], listed.json())
    items = {item["id"]: item for item in listed.json()["items"]}
    for case in Case.objects.filter(pk__in=[c.pk for c in cases]):
        r = api.get(f"cases/{case.pk}")
        assert r.status_code == 200
        assert r["Content-Type"] == "application/json; charset=utf-8"
        assert r.content == rendered_by_ninja(CaseOut, r.json())
        data = r.json()
        assert {k: v for k, v in data.items() if k in CaseItem.model_fields} == items[case.pk]
        with_language = {"HTTP_ACCEPT_LANGUAGE": language}
        assert_matches_the_model(data, case, Api(centre.limanager, **with_language))


def assert_matches_the_model(data: dict, case: Case, api: Api):
    """The answer says what the model instances say (their own properties, in the request's language)."""
    from django.utils import translation

    language = api.client.defaults["HTTP_ACCEPT_LANGUAGE"]
    with translation.override(language):
        type_name = CaseType.objects.get(pk=case.type_id).label
    assert data["reference"] == case.reference
    assert data["type"] == {"id": case.type_id, "code": case.type.code, "name": type_name}
    customer = Customer.objects.select_related("grade").get(pk=case.customer_id)
    assert data["customer"] == {"id": customer.pk, "name": customer.name, "kind": customer.kind,
                                "grade": customer.grade.code if customer.grade else None}
    assert data["team"] == ({"id": case.team.pk, "name": case.team.name} if case.team else None)
    for field in ("assignee", "created_by"):
        person = getattr(case, field)
        assert data[field] == ({"id": person.pk, "username": person.username, "display_name": str(person)}
                               if person else None)
    assert data["departments"] == [{"id": d.pk, "code": d.code, "name": d.name}
                                   for d in case.departments.order_by("name")]
    assert data["merged_into"] == case.merged_into_id
    for field in ("status", "priority", "stage", "channel", "subject", "message_count", "transfer_count",
                  "reopen_count"):
        assert data[field] == getattr(case, field), field
    for field in ("created_at", "updated_at", "solved_at", "closed_at", "first_response_at",
                  "resolution_due_at"):
        value = getattr(case, field)
        assert (data[field] is None) == (value is None), field


def test_english_type_names_follow_the_language(centre, cases):
    refund = [c for c in cases if c.type_id == centre.refund.pk][0]
    CaseType.objects.filter(pk=centre.refund.pk).update(name_en="Refund")
    assert Api(centre.limanager).get(f"cases/{refund.pk}").json()["type"]["name"] == "Refund"
    zh = Api(centre.limanager, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.get(f"cases/{refund.pk}").json()["type"]["name"] == "退款"
    CaseType.objects.filter(pk=centre.refund.pk).update(name_en="")
    assert Api(centre.limanager).get(f"cases/{refund.pk}").json()["type"]["name"] == "退款"


def queries(api, path, params=None):
    api.get(path, params)  # the token's last_used_at is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        r = api.get(path, params)
    assert r.status_code in (200, 404), r.content
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("user", ["xiaowang", "chenqa", "limanager"])
def test_a_case_page_is_two_queries(centre, cases, user):
    """The token with its user and their teams; the case with its names and departments."""
    full = cases[1]
    sql = queries(Api(getattr(centre, user)), f"cases/{full.pk}")
    assert len(sql) == 2, sql
    assert "people_team_members" in sql[0] and "cases_case_departments" in sql[1]


def test_a_case_list_page_is_three_queries(centre, cases):
    """The token, the page's keys by the (status, team) index, the page's rows."""
    sql = queries(Api(centre.xiaowang), "cases", {"status": "solved", "team": centre.hospital_team.pk})
    assert len(sql) == 3, sql


def test_visibility_of_a_case_page(centre, cases):
    bare, full, system = cases
    visible = {
        "xiaowang": {full.pk},  # hospital team
        "xiaoli": {system.pk},  # hotline team
        "chenqa": {full.pk},  # quality department is involved
        "limanager": {bare.pk, full.pk, system.pk},
    }
    for name, expected in visible.items():
        api = Api(getattr(centre, name))
        seen = {c.pk for c in cases if api.get(f"cases/{c.pk}").status_code == 200}
        assert seen == expected, name
        answer = api.get(f"cases/{bare.pk}")
        if bare.pk not in expected:
            assert answer.status_code == 404
            assert answer.json()["detail"] == f"case {bare.pk} does not exist"
