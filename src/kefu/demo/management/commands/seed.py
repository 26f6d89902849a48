"""``kefu seed``: add generated customers and cases in bulk (for trials and benchmarks)."""

from __future__ import annotations

import sys
from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kefu.demo.seeding import Seeder, SeedError, SeedStats, record_seeded
from kefu.search import index as search_index


def count(value: str) -> int:
    try:
        number = int(value.replace(",", "").replace("_", ""))
    except ValueError:
        raise ArgumentTypeError(_("%(value)r is not a whole number") % {"value": value}) from None
    if number < 0:
        raise ArgumentTypeError(_("cannot be negative"))
    return number


def batch_size(value: str) -> int:
    number = count(value)
    if not 1 <= number <= 100_000:
        raise ArgumentTypeError(_("a batch is between 1 and 100,000 rows"))
    return number


def summary(stats: SeedStats) -> str:
    return _("Seeded %(customers)s customers and %(cases)s cases (%(messages)s messages, %(events)s events; "
             "%(rows)s rows) in %(seconds).1f s: %(rate)s rows/s.") % {
        "customers": f"{stats.customers:,}", "cases": f"{stats.cases:,}", "messages": f"{stats.messages:,}",
        "events": f"{stats.events:,}", "rows": f"{stats.rows:,}", "seconds": stats.seconds,
        "rate": f"{stats.rows_per_second:,.0f}"}


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _(
            "Add generated customers and cases of the demo company to the database, in batches, with a progress "
            "bar on a terminal. It adds to what is there (creating the demo departments, teams and staff when "
            "missing); cases go to the customers made in the same run, or to the existing customers when "
            "--customers is 0. The histories are complete: messages, assignments, transfers, reopens and an "
            "event-log row for every change. The same --seed gives the same data on an empty database.")

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=count, default=0, help=gettext_lazy("Customers to add (default 0)."))
        parser.add_argument("--cases", type=count, default=0, help=gettext_lazy("Cases to add (default 0)."))
        parser.add_argument("--batch", type=batch_size, default=5000,
                            help=gettext_lazy("Rows written per transaction (default 5000)."))
        parser.add_argument("--seed", type=int, default=42, help=gettext_lazy("Random seed (default 42)."))
        parser.add_argument("--no-progress", action="store_true", help=gettext_lazy("No progress bar."))
        parser.add_argument("--no-search-index", action="store_true",
                            help=gettext_lazy("Do not add the new cases and customers to the search index (faster; "
                                              "run `kefu reindex` later to make them searchable)."))

    def handle(self, *args, **options):
        if not options["customers"] and not options["cases"]:
            raise CommandError(_("Nothing to do: give --customers N and/or --cases N."))
        hooks = [] if options["no_search_index"] else [search_index.index_seeded_batch]
        seeder = Seeder(seed=options["seed"], batch=options["batch"], on_batch=hooks,
                        progress=not options["no_progress"] and sys.stderr.isatty())
        try:
            stats = seeder.run(customers=options["customers"], cases=options["cases"])
        except SeedError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            raise CommandError(_("Interrupted. The batches written so far are kept: %(customers)s customers and "
                                 "%(cases)s cases.") % {"customers": f"{seeder.stats.customers:,}",
                                                        "cases": f"{seeder.stats.cases:,}"}) from None
        record_seeded("data.seeded", customers=stats.customers, cases=stats.cases, seed=options["seed"],
                      rows=stats.rows, seconds=round(stats.seconds, 1))
        self.stdout.write(summary(stats))
