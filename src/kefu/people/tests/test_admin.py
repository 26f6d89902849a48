"""The staff admin creates people, departments and teams through kefu.people.services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kefu.core.errors import DomainError
from kefu.core.models import Event
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
