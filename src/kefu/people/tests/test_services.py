"""The people services: staff, teams and departments change only through them, each change is one event
per field, and the rules hold (no self-demotion or self-deactivation, an administrator always remains,
teams with open cases stay active, no department inside itself)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation

from kefu.cases import services as case_services
from kefu.cases.models import Status
from kefu.core import tokens
from kefu.core.errors import DomainError, Forbidden
from kefu.core.models import Event
from kefu.core.testing import PASSWORD, UserFactory
from kefu.people import services
from kefu.people.models import Department, Team, User


def events_of(subject_type, subject_id, verb=None):
    found = Event.objects.filter(subject_type=subject_type, subject_id=subject_id).order_by("id")
    return list(found.filter(verb=verb) if verb else found)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def second_admin():
    return services.create_staff(None, username="admin2", password=None, role=User.Role.ADMIN,
                                 display_name="副管理员")


def open_case(centre, team, assignee=None):
    return case_services.create_case(centre.xiaowang, customer=centre.zhangdoctor, subject="药品说明书",
                                     type=centre.inquiry, channel="phone", body="说明书在哪里下载?", team=team,
                                     assignee=assignee)


# --- update_staff ------------------------------------------------------------------------------------------

def test_each_changed_field_is_one_event_with_old_and_new(centre):
    services.update_staff(centre.admin, centre.xiaowang, display_name="王小明", email="wang@example.com",
                          phone="010-6512 0000", department=centre.quality_dept, role=User.Role.AGENT)
    user = fresh(centre.xiaowang)
    assert (user.display_name, user.email, user.phone, user.department) == (
        "王小明", "wang@example.com", "010-6512 0000", centre.quality_dept)
    found = {e.field: (e.old, e.new) for e in events_of("user", user.pk, "staff.updated")}
    assert found == {"display_name": ("小王", "王小明"), "email": ("", "wang@example.com"),
                     "phone": ("", "010-6512 0000"),
                     "department": (centre.service_dept.pk, centre.quality_dept.pk)}  # the role did not change
    assert all(e.actor == centre.admin for e in events_of("user", user.pk, "staff.updated"))


def test_nothing_changed_writes_nothing(centre):
    services.update_staff(centre.admin, centre.xiaowang, display_name="小王", role="agent", is_active=True,
                          teams=[centre.hospital_team])
    assert not events_of("user", centre.xiaowang.pk, "staff.updated")


def test_a_role_change_keeps_staff_and_superuser_flags_as_create_staff_sets_them(centre):
    for role, flags in [("manager", (True, False)), ("admin", (True, True)), ("team_lead", (False, False)),
                        ("agent", (False, False))]:
        services.update_staff(centre.admin, centre.xiaowang, role=role)
        user = fresh(centre.xiaowang)
        assert (user.role, user.is_staff, user.is_superuser) == (role, *flags)
        made = services.create_staff(None, username=f"new_{role}", password=None, role=role)
        assert (made.is_staff, made.is_superuser) == flags
    roles = [(e.old, e.new) for e in events_of("user", centre.xiaowang.pk, "staff.updated")]
    assert roles == [("agent", "manager"), ("manager", "admin"), ("admin", "team_lead"), ("team_lead", "agent")]


def test_nobody_changes_their_own_role(centre):
    second_admin()
    with pytest.raises(DomainError) as refused:
        services.update_staff(centre.admin, centre.admin, role=User.Role.MANAGER)
    assert refused.value.field == "role"
    assert fresh(centre.admin).role == User.Role.ADMIN and fresh(centre.admin).is_superuser
    with pytest.raises(Forbidden):  # an agent may not change roles at all
        services.update_staff(centre.xiaowang, centre.xiaowang, role=User.Role.MANAGER)
    assert not Event.objects.filter(verb="staff.updated").exists()


def test_nobody_deactivates_themselves(centre):
    second_admin()
    with pytest.raises(DomainError) as refused:
        services.update_staff(centre.admin, centre.admin, is_active=False)
    assert refused.value.field == "is_active"
    assert fresh(centre.admin).is_active


@pytest.mark.parametrize("change", [{"role": "manager"}, {"is_active": False}])
def test_the_last_active_administrator_stays(centre, change):
    with pytest.raises(DomainError) as refused:
        services.update_staff(None, centre.admin, **change)
    assert refused.value.code == "last_administrator"
    with translation.override("en"), pytest.raises(DomainError) as refused:
        services.update_staff(None, centre.admin, **change)
    assert refused.value.message.startswith("管理员 is the last active administrator")
    assert fresh(centre.admin).role == "admin" and fresh(centre.admin).is_active
    assert not Event.objects.filter(verb="staff.updated").exists()


def test_an_inactive_administrator_does_not_count(centre):
    other = second_admin()
    services.update_staff(centre.admin, other, is_active=False)
    with pytest.raises(DomainError):
        services.update_staff(None, centre.admin, role="agent")
    services.update_staff(centre.admin, other, is_active=True)
    services.update_staff(other, centre.admin, role="agent")  # now another administrator remains
    assert fresh(centre.admin).role == "agent" and not fresh(centre.admin).is_superuser


def test_who_may_change_whom(centre):
    # Everybody changes their own name, e-mail and phone.
    services.update_staff(centre.xiaowang, centre.xiaowang, display_name="王小明", phone="13900000000")
    # An agent does not change a colleague, nor their own department or teams.
    with pytest.raises(Forbidden):
        services.update_staff(centre.xiaowang, centre.xiaoli, display_name="李")
    with pytest.raises(Forbidden):
        services.update_staff(centre.xiaowang, centre.xiaowang, department=centre.quality_dept)
    # A manager changes staff who are not administrators, short of making one.
    services.update_staff(centre.limanager, centre.xiaoli, role="team_lead", department=centre.quality_dept)
    assert fresh(centre.xiaoli).role == "team_lead"
    with pytest.raises(Forbidden):
        services.update_staff(centre.limanager, centre.xiaoli, role="admin")
    with pytest.raises(Forbidden):
        services.update_staff(centre.limanager, centre.admin, email="admin@example.com")
    with pytest.raises(Forbidden):
        services.set_password(centre.limanager, centre.admin, "Kefu-2026-takeover")
    assert fresh(centre.admin).check_password(PASSWORD)


def test_bad_values_are_refused_with_the_field(centre):
    cases = [({"email": "not-an-address"}, "email"), ({"role": "boss"}, "role"),
             ({"display_name": "名" * 101}, "display_name"), ({"department": "service"}, "department")]
    for change, field in cases:
        with pytest.raises(DomainError) as refused:
            services.update_staff(centre.admin, centre.xiaowang, **change)
        assert refused.value.field == field, change
    with pytest.raises(DomainError) as refused:
        services.update_staff(centre.admin, centre.xiaowang, username="wang", is_superuser=True)
    assert "is_superuser" in refused.value.message and "username" in refused.value.message
    assert fresh(centre.xiaowang).username == "xiaowang"


def test_teams_change_is_one_event(centre):
    services.update_staff(centre.admin, centre.xiaowang, teams=[centre.hotline_team, centre.hospital_team])
    assert set(fresh(centre.xiaowang).teams.all()) == {centre.hotline_team, centre.hospital_team}
    [event] = events_of("user", centre.xiaowang.pk, "staff.updated")
    assert (event.field, event.old, event.new) == (
        "teams", [centre.hospital_team.pk], sorted([centre.hospital_team.pk, centre.hotline_team.pk]))


def test_nobody_joins_a_deactivated_team_and_a_lead_stays_in_their_team(centre):
    closed = services.create_team(centre.admin, name="旧热线组", department=centre.service_dept)
    services.update_team(centre.admin, closed, is_active=False)
    with pytest.raises(DomainError) as refused:
        services.update_staff(centre.admin, centre.xiaowang, teams=[closed])
    assert "旧热线组" in refused.value.message
    with pytest.raises(DomainError) as refused:
        services.update_staff(centre.admin, centre.zhaolead, teams=[centre.hotline_team])
    assert "医院客户组" in refused.value.message and refused.value.field == "teams"
    assert list(fresh(centre.zhaolead).teams.all()) == [centre.hospital_team]


def test_a_deactivated_member_of_staff_cannot_sign_in_or_use_api_tokens(centre):
    _token, raw = tokens.create_token(None, centre.xiaowang, "呼叫中心脚本")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/users/me").status_code == 200
    browser = Client()
    assert browser.login(username="xiaowang", password=PASSWORD)

    services.update_staff(centre.admin, centre.xiaowang, is_active=False)

    response = api.get("/api/v1/users/me")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert not Client().login(username="xiaowang", password=PASSWORD)
    assert browser.get("/api/v1/users/me").status_code == 401  # the open session ended too
    [event] = events_of("user", centre.xiaowang.pk, "staff.updated")
    assert (event.field, event.old, event.new, event.actor) == ("is_active", True, False, centre.admin)
    assert list(fresh(centre.xiaowang).teams.all()) == [centre.hospital_team]  # teams stay

    services.update_staff(centre.admin, centre.xiaowang, is_active=True)
    assert api.get("/api/v1/users/me").status_code == 200


# --- set_password -----------------------------------------------------------------------------------------

def test_set_password_is_validated_and_logged_without_the_password(centre):
    with pytest.raises(DomainError) as refused:
        services.set_password(centre.admin, centre.xiaowang, "12345678")
    assert refused.value.field == "password"
    with pytest.raises(DomainError):
        services.set_password(centre.admin, centre.xiaowang, "password123")  # too common
    with pytest.raises(DomainError):
        services.set_password(centre.admin, centre.xiaowang, "")
    assert fresh(centre.xiaowang).check_password(PASSWORD)
    assert not Event.objects.filter(verb="staff.password_set").exists()

    services.set_password(centre.admin, centre.xiaowang, "Kefu-hotline-2026")
    user = fresh(centre.xiaowang)
    assert user.check_password("Kefu-hotline-2026")
    [event] = Event.objects.filter(verb="staff.password_set", subject_id=user.pk)
    assert event.actor == centre.admin
    stored = repr((event.old, event.new, event.data, event.field))
    assert "Kefu-hotline-2026" not in stored and user.password not in stored


def test_staff_set_their_own_password_but_not_a_colleagues(centre):
    services.set_password(centre.xiaowang, centre.xiaowang, "Kefu-hotline-2026")
    with pytest.raises(Forbidden):
        services.set_password(centre.xiaowang, centre.xiaoli, "Kefu-hotline-2026")
    assert fresh(centre.xiaoli).check_password(PASSWORD)


# --- teams ------------------------------------------------------------------------------------------------

def test_update_team_renames_moves_and_logs_each_field(centre):
    services.update_team(centre.admin, centre.hotline_team, name="患者服务热线组", department=centre.quality_dept)
    team = fresh(centre.hotline_team)
    assert (team.name, team.department) == ("患者服务热线组", centre.quality_dept)
    found = {e.field: (e.old, e.new) for e in events_of("team", team.pk, "team.updated")}
    assert found == {"name": ("患者热线组", "患者服务热线组"),
                     "department": (centre.service_dept.pk, centre.quality_dept.pk)}
    with pytest.raises(DomainError) as refused:
        services.update_team(centre.admin, team, name="医院客户组")
    assert refused.value.field == "name" and refused.value.code == "conflict"
    with pytest.raises(DomainError):
        services.update_team(centre.admin, team, name="  ")


def test_a_new_lead_joins_the_members(centre):
    services.update_team(centre.admin, centre.hotline_team, lead=centre.zhaolead)
    team = fresh(centre.hotline_team)
    assert team.lead == centre.zhaolead
    assert set(team.members.all()) == {centre.xiaoli, centre.zhaolead}
    [lead, members] = events_of("team", team.pk)
    assert (lead.verb, lead.field, lead.old, lead.new) == ("team.updated", "lead", None, centre.zhaolead.pk)
    assert (members.verb, members.old, members.new) == (
        "team.members_changed", [centre.xiaoli.pk], sorted([centre.xiaoli.pk, centre.zhaolead.pk]))
    # Setting the members keeps the lead among them, as creating a team does.
    services.set_team_members(centre.admin, team, [centre.xiaoli])
    assert set(team.members.all()) == {centre.xiaoli, centre.zhaolead}
    with pytest.raises(DomainError):
        services.update_team(centre.admin, team, lead=UserFactory(username="gone", is_active=False))


def test_a_team_with_open_cases_is_not_deactivated(centre):
    first = open_case(centre, centre.hospital_team, centre.xiaowang)
    second = open_case(centre, centre.hospital_team)
    with pytest.raises(DomainError) as refused:
        services.update_team(centre.admin, centre.hospital_team, is_active=False, name="医院客户一组")
    assert "2" in refused.value.message and refused.value.field == "is_active"
    team = fresh(centre.hospital_team)
    assert team.is_active and team.name == "医院客户组"
    assert not events_of("team", team.pk, "team.updated")

    for case in (first, second):
        case_services.change_status(centre.xiaowang, case, Status.SOLVED)
    case_services.change_status(centre.xiaowang, second, Status.CLOSED)  # solved and closed are not open
    services.update_team(centre.admin, team, is_active=False)
    assert not fresh(team).is_active
    [event] = events_of("team", team.pk, "team.updated")
    assert (event.field, event.old, event.new) == ("is_active", True, False)


def test_the_open_case_count_is_in_the_message(centre):
    open_case(centre, centre.hotline_team)
    with pytest.raises(DomainError) as refused:
        services.update_team(centre.admin, centre.hotline_team, is_active=False)
    assert "患者热线组" in refused.value.message and "1" in refused.value.message


# --- departments ------------------------------------------------------------------------------------------

def test_update_department_logs_each_field(centre):
    services.update_department(centre.admin, centre.logistics_dept, name="物流与仓储部", kind="front",
                               parent=centre.quality_dept)
    dept = fresh(centre.logistics_dept)
    assert (dept.name, dept.kind, dept.parent, dept.code) == ("物流与仓储部", "front", centre.quality_dept,
                                                              "logistics")
    found = {e.field: (e.old, e.new) for e in events_of("department", dept.pk, "department.updated")}
    assert found == {"name": ("物流部", "物流与仓储部"), "kind": ("back", "front"),
                     "parent": (None, centre.quality_dept.pk)}
    with pytest.raises(DomainError):
        services.update_department(centre.admin, dept, code="wuliu")  # the code stays
    with pytest.raises(DomainError) as refused:
        services.update_department(centre.admin, dept, name="质量部")
    assert refused.value.field == "name"
    with pytest.raises(DomainError):
        services.update_department(centre.admin, dept, kind="middle")


def test_no_department_lies_inside_itself(centre):
    services.update_department(centre.admin, centre.quality_dept, parent=centre.service_dept)
    services.update_department(centre.admin, centre.logistics_dept, parent=centre.quality_dept)
    with pytest.raises(DomainError) as refused:
        services.update_department(centre.admin, centre.service_dept, parent=centre.logistics_dept)
    assert refused.value.field == "parent" and "物流部" in refused.value.message
    with pytest.raises(DomainError):
        services.update_department(centre.admin, centre.service_dept, parent=centre.service_dept)
    assert fresh(centre.service_dept).parent is None
    services.update_department(centre.admin, centre.logistics_dept, parent=None)
    services.update_department(centre.admin, centre.service_dept, parent=centre.logistics_dept)
    assert fresh(centre.service_dept).parent == centre.logistics_dept


def test_create_department_and_team_check_their_names(centre):
    with pytest.raises(DomainError) as refused:
        services.create_department(centre.admin, name="质量部", code="quality2")
    assert refused.value.field == "name"
    child = services.create_department(centre.admin, name="质量部华北组", code="quality-north",
                                       parent=centre.quality_dept)
    assert child.parent == centre.quality_dept and Department.objects.filter(code="quality-north").exists()
    with pytest.raises(DomainError):
        services.create_team(centre.admin, name="医院客户组", department=centre.service_dept)
    assert Team.objects.filter(name="医院客户组").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_administrators_demoting_each_other_at_once_leave_one(monkeypatch):
    """The rows of the active administrators are locked before the count: the second demotion waits for the
    first, then sees it and is refused. (PostgreSQL: SQLite runs one writing transaction at a time anyway.)"""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; SQLite serialises writing transactions")
    first = services.create_staff(None, username="admin1", password=None, role="admin")
    second = services.create_staff(None, username="admin2", password=None, role="admin")
    locked = threading.Event()
    original = services._check_an_administrator_remains

    def slow_check(user, field):
        original(user, field)
        if user.pk == first.pk:
            locked.set()
            time.sleep(0.5)  # hold the locks while the other demotion starts

    monkeypatch.setattr(services, "_check_an_administrator_remains", slow_check)
    outcome = {}

    def demote(user, wait):
        try:
            if wait:
                locked.wait(5)
            services.update_staff(None, User.objects.get(pk=user.pk), role="agent")
            outcome[user.username] = "demoted"
        except DomainError as exc:
            outcome[user.username] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=(first, False)),
               threading.Thread(target=demote, args=(second, True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcome == {"admin1": "demoted", "admin2": "last_administrator"}
    assert list(User.objects.filter(role="admin", is_active=True).values_list("username", flat=True)) == ["admin2"]
