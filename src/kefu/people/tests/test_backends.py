import pytest
from django.test import Client


@pytest.mark.parametrize("path", ["/admin/cases/case/", "/admin/customers/customer/", "/admin/people/team/",
                                  "/admin/core/event/"])
def test_a_manager_configures_kefu_in_the_admin(centre, path):
    client = Client()
    client.force_login(centre.limanager)
    assert client.get(path).status_code == 200


def test_a_manager_does_not_get_django_internals_and_an_agent_no_admin(centre):
    manager = Client()
    manager.force_login(centre.limanager)
    assert manager.get("/admin/auth/group/").status_code == 403
    agent = Client()
    agent.force_login(centre.xiaowang)
    assert agent.get("/admin/cases/case/").status_code == 302  # to the admin login: agents are not admin users


def test_a_manager_still_cannot_make_an_administrator(centre):
    from kefu.core.errors import Forbidden
    from kefu.people import services

    with pytest.raises(Forbidden):
        services.update_staff(centre.limanager, centre.xiaowang, role="admin")
