"""The periodic scheduler: registration, due runs, claims that hold with many schedulers at once."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kefu.core import scheduler
from kefu.core.models import ScheduledJob
from kefu.core.scheduler import Registry

from . import procs, sample_tasks

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def enqueued(task=sample_tasks.add):
    return [r.args_kwargs for r in DBTaskResult.objects.filter(task_path=task.module_path).order_by("enqueued_at")]


@pytest.fixture
def reg():
    r = Registry()
    r.register(sample_tasks.add, every=MINUTE, name="test.add", args=(1, 2))
    return r


def test_periodic_registers_the_task_and_returns_it_unchanged():
    r = Registry()
    returned = r.periodic(every=timedelta(hours=1), name="test.hourly")(sample_tasks.add)
    assert returned is sample_tasks.add
    [job] = r.jobs
    assert (job.name, job.every, job.interval_seconds) == ("test.hourly", timedelta(hours=1), 3600)
    # Without a name, the task's import path is the job's name.
    r.register(sample_tasks.fail, every=MINUTE, args=("x",))
    assert r.get("kefu.core.tests.sample_tasks.fail").args == ("x",)


def test_periodic_refuses_bad_declarations():
    r = Registry()
    with pytest.raises(TypeError, match="@task"):
        r.register(sample_tasks.add.func, every=MINUTE)
    with pytest.raises(ValueError, match="whole number of seconds"):
        r.register(sample_tasks.add, every=timedelta(milliseconds=500))
    with pytest.raises(ValueError, match="whole number of seconds"):
        r.register(sample_tasks.add, every=60)
    r.register(sample_tasks.add, every=MINUTE, name="test.same")
    with pytest.raises(ValueError, match="registered already"):
        r.register(sample_tasks.fail, every=MINUTE, name="test.same")


def test_kefu_maintenance_jobs_are_registered():
    scheduler.autodiscover()
    names = {job.name for job in scheduler.registry.jobs}
    assert {"core.prune_idempotency_records", "core.prune_task_results"} <= names
    assert scheduler.registry.get("core.prune_idempotency_records").every == timedelta(hours=1)


@pytest.mark.django_db
def test_first_tick_creates_the_row_and_runs_the_job_at_once(reg):
    assert reg.tick(T0) == ["test.add"]
    row = ScheduledJob.objects.get(name="test.add")
    assert (row.interval_seconds, row.next_run_at, row.last_run_at, row.runs) == (60, T0 + MINUTE, T0, 1)
    assert enqueued() == [{"args": [1, 2], "kwargs": {}}]


@pytest.mark.django_db
def test_a_run_is_enqueued_once_per_due_time(reg):
    reg.tick(T0)
    assert reg.tick(T0) == []
    assert reg.tick(T0 + timedelta(seconds=59)) == []
    assert reg.tick(T0 + MINUTE) == ["test.add"]
    assert reg.tick(T0 + MINUTE + timedelta(seconds=1)) == []
    assert len(enqueued()) == 2
    assert ScheduledJob.objects.get(name="test.add").runs == 2


@pytest.mark.django_db
def test_after_downtime_a_job_runs_once_and_stays_on_its_grid(reg):
    reg.tick(T0)
    assert reg.tick(T0 + timedelta(minutes=10, seconds=30)) == ["test.add"]
    row = ScheduledJob.objects.get(name="test.add")
    assert row.next_run_at == T0 + timedelta(minutes=11)
    assert len(enqueued()) == 2


@pytest.mark.django_db
def test_a_changed_interval_is_stored(reg):
    reg.tick(T0)
    r2 = Registry()
    r2.register(sample_tasks.add, every=timedelta(minutes=5), name="test.add", args=(1, 2))
    r2.tick(T0 + timedelta(seconds=1))
    assert ScheduledJob.objects.get(name="test.add").interval_seconds == 300


@pytest.mark.django_db
def test_run_soon_makes_a_job_due_at_the_next_tick(reg):
    now = timezone.now()
    reg.tick(now)
    assert reg.tick(now) == []
    assert scheduler.run_soon("test.add") is True
    assert reg.tick() == ["test.add"]
    assert scheduler.run_soon("no.such.job") is False


@pytest.mark.django_db
def test_a_failed_enqueue_undoes_the_claim(settings):
    settings.TASKS = {**settings.TASKS,
                      "broken": {"BACKEND": "kefu.core.tests.sample_tasks.UnreachableBackend"}}
    r = Registry()
    r.register(sample_tasks.add.using(backend="broken"), every=MINUTE, name="test.add", args=(1, 2))
    with pytest.raises(ConnectionError, match="queue is down"):
        r.tick(T0)
    row = ScheduledJob.objects.get(name="test.add")
    assert (row.runs, row.next_run_at, row.last_run_at) == (0, T0, None)  # the claim was rolled back

    r.register(sample_tasks.add, every=MINUTE, name="test.add", args=(1, 2))  # the queue is back
    assert r.tick(T0 + timedelta(seconds=5)) == ["test.add"]
    assert ScheduledJob.objects.get(name="test.add").runs == 1
    assert len(enqueued()) == 1


@pytest.mark.django_db
def test_scheduler_once_command(capsys):
    from django.core.management import call_command

    call_command("scheduler", "--once")
    assert "core.prune_idempotency_records" in capsys.readouterr().out
    call_command("scheduler", "--once")
    assert "core.prune" not in capsys.readouterr().out


# --- many schedulers at once -------------------------------------------------------------------------------

RACE_TICKS = 40
RACE_SCRIPT = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from kefu.core.scheduler import Registry
from kefu.core.tests import sample_tasks

reg = Registry()
reg.register(sample_tasks.add, every=timedelta(minutes=1), name="race.every_minute", args=(1, 1))
reg.register(sample_tasks.add, every=timedelta(minutes=5), name="race.every_5_minutes", args=(5, 5))
t0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
claimed = []
for k in range(int(sys.argv[2])):
    claimed += reg.tick(t0 + k * timedelta(minutes=1))
print(json.dumps(claimed))
"""


def check_race_outcome(claims: list[list[str]]) -> None:
    counted = Counter(name for claimed in claims for name in claimed)
    # 40 minutes: the minutely job is due 40 times, the 5-minute job 8 times; each claimed by exactly one.
    assert counted == {"race.every_minute": RACE_TICKS, "race.every_5_minutes": RACE_TICKS // 5}
    runs = dict(ScheduledJob.objects.filter(name__startswith="race.").values_list("name", "runs"))
    assert runs == dict(counted)
    args = Counter(json.dumps(r) for r in DBTaskResult.objects.values_list("args_kwargs", flat=True))
    assert args == {json.dumps({"args": [1, 1], "kwargs": {}}): RACE_TICKS,
                    json.dumps({"args": [5, 5], "kwargs": {}}): RACE_TICKS // 5}


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory):
    return procs.make_template(tmp_path_factory.mktemp("kefu-template"))


def test_four_scheduler_processes_on_one_sqlite_file_enqueue_each_run_once(tmp_path, migrated_template):
    import subprocess
    import sys

    data = procs.migrated_data_dir(migrated_template, tmp_path / "data")
    env = procs.kefu_env(data)
    start = time.time() + 2.0  # every process is up and waiting when the clock starts
    code = "import django\ndjango.setup()\n" + RACE_SCRIPT
    children = [subprocess.Popen([sys.executable, "-c", code, str(start), str(RACE_TICKS)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    claims = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        claims.append(json.loads(out.strip().splitlines()[-1]))

    # Read the outcome from the same SQLite file.
    summary = procs.python(
        "import json\n"
        "from django_tasks_db.models import DBTaskResult\n"
        "from kefu.core.models import ScheduledJob\n"
        "print(json.dumps({'runs': dict(ScheduledJob.objects.filter(name__startswith='race.')"
        ".values_list('name', 'runs')),"
        " 'args': [r for r in DBTaskResult.objects.values_list('args_kwargs', flat=True)]}))", env)
    outcome = json.loads(summary.strip().splitlines()[-1])
    counted = Counter(name for claimed in claims for name in claimed)
    assert counted == {"race.every_minute": RACE_TICKS, "race.every_5_minutes": RACE_TICKS // 5}
    assert outcome["runs"] == dict(counted)
    args = Counter(json.dumps(a) for a in outcome["args"])
    assert args == {json.dumps({"args": [1, 1], "kwargs": {}}): RACE_TICKS,
                    json.dumps({"args": [5, 5], "kwargs": {}}): RACE_TICKS // 5}


@pytest.mark.django_db(transaction=True)
def test_schedulers_in_threads_enqueue_each_run_once():
    """Threads share the test database; on SQLite the test database is in memory, where concurrent writers
    are not meaningful, so this runs on PostgreSQL (the process test above covers a SQLite file)."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent connections to the in-memory SQLite test database; see the process test")
    namespace: dict = {}
    exec(RACE_SCRIPT.split("start = float")[0], namespace)  # the same registry as the processes use
    reg = namespace["reg"]
    barrier = threading.Barrier(6)
    claims: list[list[str]] = []
    errors: list[BaseException] = []

    def run():
        from django.db import connection as thread_connection

        mine = []
        try:
            barrier.wait()
            for k in range(RACE_TICKS):
                mine += reg.tick(T0 + k * MINUTE)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            claims.append(mine)
            thread_connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    check_race_outcome(claims)
