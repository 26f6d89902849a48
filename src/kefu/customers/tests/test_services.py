import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.core.errors import Conflict, DomainError
from kefu.core.models import Event
from kefu.customers import services
from kefu.customers.identities import InvalidIdentity, mask, normalize, normalize_phone
from kefu.customers.models import Customer, Grade, Identity


@pytest.mark.parametrize("raw", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "008613800138000"])
def test_mainland_mobile_numbers_normalise_to_e164(raw):
    assert normalize_phone(raw) == "+8613800138000"


def test_landline_with_area_code():
    assert normalize_phone("010-6529 5114") == "+861065295114"


@pytest.mark.parametrize("channel,value", [("phone", "12345"), ("phone", "hello"), ("email", "not-an-email"),
                                           ("wechat_openid", "bad id!"), ("fax", "123")])
def test_invalid_identities_are_refused(channel, value):
    with pytest.raises(InvalidIdentity):
        normalize(channel, value)


def test_email_domain_is_lowercased():
    assert normalize("email", " Zhang@Example.COM ") == "Zhang@example.com"


@given(st.text())
def test_normalize_never_crashes_on_junk(value):
    for channel in ("phone", "email", "wechat_openid"):
        try:
            normalize(channel, value)
        except InvalidIdentity:
            pass


def test_mask_hides_the_middle():
    assert mask("phone", "+8613800138000") == "+86138****8000"
    assert mask("email", "zhang@example.com") == "z***@example.com"


def test_identity_is_unique_per_channel(centre):
    with pytest.raises(Conflict):
        services.create_customer(centre.admin, name="冒名者", identities=[("phone", "+86 138 0013 8000")])
    other = services.create_customer(centre.admin, name="王女士")
    with pytest.raises(Conflict):
        services.add_identity(centre.admin, other, "email", "zhang@example.com")
    assert services.find_by_identity("phone", "138-0013-8000") == centre.zhangdoctor


def test_people_belong_to_organisations_only(centre):
    with pytest.raises(DomainError):
        services.create_customer(centre.admin, name="某人", organisation=centre.zhangdoctor)
    with pytest.raises(DomainError):
        services.create_customer(centre.admin, name="某集团", kind="organisation", organisation=centre.hospital)
    assert list(centre.hospital.members.all()) == [centre.zhangdoctor]


def test_manual_grade_needs_reason_and_beats_computed(centre):
    b = Grade.objects.get(code="B")
    c = Grade.objects.get(code="C")
    customer = services.create_customer(centre.admin, name="李女士")
    with pytest.raises(DomainError):
        services.set_grade(centre.limanager, customer, b, reason="")
    services.set_grade(centre.limanager, customer, b, reason="长期合作")
    services.set_grade(None, customer, c, reason="RFM", source=Customer.GradeSource.COMPUTED)
    customer.refresh_from_db()
    assert customer.grade == b and customer.grade_source == "manual"
    ev = Event.objects.filter(customer_id=customer.pk, verb="customer.grade_changed").get()
    assert (ev.old, ev.new, ev.data["reason"]) == (None, "B", "长期合作")


def test_update_logs_each_field_and_consent_time(centre):
    customer = centre.zhangdoctor
    services.update_customer(centre.xiaowang, customer, needs="希望按月对账", consent_marketing=True,
                             tags=["重点医院", "月结"])
    customer.refresh_from_db()
    assert customer.consent_updated_at is not None
    fields = set(Event.objects.filter(customer_id=customer.pk, verb="customer.updated").values_list("field", flat=True))
    assert fields == {"needs", "consent_marketing", "tags"}
    assert sorted(customer.tags.values_list("name", flat=True)) == ["月结", "重点医院"]
    with pytest.raises(DomainError):
        services.update_customer(centre.xiaowang, customer, name="  ")
    with pytest.raises(DomainError):
        services.update_customer(centre.xiaowang, customer, secret="x")


def test_primary_identity_per_channel(centre):
    customer = services.create_customer(centre.admin, name="刘先生", identities=[("phone", "13911112222")])
    second = services.add_identity(centre.admin, customer, "phone", "13911113333")
    assert not second.is_primary
    assert Identity.objects.get(customer=customer, value="+8613911112222").is_primary
