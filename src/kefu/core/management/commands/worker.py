"""``kefu worker``: run background tasks, and (unless told otherwise) the periodic scheduler in a thread."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tasks import DEFAULT_TASK_QUEUE_NAME, task_backends

from kefu.core import scheduler
from kefu.core.arguments import positive_float, positive_int

logger = logging.getLogger("kefu.worker")

# Give a running task this long to finish after Ctrl-C / SIGTERM before the worker stops the hard way.
JOIN_SECONDS = 5.0


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{get_random_string(8)}"


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _(
            "Run the background worker: it takes tasks from the queue (the database, or Redis when "
            "KEFU_REDIS_URL is set) and runs them, and runs the periodic scheduler in a thread. "
            "Stops cleanly on Ctrl-C or SIGTERM. Run as many workers as you like, on any machine."
        )
    requires_system_checks = []  # the web process runs the checks; a worker starts fast

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue", default=DEFAULT_TASK_QUEUE_NAME,
            help=gettext_lazy("The queues to take tasks from, separated by commas (default: %(default)s)."),
        )
        parser.add_argument(
            "--no-scheduler", action="store_true",
            help=gettext_lazy("Do not run the periodic scheduler in this process (run it elsewhere, "
                              "e.g. with 'kefu scheduler')."),
        )
        parser.add_argument(
            "--max-tasks", type=positive_int, default=None, metavar="N",
            help=gettext_lazy("Stop after running N tasks."),
        )
        parser.add_argument(
            "--burst", action="store_true",
            help=gettext_lazy("Run the tasks that are queued now, then stop (the scheduler ticks once "
                              "first, unless --no-scheduler)."),
        )
        parser.add_argument(
            "--interval", type=positive_float, default=1.0, metavar="S",
            help=gettext_lazy("Database queue: seconds to wait before looking again when the queue is "
                              "empty (default: %(default)s)."),
        )
        parser.add_argument(
            "--scheduler-interval", type=positive_float, default=scheduler.DEFAULT_TICK_SECONDS,
            metavar="S", help=gettext_lazy("Seconds between scheduler ticks (default: %(default)s)."),
        )

    def handle(self, *, queue, no_scheduler, max_tasks, burst, interval, scheduler_interval, verbosity,
               **options):
        from django_tasks_db.backend import DatabaseBackend

        queues = [q.strip() for q in queue.split(",") if q.strip()]
        if not queues:
            raise CommandError(_("name at least one queue with --queue"))
        backend = task_backends["default"]
        unknown = [q for q in queues if backend.queues and q not in backend.queues]
        if unknown:
            raise CommandError(_("unknown queue %(queues)s; the configured queues are: %(known)s") % {
                "queues": ", ".join(unknown), "known": ", ".join(sorted(backend.queues))})
        if verbosity == 0:
            logging.getLogger("kefu").setLevel(logging.WARNING)
            logging.getLogger("django_tasks").setLevel(logging.WARNING)
            logging.getLogger("django_tasks_db").setLevel(logging.WARNING)

        if burst and not no_scheduler:
            enqueued = scheduler.tick()
            if enqueued and verbosity:
                self.stdout.write(_("Scheduler: enqueued %(jobs)s") % {"jobs": ", ".join(enqueued)})

        thread = stop = None
        if not burst and not no_scheduler:
            thread, stop = scheduler.start_thread(interval=scheduler_interval)
        try:
            if isinstance(backend, DatabaseBackend):
                self.run_database_worker(backend, queues, burst=burst, max_tasks=max_tasks, interval=interval,
                                         verbosity=verbosity, stop_scheduler=stop)
            elif type(backend).__name__ == "RQBackend":
                self.run_rq_worker(queues, burst=burst, max_tasks=max_tasks, verbosity=verbosity)
            else:
                raise CommandError(_("the task backend %(backend)s runs tasks as they are enqueued; "
                                     "it has no worker") % {"backend": type(backend).__name__})
        finally:
            if stop is not None:
                stop.set()
                thread.join(JOIN_SECONDS)

    # --- database backend ---------------------------------------------------------------------------

    def run_database_worker(self, backend, queues, *, burst, max_tasks, interval, verbosity,
                            stop_scheduler):
        from django_tasks_db.management.commands.db_worker import Worker

        class KefuWorker(Worker):
            def shutdown(self, signum, frame):
                if stop_scheduler is not None:
                    stop_scheduler.set()
                super().shutdown(signum, frame)

        worker = KefuWorker(
            queue_names=queues, interval=interval, batch=burst, backend_name=backend.alias,
            startup_delay=False, max_tasks=max_tasks, worker_id=worker_name()[:64], excluded_queue_names=[],
        )
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        worker.configure_signals()
        if verbosity:
            self.stdout.write(_("Worker %(id)s is taking tasks from the database queue %(queues)s. "
                                "Press Ctrl-C to stop.") % {"id": worker.worker_id, "queues": ", ".join(queues)})
            sys.stdout.flush()
        try:
            worker.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # --- RQ backend (Redis) ---------------------------------------------------------------------------

    def run_rq_worker(self, queues, *, burst, max_tasks, verbosity):
        from django.db import connections
        from django_rq.workers import get_worker
        from django_tasks_rq.backend import Job
        from redis.exceptions import ConnectionError as RedisConnectionError

        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            worker = get_worker(*queues, job_class=Job, name=worker_name())
            connections.close_all()  # the work horse is a forked process: it must open its own connections
            if verbosity:
                self.stdout.write(_("Worker %(id)s is taking tasks from the Redis queue %(queues)s. "
                                    "Press Ctrl-C to stop.") % {"id": worker.name, "queues": ", ".join(queues)})
                sys.stdout.flush()
            worker.work(burst=burst, max_jobs=max_tasks, with_scheduler=True,
                        logging_level="DEBUG" if verbosity > 1 else "INFO" if verbosity else "WARNING")
        except RedisConnectionError as exc:
            raise CommandError(_("cannot reach Redis: %(error)s") % {"error": exc}) from exc
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
