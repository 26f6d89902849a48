"""The admin: in Chinese, every model of core/people/customers/cases listed with bounded queries, the event
log read-only, API tokens created through kefu.core.tokens and shown once."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from kefu.cases import services as case_services
from kefu.cases.models import Message, Status
from kefu.cases.services import Upload
from kefu.core import tokens
from kefu.core.errors import DomainError
from kefu.core.models import ApiToken, Event, IdempotencyRecord, ScheduledJob, hash_token
from kefu.core.scheduler import tick
from kefu.customers import services as customer_services

from .admin_helpers import count_queries, errors_of, form_data

APPS = ("core", "people", "customers", "cases")
MAX_QUERIES = 10  # session, user, the rows, the count, small lookup tables of the filters, date hierarchy


@pytest.fixture
def admin_client(client, centre):
    client.force_login(centre.admin)
    return client


def registered_models():
    return sorted((m for m in admin.site._registry if m._meta.app_label in APPS), key=lambda m: m._meta.label)


def test_every_model_of_the_domain_apps_is_in_the_admin():
    from django.apps import apps

    expected = {m._meta.label for label in APPS for m in apps.get_app_config(label).get_models()}
    assert {m._meta.label for m in registered_models()} == expected


def populate(centre, n: int, start: int = 0) -> None:
    """n cases with messages, events, customers, identities, tokens and idempotency records."""
    for i in range(start, start + n):
        customer = customer_services.create_customer(
            centre.admin, name=f"患者{i}", identities=[("phone", f"1390000{i:04d}")], tags=["随访"])
        case = case_services.create_case(
            centre.xiaowang, customer=customer, subject=f"用药咨询 {i}", type=centre.inquiry, channel="wechat",
            body="请问这个药饭前吃还是饭后吃?", team=centre.hospital_team, assignee=centre.xiaowang,
            departments=[centre.quality_dept])
        case_services.add_message(centre.xiaowang, case, kind=Message.Kind.STAFF, body="饭后服用。",
                                  attachments=[Upload("说明书.txt", "饭后服用,每日两次。".encode())])
        tokens.create_token(centre.admin, centre.xiaowang, f"脚本 {i}")
        IdempotencyRecord.objects.create(user=centre.xiaowang, key=f"k{i}", method="POST", path="/api/v1/cases",
                                         request_hash="h", status_code=201, response={"id": case.pk})


def changelist_urls():
    return [reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist") for m in registered_models()]


def test_every_change_list_loads_with_a_bounded_number_of_queries(admin_client, centre):
    tick()  # the periodic jobs have rows
    populate(centre, 2)
    few = {}
    for url in changelist_urls():
        queries, response = count_queries(admin_client, url)
        assert response.status_code == 200, url
        assert queries <= MAX_QUERIES, f"{url}: {queries} queries"
        few[url] = queries
    populate(centre, 6, start=2)
    more = {url: count_queries(admin_client, url)[0] for url in changelist_urls()}
    assert more == few  # no query per row


def test_the_admin_speaks_chinese_by_default_and_english_on_request(admin_client, centre):
    response = admin_client.get(reverse("admin:index"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'lang="zh-hans"' in page
    assert "工单" in page and "客户" in page and "事件日志" in page
    response = admin_client.get(reverse("admin:index"), headers={"accept-language": "en"})
    assert 'lang="en"' in response.content.decode()
    assert "Cases" in response.content.decode()


def test_every_change_page_opens(admin_client, centre):
    tick()
    populate(centre, 1)
    for model in registered_models():
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, model
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
        assert admin_client.get(url).status_code == 200, url


# --- the event log is read-only ------------------------------------------------------------------------------

def test_the_event_log_cannot_be_added_changed_or_deleted(admin_client, centre):
    event = Event.objects.order_by("id").first()
    change = reverse("admin:core_event_change", args=[event.pk])
    assert admin_client.get(change).status_code == 200  # it can be read
    assert admin_client.get(reverse("admin:core_event_add")).status_code == 403
    assert admin_client.post(change, {"verb": "forged"}).status_code == 403
    delete = reverse("admin:core_event_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    response = admin_client.post(reverse("admin:core_event_changelist"),
                                 {"action": "delete_selected", "_selected_action": [event.pk]})
    assert Event.objects.filter(pk=event.pk, verb=event.verb).exists()
    assert response.status_code in (200, 302)
    model_admin = admin.site._registry[Event]
    request = type("R", (), {"user": centre.admin})()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)


def test_event_search_by_case_id_and_action(admin_client, centre):
    case = case_services.create_case(centre.xiaowang, customer=centre.zhangdoctor, subject="发票",
                                     type=centre.inquiry, channel="phone", body="发票开错了")
    case_services.change_status(centre.xiaowang, case, Status.OPEN)
    url = reverse("admin:core_event_changelist")
    found = admin_client.get(url, {"q": f"#{case.pk}"}).context["cl"].result_list
    assert {e.verb for e in found} == {"case.created", "message.added", "case.status_changed"}
    found = admin_client.get(url, {"q": "case.status_changed"}).context["cl"].result_list
    assert [e.case_id for e in found] == [case.pk]


# --- API tokens ---------------------------------------------------------------------------------------------

def test_a_token_created_in_the_admin_is_shown_once_and_only_its_digest_is_kept(admin_client, centre):
    url = reverse("admin:core_apitoken_add")
    data = form_data(admin_client.get(url))
    data.update(user=str(centre.xiaowang.pk), name="呼叫中心对接")
    response = admin_client.post(url, data, follow=True)
    token = ApiToken.objects.get(name="呼叫中心对接")
    [raw] = re.findall(r"<code>(kefu_[A-Za-z0-9_-]+)</code>", response.content.decode())
    assert hash_token(raw) == token.digest
    assert token.prefix == raw[:len(token.prefix)]
    assert Event.objects.filter(verb="token.created", subject_id=token.pk, actor=centre.admin).exists()
    # Never again: not on the token's page, not in the list; the digest is never shown.
    for page in (reverse("admin:core_apitoken_change", args=[token.pk]),
                 reverse("admin:core_apitoken_changelist")):
        content = admin_client.get(page).content.decode()
        assert raw not in content and token.digest not in content


def test_a_token_for_an_inactive_user_is_refused_with_the_service_message(admin_client, centre):
    centre.chenqa.is_active = False
    centre.chenqa.save()
    url = reverse("admin:core_apitoken_add")
    data = form_data(admin_client.get(url))
    data.update(user=str(centre.chenqa.pk), name="x")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    with pytest.raises(DomainError) as refused:
        tokens.create_token(centre.admin, centre.chenqa, "x")
    assert errors_of(response) == {"user": [refused.value.message]}
    assert not ApiToken.objects.filter(user=centre.chenqa).exists()


def test_tokens_are_revoked_through_the_service(admin_client, centre):
    token, _raw = tokens.create_token(centre.admin, centre.xiaowang, "旧脚本")
    response = admin_client.post(reverse("admin:core_apitoken_changelist"),
                                 {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and not token.is_active
    assert Event.objects.filter(verb="token.revoked", subject_id=token.pk).exists()
    assert admin_client.post(reverse("admin:core_apitoken_change", args=[token.pk]), {}).status_code == 403


# --- periodic jobs -------------------------------------------------------------------------------------------

def test_run_a_periodic_job_at_the_next_tick(admin_client, centre):
    tick()
    job = ScheduledJob.objects.get(name="core.prune_task_results")
    assert job.next_run_at > timezone.now()
    response = admin_client.post(reverse("admin:core_scheduledjob_changelist"),
                                 {"action": "run_soon", "_selected_action": [job.pk]})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.next_run_at <= timezone.now()
    assert "core.prune_task_results" in tick()


def test_background_task_results_are_listed_in_chinese(admin_client, centre):
    tick()
    queries, response = count_queries(admin_client, reverse("admin:django_tasks_database_dbtaskresult_changelist"))
    page = response.content.decode()
    assert response.status_code == 200 and queries <= MAX_QUERIES
    assert "后台任务" in page and "任务结果" in page and "待执行" in page
