"""Searching cases and customers through the public functions, on whichever database the suite runs on."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from kefu.cases import services
from kefu.cases.models import Case, Message
from kefu.core.errors import DomainError
from kefu.customers import services as customer_services
from kefu.customers.models import Customer, Identity
from kefu.search import index
from kefu.search import queries as sq
from kefu.search.queries import count_cases, search_cases, search_customers


def new_case(centre, subject, body="", *, team=None, **kw):
    return services.create_case(centre.xiaowang, customer=kw.pop("customer", centre.zhangdoctor), subject=subject,
                                type=centre.inquiry, channel="phone", body=body,
                                team=team or centre.hospital_team, **kw)


def ids(user, q, **kw):
    return [c.pk for c in search_cases(user, q, **kw)[0]]


@pytest.fixture
def cases(centre):
    a = new_case(centre, "发票抬头开错了", "你好,上个月的发票抬头开错了,需要重开。订单号DD20240523348619")
    b = new_case(centre, "申请退款", "阿莫西林胶囊包装破损,想申请退款,电话13800138000")
    c = new_case(centre, "咨询用法用量", "布洛芬缓释胶囊 6岁孩子能吃吗?", team=centre.hotline_team)
    return a, b, c


def test_two_character_words_are_found(centre, cases):
    a, b, c = cases
    boss = centre.limanager
    assert ids(boss, "发票") == [a.pk]
    assert ids(boss, "退款") == [b.pk]
    assert ids(boss, "胶囊") == [c.pk, b.pk]  # newest first
    assert count_cases(boss, "胶囊") == 2
    assert ids(boss, "鲸鱼") == [] and count_cases(boss, "鲸鱼") == 0


def test_substrings_numbers_and_latin(centre, cases):
    a, b, c = cases
    boss = centre.limanager
    assert ids(boss, "抬头开错") == [a.pk]
    assert ids(boss, "dd2024") == [a.pk]  # case-insensitive, inside a longer run
    assert ids(boss, "20240523348619") == [a.pk]
    assert ids(boss, "8000") == [b.pk]  # the last digits of a phone number
    assert ids(boss, "13800138000") == [b.pk]
    assert ids(boss, "１３８００") == [b.pk]  # full-width digits
    assert ids(boss, "胶") == [c.pk, b.pk]  # one character
    assert ids(boss, "退款 破损") == [b.pk]  # every term
    assert ids(boss, "退款 发票") == []
    assert ids(boss, "发票抬头开错了,需要") == [a.pk]  # punctuation inside a term: verified
    assert ids(boss, "发票抬头开错了,需") == [a.pk]
    assert ids(boss, "发票抬头开错了。需要") == []


def test_agents_see_only_their_teams_cases(centre, cases):
    a, b, c = cases
    assert ids(centre.xiaowang, "胶囊") == [b.pk]
    assert count_cases(centre.xiaowang, "胶囊") == 1
    assert ids(centre.xiaoli, "胶囊") == [c.pk]
    assert ids(centre.xiaoli, "退款") == [] and count_cases(centre.xiaoli, "退款") == 0
    # Staff of an involved department see the case; nobody else outside the team does.
    assert ids(centre.chenqa, "退款") == []
    services.set_departments(centre.xiaowang, b, [centre.quality_dept])
    assert ids(centre.chenqa, "退款") == [b.pk] and count_cases(centre.chenqa, "退款") == 1


def test_a_new_message_is_searchable_at_once_and_a_rollback_leaves_nothing(centre, cases):
    a, b, c = cases
    boss = centre.limanager
    services.add_message(centre.xiaowang, a, kind=Message.Kind.NOTE, body="已转财务核对退款流水")
    assert ids(boss, "流水") == [a.pk]
    assert ids(boss, "退款") == [a.pk, b.pk]  # a was updated last
    with transaction.atomic():
        services.add_message(centre.zhangdoctor, a, kind=Message.Kind.CUSTOMER, body="顺便问一下积分兑换")
        assert ids(boss, "积分兑换") == [a.pk]  # inside the same transaction
        transaction.set_rollback(True)
    assert ids(boss, "积分兑换") == [] and count_cases(boss, "积分兑换") == 0
    assert ids(boss, "流水") == [a.pk]


def test_subject_change_and_merge_keep_the_index_exact(centre, cases):
    a, b, c = cases
    boss = centre.limanager
    services.update_case(centre.xiaowang, a, subject="重开增值税专用发票")
    assert ids(boss, "专用发票") == [a.pk]
    assert ids(boss, "抬头开错") == [a.pk]  # still in the first message
    services.update_case(centre.xiaowang, b, subject="包装问题")
    assert ids(boss, "包装问题") == [b.pk]
    assert ids(boss, "申请退款") == [b.pk]  # the message says it too
    services.update_case(centre.xiaowang, b, priority="high")  # no subject change: nothing to do
    services.merge_cases(centre.xiaowang, b, a)
    assert ids(boss, "阿莫西林") == [a.pk]  # b's message moved to a
    assert ids(boss, "包装问题") == [b.pk]  # b keeps its subject
    assert ids(boss, "13800138000") == [a.pk]
    assert count_cases(boss, "胶囊") == 2


def test_paging_by_cursor_walks_every_hit_once_newest_first(centre, monkeypatch):
    made = [new_case(centre, f"退款申请 {i}", "退款") for i in range(7)]
    expected = [c.pk for c in sorted(made, key=lambda c: (c.updated_at, c.pk), reverse=True)]
    walks = []
    real_walk = sq._walk
    monkeypatch.setattr(sq, "_walk", lambda *a: walks.append(1) or real_walk(*a))
    monkeypatch.setattr(sq, "FEW", 0)
    for dense in (10**9, 0):  # joining the candidates, and walking the newest cases
        monkeypatch.setattr(sq, "DENSE", dense)
        seen, cursor = [], None
        while True:
            page, cursor = search_cases(centre.limanager, "退款", limit=3, cursor=cursor)
            seen += [c.pk for c in page]
            if cursor is None:
                break
        assert seen == expected
        assert bool(walks) == (dense == 0)


def test_walk_falls_back_to_candidates_when_the_word_is_rare_among_visible_cases(centre, monkeypatch):
    monkeypatch.setattr(sq, "FEW", 0)
    monkeypatch.setattr(sq, "DENSE", 0)
    monkeypatch.setattr(sq, "WALK_BUDGET", 2)
    hit = new_case(centre, "发票", "要发票")
    for i in range(5):
        new_case(centre, f"咨询 {i}", "说明书")
    assert ids(centre.limanager, "发票") == [hit.pk]


def test_ranked_results_cover_every_hit(centre):
    best = new_case(centre, "退款 退款 退款", "退款退款")
    other = new_case(centre, "咨询", "顺便提一下退款和很多别的事情,说明书,用法,用量,快递,发票,包装")
    new_case(centre, "无关", "说明书")
    first, cursor = search_cases(centre.limanager, "退款", ranked=True, limit=1)
    assert [c.pk for c in first] == [best.pk] and cursor
    second, cursor = search_cases(centre.limanager, "退款", ranked=True, limit=1, cursor=cursor)
    assert [c.pk for c in second] == [other.pk] and cursor is None
    assert ids(centre.xiaoli, "退款", ranked=True) == []


def test_bad_queries_and_cursors_are_domain_errors(centre, cases):
    user = centre.limanager
    for q, code in [("", "empty_query"), ("   ", "empty_query"), ("@@ ..", "unsearchable"),
                    ("退" * 201, "query_too_long"), ("a b c d e f g h i", "too_many_terms")]:
        with pytest.raises(DomainError) as err:
            search_cases(user, q)
        assert err.value.code == code and err.value.field == "q"
        with pytest.raises(DomainError):
            count_cases(user, q)
    for cursor in ["nonsense", "e30", sq._encode("customer", "2026-01-01T00:00:00+00:00", 1),
                   sq._encode("case", "yesterday", 1), sq._encode("case", "2026-01-01T00:00:00", 1),
                   sq._encode("case", "2026-01-01T00:00:00+00:00", -1)]:
        with pytest.raises(DomainError) as err:
            search_cases(user, "退款", cursor=cursor)
        assert err.value.code == "invalid_cursor"
    for limit in (0, 101, "5", True):
        with pytest.raises(DomainError) as err:
            search_cases(user, "退款", limit=limit)
        assert err.value.code == "invalid_limit"
    # A term of symbols alone is checked against the texts of what the other terms find, not refused.
    mail = new_case(centre, "邮件", "退款单据请发到 caiwu@example.com")
    assert ids(user, "@ 退款") == [mail.pk] and count_cases(user, "@ 退款") == 1
    assert ids(user, "@@ 退款") == []


def test_unauthenticated_or_inactive_users_find_nothing(centre, cases):
    from django.contrib.auth.models import AnonymousUser

    assert ids(AnonymousUser(), "退款") == [] and count_cases(AnonymousUser(), "退款") == 0
    centre.limanager.is_active = False
    assert ids(centre.limanager, "退款") == [] and count_cases(centre.limanager, "退款") == 0


@pytest.mark.parametrize("few, dense", [(10**9, 10**9), (0, 10**9), (0, 0)])
def test_search_runs_a_bounded_number_of_queries(centre, cases, monkeypatch, few, dense):
    for i in range(30):
        new_case(centre, f"退款 {i}", "退款")
    monkeypatch.setattr(sq, "FEW", few)
    monkeypatch.setattr(sq, "DENSE", dense)
    for user in (centre.limanager, centre.xiaowang):
        with CaptureQueriesContext(connection) as ctx:
            page, cursor = search_cases(user, "退款", limit=25)
        assert len(page) == 25 and cursor
        # PostgreSQL adds five: a savepoint, the planner setting and its estimate of the hits.
        assert len(ctx.captured_queries) <= 14, [q["sql"] for q in ctx.captured_queries]


def test_case_snippet_highlights_the_matching_text(centre, cases):
    assert "<mark>退款</mark>" in sq.case_snippet(cases[1], "退款")
    assert sq.highlight("发票抬头", "发票") == "<mark>发票</mark>抬头"


def test_long_conversations_stay_exact(centre):
    # Beyond what a PostgreSQL tsvector keeps positions for: verified there, exact by positions on SQLite.
    case = new_case(centre, "长对话", "开头")
    long_text = "客户反复说明情况" * 2500 + "最后提到了积分兑换"
    services.add_message(centre.zhangdoctor, case, kind=Message.Kind.CUSTOMER, body=long_text)
    assert ids(centre.limanager, "积分兑换") == [case.pk]
    assert count_cases(centre.limanager, "积分兑换") == 1
    assert ids(centre.limanager, "说明情况客户") == [case.pk]
    assert ids(centre.limanager, "情况说明") == []
    assert count_cases(centre.limanager, "情况说明") == 0


# --- customers --------------------------------------------------------------------------------------------

def test_customers_by_name_phone_email_and_organisation(centre):
    doctor, hospital = centre.zhangdoctor, centre.hospital
    assert search_customers("张医生") == [doctor]
    assert search_customers("13800138000") == [doctor]
    assert search_customers("8000") == [doctor]
    assert search_customers("zhang@") == [doctor]
    assert set(search_customers("协和")) == {doctor, hospital}
    assert sq.count_customers("协和") == 2
    assert search_customers("李四") == []


def test_customer_changes_reach_the_index(centre):
    doctor, hospital = centre.zhangdoctor, centre.hospital
    customer_services.update_customer(centre.admin, hospital, name="北京协和医学院附属医院")
    assert set(search_customers("医学院")) == {doctor, hospital}  # the member's document holds the org name
    customer_services.update_customer(centre.admin, doctor, name="张主任")
    assert search_customers("张主任") == [doctor] and search_customers("张医生") == []
    customer_services.add_identity(centre.admin, doctor, "email", "zhang.zr@pumch.cn")
    assert search_customers("pumch") == [doctor]
    customer_services.remove_identity(centre.admin, Identity.objects.get(value="zhang.zr@pumch.cn"))
    assert search_customers("pumch") == []
    other = customer_services.create_customer(centre.admin, name="王药师", identities=[("phone", "13912345678")])
    assert search_customers("药师") == [other] and search_customers("1234567") == [other]
    page, cursor = sq.search_customers_page("医", limit=1)
    assert len(page) == 1 and cursor
    assert sq.search_customers_page("医", limit=1, cursor=cursor)[0][0] != page[0]


# --- reindex ----------------------------------------------------------------------------------------------

def test_reindex_rebuilds_and_is_idempotent(centre, cases, capsys):
    from django.core.management import call_command

    services.add_message(centre.xiaowang, cases[0], kind=Message.Kind.NOTE, body="客户要求加急")
    queries = ["发票", "退款", "胶囊", "加急", "13800138000", "dd2024"]
    before = {q: (ids(centre.limanager, q), count_cases(centre.limanager, q)) for q in queries}
    customers = {q: search_customers(q) for q in ["张医生", "协和", "8000"]}
    index.clear("case")
    index.clear("customer")
    assert ids(centre.limanager, "发票") == [] and search_customers("张医生") == []
    for _ in range(2):
        call_command("reindex", "--batch", "2")
        assert {q: (ids(centre.limanager, q), count_cases(centre.limanager, q)) for q in queries} == before
        assert {q: search_customers(q) for q in customers} == customers
    err = capsys.readouterr().err
    assert "3 / 3" in err and "2 / 2" in err  # cases, then customers
    call_command("reindex", "--only", "cases", "--optimize")  # documents written meanwhile are kept
    assert ids(centre.limanager, "加急") == before["加急"][0]


def test_index_batch_accepts_seeder_rows(centre):
    from django.db.models import Max

    from kefu.core.testing import CaseFactory

    bare = CaseFactory(subject="批量导入的工单", customer=centre.zhangdoctor, team=centre.hospital_team)
    assert ids(centre.limanager, "批量导入") == []  # rows written without the services are not indexed
    assert index.index_batch([(bare.pk, bare.updated_at, [bare.subject, "数据库里没有的话"])]) == 1
    assert ids(centre.limanager, "批量导入") == [bare.pk]
    # The index claims a text the database does not have: the page is checked against the texts.
    assert ids(centre.limanager, "没有的话") == []
    assert index.index_batch([(bare.pk, [bare.subject])], skip_existing=True) == 0
    assert index.index_batch([]) == 0
    top = Customer.objects.aggregate(m=Max("pk"))["m"]
    assert index.index_customer_batch([(top, ["不会重复"])], skip_existing=True) == 0
    assert Case.objects.filter(pk=bare.pk).exists()


def test_seeder_hook_indexes_what_a_batch_wrote(centre):
    from types import SimpleNamespace

    from kefu.core.testing import CaseFactory, CustomerFactory

    case = CaseFactory(subject="种子工单", customer=centre.zhangdoctor, team=centre.hospital_team)
    message = Message.objects.create(case=case, kind="customer", channel="phone", body="种子消息里的退货")
    person = CustomerFactory(name="种子客户", organisation=centre.hospital)
    index.index_seeded_batch(SimpleNamespace(
        cases=[SimpleNamespace(case_id=case.pk, customer_id=case.customer_id, subject=case.subject,
                               messages=[(message.pk, "customer", message.body)])],
        customers=[SimpleNamespace(customer_id=person.pk, name=person.name, organisation_id=centre.hospital.pk)]))
    assert ids(centre.limanager, "退货") == [case.pk]
    assert search_customers("种子客户") == [person]
    assert person in search_customers("协和")


def test_the_bulk_seeder_fills_the_index_through_its_hook(db):
    from kefu.core.testing import UserFactory
    from kefu.demo.seeding import Seeder
    from kefu.people.models import User

    Seeder(seed=3, batch=40, on_batch=[index.index_seeded_batch]).run(customers=30, cases=100)
    boss = UserFactory(username="boss", role=User.Role.MANAGER)
    bodies = list(Message.objects.order_by("pk").values_list("body", flat=True)[:15])
    for body in bodies:
        for q in {body[:2], body[3:7], body[-3:]} - {""}:
            try:
                sq.plan(q)
            except DomainError:
                continue
            expected = list(Case.objects.filter(Q(subject__icontains=q) | Q(messages__body__icontains=q))
                            .distinct().order_by("-updated_at", "-id").values_list("pk", flat=True))
            assert ids(boss, q, limit=100) == expected[:100], q
            assert count_cases(boss, q) == len(expected), q
    customer = Customer.objects.filter(identities__channel="phone").order_by("pk").first()
    phone = customer.identities.filter(channel="phone").first().value
    assert customer in search_customers(customer.name, limit=100)
    assert customer in search_customers(phone[-8:], limit=100)


def test_searching_leaves_the_connection_settings_as_they_were(centre, cases):
    def setting():
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_seqscan')")
            return cursor.fetchone()[0]

    before = setting()
    assert ids(centre.limanager, "退款") and count_cases(centre.xiaowang, "退款") == 1
    assert setting() == before


def test_sqlite_judges_density_from_the_newest_candidates():
    from kefu.search.backends import SqliteBackend

    dense_recently = list(range(1_000_000, 998_000, -1))  # 2,000 hits among the newest 2,000 cases
    spread_thin = list(range(1_000_000, 0, -500))  # 2,000 hits over a million cases
    assert SqliteBackend().at_least(None, "case", [], dense_recently, 20_000)
    assert not SqliteBackend().at_least(None, "case", [], spread_thin, 20_000)


def test_reindex_batches_larger_than_an_in_list(centre, cases, monkeypatch):
    from django.core.management import call_command

    monkeypatch.setattr(index, "IN_CHUNK", 2)  # every id list is read in several slices
    index.clear("case")
    call_command("reindex", "--batch", "50000", "--only", "cases")
    assert ids(centre.limanager, "胶囊") == [cases[2].pk, cases[1].pk]
    assert index.case_texts([c.pk for c in cases]).keys() == {c.pk for c in cases}
