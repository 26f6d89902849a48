"""Idempotency-Key: a retried create never makes a duplicate, and a reused key is refused."""

import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from kefu.api import idempotency
from kefu.cases import services as case_services
from kefu.cases.models import Attachment, Case, Message
from kefu.core.models import ApiToken, IdempotencyRecord
from kefu.customers.models import Customer, Identity

from .conftest import Api, assert_error

pytestmark = pytest.mark.django_db


def case_body(centre, subject="重复提交的投诉"):
    return {"customer": centre.zhangdoctor.pk, "subject": subject, "type": "complaint", "channel": "wechat",
            "body": "药品有异味", "team": centre.hospital_team.pk}


def test_retry_answers_the_stored_response_without_a_duplicate(centre):
    api = Api(centre.xiaowang)
    first = api.post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY="order-7731")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    again = api.post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY="order-7731")
    assert again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1 and Message.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.user == centre.xiaowang and record.status_code == 201 and record.path == "/api/v1/cases"


def test_json_is_compared_by_value(centre):
    api = Api(centre.xiaowang)
    pk = centre.zhangdoctor.pk
    first = api.post("cases", f'{{"customer": {pk}, "subject": "s", "type": "inquiry", "channel": "phone"}}',
                     HTTP_IDEMPOTENCY_KEY="k")
    again = api.post("cases", f'{{"channel":"phone","type":"inquiry","subject":"s","customer":{pk}}}',
                     HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == 201 and again.content == first.content
    assert Case.objects.count() == 1


def test_same_key_different_request_is_422(centre):
    api = Api(centre.xiaowang)
    assert api.post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY="k1").status_code == 201
    body = assert_error(api.post("cases", case_body(centre, subject="另一个"), HTTP_IDEMPOTENCY_KEY="k1"),
                        422, "idempotency_key_reused")
    assert body["field"] == "Idempotency-Key"
    # the same key on another endpoint is another request too
    assert_error(api.post("customers", {"name": "王女士"}, HTTP_IDEMPOTENCY_KEY="k1"), 422,
                 "idempotency_key_reused")
    assert Case.objects.count() == 1 and not Customer.objects.filter(name="王女士").exists()


def test_keys_belong_to_their_user(centre):
    a, b = Api(centre.xiaowang), Api(centre.zhaolead)
    assert a.post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert b.post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert Case.objects.count() == 2


def test_a_refused_request_is_not_stored(centre):
    api = Api(centre.xiaowang)
    bad = api.post("cases", case_body(centre) | {"type": "nonsense"}, HTTP_IDEMPOTENCY_KEY="fixme")
    assert_error(bad, 422)
    assert not IdempotencyRecord.objects.exists()
    refused = api.post("cases", case_body(centre) | {"assignee": centre.xiaoli.pk}, HTTP_IDEMPOTENCY_KEY="fixme")
    assert_error(refused, 400)
    assert not IdempotencyRecord.objects.exists() and not Case.objects.exists()
    assert api.post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY="fixme").status_code == 201


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "ключ", "tab\there"])
def test_bad_keys_are_400(centre, key):
    r = Api(centre.xiaowang).post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY=key)
    assert_error(r, 400, "invalid_idempotency_key")
    assert not Case.objects.exists()


def test_customers_identities_messages_and_tokens_are_idempotent(centre):
    api = Api(centre.xiaowang)
    key = {"HTTP_IDEMPOTENCY_KEY": "c-1"}
    for _ in range(2):
        assert api.post("customers", {"name": "赵药师", "identities": [{"channel": "phone", "value": "13912345678"}]},
                        **key).status_code == 201
    assert Customer.objects.filter(name="赵药师").count() == 1

    url = f"customers/{centre.zhangdoctor.pk}/identities"
    first = api.post(url, {"channel": "email", "value": "zhang2@example.com"}, HTTP_IDEMPOTENCY_KEY="i-1")
    again = api.post(url, {"channel": "email", "value": "zhang2@example.com"}, HTTP_IDEMPOTENCY_KEY="i-1")
    assert first.status_code == again.status_code == 201 and first.content == again.content
    assert Identity.objects.filter(value="zhang2@example.com").count() == 1

    case = case_services.create_case(centre.xiaowang, customer=centre.zhangdoctor, subject="s",
                                     type=centre.inquiry, channel="phone", team=centre.hospital_team)
    for _ in range(3):
        r = api.post(f"cases/{case.pk}/messages", {"kind": "staff", "body": "您好"}, HTTP_IDEMPOTENCY_KEY="m-1")
        assert r.status_code == 201
    assert Message.objects.filter(case=case).count() == 1

    first = api.post("tokens", {"name": "脚本"}, HTTP_IDEMPOTENCY_KEY="t-1")
    again = api.post("tokens", {"name": "脚本"}, HTTP_IDEMPOTENCY_KEY="t-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["token"].startswith("kefu_")
    # the token is shown once: a replay answers everything else, but not the secret
    assert again.json() == first.json() | {"token": None}
    assert ApiToken.objects.filter(name="脚本").count() == 1
    assert first.json()["token"] not in str(IdempotencyRecord.objects.get(key="t-1").response)


def test_multipart_messages_are_compared_by_file_content(centre):
    api = Api(centre.xiaowang)
    case = case_services.create_case(centre.xiaowang, customer=centre.zhangdoctor, subject="s",
                                     type=centre.inquiry, channel="phone", team=centre.hospital_team)
    url = f"/api/v1/cases/{case.pk}/messages"

    def send(content):
        upload = SimpleUploadedFile("a.txt", content, content_type="text/plain")
        return api.client.post(url, {"kind": "staff", "body": "附件", "attachments": [upload]},
                               HTTP_IDEMPOTENCY_KEY="f-1")

    first, again = send(b"hello"), send(b"hello")
    assert first.status_code == again.status_code == 201 and first.content == again.content
    assert Attachment.objects.count() == 1
    assert_error(send(b"other"), 422, "idempotency_key_reused")


def test_losing_a_race_rolls_back_and_replays_the_winner(centre, monkeypatch):
    """Two requests with one key both pass the look-up; the second one's insert of the record fails on
    the unique constraint, its case is rolled back and it answers the first one's response."""
    api = Api(centre.xiaowang)
    winner = api.post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY="race")
    assert winner.status_code == 201
    real_find = idempotency._find
    calls = []

    def find_too_early(user, key):
        calls.append(key)
        return None if len(calls) == 1 else real_find(user, key)  # the first look-up ran before the commit

    monkeypatch.setattr(idempotency, "_find", find_too_early)
    loser = api.post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY="race")
    assert loser.status_code == 201 and loser.content == winner.content
    assert Case.objects.count() == 1 and Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_on_postgresql(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database with concurrent writers (PostgreSQL)")
    from kefu.core.testing import Centre

    centre = Centre()
    api = Api(centre.xiaowang)
    real_create = case_services.create_case

    def slow_create(*args, **kwargs):
        case = real_create(*args, **kwargs)
        time.sleep(0.3)  # hold the transaction open so the requests overlap
        return case

    monkeypatch.setattr(case_services, "create_case", slow_create)
    n = 4
    barrier = threading.Barrier(n)
    responses = []

    def worker():
        try:
            barrier.wait()
            responses.append(api.post("cases", case_body(centre), HTTP_IDEMPOTENCY_KEY="concurrent"))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(responses) == n
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert sum(1 for r in responses if r.get("Idempotent-Replayed") == "true") == n - 1
    assert Case.objects.count() == 1 and Message.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
