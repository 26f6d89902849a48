#!/usr/bin/env python3
"""kefu's foundation benchmark. Prints one JSON document.

    .venv/bin/python bench/run.py                      # 1,000,000 cases on SQLite in ./var/bench
    .venv/bin/python bench/run.py --cases 100000 --quick
    .venv/bin/python bench/run.py --database-url postgres://postgres@127.0.0.1:5432/kefu_bench

It seeds the data dir up to N cases (reusing what is there), starts a real server (gunicorn, 2 sync workers,
127.0.0.1 only), and measures with bounded request counts and a time cap per phase:
- case creation through the write path itself (service, event log, search index) in-process, per CPU second,
  and through the API with several clients at once;
- the case list (filtered by status + team) p50/p95, first page and a deep page reached by cursor;
- case detail p50/p95 and single-case read throughput;
- the same run's bare baseline: a Django view doing one indexed query, and one doing one insert + one query;
- errors ("database is locked" or any 5xx) and each web worker's resident memory at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGETS = {
    "list_first_p95_ms": 50,
    "list_deep_p95_ms": 50,
    "detail_p95_ms": 30,
    "read_throughput_ratio": 0.70,
    "create_per_core_per_s": 500,
    "database_locked_errors": 0,
    "worker_rss_mb": 250,
}


# --- small HTTP client ----------------------------------------------------------------------------------

def request(port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """One request on a fresh connection (gunicorn's sync workers close after each response)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data, (time.perf_counter() - start) * 1000
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_phase(port: int, paths: list[str], headers: dict, time_cap: float) -> dict:
    """Sequential requests (one client): latency percentiles."""
    latencies, errors, statuses = [], 0, {}
    deadline = time.monotonic() + time_cap
    for path in paths:
        if time.monotonic() > deadline:
            break
        status, _, ms = request(port, "GET", path, headers)
        statuses[status] = statuses.get(status, 0) + 1
        if status != 200:
            errors += 1
        latencies.append(ms)
    return {
        "requests": len(latencies), "errors": errors, "statuses": statuses,
        "p50_ms": round(percentile(latencies, 0.50), 2), "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


def _load_worker(port, jobs, headers, results):
    ok = errors = locked = 0
    statuses: dict[int, int] = {}
    latencies = []
    for method, path, body in jobs:
        try:
            status, data, ms = request(port, method, path, headers, body)
        except OSError:
            errors += 1
            continue
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(ms)
        if 200 <= status < 300:
            ok += 1
        else:
            errors += 1
            if b"locked" in data:
                locked += 1
    results.put({"ok": ok, "errors": errors, "locked": locked, "statuses": statuses, "latencies": latencies})


def load_phase(port: int, jobs: list[tuple[str, str, bytes | None]], headers: dict, clients: int,
               server_pids: list[int]) -> dict:
    """Run ``jobs`` split over ``clients`` processes at once; throughput and server CPU used."""
    results: mp.Queue = mp.Queue()
    chunks = [jobs[i::clients] for i in range(clients)]
    cpu_before = server_cpu_seconds(server_pids)
    start = time.perf_counter()
    procs = [mp.Process(target=_load_worker, args=(port, chunk, headers, results)) for chunk in chunks]
    for p in procs:
        p.start()
    collected = [results.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    cpu = server_cpu_seconds(server_pids) - cpu_before
    ok = sum(r["ok"] for r in collected)
    statuses: dict[str, int] = {}
    for r in collected:
        for k, v in r["statuses"].items():
            statuses[str(k)] = statuses.get(str(k), 0) + v
    latencies = [ms for r in collected for ms in r["latencies"]]
    return {
        "requests": len(jobs), "clients": clients, "ok": ok, "errors": sum(r["errors"] for r in collected),
        "database_locked": sum(r["locked"] for r in collected), "statuses": statuses,
        "seconds": round(elapsed, 2), "per_s": round(ok / elapsed, 1),
        "server_cpu_s": round(cpu, 2), "per_server_cpu_s": round(ok / cpu, 1) if cpu else None,
        "p50_ms": round(percentile(latencies, 0.5), 2), "p95_ms": round(percentile(latencies, 0.95), 2),
    }


# --- server processes -----------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [int(x) for x in out]


def server_cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except FileNotFoundError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_kefu(env: dict, *args: str) -> None:
    """A kefu command whose output goes to stderr, so stdout carries only the JSON report."""
    subprocess.run([sys.executable, "-m", "kefu", *args], env=env, check=True, cwd=REPO, stdout=sys.stderr)


# --- main -----------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases to have in the database (default 1,000,000)")
    parser.add_argument("--customers", type=int, default=None, help="customers (default: cases / 10)")
    parser.add_argument("--data-dir", default=str(REPO / "var" / "bench"), help="KEFU_DATA_DIR for the run")
    parser.add_argument("--database-url", default="", help="KEFU_DATABASE_URL (default: SQLite in the data dir)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes in load phases")
    parser.add_argument("--requests", type=int, default=500, help="requests per latency phase (default 500)")
    parser.add_argument("--creates", type=int, default=6000, help="cases to create in the creation phase")
    parser.add_argument("--service-creates", type=int, default=3000,
                        help="cases created in-process through the service to time the write path itself")
    parser.add_argument("--reads", type=int, default=4000, help="requests per read-throughput phase")
    parser.add_argument("--deep-pages", type=int, default=100, help="pages of 100 walked to reach the deep page")
    parser.add_argument("--time-cap", type=float, default=120.0, help="seconds at most per latency phase")
    parser.add_argument("--quick", action="store_true", help="a short run: fewer requests in every phase")
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.creates, args.reads, args.deep_pages = 100, 1000, 800, 10
        args.service_creates = 500

    env = dict(os.environ)
    env["KEFU_DATA_DIR"] = str(Path(args.data_dir).resolve())
    env.setdefault("KEFU_SECRET_KEY", "bench-only-not-secret")
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if args.database_url:
        env["KEFU_DATABASE_URL"] = args.database_url
    else:
        env.pop("KEFU_DATABASE_URL", None)
    os.environ.update(env)
    Path(env["KEFU_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))

    report: dict = {"benchmark": "foundation", "cases_target": args.cases, "workers": args.workers,
                    "clients": args.clients, "cpus": os.cpu_count(), "targets": TARGETS}

    run_kefu(env, "migrate", "--verbosity", "0")

    import django

    django.setup()
    from django.db import connection

    from bench import prepare

    report["database"] = connection.vendor
    existing = prepare.case_count()
    seed_seconds = 0.0
    if existing < args.cases:
        customers = args.customers or max(args.cases // 10, 1000)
        t0 = time.perf_counter()
        run_kefu(env, "seed", "--customers", str(max(customers - prepare.customer_count(), 0)),
                 "--cases", str(args.cases - existing))
        seed_seconds = time.perf_counter() - t0
    ctx = prepare.context()
    write_path = prepare.service_create_rate(ctx, args.service_creates)
    report["cases"] = ctx["cases"]
    report["seed_seconds"] = round(seed_seconds, 1)
    connection.close()

    port = free_port()
    log_path = Path(env["KEFU_DATA_DIR"]) / "bench-gunicorn.log"
    log = open(log_path, "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kefu.config.wsgi:application", "--workers", str(args.workers),
         "--bind", f"127.0.0.1:{port}", "--chdir", str(REPO), "--pythonpath", str(REPO),
         "--timeout", "120", "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the server did not start; see {log_path}")
            time.sleep(0.2)
        workers = children(server.pid)
        report["phases"] = measure(port, ctx, args, workers)
        report["phases"]["service_create_in_process"] = write_path
        report["worker_rss_mb"] = [rss_mb(pid) for pid in workers]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    server_log = log_path.read_text(errors="replace")
    report["server_log_database_locked"] = server_log.count("database is locked")
    report["server_log_errors"] = server_log.count("Traceback")
    report["summary"] = summarise(report)

    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


def measure(port: int, ctx: dict, args, workers: list[int]) -> dict:
    rng = random.Random(7)
    auth = {"Authorization": f"Bearer {ctx['token']}", "Accept": "application/json"}
    team, status = ctx["team_id"], ctx["status"]
    list_path = f"/api/v1/cases?status={status}&team={team}&limit=25"
    phases: dict = {}

    # Warm up both workers (imports, connections, caches).
    for _ in range(40):
        request(port, "GET", list_path, auth)
        request(port, "GET", f"/api/v1/cases/{rng.choice(ctx['case_ids'])}", auth)

    phases["list_first_page"] = latency_phase(port, [list_path] * args.requests, auth, args.time_cap)

    # Reach a deep page by following cursors, 100 rows a page.
    cursor, depth = None, 0
    for _ in range(args.deep_pages):
        path = f"/api/v1/cases?status={status}&team={team}&limit=100" + (f"&cursor={cursor}" if cursor else "")
        code, data, _ = request(port, "GET", path, auth)
        if code != 200:
            raise SystemExit(f"list failed while walking cursors: {code} {data[:300]!r}")
        page = json.loads(data)
        if not page["next_cursor"]:
            break
        cursor, depth = page["next_cursor"], depth + len(page["items"])
    deep_path = f"/api/v1/cases?status={status}&team={team}&limit=25" + (f"&cursor={cursor}" if cursor else "")
    phases["list_deep_page"] = latency_phase(port, [deep_path] * args.requests, auth, args.time_cap)
    phases["list_deep_page"]["rows_before_page"] = depth
    phases["list_deep_page"]["filtered_rows"] = ctx["filtered_rows"]

    ids = [rng.choice(ctx["case_ids"]) for _ in range(args.requests)]
    phases["case_detail"] = latency_phase(port, [f"/api/v1/cases/{i}" for i in ids], auth, args.time_cap)

    read_ids = [rng.choice(ctx["case_ids"]) for _ in range(args.reads)]
    phases["bare_read_throughput"] = load_phase(
        port, [("GET", f"/bench/bare/read/{i}", None) for i in read_ids], {}, args.clients, workers)
    phases["case_read_throughput"] = load_phase(
        port, [("GET", f"/api/v1/cases/{i}", None) for i in read_ids], auth, args.clients, workers)

    phases["bare_write_throughput"] = load_phase(
        port, [("POST", "/bench/bare/write", "退款申请 order 20261122".encode()) for _ in range(args.creates)],
        {"Content-Type": "text/plain"}, args.clients, workers)
    create_jobs = []
    for n in range(args.creates):
        payload = {
            "customer": rng.choice(ctx["customer_ids"]), "type": rng.choice(ctx["type_codes"]),
            "channel": rng.choice(["phone", "wechat", "email", "portal"]), "team": team,
            "subject": f"压测工单 {n}: 发票与退款咨询",
            "body": f"您好,我们医院上周收到的货品有两箱外包装破损,需要办理退货并重开发票,订单号 PO2026112200{n}。",
        }
        create_jobs.append(("POST", "/api/v1/cases", json.dumps(payload, ensure_ascii=False).encode()))
    phases["case_create_throughput"] = load_phase(
        port, create_jobs, {**auth, "Content-Type": "application/json"}, args.clients, workers)
    return phases


def summarise(report: dict) -> dict:
    p = report["phases"]
    create = p["case_create_throughput"]
    cores_used = min(report["workers"], report["cpus"] or 1)
    measured = {
        "list_first_p95_ms": p["list_first_page"]["p95_ms"],
        "list_deep_p95_ms": p["list_deep_page"]["p95_ms"],
        "detail_p95_ms": p["case_detail"]["p95_ms"],
        "read_throughput_ratio": round(p["case_read_throughput"]["per_s"] / p["bare_read_throughput"]["per_s"], 3),
        # The write path (service, event log, search index) per second of one core's CPU time, in-process.
        "create_per_core_per_s": p["service_create_in_process"]["per_cpu_s"],
        # The same through HTTP: creations per second of the web workers' CPU time (request handling included).
        "api_create_per_server_cpu_s": create["per_server_cpu_s"],
        "create_per_s_total": create["per_s"],
        "create_per_s_per_worker_core": round(create["per_s"] / cores_used, 1),
        "database_locked_errors": sum(ph.get("database_locked", 0) for ph in p.values())
        + report["server_log_database_locked"],
        "errors": sum(ph.get("errors", 0) for ph in p.values()),
        "worker_rss_mb": max(x for x in report["worker_rss_mb"] if x is not None),
    }
    lower_is_better = {"list_first_p95_ms", "list_deep_p95_ms", "detail_p95_ms", "database_locked_errors",
                       "worker_rss_mb"}
    verdict = {}
    for key, target in TARGETS.items():
        value = measured[key]
        ok = value is not None and (value <= target if key in lower_is_better else value >= target)
        verdict[key] = {"measured": value, "target": target, "met": ok}
    measured["targets_met"] = all(v["met"] for v in verdict.values())
    measured["verdict"] = verdict
    return measured


if __name__ == "__main__":
    sys.exit(main())
