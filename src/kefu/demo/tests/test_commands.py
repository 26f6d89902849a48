"""The management commands, called in-process (on SQLite and PostgreSQL): demo, seed, createadmin, check, case."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Q

from kefu.cases import services as case_services
from kefu.cases.models import Case
from kefu.core.errors import InvalidTransition
from kefu.core.models import Event
from kefu.customers.models import Customer
from kefu.demo import centre
from kefu.people.models import User
from kefu.search.queries import count_cases, search_customers

from .invariants import case_problems, customer_problems

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


# --- demo ---------------------------------------------------------------------------------------------

def test_demo_seeds_once_and_reuses_the_data_on_the_second_run():
    first = run("demo", no_serve=True, customers=80, cases=300)
    assert "xiaowang" in first and centre.DEMO_PASSWORD in first and "王秀英" in first
    manager = User.objects.get(username="limanager")  # the seeded history is in the search index
    with_word = Case.objects.filter(Q(subject__contains="物流") | Q(messages__body__contains="物流")).distinct()
    assert count_cases(manager, "物流") == with_word.count() > 0
    assert "+86 138 0013 8001" in first and "wang.xiuying@example.com" in first
    counts = (Customer.objects.count(), Case.objects.count(), Event.objects.count())
    assert counts[0] == 80 + 3 and counts[1] == 300 + 7  # the seeded ones and the named customers' story
    assert Event.objects.filter(verb="demo.seeded").count() == 1

    second = run("demo", no_serve=True, customers=80, cases=300)
    assert "Reusing the demo" in second and "Seeded" not in second
    assert (Customer.objects.count(), Case.objects.count(), Event.objects.count()) == counts
    assert Event.objects.filter(verb="demo.seeded").count() == 1
    # the printed logins work with the printed password; the other demo staff have none
    for _label, username in centre.LOGINS:
        assert User.objects.get(username=username).check_password(centre.DEMO_PASSWORD)
    assert not User.objects.get(username="liuyang").has_usable_password()
    assert User.objects.get(username="admin").is_superuser
    assert case_problems() == []
    assert customer_problems() == []


def test_demo_refuses_a_database_with_data_but_no_demo():
    Customer.objects.create(name="真实客户")
    with pytest.raises(CommandError, match="--reset"):
        run("demo", no_serve=True, customers=10, cases=10)
    assert not Event.objects.filter(verb="demo.seeded").exists()


# --- seed -------------------------------------------------------------------------------------------

def test_seed_adds_customers_and_cases_and_prints_a_summary():
    out = run("seed", customers=40, cases=150, batch=64, no_progress=True)
    assert "40 customers and 150 cases" in out and "rows/s" in out
    assert Customer.objects.count() == 40 and Case.objects.count() == 150
    out = run("seed", cases=25, no_progress=True)  # to the existing customers
    assert Case.objects.count() == 175
    assert Event.objects.filter(verb="data.seeded").count() == 2
    assert case_problems() == []


@pytest.mark.parametrize("index", [True, False], ids=["indexed", "not-indexed"])
def test_seeded_cases_are_searchable_unless_asked_not_to(index):
    run("seed", customers=30, cases=120, no_progress=True, no_search_index=not index)
    manager = User.objects.get(username="limanager")
    with_word = Case.objects.filter(Q(subject__contains="您好") | Q(messages__body__contains="您好")).distinct().count()
    assert with_word > 0
    assert count_cases(manager, "您好") == (with_word if index else 0)
    named = Customer.objects.order_by("pk").first()
    assert bool(search_customers(named.name)) == index


@pytest.mark.parametrize("options, message", [
    ({}, "Nothing to do"),
    ({"cases": 5}, "no customers"),
])
def test_seed_errors_are_clear(options, message):
    with pytest.raises(CommandError, match=message):
        run("seed", no_progress=True, **options)


# --- createadmin ----------------------------------------------------------------------------------------

def test_createadmin_with_a_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("KEFU_ADMIN_PASSWORD", "Kangtai-admin-2026")
    out = run("createadmin", username="boss", email="boss@example.com")
    assert "boss" in out
    user = User.objects.get(username="boss")
    assert user.role == User.Role.ADMIN and user.is_superuser and user.is_staff
    assert user.check_password("Kangtai-admin-2026")
    assert Event.objects.filter(verb="staff.created", subject_id=user.pk).exists()


def test_createadmin_without_a_password_or_terminal_fails(monkeypatch):
    monkeypatch.delenv("KEFU_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    with pytest.raises(CommandError, match="KEFU_ADMIN_PASSWORD"):
        run("createadmin", username="boss")
    assert not User.objects.filter(username="boss").exists()


def test_createadmin_refuses_a_weak_password_and_a_taken_username():
    with pytest.raises(CommandError, match="(?i)password"):
        run("createadmin", username="boss", password="123")
    run("createadmin", username="boss", password="Kangtai-admin-2026")
    with pytest.raises(CommandError, match="taken"):
        run("createadmin", username="boss", password="Kangtai-admin-2026")


# --- check -------------------------------------------------------------------------------------------

def test_check_prints_one_line_per_check():
    out = run("check")
    lines = [line for line in out.splitlines() if line.startswith(("OK", "FAIL"))]
    assert [line.split()[0] for line in lines] == ["OK"] * 4, out
    assert "Database reachable" in out and "migrations applied" in out and "writable" in out


def test_check_reports_an_unreachable_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    out = StringIO()
    with pytest.raises(CommandError, match="1 check"):
        call_command("check", stdout=out)
    assert "FAIL Redis not reachable (127.0.0.1:1/0)" in out.getvalue()


def test_check_deploy_lists_hints_without_failing():
    out = run("check", deploy=True)
    assert "deployment checks" in out and "security" in out.lower()


# --- case ------------------------------------------------------------------------------------------

def test_case_status_goes_through_the_service_and_refuses_what_the_service_refuses(centre):
    case = case_services.create_case(centre.xiaowang, customer=centre.zhangdoctor, subject="说明书",
                                     type=centre.inquiry, channel="phone", team=centre.hospital_team,
                                     assignee=centre.xiaowang, body="来电:索取说明书")
    out = run("case", "status", str(case.pk), "solved", "--as", "xiaowang", "--reason", "电话中已解答")
    assert case.reference in out
    case.refresh_from_db()
    assert case.status == "solved"
    event = Event.objects.filter(case_id=case.pk, verb="case.status_changed").last()
    assert event.actor_id == centre.xiaowang.pk and event.data == {"reason": "电话中已解答"}
    run("case", "status", str(case.pk), "closed")
    assert Event.objects.filter(case_id=case.pk, verb="case.status_changed").last().actor_kind == "system"

    # the service's own refusal, word for word
    with pytest.raises(InvalidTransition) as refused:
        case_services.change_status(centre.xiaowang, case, "open")
    with pytest.raises(CommandError) as cli:
        run("case", "status", str(case.pk), "open", "--as", "xiaowang")
    assert str(cli.value) == refused.value.message
    case.refresh_from_db()
    assert case.status == "closed"


def test_case_show_and_the_errors(centre):
    case = case_services.create_case(centre.zhangdoctor, customer=centre.zhangdoctor, subject="冷链记录",
                                     type=centre.inquiry, channel="email", team=centre.hospital_team,
                                     body="请提供温度记录")
    out = run("case", "show", str(case.pk))
    assert "冷链记录" in out and "请提供温度记录" in out and "张医生" in out
    with pytest.raises(CommandError, match="does not exist"):
        run("case", "show", "999999")
    with pytest.raises(CommandError, match="does not exist"):  # not visible to an agent of another team
        run("case", "show", str(case.pk), "--as", "xiaoli")
    with pytest.raises(CommandError, match="nobody"):
        run("case", "show", str(case.pk), "--as", "nobody")
    with pytest.raises(CommandError, match="unknown status"):
        run("case", "status", str(case.pk), "done")


def test_demo_keeps_an_existing_administrators_password_and_says_so():
    run("createadmin", username="admin", password="Kangtai-admin-2026")
    out = run("demo", no_serve=True, customers=20, cases=40)
    admin_line = next(line for line in out.splitlines() if " admin " in line)
    assert "(your own password)" in admin_line and centre.DEMO_PASSWORD not in admin_line
    assert User.objects.get(username="admin").check_password("Kangtai-admin-2026")
    assert User.objects.get(username="xiaowang").check_password(centre.DEMO_PASSWORD)
    assert "(your own password)" in run("demo", no_serve=True)  # still said on the next run
