"""Case types are configuration, written through kefu.cases.services (with events), in the admin too: a type
that cases have is deactivated, never deleted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kefu.cases import services
from kefu.cases.models import CaseType
from kefu.core.errors import DomainError
from kefu.core.models import Event
from kefu.core.tests.admin_helpers import errors_of, form_data


@pytest.fixture
def admin_client(client, centre):
    client.force_login(centre.admin)
    return client


def new_case(centre, case_type):
    return services.create_case(centre.xiaowang, customer=centre.zhangdoctor, subject="不良反应报告",
                                type=case_type, channel="phone", body="服药后皮疹")


def test_create_and_update_a_case_type_with_one_event_per_field(centre):
    adverse = services.create_case_type(centre.admin, code="adverse_event", name="不良反应",
                                        name_en="Adverse event", is_complaint=False, position=9)
    created = Event.objects.get(verb="case_type.created", subject_id=adverse.pk)
    assert created.data["code"] == "adverse_event" and created.actor == centre.admin

    services.update_case_type(centre.admin, adverse, name="药品不良反应", is_complaint=True, position=9)
    adverse = CaseType.objects.get(pk=adverse.pk)
    assert (adverse.name, adverse.is_complaint) == ("药品不良反应", True)
    updated = Event.objects.filter(verb="case_type.updated", subject_id=adverse.pk).order_by("id")
    assert [(e.field, e.old, e.new) for e in updated] == [("name", "不良反应", "药品不良反应"),
                                                         ("is_complaint", False, True)]


def test_case_type_values_are_checked(centre):
    for values, field in [({"code": "inquiry", "name": "重复"}, "code"), ({"code": "有中文", "name": "码"}, "code"),
                          ({"code": "x" * 33, "name": "长"}, "code"), ({"code": "empty", "name": ""}, "name"),
                          ({"code": "far", "name": "远", "position": 40000}, "position")]:
        with pytest.raises(DomainError) as refused:
            services.create_case_type(centre.admin, **values)
        assert refused.value.field == field, values
    with pytest.raises(DomainError):
        services.update_case_type(centre.admin, centre.inquiry, code="ask")  # the code stays
    assert not CaseType.objects.filter(code__in=["empty", "far"]).exists()


def test_a_deactivated_type_is_kept_by_its_cases_and_refused_for_new_ones(centre):
    case = new_case(centre, centre.complaint)
    services.update_case_type(centre.admin, centre.complaint, is_active=False)
    with pytest.raises(DomainError) as refused:
        new_case(centre, CaseType.objects.get(pk=centre.complaint.pk))
    assert refused.value.field == "type"
    case.refresh_from_db()
    assert case.type_id == centre.complaint.pk
    event = Event.objects.get(verb="case_type.updated", subject_id=centre.complaint.pk)
    assert (event.field, event.old, event.new) == ("is_active", True, False)


def test_a_type_in_use_is_not_deleted_and_an_unused_one_is(centre):
    new_case(centre, centre.complaint)
    new_case(centre, centre.complaint)
    with pytest.raises(DomainError) as refused:
        services.delete_case_type(centre.admin, centre.complaint)
    assert refused.value.code == "in_use" and "2" in refused.value.message
    assert CaseType.objects.filter(pk=centre.complaint.pk).exists()

    unused = services.create_case_type(centre.admin, code="typo", name="错建的类型")
    pk = unused.pk
    services.delete_case_type(centre.admin, unused)
    assert not CaseType.objects.filter(code="typo").exists()
    assert Event.objects.get(verb="case_type.deleted", subject_id=pk).data["code"] == "typo"


# --- the admin --------------------------------------------------------------------------------------------

def test_case_types_are_added_and_changed_in_the_admin_through_the_services(admin_client, centre):
    url = reverse("admin:cases_casetype_add")
    data = form_data(admin_client.get(url))
    data.update(code="adverse_event", name="不良反应", name_en="Adverse event", position="9", is_active="on")
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    adverse = CaseType.objects.get(code="adverse_event")
    assert adverse.is_active
    assert Event.objects.filter(verb="case_type.created", subject_id=adverse.pk, actor=centre.admin).exists()

    url = reverse("admin:cases_casetype_change", args=[adverse.pk])
    data = form_data(admin_client.get(url))
    data.update(name="药品不良反应", is_complaint="on")
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    fields = sorted(Event.objects.filter(verb="case_type.updated", subject_id=adverse.pk)
                    .values_list("field", flat=True))
    assert fields == ["is_complaint", "name"]


def test_deactivating_in_the_list_goes_through_update_case_type(admin_client, centre):
    rows = list(CaseType.objects.order_by("position", "code"))
    data = {"form-TOTAL_FORMS": str(len(rows)), "form-INITIAL_FORMS": str(len(rows)), "_save": "保存"}
    for i, case_type in enumerate(rows):
        data[f"form-{i}-id"] = str(case_type.pk)
        data[f"form-{i}-position"] = str(case_type.position)
        if case_type.is_active and case_type.pk != centre.refund.pk:
            data[f"form-{i}-is_active"] = "on"
    response = admin_client.post(reverse("admin:cases_casetype_changelist"), data)
    assert response.status_code == 302
    assert not CaseType.objects.get(pk=centre.refund.pk).is_active
    [event] = Event.objects.filter(verb="case_type.updated")
    assert (event.subject_id, event.field, event.actor) == (centre.refund.pk, "is_active", centre.admin)


def test_deleting_a_type_in_use_in_the_admin_says_to_deactivate_it(admin_client, centre):
    new_case(centre, centre.complaint)
    with pytest.raises(DomainError) as refused:
        services.check_case_type_deletable(centre.complaint)
    url = reverse("admin:cases_casetype_delete", args=[centre.complaint.pk])
    response = admin_client.post(url, {"post": "yes"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [refused.value.message]
    assert response.redirect_chain[-1][0] == reverse("admin:cases_casetype_change", args=[centre.complaint.pk])
    assert CaseType.objects.filter(pk=centre.complaint.pk).exists()
