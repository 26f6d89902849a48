"""``kefu serve``: the web server (gunicorn, run in this process through its Python API)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kefu.demo.checks import pending_migrations


def port_number(value: str) -> int:
    from argparse import ArgumentTypeError

    try:
        port = int(value)
    except ValueError:
        raise ArgumentTypeError(_("%(value)r is not a port number") % {"value": value}) from None
    if not 1 <= port <= 65535:
        raise ArgumentTypeError(_("a port number is between 1 and 65535"))
    return port


def positive(value: str) -> int:
    from argparse import ArgumentTypeError

    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(_("%(value)r is not a whole number") % {"value": value}) from None
    if number < 1:
        raise ArgumentTypeError(_("must be at least 1"))
    return number


def port_free(host: str, port: int) -> bool:
    """Whether the address can be bound (as gunicorn binds it, with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ready_to_serve() -> None:
    """Refuse to serve a database that is unreachable or not migrated, with a message that says what to do."""
    try:
        pending = pending_migrations()
    except Exception as exc:  # the database driver's own error, whatever the backend
        raise CommandError(_("The database cannot be reached: %(error)s") % {"error": exc}) from exc
    if pending:
        names = ", ".join(pending[:5]) + (" …" if len(pending) > 5 else "")
        raise CommandError(
            _("The database has %(count)d unapplied migration(s) (%(names)s). Run `kefu migrate` first.")
            % {"count": len(pending), "names": names})


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _(
            "Run kefu's web server (gunicorn) in the foreground until Ctrl-C or SIGTERM. Serves the pages, the "
            "admin and the API, with static files. Refuses to start when the database is not migrated. Put a "
            "reverse proxy (nginx, a load balancer) in front of it for HTTPS; run it on several machines to scale.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("KEFU_HOST", "127.0.0.1"),
                            help=gettext_lazy("Address to listen on (default 127.0.0.1; 0.0.0.0 for all)."))
        parser.add_argument("--port", type=port_number, default=int(os.environ.get("KEFU_PORT", "8000")),
                            help=gettext_lazy("Port to listen on (default 8000)."))
        parser.add_argument("--workers", type=positive, default=int(os.environ.get("KEFU_WEB_WORKERS", "2")),
                            help=gettext_lazy("Number of worker processes (default 2)."))
        parser.add_argument("--timeout", type=positive, default=60,
                            help=gettext_lazy("Seconds before a stuck request's worker is restarted (default 60)."))
        parser.add_argument("--no-access-log", action="store_true",
                            help=gettext_lazy("Do not log every request."))

    def handle(self, *args, **options):
        check_ready_to_serve()
        host, port = options["host"], options["port"]
        if not port_free(host, port):
            raise CommandError(_("Cannot listen on %(host)s:%(port)s: the port is in use or the address is not "
                                 "on this machine. Choose another with --port.") % {"host": host, "port": port})
        connections.close_all()  # workers are forked: they must open their own connections
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # static files are served from the apps
        from gunicorn.app.base import BaseApplication

        settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "kefu.config.settings")
        config = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": options["workers"],
            "timeout": options["timeout"],
            "graceful_timeout": 10,
            "accesslog": None if options["no_access_log"] else "-",
            "errorlog": "-",
            "proc_name": "kefu",
            "control_socket_disable": True,  # one fixed socket per user would clash between servers
            "raw_env": [f"DJANGO_SETTINGS_MODULE={settings_module}"],
        }

        class KefuServer(BaseApplication):
            def load_config(self):
                for key, value in config.items():
                    self.cfg.set(key, value)

            def load(self):
                from kefu.config.wsgi import application

                return application

        self.stdout.write(_("kefu is serving on http://%(address)s/ (%(workers)d workers); Ctrl-C stops it.")
                          % {"address": config["bind"], "workers": options["workers"]})
        self.stdout.flush()
        KefuServer().run()
