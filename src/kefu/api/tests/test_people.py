"""Teams, staff, case types and grades (read-only)."""

import pytest

from kefu.people.models import Team

from .conftest import Api, assert_error

pytestmark = pytest.mark.django_db


def test_teams(centre):
    api = Api(centre.xiaowang)
    items = api.get("teams").json()["items"]
    assert [t["name"] for t in items] == ["医院客户组", "患者热线组"]
    hospital = items[0]
    assert hospital["lead"]["username"] == "zhaolead"
    assert {m["username"] for m in hospital["members"]} == {"xiaowang", "zhaolead"}
    assert hospital["department"]["code"] == "service"
    detail = api.get(f"teams/{centre.hotline_team.pk}").json()
    assert detail["members"][0]["display_name"] == "小李"
    assert_error(api.get("teams/999999"), 404, "not_found")
    Team.objects.filter(pk=centre.hotline_team.pk).update(is_active=False)
    assert [t["name"] for t in api.get("teams", {"active": "true"}).json()["items"]] == ["医院客户组"]


def test_users(centre):
    api = Api(centre.xiaowang)
    items = api.get("users").json()["items"]
    assert {u["username"] for u in items} == {"xiaowang", "xiaoli", "zhaolead", "limanager", "admin", "chenqa"}
    manager = api.get(f"users/{centre.limanager.pk}").json()
    assert manager["role"] == "manager" and manager["sees_all_cases"] is True
    assert [u["username"] for u in api.get("users", {"team": centre.hospital_team.pk}).json()["items"]] == [
        "xiaowang", "zhaolead"]
    assert [u["username"] for u in api.get("users", {"role": "team_lead"}).json()["items"]] == ["zhaolead"]
    assert_error(api.get("users", {"role": "boss"}), 422)
    assert_error(api.get("users/999999"), 404)


def test_me(centre):
    me = Api(centre.chenqa).get("users/me").json()
    assert me["username"] == "chenqa" and me["department"]["name"] == "质量部"
    assert me["teams"] == [] and me["sees_all_cases"] is False


def test_users_page_by_cursor(centre):
    api = Api(centre.xiaowang)
    first = api.get("users", {"limit": 4}).json()
    second = api.get("users", {"limit": 4, "cursor": first["next_cursor"]}).json()
    assert len(first["items"]) == 4 and len(second["items"]) == 2 and second["next_cursor"] is None
    names = [u["username"] for u in first["items"] + second["items"]]
    assert len(set(names)) == 6


def test_case_types_and_grades(centre):
    api = Api(centre.xiaowang)
    types = api.get("case-types").json()
    assert types["next_cursor"] is None
    assert [t["code"] for t in types["items"]] == ["inquiry", "complaint", "return", "refund", "exchange",
                                                   "after_sale", "suggestion", "praise"]
    complaint = types["items"][1]
    assert complaint["name_zh"] == "投诉" and complaint["is_complaint"] is True
    zh = Api(centre.xiaowang, HTTP_ACCEPT_LANGUAGE="zh-hans").get("case-types").json()["items"][1]
    assert zh["name"] == "投诉"
    grades = api.get("grades").json()["items"]
    assert [g["code"] for g in grades] == ["A", "B", "C", "D"]
