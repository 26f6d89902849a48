"""``kefu scheduler``: only the periodic scheduler (``kefu worker`` runs one in a thread unless --no-scheduler)."""

from __future__ import annotations

import signal
import sys
import threading

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kefu.core import scheduler
from kefu.core.arguments import positive_float


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _(
            "Run the periodic scheduler: every few seconds it enqueues the periodic jobs that are due "
            "(SLA sweeps, surveys, care plans, clean-up). Any number of schedulers may run at once; each run "
            "is enqueued once. Stops cleanly on Ctrl-C or SIGTERM."
        )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true",
                            help=gettext_lazy("Tick once, print what was enqueued, and stop."))
        parser.add_argument("--interval", type=positive_float, default=scheduler.DEFAULT_TICK_SECONDS,
                            metavar="S", help=gettext_lazy("Seconds between ticks (default: %(default)s)."))

    def handle(self, *, once, interval, verbosity, **options):
        scheduler.autodiscover()
        if once:
            enqueued = scheduler.tick()
            if verbosity:
                if enqueued:
                    self.stdout.write(_("Enqueued: %(jobs)s") % {"jobs": ", ".join(enqueued)})
                else:
                    self.stdout.write(_("No periodic job is due."))
            return

        stop = threading.Event()

        def request_stop(signum, frame):
            stop.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if verbosity:
                jobs = ", ".join(job.name for job in scheduler.registry.jobs)
                self.stdout.write(_("Scheduler running every %(interval)s s with the jobs: %(jobs)s. "
                                    "Press Ctrl-C to stop.") % {"interval": interval, "jobs": jobs})
                sys.stdout.flush()
            scheduler.run_loop(stop, interval=interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
