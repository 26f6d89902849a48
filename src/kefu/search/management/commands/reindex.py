"""``kefu reindex``: rebuild the full-text index of cases and customers from the database."""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kefu.core.arguments import positive_int
from kefu.search import index


class Command(BaseCommand):
    help = gettext_lazy(
        "Rebuild the full-text search index of cases (subject and every message) and customers (name, "
        "organisation, phone, email) from the database. Safe to run again, and while kefu is running: what "
        "the services index meanwhile is kept. Progress goes to stderr.")

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=positive_int, default=2000,
                            help=gettext_lazy("Documents per transaction (default 2000)."))
        parser.add_argument("--only", choices=["cases", "customers"],
                            help=gettext_lazy("Rebuild only the cases' or only the customers' index."))
        parser.add_argument("--optimize", action="store_true",
                            help=gettext_lazy("Merge the index into one segment afterwards (SQLite: faster "
                                              "searches; takes a while on a large index)."))

    def handle(self, *args, batch: int, only: str | None, optimize: bool, **options):
        from kefu.cases.models import Case
        from kefu.customers.models import Customer

        jobs = [("cases", "case", Case, self._cases), ("customers", "customer", Customer, self._customers)]
        for name, kind, model, rebuild in jobs:
            if only and only != name:
                continue
            index.clear(kind)
            total = model.objects.count()
            done = indexed = last = 0
            started = time.monotonic()
            while True:
                ids = list(model.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch])
                if not ids:
                    break
                with transaction.atomic():
                    indexed += rebuild(ids)
                done += len(ids)
                last = ids[-1]
                self._progress(name, done, total, started)
            if optimize:
                index.optimize(kind)
            sys.stderr.write("\n")
            self.stdout.write(_("%(name)s: %(indexed)d indexed, %(kept)d kept as the services wrote them") % {
                "name": name, "indexed": indexed, "kept": done - indexed})

    @staticmethod
    def _cases(ids) -> int:
        texts = index.case_texts(ids)
        return index.index_batch([(pk, [body for _, body in texts[pk]]) for pk in ids if pk in texts],
                                 skip_existing=True)

    @staticmethod
    def _customers(ids) -> int:
        texts = index.customer_texts(ids)
        return index.index_customer_batch([(pk, texts[pk]) for pk in ids if pk in texts], skip_existing=True)

    @staticmethod
    def _progress(name: str, done: int, total: int, started: float) -> None:
        rate = done / max(time.monotonic() - started, 1e-6)
        sys.stderr.write("\r" + _("%(name)s: %(done)d / %(total)d (%(rate)d per second)") % {
            "name": name, "done": done, "total": max(total, done), "rate": rate})
        sys.stderr.flush()
