"""The case admin saves through the case services: the workflow rules hold there as everywhere else."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kefu.cases import services
from kefu.cases.models import Case, CaseType, Message, Status
from kefu.core.models import Event
from kefu.core.tests.admin_helpers import count_queries, errors_of, form_data


@pytest.fixture
def admin_client(client, centre):
    client.force_login(centre.admin)
    return client


def new_case(centre, **kw):
    defaults = dict(customer=centre.zhangdoctor, subject="发票抬头开错了", type=centre.inquiry, channel="phone",
                    body="你好,上个月的发票抬头开错了,需要重开。", team=centre.hospital_team)
    defaults.update(kw)
    return services.create_case(centre.xiaowang, **defaults)


def change_url(case):
    return reverse("admin:cases_case_change", args=[case.pk])


def snapshot(case):
    case.refresh_from_db()
    return {f.attname: getattr(case, f.attname) for f in Case._meta.concrete_fields}


def test_an_invalid_status_transition_is_refused_with_the_service_message(admin_client, centre):
    case = new_case(centre)
    before, events_before = snapshot(case), Event.objects.count()
    data = form_data(admin_client.get(change_url(case)))
    data.update(status=Status.CLOSED, subject="改过的主题", priority="urgent")

    response = admin_client.post(change_url(case), data)

    assert response.status_code == 200  # the form again, with the error
    # The same refusal, word for word, as the service gives the API and the workspace.
    with pytest.raises(services.InvalidTransition) as refused:
        services.change_status(centre.admin, Case.objects.get(pk=case.pk), Status.CLOSED)
    assert errors_of(response) == {"status": [refused.value.message]}
    assert refused.value.message in response.content.decode()
    # Nothing was saved: not the status, not the subject and priority posted with it, no event.
    assert snapshot(case) == before
    assert Event.objects.count() == events_before


def test_a_closed_case_cannot_be_edited_in_the_admin(admin_client, centre):
    case = new_case(centre)
    for status in (Status.SOLVED, Status.CLOSED):
        services.change_status(centre.xiaowang, case, status)
    before = snapshot(case)
    data = form_data(admin_client.get(change_url(case)))
    data.update(subject="再看一下")
    response = admin_client.post(change_url(case), data)
    assert response.status_code == 200
    with pytest.raises(services.InvalidTransition) as refused:
        services.update_case(centre.admin, Case.objects.get(pk=case.pk), subject="再看一下")
    assert errors_of(response) == {"__all__": [refused.value.message]}
    assert snapshot(case) == before


def test_changes_go_through_the_services_and_are_logged(admin_client, centre):
    case = new_case(centre)
    data = form_data(admin_client.get(change_url(case)))
    data.update(status=Status.PENDING, subject="重开发票(抬头:协和医院)", priority="high",
                assignee=str(centre.xiaowang.pk), departments=[str(centre.quality_dept.pk)],
                reason="等客户提供新的开票信息")

    response = admin_client.post(change_url(case), data)

    assert response.status_code == 302, errors_of(response)
    case.refresh_from_db()
    assert (case.status, case.subject, case.priority, case.assignee) == (
        Status.PENDING, "重开发票(抬头:协和医院)", "high", centre.xiaowang)
    assert list(case.departments.all()) == [centre.quality_dept]
    verbs = list(Event.objects.filter(case_id=case.pk, actor=centre.admin).values_list("verb", "field"))
    assert ("case.updated", "subject") in verbs and ("case.updated", "priority") in verbs
    assert ("case.assigned", "assignee") in verbs
    assert ("case.departments_changed", "departments") in verbs
    status_event = Event.objects.get(case_id=case.pk, verb="case.status_changed", new=Status.PENDING)
    assert status_event.data == {"reason": "等客户提供新的开票信息"}


def test_moving_a_case_to_another_team_is_a_counted_transfer(admin_client, centre):
    case = new_case(centre, assignee=centre.xiaowang)
    data = form_data(admin_client.get(change_url(case)))
    data.update(team=str(centre.hotline_team.pk), assignee=str(centre.xiaoli.pk), reason="患者用药问题")
    response = admin_client.post(change_url(case), data)
    assert response.status_code == 302, errors_of(response)
    case.refresh_from_db()
    assert (case.team, case.assignee, case.transfer_count) == (centre.hotline_team, centre.xiaoli, 1)
    assert Event.objects.get(case_id=case.pk, verb="case.transferred").data["reason"] == "患者用药问题"


def test_assigning_someone_outside_the_team_is_refused(admin_client, centre):
    case = new_case(centre)
    before = snapshot(case)
    data = form_data(admin_client.get(change_url(case)))
    data.update(assignee=str(centre.xiaoli.pk), subject="顺便改主题")
    response = admin_client.post(change_url(case), data)
    assert response.status_code == 200
    assert "assignee" in errors_of(response)
    assert snapshot(case) == before


def test_reopening_a_solved_case_and_editing_it_in_one_save(admin_client, centre):
    case = new_case(centre)
    services.change_status(centre.xiaowang, case, Status.SOLVED)
    data = form_data(admin_client.get(change_url(case)))
    data.update(status=Status.OPEN, priority="high")
    response = admin_client.post(change_url(case), data)
    assert response.status_code == 302, errors_of(response)
    case.refresh_from_db()
    assert (case.status, case.priority, case.reopen_count) == (Status.OPEN, "high", 1)


def test_a_case_created_in_the_admin_goes_through_create_case(admin_client, centre):
    url = reverse("admin:cases_case_add")
    data = form_data(admin_client.get(url))
    data.update(customer=str(centre.zhangdoctor.pk), subject="药品外包装破损", type=str(centre.complaint.pk),
                channel="phone", stage="after_sale", priority="high", team=str(centre.hospital_team.pk),
                body="收到的两盒药外包装都破了。")
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    case = Case.objects.get(subject="药品外包装破损")
    assert case.created_by == centre.admin and case.message_count == 1
    assert case.messages.get().kind == Message.Kind.CUSTOMER
    assert Event.objects.filter(case_id=case.pk, verb="case.created").exists()


def test_an_inactive_case_type_is_refused_on_create(admin_client, centre):
    CaseType.objects.filter(pk=centre.refund.pk).update(is_active=False)
    url = reverse("admin:cases_case_add")
    data = form_data(admin_client.get(url))
    data.update(customer=str(centre.zhangdoctor.pk), subject="退款", type=str(centre.refund.pk), channel="phone",
                stage="after_sale", priority="normal")
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "type" in errors_of(response)
    assert not Case.objects.filter(subject="退款").exists()


def test_cases_cannot_be_deleted_in_the_admin(admin_client, centre):
    case = new_case(centre)
    response = admin_client.post(reverse("admin:cases_case_delete", args=[case.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Case.objects.filter(pk=case.pk).exists()


def test_search_by_case_number_and_subject(admin_client, centre):
    first = new_case(centre, subject="发票抬头开错了")
    new_case(centre, subject="物流太慢")
    url = reverse("admin:cases_case_changelist")
    response = admin_client.get(url, {"q": f"#{first.pk}"})
    assert list(response.context["cl"].result_list) == [first]
    response = admin_client.get(url, {"q": "物流"})
    assert [c.subject for c in response.context["cl"].result_list] == ["物流太慢"]


def test_case_and_message_lists_take_the_same_queries_for_more_rows(admin_client, centre):
    for i in range(3):
        case = new_case(centre, subject=f"咨询 {i}", assignee=centre.xiaowang)
        services.add_message(centre.xiaowang, case, kind=Message.Kind.STAFF, body="您好,已经在处理。")
    urls = [reverse("admin:cases_case_changelist"), reverse("admin:cases_message_changelist"),
            reverse("admin:cases_case_changelist") + "?status__exact=open"]
    few = [count_queries(admin_client, url)[0] for url in urls]
    for i in range(10):
        case = new_case(centre, subject=f"投诉 {i}", type=centre.complaint, assignee=centre.zhaolead)
        services.add_message(centre.zhaolead, case, kind=Message.Kind.NOTE, body="内部备注")
    more = [count_queries(admin_client, url)[0] for url in urls]
    assert more == few


def test_the_status_field_says_where_the_case_can_go(admin_client, centre):
    case = new_case(centre)
    form = admin_client.get(change_url(case)).context["adminform"].form
    assert form.fields["status"].help_text == "当前状态可以变更为：处理中，待客户回复，挂起（等待内部或第三方） 或 已解决。"
    for status in (Status.SOLVED, Status.CLOSED):
        services.change_status(centre.xiaowang, case, status)
    form = admin_client.get(change_url(case)).context["adminform"].form
    assert "已关闭的工单" in form.fields["status"].help_text
