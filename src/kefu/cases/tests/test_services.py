import pytest
from django.utils import translation

from kefu.cases import services
from kefu.cases.models import Case, Message, Status
from kefu.cases.queries import get_visible_case, visible_cases
from kefu.core.errors import DomainError, InvalidTransition, NotFound
from kefu.core.models import Event


def new_case(centre, **kw):
    defaults = dict(customer=centre.zhangdoctor, subject="发票抬头开错了", type=centre.inquiry, channel="phone",
                    body="你好,上个月的发票抬头开错了,需要重开。", team=centre.hospital_team)
    defaults.update(kw)
    return services.create_case(centre.xiaowang, **defaults)


def test_create_case_writes_case_message_and_events(centre):
    case = new_case(centre)
    assert case.status == Status.NEW
    assert case.message_count == 1
    msg = case.messages.get()
    assert msg.kind == Message.Kind.CUSTOMER and msg.customer_id == centre.zhangdoctor.pk
    verbs = list(Event.objects.filter(case_id=case.pk).order_by("id").values_list("verb", flat=True))
    assert verbs == ["case.created", "message.added"]
    centre.zhangdoctor.refresh_from_db()
    assert centre.zhangdoctor.last_contact_at == msg.created_at


def test_status_workflow_and_reopen(centre):
    case = new_case(centre)
    services.change_status(centre.xiaowang, case, Status.OPEN)
    services.change_status(centre.xiaowang, case, Status.SOLVED)
    assert case.solved_at is not None
    services.add_message(centre.zhangdoctor, case, kind=Message.Kind.CUSTOMER, body="还是没收到新发票")
    case.refresh_from_db()
    assert case.status == Status.OPEN and case.reopen_count == 1 and case.solved_at is None
    services.change_status(centre.xiaowang, case, Status.SOLVED)
    services.change_status(centre.xiaowang, case, Status.CLOSED)
    with pytest.raises(InvalidTransition):
        services.change_status(centre.xiaowang, case, Status.OPEN)
    with pytest.raises(InvalidTransition):
        services.add_message(centre.zhangdoctor, case, kind=Message.Kind.CUSTOMER, body="?")
    statuses = [(e.old, e.new) for e in Event.objects.filter(case_id=case.pk, verb="case.status_changed")]
    assert statuses == [("new", "open"), ("open", "solved"), ("solved", "open"), ("open", "solved"),
                        ("solved", "closed")]


def test_invalid_transition_leaves_case_unchanged(centre):
    case = new_case(centre)
    before = Event.objects.count()
    with pytest.raises(InvalidTransition):
        services.change_status(centre.xiaowang, case, Status.CLOSED)
    case.refresh_from_db()
    assert case.status == Status.NEW
    assert Event.objects.count() == before


def test_first_response_is_first_staff_reply_after_customer(centre):
    case = new_case(centre)
    services.add_message(centre.xiaowang, case, kind=Message.Kind.NOTE, body="查一下开票记录")
    case.refresh_from_db()
    assert case.first_response_at is None
    reply = services.add_message(centre.xiaowang, case, kind=Message.Kind.STAFF, body="您好,已为您重开发票。")
    case.refresh_from_db()
    assert case.first_response_at == reply.created_at
    assert case.status == Status.OPEN
    assert case.message_count == 3


def test_transfer_counts_and_assignment_rules(centre):
    case = new_case(centre, assignee=centre.xiaowang)
    assert case.status == Status.OPEN
    with pytest.raises(DomainError):
        services.assign(centre.zhaolead, case, centre.xiaoli)  # not in the hospital team
    services.transfer(centre.zhaolead, case, team=centre.hotline_team, assignee=centre.xiaoli, reason="患者用药咨询")
    case.refresh_from_db()
    assert case.team == centre.hotline_team and case.assignee == centre.xiaoli and case.transfer_count == 1
    ev = Event.objects.get(case_id=case.pk, verb="case.transferred")
    assert ev.data["reason"] == "患者用药咨询"


def test_visibility(centre):
    case = new_case(centre)
    assert visible_cases(centre.xiaowang).filter(pk=case.pk).exists()
    assert not visible_cases(centre.xiaoli).filter(pk=case.pk).exists()
    assert visible_cases(centre.limanager).filter(pk=case.pk).exists()
    with pytest.raises(NotFound):
        get_visible_case(centre.chenqa, case.pk)
    services.set_departments(centre.xiaowang, case, [centre.quality_dept])
    assert get_visible_case(centre.chenqa, case.pk) == case
    assert visible_cases(centre.chenqa).count() == 1


def test_attachment_limits(centre, settings):
    settings.KEFU_ATTACHMENT_MAX_BYTES = 10
    case = new_case(centre)
    with pytest.raises(DomainError) as too_large:
        services.add_message(centre.xiaowang, case, kind="staff", body="附件",
                             attachments=[services.Upload("a.pdf", b"x" * 11, "application/pdf")])
    assert too_large.value.code == "too_large" and "a.pdf" in too_large.value.message
    with translation.override("en"), pytest.raises(DomainError, match="not accepted"):
        services.add_message(centre.xiaowang, case, kind="staff", body="附件",
                             attachments=[services.Upload("a.exe", b"MZ", "application/x-msdownload")])
    with translation.override("zh-hans"), pytest.raises(DomainError, match="不接受"):
        services.add_message(centre.xiaowang, case, kind="staff", body="附件",
                             attachments=[services.Upload("a.exe", b"MZ", "application/x-msdownload")])
    msg = services.add_message(centre.xiaowang, case, kind="staff", body="附件",
                               attachments=[services.Upload("发票.pdf", b"%PDF-1", "application/pdf")])
    att = msg.attachments.get()
    assert att.size == 6 and att.filename == "发票.pdf"
    assert att.file.read() == b"%PDF-1"


def test_merge(centre):
    a = new_case(centre)
    b = new_case(centre, subject="发票问题(重复)")
    services.merge_cases(centre.xiaowang, b, a)
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.message_count == 2 and b.status == Status.CLOSED and b.merged_into == a


def test_event_log_is_append_only(centre):
    new_case(centre)
    ev = Event.objects.first()
    with pytest.raises(TypeError):
        ev.save()
    with pytest.raises(TypeError):
        Event.objects.all().delete()
    with pytest.raises(TypeError):
        Event.objects.update(verb="x")
    assert Case.objects.count() == 1
