"""``kefu demo``: a complete demo service centre on this machine, from nothing, in one command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
from pathlib import Path

import phonenumbers
from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kefu.cases.models import Case
from kefu.core.models import Event
from kefu.customers.models import Customer
from kefu.demo import centre, story
from kefu.demo.seeding import Seeder, SeedError, record_seeded
from kefu.search import index as search_index

from .seed import count, summary
from .serve import port_free, port_number, positive

DEMO_VERB = "demo.seeded"  # the event-log row written last, in the seeding transaction: the demo is complete


def demo_state() -> Event | None:
    return Event.objects.filter(verb=DEMO_VERB).order_by("-id").first()


def _display_width(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _display_width(text), 1)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if ``kefu demo`` itself is killed, so nothing is left behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _(
            "Run a demo of kefu on this machine: create and migrate the data directory (KEFU_DATA_DIR, default "
            "./var), fill it once with the demo company 康泰制药 (departments, teams, staff, hospitals, pharmacies, "
            "distributors, patients, and a year of cases), print the address and the demo logins, then serve the "
            "site with the background worker until Ctrl-C. Running it again reuses the data; --reset starts "
            "afresh. The demo password is public: never use demo data for real work.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help=gettext_lazy("Address to listen on (default 127.0.0.1)."))
        parser.add_argument("--port", type=port_number, default=8000, help=gettext_lazy("Port (default 8000)."))
        parser.add_argument("--customers", type=count, default=3000,
                            help=gettext_lazy("Customers in a new demo (default 3000)."))
        parser.add_argument("--cases", type=count, default=20000,
                            help=gettext_lazy("Cases in a new demo, over the past 12 months (default 20000)."))
        parser.add_argument("--seed", type=int, default=42, help=gettext_lazy("Random seed (default 42)."))
        parser.add_argument("--workers", type=positive, default=2,
                            help=gettext_lazy("Web server worker processes (default 2)."))
        parser.add_argument("--reset", action="store_true",
                            help=gettext_lazy("Delete the data in the data directory's database first and seed "
                                              "a new demo."))
        parser.add_argument("--no-serve", action="store_true",
                            help=gettext_lazy("Prepare the demo and print the logins, but do not serve."))

    def handle(self, *args, **options):
        data_dir = Path(settings.DATA_DIR)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.stdout.write(self.style.MIGRATE_HEADING(_("kefu demo — data directory %(path)s") % {"path": data_dir}))
        if not options["no_serve"]:
            self._check_port(options["host"], options["port"])
        if options["reset"]:
            self._reset()
        started = time.perf_counter()
        self.stdout.write(_("Preparing the database…"))
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(_("Database ready (%(seconds).1f s).") % {"seconds": time.perf_counter() - started})

        state = demo_state()
        if state is not None:
            self.stdout.write(_("Reusing the demo created on %(when)s (%(customers)s customers, %(cases)s cases); "
                                "--reset starts afresh.") % {
                "when": timezone.localtime(state.at).strftime("%Y-%m-%d %H:%M"), "customers": f"{Customer.objects.count():,}",
                "cases": f"{Case.objects.count():,}"})
        else:
            self._seed(options)
        self._print_logins(options["host"], options["port"], demo_state())
        if not options["no_serve"]:
            self._serve(options["host"], options["port"], options["workers"])

    # --- data ----------------------------------------------------------------------------------------------
    def _reset(self) -> None:
        conn = connections["default"]
        if conn.vendor == "sqlite":
            name = Path(conn.settings_dict["NAME"])
            conn.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{name}{suffix}").unlink(missing_ok=True)
            shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
            self.stdout.write(_("Deleted the database %(name)s.") % {"name": name})
            return
        # PostgreSQL: drop kefu's tables: the models' tables and the other tables its migrations made (named,
        # like every Django table, after their app), and the migration history; `migrate` rebuilds them.
        from django.apps import apps

        prefixes = tuple(f"{config.label}_" for config in apps.get_app_configs())
        known = set(conn.introspection.django_table_names(only_existing=True, include_views=False))
        tables = sorted(t for t in conn.introspection.table_names()
                        if t in known or t.startswith(prefixes) or t == "django_migrations")
        with conn.cursor() as cursor:
            for table in tables:
                cursor.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
        self.stdout.write(_("Dropped kefu's %(count)d tables.") % {"count": len(tables)})

    def _seed(self, options) -> None:
        if Case.objects.exists() or Customer.objects.exists():
            raise CommandError(_(
                "This database has customers or cases but no complete demo (an interrupted seeding, or real "
                "data). Use another KEFU_DATA_DIR, or run `kefu demo --reset` to delete the data and start afresh."))
        self.stdout.write(_("Seeding the demo company 康泰制药: %(customers)s customers and %(cases)s cases over the "
                            "past 12 months…") % {"customers": f"{options['customers']:,}",
                                                   "cases": f"{options['cases']:,}"})
        self.stdout.flush()
        try:
            # One transaction: the demo is either complete (with its marker) or not there at all.
            with transaction.atomic():
                refs = centre.ensure_centre()
                people = centre.ensure_named_customers(refs)
                seeder = Seeder(seed=options["seed"], refs=refs, progress=sys.stderr.isatty(),
                                on_batch=[search_index.index_seeded_batch])
                stats = seeder.run(customers=options["customers"], cases=options["cases"])
                story.tell(refs, people, now=seeder.now)
                record_seeded(DEMO_VERB, customers=stats.customers, cases=stats.cases, seed=options["seed"],
                              portal_customer=people["patient"].pk,
                              logins=sorted(u for _label, u in centre.LOGINS if u in refs.created))
        except SeedError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            raise CommandError(_("Interrupted: nothing was kept. Run `kefu demo` again to seed the demo.")) from None
        self.stdout.write(summary(stats))

    def _print_logins(self, host: str, port: int, state: Event) -> None:
        base = f"http://{self._browser_host(host)}:{port}"
        w = self.stdout.write
        w("")
        w(self.style.SUCCESS(_("kefu demo: %(url)s/") % {"url": base}))
        w(_("Admin: %(url)s/admin/   API docs: %(url)s/api/v1/docs") % {"url": base})
        w("")
        w(_("Demo sign-in (demo only: these passwords are public):"))
        names = dict((u, d) for u, d, *_rest in centre.STAFF)
        width = max(_display_width(str(label)) for label, _u in centre.LOGINS) + 2
        with_demo_password = set(state.data.get("logins", [u for _l, u in centre.LOGINS]))
        for label, username in centre.LOGINS:
            password = centre.DEMO_PASSWORD if username in with_demo_password else _("(your own password)")
            w(f"  {_pad(str(label), width)}{username:<12} {_pad(password, 17)}{names.get(username, '')}")
        patient = centre.PORTAL_CUSTOMER
        idents = dict(patient["identities"])
        phone = phonenumbers.format_number(phonenumbers.parse(idents["phone"], "CN"),
                                           phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        w("")
        w(_("Customer for the portal: %(name)s · phone %(phone)s · e-mail %(email)s") % {
            "name": patient["name"], "phone": phone, "email": idents["email"]})
        w("  " + _("(portal sign-in arrives with the customer portal; her cases are in the workspace and the API)"))
        w("")
        self.stdout.flush()

    # --- serving ---------------------------------------------------------------------------------------
    @staticmethod
    def _browser_host(host: str) -> str:
        return {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, f"[{host}]" if ":" in host else host)

    def _check_port(self, host: str, port: int) -> None:
        if not port_free(host, port):
            raise CommandError(_("Cannot listen on %(host)s:%(port)s: the port is in use or the address is not on "
                                 "this machine. Choose another with --port.") % {"host": host, "port": port})
        if host not in settings.ALLOWED_HOSTS and host not in ("0.0.0.0", "::") and "*" not in settings.ALLOWED_HOSTS:
            self.stderr.write(_("Note: %(host)s is not in KEFU_ALLOWED_HOSTS; the site will answer 400 Bad Request "
                                "for that name.") % {"host": host})

    def _serve(self, host: str, port: int, workers: int) -> None:
        if "worker" not in get_commands():
            raise CommandError(_("The background worker command is missing from this installation."))
        env = dict(os.environ)
        env["KEFU_DATA_DIR"] = str(settings.DATA_DIR)
        env.setdefault("DJANGO_SETTINGS_MODULE", settings.SETTINGS_MODULE)
        env["PYTHONUNBUFFERED"] = "1"
        connections.close_all()
        kefu = [sys.executable, "-m", "kefu"]
        popen = {"env": env, "process_group": 0}
        if sys.platform.startswith("linux"):
            popen["preexec_fn"] = _die_with_parent
        stop = {"signal": None}

        def on_signal(signum, _frame):
            stop["signal"] = signum

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        children: list[tuple[str, subprocess.Popen]] = []
        try:
            children.append((_("background worker"), subprocess.Popen([*kefu, "worker"], **popen)))
            children.append((_("web server"), subprocess.Popen(
                [*kefu, "serve", "--host", host, "--port", str(port), "--workers", str(workers)], **popen)))
            url = f"http://{self._browser_host(host)}:{port}/"
            ready = False
            while stop["signal"] is None:
                dead = [(name, p) for name, p in children if p.poll() is not None]
                if dead:
                    name, p = dead[0]
                    raise CommandError(_("The %(name)s stopped unexpectedly (exit status %(code)s).")
                                       % {"name": name, "code": p.returncode})
                if not ready:
                    ready = self._healthy(url)
                    if ready:
                        self.stdout.write(self.style.SUCCESS(
                            _("Ready: open %(url)s in a browser. Ctrl-C stops the demo.") % {"url": url}))
                        self.stdout.flush()
                time.sleep(0.2 if not ready else 0.5)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._stop(children)
        self.stdout.write(_("Stopped."))

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _stop(self, children: list[tuple[str, subprocess.Popen]]) -> None:
        if children and any(p.poll() is None for _n, p in children):
            self.stdout.write(_("Stopping the web server and the background worker…"))
            self.stdout.flush()
        for _name, p in children:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _name, p in children:
            try:
                p.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
