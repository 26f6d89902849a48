"""Messages over the API: JSON and multipart with attachments, the conversation list, downloads."""

import pytest
from django.test import override_settings

from kefu.cases import services
from kefu.cases.models import Attachment, Case, Message

from .conftest import Api, assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(centre):
    return services.create_case(centre.limanager, customer=centre.zhangdoctor, subject="发票问题",
                                type=centre.inquiry, channel="phone", body="发票抬头开错了",
                                team=centre.hospital_team)


def test_add_reply_as_json(centre, case):
    r = Api(centre.xiaowang).post(f"cases/{case.pk}/messages", {"kind": "staff", "body": "已为您重开发票"})
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["kind"] == "staff" and data["body"] == "已为您重开发票" and data["channel"] == "phone"
    assert data["author"]["username"] == "xiaowang" and data["case"] == case.pk
    assert data["attachments"] == []
    case.refresh_from_db()
    assert case.message_count == 2 and case.status == "open"  # a reply opens a new case


def test_add_note_and_customer_message_with_channel(centre, case):
    api = Api(centre.xiaowang)
    assert api.post(f"cases/{case.pk}/messages", {"kind": "note", "body": "财务确认中"}).status_code == 201
    r = api.post(f"cases/{case.pk}/messages", {"kind": "customer", "body": "好的谢谢", "channel": "wechat"})
    assert r.status_code == 201 and r.json()["channel"] == "wechat" and r.json()["customer"] == case.customer_id


def test_add_message_with_attachments_as_multipart(centre, case):
    api = Api(centre.xiaowang)
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = SimpleUploadedFile("破损照片.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png")
    invoice = SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    r = api.client.post(f"/api/v1/cases/{case.pk}/messages",
                        {"kind": "customer", "body": "照片见附件", "attachments": [photo, invoice]})
    assert r.status_code == 201, r.content
    files = r.json()["attachments"]
    assert [(f["filename"], f["content_type"], f["size"]) for f in files] == [
        ("破损照片.png", "image/png", 108), ("invoice.pdf", "application/pdf", 13)]
    download = api.client.get(files[1]["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 test"
    assert "attachment" in download["Content-Disposition"]
    # another team's agent cannot fetch it
    assert_error(Api(centre.xiaoli).client.get(files[1]["url"]), 404)


def test_multipart_validation_errors(centre, case):
    api = Api(centre.xiaowang)
    r = api.client.post(f"/api/v1/cases/{case.pk}/messages", {"kind": "shout", "body": "x"})
    assert assert_error(r, 422, "validation_error")["field"] == "kind"
    r = api.client.post(f"/api/v1/cases/{case.pk}/messages", {"kind": "note"})
    assert assert_error(r, 422, "validation_error")["field"] == "body"


def test_attachment_of_a_refused_type(centre, case):
    from django.core.files.uploadedfile import SimpleUploadedFile

    exe = SimpleUploadedFile("setup.exe", b"MZ" * 10, content_type="application/x-msdownload")
    r = Api(centre.xiaowang).client.post(f"/api/v1/cases/{case.pk}/messages",
                                        {"kind": "staff", "body": "x", "attachments": [exe]})
    assert assert_error(r, 400, "unsupported_type")["field"] == "attachments"
    assert Message.objects.filter(case=case).count() == 1
    assert not Attachment.objects.exists()


@override_settings(KEFU_ATTACHMENT_MAX_BYTES=1000)
def test_oversize_attachment_is_413(centre, case):
    from django.core.files.uploadedfile import SimpleUploadedFile

    big = SimpleUploadedFile("scan.pdf", b"%PDF" + b"0" * 2000, content_type="application/pdf")
    r = Api(centre.xiaowang).client.post(f"/api/v1/cases/{case.pk}/messages",
                                        {"kind": "staff", "body": "x", "attachments": [big]})
    assert_error(r, 413)
    assert Message.objects.filter(case=case).count() == 1


def test_too_many_files_is_413(centre, case):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile(f"{i}.txt", b"hello", content_type="text/plain") for i in range(11)]
    r = Api(centre.xiaowang).client.post(f"/api/v1/cases/{case.pk}/messages",
                                        {"kind": "staff", "body": "x", "attachments": files})
    assert_error(r, 413, "too_many_files")


@pytest.mark.parametrize("body,status,field", [
    ({"kind": "staff", "body": "   "}, 400, "body"),
    ({"kind": "staff"}, 422, "body"),
    ({"body": "x"}, 422, "kind"),
    ({"kind": "staff", "body": "x", "channel": "fax"}, 422, "channel"),
    ({"kind": "staff", "body": "x", "extra": 1}, 422, "extra"),
    ({"kind": "staff", "body": 42}, 422, "body"),
])
def test_bad_messages(centre, case, body, status, field):
    r = Api(centre.xiaowang).post(f"cases/{case.pk}/messages", body)
    assert assert_error(r, status)["field"] == field
    assert Case.objects.get(pk=case.pk).message_count == 1


def test_bad_message_bodies(centre, case):
    api = Api(centre.xiaowang)
    assert_error(api.post(f"cases/{case.pk}/messages", b"{nope"), 400, "malformed_json")
    assert_error(api.post(f"cases/{case.pk}/messages", b"[1, 2]"), 422, "validation_error")
    assert_error(api.post(f"cases/{case.pk}/messages", b"", content_type="application/json"), 422)
    assert_error(api.post(f"cases/{case.pk}/messages", b"<xml/>", content_type="application/xml"), 415)


def test_closed_case_takes_no_messages(centre, case):
    services.change_status(centre.limanager, case, "solved")
    services.change_status(centre.limanager, case, "closed")
    r = Api(centre.xiaowang).post(f"cases/{case.pk}/messages", {"kind": "staff", "body": "还在吗"})
    assert_error(r, 409, "invalid_transition")
    assert Case.objects.get(pk=case.pk).message_count == 1


def test_conversation_is_oldest_first_with_paging(centre, case):
    for i in range(4):
        services.add_message(centre.xiaowang, case, kind="staff", body=f"回复 {i}")
    api = Api(centre.xiaowang)
    first = api.get(f"cases/{case.pk}/messages", {"limit": 3}).json()
    assert [m["body"] for m in first["items"]] == ["发票抬头开错了", "回复 0", "回复 1"]
    second = api.get(f"cases/{case.pk}/messages", {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [m["body"] for m in second["items"]] == ["回复 2", "回复 3"]
    assert second["next_cursor"] is None
    # a cursor of one case's conversation is no good for another's
    other = services.create_case(centre.limanager, customer=centre.zhangdoctor, subject="另一个",
                                 type=centre.inquiry, channel="phone", team=centre.hospital_team)
    r = api.get(f"cases/{other.pk}/messages", {"cursor": first["next_cursor"]})
    assert_error(r, 400, "invalid_cursor")
