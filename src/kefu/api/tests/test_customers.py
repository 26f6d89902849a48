"""Customers over the API: masked lists and filters, create, read, update, identities, grade."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kefu.core.models import Event
from kefu.customers import services
from kefu.customers.models import Customer, Identity, Tag

from .conftest import Api, assert_error

pytestmark = pytest.mark.django_db


def test_list_masks_identities_and_detail_shows_them(centre):
    api = Api(centre.xiaowang)  # any staff member may read customers
    items = api.get("customers").json()["items"]
    zhang = next(c for c in items if c["name"] == "张医生")
    assert [i["value"] for i in zhang["identities"]] == ["+86138****8000", "z***@example.com"]
    assert zhang["organisation"] == {"id": centre.hospital.pk, "name": "北京协和医院"}
    assert zhang["grade"]["code"] == "A"
    detail = api.get(f"customers/{centre.zhangdoctor.pk}").json()
    assert [i["value"] for i in detail["identities"]] == ["+8613800138000", "zhang@example.com"]
    assert detail["grade_reason"] == "核心医院的关键联系人" and detail["grade_source"] == "manual"
    assert detail["consent"]["service"] is True and detail["consent"]["marketing"] is False
    assert detail["title"] == "药剂科主任"


def test_create_customer_with_identities_grade_and_tags(centre):
    r = Api(centre.xiaowang).post("customers", {
        "name": "李药师", "organisation": centre.hospital.pk, "title": "药师", "region": "北京",
        "identities": [{"channel": "phone", "value": "139 1000 2000"}, {"channel": "wechat_openid",
                                                                         "value": "oAbc_123456"}],
        "grade": "B", "grade_reason": "月度采购稳定", "tags": ["处方药", "  重点  ", ""],
        "needs": "需要最新说明书", "consent_marketing": True, "birthday": "1980-05-04"})
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["identities"][0] == {"id": data["identities"][0]["id"], "channel": "phone",
                                     "value": "+8613910002000", "is_primary": True, "verified": False}
    assert data["grade"]["code"] == "B" and data["grade_reason"] == "月度采购稳定"
    assert sorted(data["tags"]) == ["处方药", "重点"]
    assert data["birthday"] == "1980-05-04" and data["consent"]["marketing"] is True
    assert Event.objects.filter(customer_id=data["id"], verb="customer.created").exists()
    assert Api(centre.xiaowang).get(f"customers/{data['id']}").json() == data


def test_create_organisation(centre):
    r = Api(centre.xiaowang).post("customers", {"name": "同仁堂药店", "kind": "organisation",
                                                "org_type": "pharmacy"})
    assert r.status_code == 201 and r.json()["org_type"] == "pharmacy"


@pytest.mark.parametrize("body,status,code,field", [
    ({"name": ""}, 400, "invalid", "name"),
    ({"name": "x" * 201}, 422, "validation_error", "name"),
    ({"name": "x", "kind": "robot"}, 422, "validation_error", "kind"),
    ({"name": "x", "org_type": "hospital"}, 400, "invalid", "org_type"),
    ({"name": "x", "organisation": 999999}, 422, "unknown_reference", "organisation"),
    ({"name": "x", "grade": "Z", "grade_reason": "r"}, 422, "unknown_reference", "grade"),
    ({"name": "x", "grade": "B"}, 422, "invalid", "grade_reason"),
    ({"name": "x", "identities": [{"channel": "phone", "value": "123"}]}, 400, "invalid", "identities"),
    ({"name": "x", "identities": [{"channel": "fax", "value": "123"}]}, 422, "validation_error",
     "identities.0.channel"),
    ({"name": "x", "identities": [{"channel": "phone", "value": "13800138000"}]}, 409, "conflict", "identities"),
    ({"name": "x", "identities": [{"channel": "email", "value": "same@example.com"},
                                  {"channel": "email", "value": "same@example.com"}]}, 409, "conflict", "identities"),
    ({"name": "x", "birthday": "1980-13-45"}, 422, "validation_error", "birthday"),
    ({"name": "x", "tags": ["x" * 51]}, 422, "validation_error", "tags.0"),
    ({"name": "x\u0000y"}, 422, "validation_error", "name"),
])
def test_create_customer_bad_input(centre, body, status, code, field):
    before = Customer.objects.count()
    r = Api(centre.xiaowang).post("customers", body)
    assert assert_error(r, status, code)["field"] == field
    assert Customer.objects.count() == before


def test_organisation_must_be_an_organisation(centre):
    r = Api(centre.xiaowang).post("customers", {"name": "x", "organisation": centre.zhangdoctor.pk})
    assert assert_error(r, 400)["field"] == "organisation"


def test_update_customer(centre):
    api = Api(centre.xiaowang)
    r = api.patch(f"customers/{centre.zhangdoctor.pk}", {
        "title": "药剂科副主任", "preferences": "微信联系, 工作日上午", "consent_marketing": True,
        "tags": ["关键联系人"], "birthday": None})
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["title"] == "药剂科副主任" and data["tags"] == ["关键联系人"]
    assert data["consent"]["marketing"] is True and data["consent"]["updated_at"] is not None
    assert data["name"] == "张医生"  # untouched
    fields = set(Event.objects.filter(customer_id=centre.zhangdoctor.pk, verb="customer.updated")
                 .values_list("field", flat=True))
    assert fields == {"title", "preferences", "consent_marketing", "tags"}


def test_update_customer_clears_the_organisation(centre):
    r = Api(centre.xiaowang).patch(f"customers/{centre.zhangdoctor.pk}", {"organisation": None})
    assert r.status_code == 200 and r.json()["organisation"] is None


@pytest.mark.parametrize("body,status,field", [
    ({"name": None}, 422, "name"),
    ({"title": None}, 422, "title"),
    ({"name": "  "}, 400, "name"),
    ({"kind": "organisation"}, 400, "organisation"),
    ({"grade": "B"}, 422, "grade"),
    ({"identities": []}, 422, "identities"),
    ({"organisation": 999999}, 422, "organisation"),
    ({"consent_survey": "maybe"}, 422, "consent_survey"),
])
def test_update_customer_bad_input(centre, body, status, field):
    r = Api(centre.xiaowang).patch(f"customers/{centre.zhangdoctor.pk}", body)
    assert assert_error(r, status)["field"] == field
    centre.zhangdoctor.refresh_from_db()
    assert centre.zhangdoctor.name == "张医生" and centre.zhangdoctor.organisation_id == centre.hospital.pk


def test_unknown_customer_is_404(centre):
    api = Api(centre.xiaowang)
    assert_error(api.get("customers/999999"), 404, "not_found")
    assert_error(api.patch("customers/999999", {"title": "x"}), 404)
    assert_error(api.put("customers/999999/grade", {"grade": "A", "reason": "x"}), 404)
    assert_error(api.post("customers/999999/identities", {"channel": "email", "value": "a@b.cn"}), 404)


def test_add_and_remove_identities(centre):
    api = Api(centre.xiaowang)
    url = f"customers/{centre.zhangdoctor.pk}/identities"
    r = api.post(url, {"channel": "email", "value": "Zhang.Yi@PUMCH.cn", "verified": True})
    assert r.status_code == 201, r.content
    identity = r.json()
    assert identity["value"] == "Zhang.Yi@pumch.cn" and identity["verified"] is True
    again = api.post(url, {"channel": "email", "value": "Zhang.Yi@pumch.cn"})
    assert again.status_code == 200 and again.json()["id"] == identity["id"]
    other = services.create_customer(centre.admin, name="王女士")
    taken = api.post(f"customers/{other.pk}/identities", {"channel": "email", "value": "Zhang.Yi@pumch.cn"})
    assert assert_error(taken, 409, "conflict")["field"] == "value"
    assert_error(api.post(url, {"channel": "phone", "value": "not a number"}), 400)
    assert_error(api.post(url, {"channel": "phone"}), 422)
    # removing: only through its own customer
    assert_error(api.delete(f"customers/{other.pk}/identities/{identity['id']}"), 404)
    r = api.delete(f"{url}/{identity['id']}")
    assert r.status_code == 204 and r.content == b""
    assert not Identity.objects.filter(pk=identity["id"]).exists()
    assert_error(api.delete(f"{url}/{identity['id']}"), 404)


def test_set_and_clear_grade(centre):
    api = Api(centre.xiaowang)
    url = f"customers/{centre.zhangdoctor.pk}/grade"
    r = api.put(url, {"grade": "C", "reason": "采购量下降"})
    assert r.status_code == 200, r.content
    assert r.json()["grade"]["code"] == "C" and r.json()["grade_reason"] == "采购量下降"
    assert_error(api.put(url, {"grade": "B", "reason": ""}), 400)
    assert assert_error(api.put(url, {"grade": "Q", "reason": "x"}), 422)["field"] == "grade"
    assert assert_error(api.put(url, {"reason": "x"}), 422)["field"] == "grade"
    r = api.put(url, {"grade": None})
    assert r.status_code == 200 and r.json()["grade"] is None and r.json()["grade_source"] == "computed"


def test_list_filters(centre):
    api = Api(centre.xiaowang)
    patient = services.create_customer(centre.admin, name="患者王", grade=None, tags=["慢病"])
    org_ids = [c["id"] for c in api.get("customers", {"kind": "organisation"}).json()["items"]]
    assert org_ids == [centre.hospital.pk]
    assert [c["id"] for c in api.get("customers", {"grade": "A"}).json()["items"]] == [
        centre.zhangdoctor.pk, centre.hospital.pk]
    assert [c["id"] for c in api.get("customers", {"organisation": centre.hospital.pk}).json()["items"]] == [
        centre.zhangdoctor.pk]
    assert [c["id"] for c in api.get("customers", {"tag": "慢病"}).json()["items"]] == [patient.pk]
    assert api.get("customers", {"tag": "没有"}).json()["items"] == []
    Customer.objects.filter(pk=centre.hospital.pk).update(updated_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert centre.hospital.pk not in [c["id"] for c in api.get("customers", {"updated_since": since}).json()["items"]]
    assert_error(api.get("customers", {"grade": "Q"}), 422)
    assert_error(api.get("customers", {"kind": "alien"}), 422)
    assert Tag.objects.filter(name="慢病").exists()
