"""The periodic scheduler: background tasks that run every so often (sweeps, reminders, maintenance).

Declaring a periodic job
------------------------
Write an ordinary, idempotent django-tasks task in your app's ``tasks.py`` and put :func:`periodic` on top::

    from datetime import timedelta

    from django_tasks import task

    from kefu.core.scheduler import periodic

    @periodic(every=timedelta(minutes=1), name="standards.sweep_breaches")
    @task()
    def sweep_breaches() -> int:
        ...  # find the rows that are due, act on each one, return how many

``periodic`` registers the task and returns it unchanged, so it can still be enqueued by hand. ``name`` is the
job's stable identity (its row in ``core.ScheduledJob``); keep it when you move or rename the function.
``args``/``kwargs`` (JSON values) are passed to every run. Every ``tasks.py`` of an installed app is imported by
:func:`autodiscover`, which the ``kefu worker`` and ``kefu scheduler`` commands call at start.

How runs are claimed
--------------------
:func:`tick` (called every few seconds by the scheduler loop, in ``kefu scheduler`` or in a thread of
``kefu worker``) makes sure every registered job has a ``ScheduledJob`` row (a new job is due at once), and
for each job whose ``next_run_at`` has passed it claims the run with a conditional UPDATE::

    UPDATE core_scheduledjob SET next_run_at = <next>, last_run_at = <now>, runs = runs + 1
     WHERE name = <name> AND next_run_at = <the value it read>

Only one process can move ``next_run_at`` away from the value they all read, so with any number of scheduler
processes on any number of machines each run is claimed once; the claim and the enqueue happen in the same
transaction (a failed enqueue undoes the claim and the next tick tries again). Missed runs are not caught up
one by one: after downtime a job runs once and its schedule continues on the same grid
(``next_run_at + k * every``).

Rules for periodic tasks
------------------------
- Idempotent: a run may be repeated (a crash after the task ran but before its result was stored, or the
  rare commit failure after an RQ enqueue) and must not do the work twice. Sweep rows by their stored due
  time and mark each row done in the same transaction as the work.
- Bounded: process a batch per run (the next run picks up the rest), so a run never holds a long transaction.
- Fast to enqueue: arguments are JSON values, never model instances.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django_tasks.base import Task

logger = logging.getLogger("kefu.scheduler")

DEFAULT_TICK_SECONDS = 10.0


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Task
    every: timedelta
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def interval_seconds(self) -> int:
        return int(self.every.total_seconds())

    def next_after(self, due: datetime, now: datetime) -> datetime:
        """The first point of this job's grid (``due + k * every``) that is later than ``now``."""
        if now < due:
            return due
        steps = math.floor((now - due) / self.every) + 1
        return due + steps * self.every


class Registry:
    """A set of periodic jobs. The module-level :data:`registry` holds kefu's own; tests make their own."""

    def __init__(self) -> None:
        self._jobs: dict[str, PeriodicJob] = {}

    def register(self, task: Task, *, every: timedelta, name: str | None = None, args: tuple | list = (),
                 kwargs: dict[str, Any] | None = None) -> PeriodicJob:
        if not isinstance(task, Task):
            raise TypeError("periodic() goes on top of @task(): it schedules a django-tasks Task")
        if not isinstance(every, timedelta) or every.total_seconds() < 1 or every.total_seconds() % 1:
            raise ValueError("every must be a timedelta of a whole number of seconds, at least one")
        name = name or task.module_path
        if len(name) > 100:
            raise ValueError(f"periodic job name {name!r} is longer than 100 characters")
        existing = self._jobs.get(name)
        if existing is not None and existing.task.module_path != task.module_path:
            raise ValueError(f"periodic job {name!r} is registered already for {existing.task.module_path}")
        job = PeriodicJob(name=name, task=task, every=every, args=tuple(args), kwargs=dict(kwargs or {}))
        self._jobs[name] = job
        return job

    def periodic(self, *, every: timedelta, name: str | None = None, args: tuple | list = (),
                 kwargs: dict[str, Any] | None = None) -> Callable[[Task], Task]:
        """Decorator form of :meth:`register`; returns the task unchanged."""

        def decorator(task: Task) -> Task:
            self.register(task, every=every, name=name, args=args, kwargs=kwargs)
            return task

        return decorator

    def unregister(self, name: str) -> None:
        self._jobs.pop(name, None)

    @property
    def jobs(self) -> list[PeriodicJob]:
        return sorted(self._jobs.values(), key=lambda j: j.name)

    def get(self, name: str) -> PeriodicJob | None:
        return self._jobs.get(name)

    def tick(self, now: datetime | None = None) -> list[str]:
        """Enqueue every job that is due at ``now``; returns the names of the jobs this call enqueued."""
        from .models import ScheduledJob

        if not self._jobs:
            return []
        now = now or timezone.now()
        rows = {row.name: row for row in ScheduledJob.objects.filter(name__in=list(self._jobs))}
        missing = [
            ScheduledJob(name=job.name, interval_seconds=job.interval_seconds, next_run_at=now)
            for job in self._jobs.values() if job.name not in rows
        ]
        if missing:
            # Another scheduler may insert the same rows at the same moment: the unique name settles it.
            ScheduledJob.objects.bulk_create(missing, ignore_conflicts=True)
            rows = {row.name: row for row in ScheduledJob.objects.filter(name__in=list(self._jobs))}

        enqueued = []
        for job in self.jobs:
            row = rows[job.name]
            if row.interval_seconds != job.interval_seconds:
                ScheduledJob.objects.filter(pk=row.pk).update(interval_seconds=job.interval_seconds)
            if row.next_run_at > now:
                continue
            if self._claim_and_enqueue(job, row.next_run_at, now):
                enqueued.append(job.name)
        return enqueued

    def _claim_and_enqueue(self, job: PeriodicJob, due: datetime, now: datetime) -> bool:
        from .models import ScheduledJob

        with transaction.atomic():
            claimed = ScheduledJob.objects.filter(name=job.name, next_run_at=due).update(
                next_run_at=job.next_after(due, now), last_run_at=now, runs=F("runs") + 1,
            )
            if not claimed:
                return False  # another scheduler took this run
            # Inside the transaction: if enqueueing fails, the claim is undone and the next tick retries.
            # On the database backend the task row commits together with the claim.
            result = job.task.enqueue(*job.args, **job.kwargs)
        logger.info("periodic job %s enqueued as task %s", job.name, result.id)
        return True


registry = Registry()
periodic = registry.periodic

_discovered = False


def autodiscover() -> None:
    """Import ``tasks`` of every installed app, so their ``@periodic`` jobs are registered."""
    global _discovered
    if not _discovered:
        autodiscover_modules("tasks")
        _discovered = True


def tick(now: datetime | None = None) -> list[str]:
    """One scheduler pass over kefu's registered jobs (see the module docstring)."""
    autodiscover()
    return registry.tick(now)


def format_interval(seconds: int) -> str:
    """``3600`` -> "1 hour" (in the active language)."""
    from django.utils.translation import ngettext

    units = (
        (86400, lambda n: ngettext("every %(n)d day", "every %(n)d days", n)),
        (3600, lambda n: ngettext("every %(n)d hour", "every %(n)d hours", n)),
        (60, lambda n: ngettext("every %(n)d minute", "every %(n)d minutes", n)),
        (1, lambda n: ngettext("every %(n)d second", "every %(n)d seconds", n)),
    )
    for size, text in units:
        if seconds and seconds % size == 0:
            return text(seconds // size) % {"n": seconds // size}
    return str(seconds)


def run_soon(name: str) -> bool:
    """Make a job due now (for the admin's "run at the next tick"); the scheduler enqueues it on its next pass.

    A scheduler that read the old due time fails its claim and sees the new one on its next pass."""
    from .models import ScheduledJob

    return bool(ScheduledJob.objects.filter(name=name).update(next_run_at=timezone.now()))


def run_loop(stop: threading.Event, *, interval: float = DEFAULT_TICK_SECONDS,
             tick_function: Callable[[], list[str]] | None = None) -> None:
    """Tick every ``interval`` seconds until ``stop`` is set. Errors are logged and the loop goes on
    (a database that is restarting or locked for a moment must not stop the schedule)."""
    tick_function = tick_function or tick
    logger.info("scheduler started (every %.1f s)", interval)
    try:
        while not stop.is_set():
            try:
                tick_function()
            except Exception:
                logger.exception("scheduler tick failed; trying again in %.1f s", interval)
            finally:
                close_old_connections()
            stop.wait(interval)
    finally:
        from django.db import connections

        connections.close_all()
        logger.info("scheduler stopped")


def start_thread(*, interval: float = DEFAULT_TICK_SECONDS) -> tuple[threading.Thread, threading.Event]:
    """Run :func:`run_loop` in a daemon thread; set the returned event to stop it."""
    autodiscover()
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, args=(stop,), kwargs={"interval": interval},
                              name="kefu-scheduler", daemon=True)
    thread.start()
    return thread, stop
