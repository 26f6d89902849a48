"""Data the benchmark needs from the seeded database (runs inside the harness after django.setup())."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count

from bench.urls import SCRATCH_TABLE
from kefu.cases.models import Case, CaseType
from kefu.core.tokens import create_token
from kefu.customers.models import Customer
from kefu.people.models import Team, User


def case_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cases_case")
        return cursor.fetchone()[0]


def customer_count() -> int:
    return Customer.objects.count()


def _sample_ids(table: str, n: int, where: str = "", params: tuple = ()) -> list[int]:
    """About ``n`` ids spread over the whole table (every k-th id), without a full sort."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {table}")
        lo, hi = cursor.fetchone()
        if lo is None:
            return []
        step = max((hi - lo) // (n * 8 if where else n), 1)
        cursor.execute(f"SELECT id FROM {table} WHERE (id - %s) %% %s = 0 {where} LIMIT %s",
                       [lo, step, *params, n])
        return [row[0] for row in cursor.fetchall()]


def context() -> dict:
    with connection.cursor() as cursor:
        id_type = "BIGSERIAL PRIMARY KEY" if connection.vendor == "postgresql" else "INTEGER PRIMARY KEY AUTOINCREMENT"
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {SCRATCH_TABLE} (id {id_type}, body TEXT, created_at TIMESTAMP)")
    # The busiest team, and an agent who works in it: lists are filtered by status + that team.
    team = Team.objects.annotate(n=Count("cases")).order_by("-n").first() if Case.objects.count() < 50_000 else None
    if team is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT team_id FROM cases_case WHERE team_id IS NOT NULL GROUP BY team_id "
                           "ORDER BY count(*) DESC LIMIT 1")
            team = Team.objects.get(pk=cursor.fetchone()[0])
    agent = team.members.filter(role=User.Role.AGENT, is_active=True).order_by("pk").first() or team.members.first()
    _, raw = create_token(None, agent, "benchmark")
    status = "open"
    return {
        "cases": case_count(),
        "team_id": team.pk,
        "team": team.name,
        "user": agent.username,
        "token": raw,
        "status": status,
        "filtered_rows": Case.objects.filter(team=team, status=status).count(),
        # Cases the benchmark user may see (their team's), spread over the whole history.
        "case_ids": _sample_ids("cases_case", 5000, "AND team_id = %s", (team.pk,)),
        "customer_ids": _sample_ids("customers_customer", 2000),
        "type_codes": list(CaseType.objects.filter(is_active=True).values_list("code", flat=True)),
    }


def service_create_rate(ctx: dict, n: int) -> dict:
    """Cases created in this process straight through ``kefu.cases.services.create_case`` (service, event log,
    search index; no HTTP): the write path's own cost, per second of this process's CPU time."""
    import random
    import time

    from kefu.cases import services

    rng = random.Random(11)
    team = Team.objects.get(pk=ctx["team_id"])
    agent = User.objects.get(username=ctx["user"])
    types = {t.code: t for t in CaseType.objects.filter(is_active=True)}
    customers = list(Customer.objects.filter(pk__in=ctx["customer_ids"][:500]))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(n):
        services.create_case(
            agent, customer=rng.choice(customers), subject=f"写入路径压测 {i}: 退货与发票", team=team,
            type=types[rng.choice(list(types))], channel=rng.choice(["phone", "wechat", "email", "portal"]),
            body=f"您好,收到的货品外包装破损,需要退货并重开发票,订单号 PO20261122{i:06d},谢谢。")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cases": n, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "per_cpu_s": round(n / cpu, 1), "per_s": round(n / wall, 1)}
