"""Background work: enqueue on commit, the worker command on the database and RQ backends, maintenance jobs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from kefu.core import tasks
from kefu.core.models import IdempotencyRecord, ScheduledJob
from kefu.core.tasks import enqueue_on_commit

from . import procs, sample_tasks


def results(task=None):
    qs = DBTaskResult.objects.all()
    if task is not None:
        qs = qs.filter(task_path=task.module_path)
    return qs


# --- enqueue on commit ------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_enqueued_inside_a_transaction_appears_after_commit_only():
    with transaction.atomic():
        enqueue_on_commit(sample_tasks.add, 2, 3)
        assert not results().exists(), "the task must not be visible before the commit"
    [row] = results(sample_tasks.add)
    assert row.status == TaskResultStatus.READY
    assert row.args_kwargs == {"args": [2, 3], "kwargs": {}}

    call_command("worker", "--burst", "--no-scheduler", verbosity=0)
    row.refresh_from_db()
    assert row.status == TaskResultStatus.SUCCESSFUL and row.return_value == 5


@pytest.mark.django_db(transaction=True)
def test_nothing_is_enqueued_when_the_transaction_rolls_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(sample_tasks.add, 2, 3)
        raise RuntimeError("the change fails")
    assert not results().exists()
    call_command("worker", "--burst", "--no-scheduler", verbosity=0)
    assert not results().exists()


@pytest.mark.django_db(transaction=True)
def test_enqueue_inside_a_savepoint_that_rolls_back_is_dropped():
    with transaction.atomic():
        enqueue_on_commit(sample_tasks.add, 1, 1)
        try:
            with transaction.atomic():
                enqueue_on_commit(sample_tasks.add, 9, 9)
                raise ValueError("inner step fails")
        except ValueError:
            pass
    assert [r.args_kwargs["args"] for r in results(sample_tasks.add)] == [[1, 1]]


@pytest.mark.django_db
def test_outside_a_transaction_the_task_is_enqueued_at_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_on_commit(sample_tasks.add, 1, 2)
    assert len(callbacks) == 1
    assert results(sample_tasks.add).count() == 1


@pytest.mark.django_db
def test_bad_arguments_fail_at_the_call_site():
    with pytest.raises(TypeError, match="not a task"):
        enqueue_on_commit(sample_tasks.add.func, 1, 2)
    with pytest.raises(TypeError, match="Unsupported type"):
        enqueue_on_commit(sample_tasks.add, object(), 2)
    assert not results().exists()


# --- the worker command (database backend) ----------------------------------------------------------------
# The worker checks its connection between tasks, as a long-running process must; inside a test transaction
# that would close the connection, so these tests commit for real (transaction=True).

@pytest.mark.django_db(transaction=True)  # the worker runs outside any transaction
def test_worker_burst_runs_every_queued_task_and_records_failures():
    ok = [sample_tasks.add.enqueue(i, i) for i in range(3)]
    bad = sample_tasks.fail.enqueue("电话系统不可用")
    call_command("worker", "--burst", "--no-scheduler", verbosity=0)
    for i, result in enumerate(ok):
        result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 2 * i
    bad.refresh()
    assert bad.status == TaskResultStatus.FAILED
    assert "电话系统不可用" in bad.errors[0].traceback


@pytest.mark.django_db(transaction=True)  # the worker runs outside any transaction
def test_worker_max_tasks_stops_after_n_tasks():
    queued = [sample_tasks.add.enqueue(i, 1) for i in range(3)]
    call_command("worker", "--max-tasks", "2", "--no-scheduler", "--interval", "0.01", verbosity=0)
    for r in queued:
        r.refresh()
    assert [r.status for r in queued].count(TaskResultStatus.SUCCESSFUL) == 2
    assert [r.status for r in queued].count(TaskResultStatus.READY) == 1


@pytest.mark.django_db(transaction=True)  # the worker runs outside any transaction
def test_worker_burst_ticks_the_scheduler_once_and_runs_the_maintenance_jobs():
    call_command("worker", "--burst", verbosity=0)
    jobs = {j.name: j for j in ScheduledJob.objects.all()}
    assert {"core.prune_idempotency_records", "core.prune_task_results"} <= set(jobs)
    assert jobs["core.prune_idempotency_records"].runs == 1
    assert jobs["core.prune_idempotency_records"].interval_seconds == 3600
    for task in (tasks.prune_idempotency_records, tasks.prune_task_results):
        [row] = results(task)
        assert row.status == TaskResultStatus.SUCCESSFUL


@pytest.mark.django_db
def test_worker_refuses_an_unknown_queue():
    with pytest.raises(CommandError, match="nope.*default"):
        call_command("worker", "--queue", "nope", "--burst", verbosity=0)


def test_worker_and_scheduler_have_help():
    for command in ("worker", "scheduler"):
        out = subprocess.run([sys.executable, "-m", "kefu", command, "--help"], capture_output=True, text=True,
                             env=procs.kefu_env(procs.Path("/nonexistent-kefu-data")), check=True).stdout
        assert "--interval" in out
    out = subprocess.run([sys.executable, "-m", "kefu", "worker", "--max-tasks", "0"], capture_output=True,
                         text=True, env=procs.kefu_env(procs.Path("/nonexistent-kefu-data")))
    assert out.returncode != 0 and "--max-tasks" in out.stderr


# --- maintenance jobs ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_prune_idempotency_records_keeps_the_last_24_hours(centre):
    now = timezone.now()

    def record(key, age):
        return IdempotencyRecord.objects.create(
            user=centre.xiaowang, key=key, method="POST", path="/api/v1/cases", request_hash="x",
            status_code=201, response={}, created_at=now - age)

    record("old", timedelta(hours=25))
    record("fresh", timedelta(hours=23))
    assert tasks.prune_idempotency_records.call() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert tasks.prune_idempotency_records.call() == 0  # idempotent


@pytest.mark.django_db
def test_prune_task_results_deletes_finished_results_older_than_7_days():
    def finished(age, status=TaskResultStatus.SUCCESSFUL):
        result = sample_tasks.add.enqueue(1, 1)
        DBTaskResult.objects.filter(pk=result.id).update(status=status, finished_at=timezone.now() - age)
        return result.id

    old_ok = finished(timedelta(days=8))
    old_failed = finished(timedelta(days=8), TaskResultStatus.FAILED)
    recent = finished(timedelta(days=6))
    waiting = sample_tasks.add.enqueue(2, 2).id  # never pruned, however old
    DBTaskResult.objects.filter(pk=waiting).update(enqueued_at=timezone.now() - timedelta(days=30))

    assert tasks.prune_task_results.call() == 2
    left = {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)}
    assert left == {recent, waiting}
    assert old_ok not in left and old_failed not in left


@pytest.mark.django_db
def test_prune_task_results_does_nothing_on_another_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    assert tasks.prune_task_results.func() == 0


# --- the worker as a process: SIGINT / SIGTERM ----------------------------------------------------------

@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory):
    return procs.make_template(tmp_path_factory.mktemp("kefu-template"))


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_worker_process_runs_tasks_and_stops_promptly_on_signal(tmp_path, migrated_template, sig):
    data = procs.migrated_data_dir(migrated_template, tmp_path / "data")
    env = procs.kefu_env(data)
    marker = tmp_path / "ran.txt"
    procs.python(
        "from kefu.core.tests import sample_tasks\n"
        "import sys\n"
        "sample_tasks.append_line.enqueue(sys.argv[1], '已处理')\n",
        env, str(marker),
    )
    worker = subprocess.Popen([sys.executable, "-m", "kefu", "worker", "--interval", "0.1",
                               "--scheduler-interval", "0.2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(marker.exists, 30, "the worker to run the queued task")
        assert marker.read_text(encoding="utf-8").startswith("已处理")
        # The scheduler thread ran too: the maintenance jobs have rows.
        out = procs.python("from kefu.core.models import ScheduledJob\n"
                           "print(sorted(ScheduledJob.objects.values_list('name', flat=True)))", env)
        assert "core.prune_task_results" in out
        started = time.monotonic()
        worker.send_signal(sig)
        code = worker.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        if worker.poll() is None:
            worker.kill()
        output = worker.stdout.read()
        worker.stdout.close()
    assert code == 0, output
    assert took < 5, f"the worker took {took:.1f} s to stop"
    assert "scheduler stopped" in output


def test_scheduler_process_stops_promptly_on_sigterm(tmp_path, migrated_template):
    data = procs.migrated_data_dir(migrated_template, tmp_path / "data")
    env = procs.kefu_env(data)
    sched = subprocess.Popen([sys.executable, "-m", "kefu", "scheduler", "--interval", "0.2"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def ticked():
            out = procs.python("from kefu.core.models import ScheduledJob\n"
                               "print(ScheduledJob.objects.filter(runs__gte=1).count())", env)
            return int(out.strip()) >= 2

        wait_for(ticked, 30, "the scheduler to enqueue the maintenance jobs")
        started = time.monotonic()
        sched.send_signal(signal.SIGTERM)
        code = sched.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        if sched.poll() is None:
            sched.kill()
        output = sched.stdout.read()
        sched.stdout.close()
    assert code == 0, output
    assert took < 5


# --- RQ backend against the real Redis -------------------------------------------------------------------

RQ_TEST_URL = "redis://127.0.0.1:6379/14"  # a database number of its own, and a queue name per test


@pytest.fixture
def rq_backend(settings):
    import redis

    connection = redis.Redis.from_url(RQ_TEST_URL, socket_connect_timeout=1)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable at {RQ_TEST_URL}: {exc}")
    queue = f"kefu-test-{uuid.uuid4().hex[:12]}"
    # django-tasks-rq fetches results through the "default" connection.
    settings.RQ_QUEUES = {name: {"URL": RQ_TEST_URL, "DEFAULT_TIMEOUT": 60} for name in (queue, "default")}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [queue]}}
    yield queue
    import django_rq

    rq_queue = django_rq.get_queue(queue)
    job_ids = set(rq_queue.job_ids)
    for registry in (rq_queue.finished_job_registry, rq_queue.failed_job_registry,
                     rq_queue.started_job_registry, rq_queue.scheduled_job_registry):
        job_ids.update(registry.get_job_ids())
    for job_id in job_ids:
        connection.delete(f"rq:job:{job_id}", f"rq:results:{job_id}")
    rq_queue.delete(delete_jobs=True)
    for key in connection.scan_iter(match=f"*{queue}*"):
        connection.delete(key)
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_rq_backend_enqueues_on_commit_and_a_burst_worker_runs_it(rq_backend):
    import django_rq

    task = sample_tasks.add.using(queue_name=rq_backend)
    assert type(task.get_backend()).__name__ == "RQBackend"
    with transaction.atomic():
        enqueue_on_commit(task, 20, 22)
        assert django_rq.get_queue(rq_backend).count == 0
    queue = django_rq.get_queue(rq_backend)
    assert queue.count == 1
    [job_id] = queue.job_ids
    result = task.get_result(job_id)
    assert result.status == TaskResultStatus.READY

    call_command("worker", "--burst", "--no-scheduler", "--queue", rq_backend, verbosity=0)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 42
    assert queue.count == 0


@pytest.mark.django_db(transaction=True)
def test_rq_backend_rollback_enqueues_nothing(rq_backend):
    import django_rq

    task = sample_tasks.add.using(queue_name=rq_backend)
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(task, 1, 2)
        raise RuntimeError("rolled back")
    assert django_rq.get_queue(rq_backend).count == 0


@pytest.mark.django_db(transaction=True)
def test_rq_backend_periodic_runs_are_claimed_in_the_database_and_run_by_rq(rq_backend):
    import django_rq

    from kefu.core.scheduler import Registry

    registry = Registry()
    registry.register(sample_tasks.add.using(queue_name=rq_backend), every=timedelta(minutes=5),
                      name="test.rq_add", args=(2, 3))
    now = timezone.now()
    assert registry.tick(now) == ["test.rq_add"]
    assert registry.tick(now) == []  # claimed once
    queue = django_rq.get_queue(rq_backend)
    assert queue.count == 1
    [job_id] = queue.job_ids
    call_command("worker", "--burst", "--no-scheduler", "--queue", rq_backend, verbosity=0)
    result = sample_tasks.add.using(queue_name=rq_backend).get_result(job_id)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 5
    assert ScheduledJob.objects.get(name="test.rq_add").runs == 1
