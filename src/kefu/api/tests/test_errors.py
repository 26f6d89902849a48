"""Every error is JSON with a code and a message; nothing a client sends makes a 5xx."""

import pytest
from django.test import override_settings

from kefu.cases.models import Case

from .conftest import Api, assert_error

pytestmark = pytest.mark.django_db


def test_unknown_paths_are_json_404(centre):
    api = Api(centre.limanager)
    for path in ["/api/v1/", "/api/v1/nope", "/api/v1/cases/1/nothing", "/api/v1/customers/x/identities"]:
        body = assert_error(api.client.get(path), 404, "not_found")
        assert "/api/v1/docs" in body["detail"]


def test_wrong_method_is_json_405(centre):
    api = Api(centre.limanager)
    r = api.put("cases", {})
    body = assert_error(r, 405, "method_not_allowed")
    assert "PUT" in body["detail"]
    assert set(r["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert_error(api.delete("case-types"), 405)
    assert_error(api.post("users/me", {}), 405)


@pytest.mark.parametrize("raw,detail", [
    (b"{", "not valid JSON"),
    (b'{"subject": "x",}', "not valid JSON"),
    (b"\xff\xfe\x00garbage", "JSON"),
    (b"subject=x&type=y", "not valid JSON"),
])
def test_malformed_json_is_400(centre, raw, detail):
    body = assert_error(Api(centre.limanager).post("cases", raw), 400, "malformed_json")
    assert detail in body["detail"]


@pytest.mark.parametrize("raw", [b"[]", b"1", b'"text"', b"null", b"true"])
def test_json_that_is_not_an_object_is_422(centre, raw):
    assert_error(Api(centre.limanager).post("cases", raw), 422, "validation_error")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_oversize_body_is_413(centre):
    api = Api(centre.limanager)
    big = {"customer": centre.zhangdoctor.pk, "subject": "s", "type": "inquiry", "channel": "phone",
           "body": "长" * 2000}
    assert_error(api.post("cases", big), 413, "too_large")
    case = Case.objects.create(subject="s", type=centre.inquiry, channel="phone", customer=centre.zhangdoctor)
    assert_error(api.post(f"cases/{case.pk}/messages", {"kind": "note", "body": "x" * 2000}), 413, "too_large")
    assert_error(api.patch(f"customers/{centre.zhangdoctor.pk}", {"needs": "x" * 2000}), 413, "too_large")
    assert Case.objects.count() == 1


def test_validation_errors_name_every_field(centre):
    body = assert_error(Api(centre.limanager).post("cases", {
        "customer": "abc", "subject": 5, "type": None, "channel": "fax", "departments": ["x"]}), 422,
        "validation_error")
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert set(fields) == {"customer", "subject", "type", "channel", "departments.0"}
    assert fields["customer"] == "must be a whole number"
    assert "wechat" in fields["channel"]
    assert body["field"] == "customer"
    assert "customer: must be a whole number" in body["detail"]


def test_strings_that_no_database_can_store_are_422(centre):
    api = Api(centre.limanager)
    for bad in ["nul\u0000", "\ud800 lone surrogate"]:
        body = assert_error(api.post("customers", {"name": bad}), 422, "validation_error")
        assert body["field"] == "name"
        assert_error(api.get("customers", {"tag": bad.replace("\ud800", "\x00")}), 422)


def test_out_of_range_numbers_are_422(centre):
    api = Api(centre.limanager)
    huge = 2**64
    assert_error(api.post("cases", {"customer": huge, "subject": "s", "type": "inquiry", "channel": "phone"}),
                 422)
    assert_error(api.get("cases", {"team": huge}), 422)
    assert_error(api.get("cases", {"updated_since": "0001-01-01T00:00:00+14:00"}), 422)
    assert_error(api.get(f"customers/{huge}"), 422)


def test_a_form_sent_to_a_json_endpoint_in_a_session_is_415(centre):
    from django.test import Client

    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(centre.limanager)
    client.get("/accounts/login/")
    csrf = client.cookies["csrftoken"].value
    for path in ["/api/v1/cases", "/api/v1/customers", "/api/v1/tokens",
                 f"/api/v1/customers/{centre.zhangdoctor.pk}/identities"]:
        # the CSRF check reads the form, so the body can no longer be read as JSON
        assert_error(client.post(path, {"name": "x", "csrfmiddlewaretoken": csrf}), 415, "unsupported_media_type")
        r = client.post(path, "name=x", content_type="application/x-www-form-urlencoded", HTTP_X_CSRFTOKEN=csrf)
        assert_error(r, 400, "malformed_json")


def test_json_nested_too_deep_is_400(centre):
    api = Api(centre.limanager)
    case = Case.objects.create(subject="s", type=centre.inquiry, channel="phone", customer=centre.zhangdoctor)
    deep = b"[" * 200_000
    for path in ["cases", f"cases/{case.pk}/messages", "customers", f"cases/{case.pk}"]:
        method = api.patch if path == f"cases/{case.pk}" else api.post
        assert_error(method(path, deep, HTTP_IDEMPOTENCY_KEY="deep"), 400, "malformed_json")
