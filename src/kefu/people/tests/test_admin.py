"""The staff admin creates and changes people, departments and teams through kefu.people.services."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kefu.cases import services as case_services
from kefu.core import tokens
from kefu.core.errors import DomainError
from kefu.core.models import Event
from kefu.core.testing import PASSWORD
from kefu.core.tests.admin_helpers import errors_of, form_data
from kefu.people import services
from kefu.people.models import Department, Team, User


@pytest.fixture
def admin_client(client, centre):
    client.force_login(centre.admin)
    return client


def test_staff_created_in_the_admin_go_through_create_staff(admin_client, centre):
    url = reverse("admin:people_user_add")
    data = form_data(admin_client.get(url))
    data.update(username="xiaozhou", display_name="小周", email="xiaozhou@example.com", role="agent",
                department=str(centre.service_dept.pk), teams=[str(centre.hotline_team.pk)],
                new_password="Kefu-2026-hotline", new_password_again="Kefu-2026-hotline")
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    user = User.objects.get(username="xiaozhou")
    assert (user.display_name, user.role, user.is_staff) == ("小周", "agent", False)
    assert user.check_password("Kefu-2026-hotline")
    assert list(user.teams.all()) == [centre.hotline_team]
    assert Event.objects.filter(verb="staff.created", subject_id=user.pk, actor=centre.admin).exists()


def test_a_weak_password_is_refused_with_the_service_message(admin_client, centre):
    url = reverse("admin:people_user_add")
    data = form_data(admin_client.get(url))
    data.update(username="xiaozhou", role="agent", new_password="12345678", new_password_again="12345678")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    with pytest.raises(DomainError) as refused:
        services.create_staff(centre.admin, username="xiaozhou2", password="12345678")
    assert errors_of(response) == {"new_password": [refused.value.message]}
    assert not User.objects.filter(username="xiaozhou").exists()


def test_passwords_that_differ_are_refused(admin_client):
    url = reverse("admin:people_user_add")
    data = form_data(admin_client.get(url))
    data.update(username="xiaozhou", role="agent", new_password="Kefu-2026-a", new_password_again="Kefu-2026-b")
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "new_password_again" in errors_of(response)
    assert not User.objects.filter(username="xiaozhou").exists()


def test_staff_pages_never_show_the_password_hash(admin_client, centre):
    page = admin_client.get(reverse("admin:people_user_change", args=[centre.xiaowang.pk])).content.decode()
    assert centre.xiaowang.password not in page
    assert centre.xiaowang.password.split("$")[-1] not in page
    assert reverse("admin:auth_user_password_change", args=[centre.xiaowang.pk]) in page


def test_departments_and_teams_are_created_through_the_services(admin_client, centre):
    url = reverse("admin:people_department_add")
    data = form_data(admin_client.get(url))
    data.update(name="医学事务部", code="medical", kind="back")
    assert admin_client.post(url, data).status_code == 302
    medical = Department.objects.get(code="medical")
    assert Event.objects.filter(verb="department.created", subject_id=medical.pk).exists()

    url = reverse("admin:people_team_add")
    data = form_data(admin_client.get(url))
    data.update(name="医学咨询组", department=str(medical.pk), lead=str(centre.zhaolead.pk),
                members=[str(centre.xiaoli.pk)])
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    team = Team.objects.get(name="医学咨询组")
    assert set(team.members.all()) == {centre.xiaoli, centre.zhaolead}  # the lead is a member
    assert Event.objects.filter(verb="team.created", subject_id=team.pk).exists()


def test_a_duplicate_team_name_is_refused(admin_client, centre):
    url = reverse("admin:people_team_add")
    data = form_data(admin_client.get(url))
    data.update(name="医院客户组", department=str(centre.service_dept.pk))
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "name" in errors_of(response)
    assert Team.objects.filter(name="医院客户组").count() == 1


def test_team_members_change_through_set_team_members(admin_client, centre):
    url = reverse("admin:people_team_change", args=[centre.hospital_team.pk])
    data = form_data(admin_client.get(url))
    data["members"] = [str(centre.zhaolead.pk), str(centre.xiaoli.pk)]
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    assert set(centre.hospital_team.members.all()) == {centre.zhaolead, centre.xiaoli}
    event = Event.objects.get(verb="team.members_changed", subject_id=centre.hospital_team.pk)
    assert event.actor == centre.admin
    assert sorted(event.new) == sorted([centre.zhaolead.pk, centre.xiaoli.pk])


def test_staff_cannot_be_deleted_in_the_admin(admin_client, centre):
    url = reverse("admin:people_user_delete", args=[centre.xiaowang.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=centre.xiaowang.pk).exists()


# --- changing staff, teams and departments ---------------------------------------------------------------

def change(admin_client, model, obj, **values):
    url = reverse(f"admin:people_{model}_change", args=[obj.pk])
    data = form_data(admin_client.get(url))
    data.update(values)
    for name, value in list(data.items()):
        if value is None:
            del data[name]
    return admin_client.post(url, data)


def test_deactivating_xiaowang_in_the_admin_stops_his_api_token(admin_client, centre):
    _token, raw = tokens.create_token(None, centre.xiaowang, "呼叫中心脚本")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/users/me").status_code == 200

    response = change(admin_client, "user", centre.xiaowang, is_active=None)  # untick "active"
    assert response.status_code == 302, errors_of(response)

    assert not User.objects.get(pk=centre.xiaowang.pk).is_active
    response = api.get("/api/v1/users/me")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    event = Event.objects.get(verb="staff.updated", subject_id=centre.xiaowang.pk)
    assert (event.field, event.old, event.new, event.actor) == ("is_active", True, False, centre.admin)


def test_refusing_to_demote_the_last_administrator_shows_the_service_message(admin_client, centre):
    response = change(admin_client, "user", centre.admin, role="manager")
    assert response.status_code == 200
    with pytest.raises(DomainError) as refused:
        services.update_staff(centre.admin, centre.admin, role="manager")
    assert refused.value.code == "last_administrator"
    assert errors_of(response) == {"role": [refused.value.message]}
    assert refused.value.message in response.content.decode()
    admin = User.objects.get(pk=centre.admin.pk)
    assert (admin.role, admin.is_staff, admin.is_superuser, admin.is_active) == ("admin", True, True, True)
    assert not Event.objects.filter(verb="staff.updated").exists()


def test_an_administrator_does_not_change_their_own_role_even_with_another_one(admin_client, centre):
    services.create_staff(None, username="admin2", password=None, role="admin")
    response = change(admin_client, "user", centre.admin, role="agent", is_active=None)
    assert response.status_code == 200 and "role" in errors_of(response)
    assert User.objects.get(pk=centre.admin.pk).role == "admin"


def test_every_staff_field_changes_through_update_staff(admin_client, centre):
    response = change(admin_client, "user", centre.xiaoli, display_name="李小丽", email="li@example.com",
                      phone="13900001111", role="team_lead", department=str(centre.quality_dept.pk),
                      teams=[str(centre.hotline_team.pk), str(centre.hospital_team.pk)])
    assert response.status_code == 302, errors_of(response)
    user = User.objects.get(pk=centre.xiaoli.pk)
    assert (user.display_name, user.email, user.phone, user.role, user.department) == (
        "李小丽", "li@example.com", "13900001111", "team_lead", centre.quality_dept)
    assert set(user.teams.all()) == {centre.hotline_team, centre.hospital_team}
    fields = sorted(Event.objects.filter(verb="staff.updated", subject_id=user.pk).values_list("field", flat=True))
    assert fields == ["department", "display_name", "email", "phone", "role", "teams"]

    response = change(admin_client, "user", centre.xiaoli, role="manager")
    assert response.status_code == 302, errors_of(response)
    user = User.objects.get(pk=centre.xiaoli.pk)
    assert (user.is_staff, user.is_superuser) == (True, False)  # set from the role, as create_staff does


def test_a_deactivation_warns_about_open_cases_still_assigned(admin_client, centre):
    case_services.create_case(centre.xiaowang, customer=centre.zhangdoctor, subject="退货", type=centre.refund,
                              channel="phone", body="想退货", team=centre.hospital_team, assignee=centre.xiaowang)
    url = reverse("admin:people_user_change", args=[centre.xiaowang.pk])
    data = form_data(admin_client.get(url))
    del data["is_active"]
    response = admin_client.post(url, data, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any("小王" in m and "1" in m for m in shown), shown
    assert not User.objects.get(pk=centre.xiaowang.pk).is_active


def test_the_password_page_sets_the_password_through_the_service(admin_client, centre):
    url = reverse("admin:auth_user_password_change", args=[centre.xiaowang.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "unset-password" not in page.content.decode()

    response = admin_client.post(url, {"password1": "12345678", "password2": "12345678"})
    assert response.status_code == 200
    with pytest.raises(DomainError) as refused:
        services.set_password(centre.admin, centre.xiaowang, "12345678")
    assert response.context["form"].errors == {"password1": [refused.value.message]}

    response = admin_client.post(url, {"password1": "Kefu-2026-a", "password2": "Kefu-2026-b"})
    assert response.status_code == 200 and "password2" in response.context["form"].errors
    assert User.objects.get(pk=centre.xiaowang.pk).check_password(PASSWORD)
    assert not Event.objects.filter(verb="staff.password_set").exists()

    response = admin_client.post(url, {"password1": "Kefu-hotline-2026", "password2": "Kefu-hotline-2026"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:people_user_change", args=[centre.xiaowang.pk])
    assert User.objects.get(pk=centre.xiaowang.pk).check_password("Kefu-hotline-2026")
    event = Event.objects.get(verb="staff.password_set", subject_id=centre.xiaowang.pk)
    assert event.actor == centre.admin


def test_an_administrator_changing_their_own_password_stays_signed_in(admin_client, centre):
    url = reverse("admin:auth_user_password_change", args=[centre.admin.pk])
    response = admin_client.post(url, {"password1": "Kefu-admin-2026", "password2": "Kefu-admin-2026"})
    assert response.status_code == 302
    assert admin_client.get(reverse("admin:index")).status_code == 200
    assert User.objects.get(pk=centre.admin.pk).check_password("Kefu-admin-2026")


def test_a_team_is_renamed_given_a_lead_and_not_deactivated_while_it_has_open_cases(admin_client, centre):
    response = change(admin_client, "team", centre.hotline_team, name="患者服务热线组",
                      lead=str(centre.zhaolead.pk))
    assert response.status_code == 302, errors_of(response)
    team = Team.objects.get(pk=centre.hotline_team.pk)
    assert team.name == "患者服务热线组" and team.lead == centre.zhaolead
    assert set(team.members.all()) == {centre.xiaoli, centre.zhaolead}
    verbs = sorted(Event.objects.filter(subject_type="team", subject_id=team.pk).values_list("verb", "field"))
    assert verbs == [("team.members_changed", "members"), ("team.updated", "lead"), ("team.updated", "name")]

    case_services.create_case(centre.xiaoli, customer=centre.zhangdoctor, subject="用药咨询", type=centre.inquiry,
                              channel="phone", body="饭前还是饭后?", team=team)
    response = change(admin_client, "team", team, is_active=None)
    assert response.status_code == 200
    with pytest.raises(DomainError) as refused:
        services.update_team(centre.admin, team, is_active=False)
    assert errors_of(response) == {"is_active": [refused.value.message]}
    assert Team.objects.get(pk=team.pk).is_active


def test_a_department_is_renamed_and_cannot_go_inside_itself(admin_client, centre):
    response = change(admin_client, "department", centre.quality_dept, name="质量保证部", kind="back",
                      parent=str(centre.service_dept.pk))
    assert response.status_code == 302, errors_of(response)
    dept = Department.objects.get(pk=centre.quality_dept.pk)
    assert (dept.name, dept.parent, dept.code) == ("质量保证部", centre.service_dept, "quality")
    response = change(admin_client, "department", centre.service_dept, parent=str(centre.quality_dept.pk))
    assert response.status_code == 200 and "parent" in errors_of(response)
    assert Department.objects.get(pk=centre.service_dept.pk).parent is None
    page = admin_client.get(reverse("admin:people_department_change", args=[dept.pk])).content.decode()
    assert 'name="code"' not in page  # the code is shown, not edited
