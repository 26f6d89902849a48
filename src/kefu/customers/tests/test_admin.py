"""The customer admin writes through kefu.customers.services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kefu.core.errors import DomainError
from kefu.core.models import Event
from kefu.core.tests.admin_helpers import errors_of, form_data
from kefu.customers import services
from kefu.customers.models import Customer, Grade, Identity


@pytest.fixture
def admin_client(client, centre):
    client.force_login(centre.admin)
    return client


def test_a_customer_created_in_the_admin_goes_through_create_customer(admin_client, centre):
    url = reverse("admin:customers_customer_add")
    data = form_data(admin_client.get(url))
    data.update(kind="person", name="王药师", organisation=str(centre.hospital.pk), title="药房主管",
                phone="139 1000 2000", email="wang@Example.COM", grade=str(Grade.objects.get(code="B").pk),
                grade_reason="药房采购决策人")
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    customer = Customer.objects.get(name="王药师")
    assert customer.organisation == centre.hospital and customer.grade.code == "B"
    assert customer.grade_source == Customer.GradeSource.MANUAL
    assert sorted(customer.identities.values_list("channel", "value")) == [
        ("email", "wang@example.com"), ("phone", "+8613910002000")]
    assert Event.objects.filter(verb="customer.created", customer_id=customer.pk, actor=centre.admin).exists()


def test_a_phone_of_another_customer_is_refused_and_nothing_is_saved(admin_client, centre):
    url = reverse("admin:customers_customer_add")
    data = form_data(admin_client.get(url))
    data.update(kind="person", name="冒名者", phone="13800138000")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "phone" in errors_of(response)
    assert "+8613800138000" in errors_of(response)["phone"][0]
    assert not Customer.objects.filter(name="冒名者").exists()


def test_profile_grade_and_tags_change_through_the_services(admin_client, centre):
    url = reverse("admin:customers_customer_change", args=[centre.zhangdoctor.pk])
    data = form_data(admin_client.get(url))
    data.update(region="北京市东城区", consent_marketing="on", grade=str(Grade.objects.get(code="B").pk),
                grade_reason="年度复核: 采购转到药剂科", needs="希望每月收到新药说明")
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    customer = Customer.objects.get(pk=centre.zhangdoctor.pk)
    assert (customer.region, customer.consent_marketing, customer.grade.code) == ("北京市东城区", True, "B")
    assert customer.consent_updated_at is not None
    fields = set(Event.objects.filter(customer_id=customer.pk, verb="customer.updated")
                 .values_list("field", flat=True))
    assert fields == {"region", "consent_marketing", "needs"}
    grade_event = Event.objects.get(customer_id=customer.pk, verb="customer.grade_changed")
    assert (grade_event.old, grade_event.new) == ("A", "B")


def test_an_invalid_profile_is_refused_with_the_service_message(admin_client, centre):
    url = reverse("admin:customers_customer_change", args=[centre.zhangdoctor.pk])
    data = form_data(admin_client.get(url))
    data.update(org_type="hospital", region="上海")  # a person cannot have an organisation type
    response = admin_client.post(url, data)
    assert response.status_code == 200
    with pytest.raises(DomainError) as refused:
        services.update_customer(centre.admin, Customer.objects.get(pk=centre.zhangdoctor.pk),
                                 org_type="hospital")
    assert errors_of(response) == {"org_type": [refused.value.message]}
    assert Customer.objects.get(pk=centre.zhangdoctor.pk).region == ""


def test_identities_are_added_and_removed_through_the_services(admin_client, centre):
    url = reverse("admin:customers_identity_add")
    data = form_data(admin_client.get(url, {"customer": centre.zhangdoctor.pk}))
    assert data["customer"] == str(centre.zhangdoctor.pk)
    data.update(channel="wechat_openid", value="oZhang_2026_abcdef")
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    identity = Identity.objects.get(value="oZhang_2026_abcdef")
    assert Event.objects.filter(verb="customer.identity_added", customer_id=centre.zhangdoctor.pk).exists()

    response = admin_client.post(reverse("admin:customers_identity_delete", args=[identity.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Identity.objects.filter(pk=identity.pk).exists()
    assert Event.objects.filter(verb="customer.identity_removed", customer_id=centre.zhangdoctor.pk).exists()


def test_an_identity_of_another_customer_is_refused(admin_client, centre):
    other = services.create_customer(centre.admin, name="李女士")
    url = reverse("admin:customers_identity_add")
    data = form_data(admin_client.get(url))
    data.update(customer=str(other.pk), channel="phone", value="+86 138-0013-8000")
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "value" in errors_of(response)
    assert not other.identities.exists()


def test_search_customers_by_phone_email_id_and_name(admin_client, centre):
    url = reverse("admin:customers_customer_changelist")

    def found(q):
        return [c.name for c in admin_client.get(url, {"q": q}).context["cl"].result_list]

    assert found("138 0013 8000") == ["张医生"]
    assert found("zhang@EXAMPLE.com") == ["张医生"]
    assert found("协和") == ["北京协和医院"]
    assert found(str(centre.hospital.pk)) == ["北京协和医院"]


def test_identity_values_are_masked_in_the_list(admin_client, centre):
    page = admin_client.get(reverse("admin:customers_identity_changelist")).content.decode()
    assert "+8613800138000" not in page
    assert "****" in page


def test_customers_cannot_be_deleted_in_the_admin(admin_client, centre):
    url = reverse("admin:customers_customer_delete", args=[centre.zhangdoctor.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
