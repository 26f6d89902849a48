"""Cases over the API: list and filters, create, read, change, transfer, merge, event log, permissions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kefu.cases import services
from kefu.cases.models import Case, CaseType
from kefu.core.models import Event
from kefu.core.testing import CaseFactory, CustomerFactory

from .conftest import Api, assert_error

pytestmark = pytest.mark.django_db


def new_case(centre, actor=None, team=None, **kwargs):
    kwargs.setdefault("subject", "说明书上的用量看不懂")
    kwargs.setdefault("type", centre.inquiry)
    kwargs.setdefault("channel", "phone")
    kwargs.setdefault("customer", centre.zhangdoctor)
    kwargs.setdefault("body", "请问这个药一天吃几次?")
    return services.create_case(actor or centre.limanager, team=team or centre.hospital_team, **kwargs)


def create_body(centre, **overrides):
    body = {"customer": centre.zhangdoctor.pk, "subject": "投诉: 药品包装破损", "type": "complaint",
            "channel": "wechat", "body": "收到的药盒压坏了", "team": centre.hospital_team.pk}
    body.update(overrides)
    return body


# --- create -----------------------------------------------------------------------------------------------

def test_create_case_with_everything(centre):
    api = Api(centre.zhaolead)
    r = api.post("cases", create_body(centre, priority="high", stage="in_sale", assignee=centre.xiaowang.pk,
                                      departments=[centre.quality_dept.pk]))
    assert r.status_code == 201, r.content
    data = r.json()
    case = Case.objects.get(pk=data["id"])
    assert data["subject"] == "投诉: 药品包装破损" == case.subject
    assert data["type"]["code"] == "complaint"
    assert data["status"] == "open"  # assigned on creation
    assert data["assignee"]["username"] == "xiaowang"
    assert data["team"] == {"id": centre.hospital_team.pk, "name": "医院客户组"}
    assert data["departments"] == [{"id": centre.quality_dept.pk, "code": "quality", "name": "质量部"}]
    assert data["customer"] == {"id": centre.zhangdoctor.pk, "name": "张医生", "kind": "person", "grade": "A"}
    assert data["created_by"]["username"] == "zhaolead"
    assert data["message_count"] == 1
    assert case.messages.get().body == "收到的药盒压坏了"
    assert Event.objects.filter(case_id=case.pk, verb="case.created").count() == 1
    assert api.get(f"cases/{case.pk}").json() == data  # the answer to the create is the case as stored


def test_create_case_minimal(centre):
    r = Api(centre.limanager).post("cases", {"customer": centre.zhangdoctor.pk, "subject": "咨询",
                                             "type": "inquiry", "channel": "phone"})
    assert r.status_code == 201, r.content
    assert r.json()["team"] is None and r.json()["message_count"] == 0


@pytest.mark.parametrize("override,field", [
    ({"customer": 999999}, "customer"),
    ({"type": "nonsense"}, "type"),
    ({"team": 999999}, "team"),
    ({"assignee": 999999}, "assignee"),
    ({"departments": [999999]}, "departments"),
])
def test_create_case_with_unknown_references_is_422(centre, override, field):
    r = Api(centre.limanager).post("cases", create_body(centre, **override))
    body = assert_error(r, 422, "unknown_reference")
    assert body["field"] == field
    assert "not exist" in body["detail"]
    assert not Case.objects.exists()


@pytest.mark.parametrize("override,field", [
    ({"subject": ""}, "subject"),
    ({"subject": "x" * 201}, "subject"),
    ({"channel": "fax"}, "channel"),
    ({"priority": "asap"}, "priority"),
    ({"customer": "abc"}, "customer"),
    ({"departments": "quality"}, "departments"),
    ({"unknown_field": 1}, "unknown_field"),
])
def test_create_case_with_bad_values_is_4xx(centre, override, field):
    r = Api(centre.limanager).post("cases", create_body(centre, **override))
    assert r.status_code in (400, 422), r.content
    body = assert_error(r, r.status_code)
    assert body["field"] == field
    assert not Case.objects.exists()


def test_create_case_missing_fields_lists_them(centre):
    body = assert_error(Api(centre.limanager).post("cases", {}), 422, "validation_error")
    assert {e["field"] for e in body["errors"]} == {"customer", "subject", "type", "channel"}
    assert all(e["in"] == "body" for e in body["errors"])


def test_create_case_assignee_outside_the_team_is_refused(centre):
    r = Api(centre.limanager).post("cases", create_body(centre, assignee=centre.xiaoli.pk))
    body = assert_error(r, 400, "invalid")
    assert body["field"] == "assignee"
    assert not Case.objects.exists()


def test_create_case_with_inactive_type_is_refused(centre):
    CaseType.objects.filter(code="praise").update(is_active=False)
    r = Api(centre.limanager).post("cases", create_body(centre, type="praise"))
    assert assert_error(r, 400)["field"] == "type"


# --- read -------------------------------------------------------------------------------------------------

def test_case_detail(centre):
    case = new_case(centre, departments=[centre.quality_dept])
    r = Api(centre.xiaowang).get(f"cases/{case.pk}")
    assert r.status_code == 200
    data = r.json()
    assert data["id"] == case.pk and data["reference"] == f"#{case.pk}"
    assert data["departments"][0]["code"] == "quality"
    assert data["last_customer_message_at"] is not None


def test_agent_gets_404_for_another_teams_case(centre):
    case = new_case(centre, team=centre.hotline_team)
    body = assert_error(Api(centre.xiaowang).get(f"cases/{case.pk}"), 404, "not_found")
    # the same answer as for a case that does not exist
    assert assert_error(Api(centre.xiaowang).get("cases/987654"), 404)["code"] == body["code"]
    assert Api(centre.xiaoli).get(f"cases/{case.pk}").status_code == 200
    assert Api(centre.limanager).get(f"cases/{case.pk}").status_code == 200


def test_agent_cannot_change_another_teams_case(centre):
    case = new_case(centre, team=centre.hotline_team)
    api = Api(centre.xiaowang)
    assert_error(api.patch(f"cases/{case.pk}", {"priority": "urgent"}), 404)
    assert_error(api.post(f"cases/{case.pk}/messages", {"kind": "note", "body": "看看"}), 404)
    assert_error(api.get(f"cases/{case.pk}/messages"), 404)
    assert_error(api.get(f"cases/{case.pk}/events"), 404)
    assert_error(api.post(f"cases/{case.pk}/transfer", {"team": centre.hospital_team.pk, "reason": "x"}), 404)
    case.refresh_from_db()
    assert case.priority == "normal" and case.message_count == 1


def test_involved_department_sees_the_case(centre):
    case = new_case(centre, team=centre.hotline_team, departments=[centre.quality_dept])
    api = Api(centre.chenqa)
    assert api.get(f"cases/{case.pk}").status_code == 200
    assert [c["id"] for c in api.get("cases").json()["items"]] == [case.pk]


def test_unknown_ids_in_paths(centre):
    api = Api(centre.limanager)
    assert_error(api.get("cases/0"), 422)
    assert_error(api.get("cases/99999999999999999999999"), 422)
    assert_error(api.get("cases/abc"), 404)
    assert_error(api.get("cases/-3"), 404)


# --- list and filters -------------------------------------------------------------------------------------

@pytest.fixture
def spread(centre):
    """Cases of both teams with different statuses, types, channels, assignees, customers and grades."""
    now = timezone.now()
    other = CustomerFactory(name="王女士", grade=None)
    cases = {
        "a": CaseFactory(team=centre.hospital_team, status="new", customer=centre.zhangdoctor),
        "b": CaseFactory(team=centre.hospital_team, status="open", assignee=centre.xiaowang,
                         customer=centre.zhangdoctor, type=centre.complaint, priority="high"),
        "c": CaseFactory(team=centre.hotline_team, status="pending", assignee=centre.xiaoli, customer=other,
                         channel="wechat", stage="pre_sale"),
        "d": CaseFactory(team=centre.hotline_team, status="solved", customer=other, type=centre.refund),
        "e": CaseFactory(team=None, status="new", customer=other, channel="email"),
    }
    for i, key in enumerate("abcde"):
        Case.objects.filter(pk=cases[key].pk).update(updated_at=now - timedelta(minutes=10 * i))
    return {k: v.pk for k, v in cases.items()}


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_list_is_newest_first_and_filtered_by_visibility(centre, spread):
    s = spread
    assert ids(Api(centre.limanager).get("cases")) == [s["a"], s["b"], s["c"], s["d"], s["e"]]
    assert ids(Api(centre.xiaowang).get("cases")) == [s["a"], s["b"]]
    assert ids(Api(centre.xiaoli).get("cases")) == [s["c"], s["d"]]


@pytest.mark.parametrize("query,expected", [
    ({"status": "new"}, ["a", "e"]),
    ({"status": ["new", "pending"]}, ["a", "c", "e"]),
    ({"assignee": "none"}, ["a", "d", "e"]),
    ({"type": "complaint"}, ["b"]),
    ({"type": "refund"}, ["d"]),
    ({"grade": "A"}, ["a", "b"]),
    ({"channel": "wechat"}, ["c"]),
    ({"priority": "high"}, ["b"]),
    ({"stage": "pre_sale"}, ["c"]),
    ({"status": "new", "channel": "email"}, ["e"]),
])
def test_list_filters(centre, spread, query, expected):
    assert ids(Api(centre.limanager).get("cases", query)) == [spread[k] for k in expected]


def test_list_filters_by_ids(centre, spread):
    api = Api(centre.limanager)
    assert ids(api.get("cases", {"team": centre.hotline_team.pk})) == [spread["c"], spread["d"]]
    assert ids(api.get("cases", {"assignee": centre.xiaowang.pk})) == [spread["b"]]
    assert ids(api.get("cases", {"customer": centre.zhangdoctor.pk})) == [spread["a"], spread["b"]]
    assert ids(Api(centre.xiaowang).get("cases", {"assignee": "me"})) == [spread["b"]]
    assert ids(Api(centre.xiaoli).get("cases", {"assignee": "me"})) == [spread["c"]]


def test_list_updated_since(centre, spread):
    api = Api(centre.limanager)
    cut = Case.objects.get(pk=spread["b"]).updated_at
    assert ids(api.get("cases", {"updated_since": cut.isoformat()})) == [spread["a"], spread["b"]]
    local = timezone.localtime(cut).replace(tzinfo=None).isoformat()  # no offset: the centre's time zone
    assert ids(api.get("cases", {"updated_since": local})) == [spread["a"], spread["b"]]


@pytest.mark.parametrize("query,field", [
    ({"status": "lost"}, "status"),
    ({"assignee": "someone"}, "assignee"),
    ({"team": "x"}, "team"),
    ({"type": "nonsense"}, "type"),
    ({"grade": "Z"}, "grade"),
    ({"updated_since": "yesterday"}, "updated_since"),
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"customer": "0"}, "customer"),
])
def test_list_bad_filters_are_422(centre, query, field):
    body = assert_error(Api(centre.limanager).get("cases", query), 422)
    assert body["field"] == field


# --- change -----------------------------------------------------------------------------------------------

def test_patch_fields_status_assignee_and_departments_together(centre):
    case = new_case(centre)
    r = Api(centre.zhaolead).patch(f"cases/{case.pk}", {
        "subject": "改: 用量咨询", "type": "complaint", "stage": "in_sale", "priority": "urgent",
        "assignee": centre.xiaowang.pk, "departments": [centre.quality_dept.pk, centre.logistics_dept.pk],
        "status": "pending"})
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["subject"] == "改: 用量咨询" and data["type"]["code"] == "complaint"
    assert data["stage"] == "in_sale" and data["priority"] == "urgent"
    assert data["assignee"]["id"] == centre.xiaowang.pk
    assert {d["code"] for d in data["departments"]} == {"quality", "logistics"}
    assert data["status"] == "pending"
    verbs = list(Event.objects.filter(case_id=case.pk).values_list("verb", flat=True))
    assert {"case.updated", "case.departments_changed", "case.assigned", "case.status_changed"} <= set(verbs)


def test_patch_unassign_with_null(centre):
    case = new_case(centre, assignee=centre.xiaowang)
    r = Api(centre.zhaolead).patch(f"cases/{case.pk}", {"assignee": None})
    assert r.status_code == 200 and r.json()["assignee"] is None


def test_patch_empty_body_changes_nothing(centre):
    case = new_case(centre)
    before = Event.objects.filter(case_id=case.pk).count()
    r = Api(centre.zhaolead).patch(f"cases/{case.pk}", {})
    assert r.status_code == 200 and r.json()["id"] == case.pk
    assert Event.objects.filter(case_id=case.pk).count() == before


def test_invalid_transition_is_409_and_nothing_changes(centre):
    case = new_case(centre)
    events_before = Event.objects.filter(case_id=case.pk).count()
    r = Api(centre.zhaolead).patch(f"cases/{case.pk}", {
        "subject": "不该保存", "priority": "urgent", "assignee": centre.xiaowang.pk,
        "departments": [centre.quality_dept.pk], "status": "closed"})
    body = assert_error(r, 409, "invalid_transition")
    assert body["field"] == "status"
    case.refresh_from_db()
    assert case.subject == "说明书上的用量看不懂" and case.priority == "normal"
    assert case.assignee_id is None and case.status == "new"
    assert not case.departments.exists()
    assert Event.objects.filter(case_id=case.pk).count() == events_before


def test_patch_closed_case_is_409(centre):
    case = new_case(centre)
    services.change_status(centre.limanager, case, "solved")
    services.change_status(centre.limanager, case, "closed")
    body = assert_error(Api(centre.limanager).patch(f"cases/{case.pk}", {"priority": "high"}), 409)
    assert body["code"] == "invalid_transition"


def test_reopen_through_patch(centre):
    case = new_case(centre)
    api = Api(centre.zhaolead)
    assert api.patch(f"cases/{case.pk}", {"status": "solved"}).json()["status"] == "solved"
    data = api.patch(f"cases/{case.pk}", {"status": "open", "status_reason": "客户又来电"}).json()
    assert data["status"] == "open" and data["reopen_count"] == 1


@pytest.mark.parametrize("body,status,field", [
    ({"status": "lost"}, 422, "status"),
    ({"type": "nonsense"}, 422, "type"),
    ({"assignee": 999999}, 422, "assignee"),
    ({"assignee": "xiaoli"}, 400, "assignee"),
    ({"departments": [999999]}, 422, "departments"),
    ({"subject": None}, 422, "subject"),
    ({"customer": 1}, 422, "customer"),
])
def test_patch_bad_input(centre, body, status, field):
    case = new_case(centre)
    if body.get("assignee") == "xiaoli":
        body = {"assignee": centre.xiaoli.pk}  # not a member of the case's team
    r = Api(centre.zhaolead).patch(f"cases/{case.pk}", body)
    assert assert_error(r, status)["field"] == field
    case.refresh_from_db()
    assert case.assignee_id is None and case.status == "new"


def test_transfer(centre):
    case = new_case(centre, assignee=centre.xiaowang)
    r = Api(centre.zhaolead).post(f"cases/{case.pk}/transfer", {
        "team": centre.hotline_team.pk, "assignee": centre.xiaoli.pk, "reason": "患者个人用药问题"})
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["team"]["id"] == centre.hotline_team.pk and data["assignee"]["id"] == centre.xiaoli.pk
    assert data["transfer_count"] == 1
    event = Event.objects.get(case_id=case.pk, verb="case.transferred")
    assert event.data["reason"] == "患者个人用药问题"


@pytest.mark.parametrize("body,status,field", [
    ({"team": 999999, "reason": "x"}, 422, "team"),
    ({"reason": "x"}, 422, "team"),
    ({"team": "HOTLINE"}, 422, "reason"),
    ({"team": "HOTLINE", "reason": ""}, 422, "reason"),
    ({"team": "HOTLINE", "assignee": "xiaowang", "reason": "x"}, 400, "assignee"),
    ({"team": "HOSPITAL", "reason": "x"}, 400, "team"),
])
def test_transfer_bad_input(centre, body, status, field):
    case = new_case(centre)
    resolve = {"HOTLINE": centre.hotline_team.pk, "HOSPITAL": centre.hospital_team.pk,
               "xiaowang": centre.xiaowang.pk}
    body = {k: resolve.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    assert assert_error(Api(centre.zhaolead).post(f"cases/{case.pk}/transfer", body), status)["field"] == field
    case.refresh_from_db()
    assert case.team_id == centre.hospital_team.pk and case.transfer_count == 0


def test_merge(centre):
    source = new_case(centre, body="第一次来电")
    target = new_case(centre, body="第二次来电")
    r = Api(centre.zhaolead).post(f"cases/{source.pk}/merge", {"into": target.pk})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "closed" and r.json()["merged_into"] == target.pk
    assert Case.objects.get(pk=target.pk).message_count == 2


def test_merge_bad_input(centre):
    source = new_case(centre)
    hidden = new_case(centre, team=centre.hotline_team)
    other_customer = new_case(centre, customer=centre.hospital)
    api = Api(centre.xiaowang)
    assert assert_error(api.post(f"cases/{source.pk}/merge", {"into": 999999}), 422)["field"] == "into"
    assert assert_error(api.post(f"cases/{source.pk}/merge", {"into": hidden.pk}), 422)["field"] == "into"
    assert_error(api.post(f"cases/{source.pk}/merge", {"into": other_customer.pk}), 400)
    assert_error(api.post(f"cases/{source.pk}/merge", {"into": source.pk}), 400)
    source.refresh_from_db()
    assert source.status == "new" and source.merged_into_id is None


# --- events -----------------------------------------------------------------------------------------------

def test_event_log_of_a_case(centre):
    case = new_case(centre)
    services.assign(centre.zhaolead, case, centre.xiaowang)
    r = Api(centre.xiaowang).get(f"cases/{case.pk}/events")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [e["verb"] for e in items] == ["case.created", "message.added", "case.assigned",
                                          "case.status_changed"]
    assigned = items[2]
    assert assigned["actor"] == {"id": centre.zhaolead.pk, "kind": "staff", "label": "赵组长"}
    assert assigned["field"] == "assignee" and assigned["old"] is None and assigned["new"] == centre.xiaowang.pk
    assert items[3]["old"] == "new" and items[3]["new"] == "open"


def test_lists_show_exactly_the_visible_cases_for_everyone(centre):
    """The list is read in parts (each team, the department's involvement); together they are exactly
    what visible_cases allows, for every role, also with filters."""
    from kefu.cases.queries import visible_case_scopes, visible_cases

    for i, team in enumerate([centre.hospital_team, centre.hotline_team, None] * 4):
        case = CaseFactory(team=team, status=["new", "open"][i % 2], assignee=centre.xiaowang if i % 3 == 0 and
                           team == centre.hospital_team else None)
        if i % 4 == 0:
            case.departments.set([centre.quality_dept])
        if i % 5 == 0:
            case.departments.set([centre.service_dept])
    for username in ["xiaowang", "xiaoli", "zhaolead", "limanager", "admin", "chenqa"]:
        person = getattr(centre, username)
        api = Api(person)
        expected = list(visible_cases(person).order_by("-updated_at", "-id").values_list("id", flat=True))
        assert ids(api.get("cases", {"limit": 100})) == expected, username
        scopes = visible_case_scopes(person)
        if scopes is not None:
            parts = [set(Case.objects.filter(scope).values_list("id", flat=True)) for scope in scopes]
            assert sum(len(p) for p in parts) == len(set().union(*parts)), f"{username}: parts overlap"
            assert set().union(*parts) == set(expected), username
        for query in [{"status": "new"}, {"status": ["new", "open"]}, {"assignee": "none"}]:
            want = visible_cases(person).filter(
                **({"status__in": query["status"]} if isinstance(query.get("status"), list) else
                   {"status": query["status"]} if "status" in query else {"assignee__isnull": True}))
            assert ids(api.get("cases", {**query, "limit": 100})) == list(
                want.order_by("-updated_at", "-id").values_list("id", flat=True)), (username, query)
