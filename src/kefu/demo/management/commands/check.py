"""``kefu check``: is this installation ready to run? One OK / FAIL line per check; exit 1 on any FAIL.

It replaces Django's ``check`` command and keeps its options (--deploy, --tag, --fail-level, --database,
--list-tags), adding the database, migrations, data directory and Redis checks.
"""

from __future__ import annotations

from django.core import checks as django_checks
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kefu.demo import checks


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _(
            "Check that kefu is ready to run: Django's system checks (add --deploy for production hints), the "
            "database is reachable, every migration is applied, the data directory is writable and, when "
            "KEFU_REDIS_URL is set, Redis answers. Prints one OK or FAIL line per check and exits with status 1 "
            "if any check fails.")

    requires_system_checks = []  # it runs them itself and reports them as one line

    def add_arguments(self, parser):
        parser.add_argument("--deploy", action="store_true",
                            help=gettext_lazy("Also run Django's deployment checks (shown as hints)."))
        parser.add_argument("--tag", "-t", action="append", dest="tags",
                            help=gettext_lazy("Run only the Django checks with this tag."))
        parser.add_argument("--list-tags", action="store_true", help=gettext_lazy("List the Django check tags."))
        parser.add_argument("--fail-level", default="ERROR",
                            choices=["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"],
                            help=gettext_lazy("Django check level that counts as a failure (default ERROR)."))
        parser.add_argument("--database", default="default", help=gettext_lazy("Database alias to check."))

    def handle(self, *args, **options):
        if options["list_tags"]:
            self.stdout.write("\n".join(sorted(django_checks.registry.registry.tags_available(
                include_deployment_checks=options["deploy"]))))
            return
        tags = options["tags"]
        if tags:
            invalid = [t for t in tags if not django_checks.tag_exists(t, include_deployment_checks=True)]
            if invalid:
                raise CommandError(_("There is no system check with the tag(s): %(tags)s.")
                                   % {"tags": ", ".join(invalid)})
        results = [
            checks.check_system(deploy=options["deploy"], tags=tags, fail_level=options["fail_level"]),
            checks.check_database(options["database"]),
        ]
        if results[-1].ok:
            results.append(checks.check_migrations(options["database"]))
        results.append(checks.check_data_dir())
        redis = checks.check_redis()
        if redis is not None:
            results.append(redis)
        for result in results:
            mark = self.style.SUCCESS("OK  ") if result.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark} {result.line}")
            for hint in result.hints:
                self.stdout.write(f"     - {hint}")
        failed = sum(not r.ok for r in results)
        if failed:
            raise CommandError(_("%(count)d check(s) failed.") % {"count": failed})
