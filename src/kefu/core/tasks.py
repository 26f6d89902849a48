"""Background work: enqueueing on commit, and kefu's own maintenance jobs.

Tasks are django-tasks tasks (``@task()``), run by ``kefu worker``: on the database backend by default, on
RQ (Redis) when ``KEFU_REDIS_URL`` is set. The same code runs on both.

- Enqueue from services with :func:`enqueue_on_commit`, never with ``task.enqueue()`` inside a transaction:
  the worker must not pick up a task before the rows it reads are committed, and a rolled-back change must
  not leave a task behind.
- Tasks are idempotent (they may run twice) and take JSON arguments (ids, not model instances).
- Periodic jobs are declared with :func:`kefu.core.scheduler.periodic` (see that module).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from django_tasks import task, task_backends
from django_tasks.base import Task
from django_tasks.utils import normalize_json

from .scheduler import periodic

logger = logging.getLogger("kefu.tasks")

IDEMPOTENCY_KEEP = timedelta(hours=24)
TASK_RESULTS_KEEP = timedelta(days=7)
DELETE_BATCH = 5000


def enqueue_on_commit(task: Task, *args, **kwargs) -> None:
    """Enqueue ``task(*args, **kwargs)`` once the current transaction commits (at once outside a transaction).

    If the transaction rolls back, nothing is enqueued. The task and its arguments are checked now, so a
    mistake fails at the call site instead of after the commit."""
    if not isinstance(task, Task):
        raise TypeError(f"{task!r} is not a task; decorate the function with @task()")
    task.get_backend().validate_task(task)
    normalize_json(args)  # raises TypeError for arguments that are not JSON values
    normalize_json(kwargs)
    # robust: the change is committed already; a queue that is down must not turn it into an error for the
    # user. Django logs the failure; periodic sweeps pick up anything a lost task would have done.
    transaction.on_commit(partial(_enqueue, task, args, kwargs), robust=True)


def _enqueue(task: Task, args: tuple, kwargs: dict) -> None:
    result = task.enqueue(*args, **kwargs)
    logger.debug("enqueued task %s as %s", task.module_path, result.id)


def _delete_in_batches(queryset) -> int:
    """Delete the rows of ``queryset`` a batch at a time, so no transaction holds the lock for long."""
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:DELETE_BATCH])
        if not ids:
            return total
        deleted, _ = queryset.model.objects.filter(pk__in=ids).delete()
        total += deleted
        if len(ids) < DELETE_BATCH:
            return total


@periodic(every=timedelta(hours=1), name="core.prune_idempotency_records")
@task()
def prune_idempotency_records() -> int:
    """Forget stored answers to ``Idempotency-Key`` requests older than 24 hours. Idempotent."""
    from .models import IdempotencyRecord

    cutoff = timezone.now() - IDEMPOTENCY_KEEP
    deleted = _delete_in_batches(IdempotencyRecord.objects.filter(created_at__lt=cutoff).order_by())
    if deleted:
        logger.info("pruned %d idempotency records", deleted)
    return deleted


@periodic(every=timedelta(hours=6), name="core.prune_task_results")
@task()
def prune_task_results() -> int:
    """Delete finished background-task results older than 7 days (database backend only). Idempotent."""
    from django_tasks_db.backend import DatabaseBackend

    backends = [b for b in task_backends.all() if isinstance(b, DatabaseBackend)]
    if not backends:
        return 0
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - TASK_RESULTS_KEEP
    finished = DBTaskResult.objects.finished().filter(
        backend_name__in=[b.alias for b in backends], finished_at__lt=cutoff,
    ).order_by()
    deleted = _delete_in_batches(finished)
    if deleted:
        logger.info("pruned %d finished task results", deleted)
    return deleted
