"""``kefu createadmin``: an administrator account, made through the people service."""

from __future__ import annotations

import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kefu.core.errors import DomainError
from kefu.people import services
from kefu.people.models import User


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _(
            "Create an administrator (full access, including /admin/). The password comes from --password, "
            "else from the KEFU_ADMIN_PASSWORD environment variable, else it is asked for when run in a "
            "terminal. Prefer the variable or the prompt: a password on the command line is visible to other "
            "users of the machine.")

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin", help=gettext_lazy("Login name (default admin)."))
        parser.add_argument("--password", help=gettext_lazy("The password (see above for safer ways)."))
        parser.add_argument("--email", default="", help=gettext_lazy("E-mail address."))
        parser.add_argument("--display-name", default="",
                            help=gettext_lazy("Name shown to colleagues (default: the username)."))

    def handle(self, *args, **options):
        username = (options["username"] or "").strip()
        if not username:
            raise CommandError(_("A username is required."))
        if User.objects.filter(username=username).exists():
            raise CommandError(_("The username %(username)r is taken; choose another with --username.")
                               % {"username": username})
        password = options["password"] or os.environ.get("KEFU_ADMIN_PASSWORD", "")
        if not password:
            if not sys.stdin.isatty():
                raise CommandError(_("No password given and no terminal to ask for one: pass --password or set "
                                     "KEFU_ADMIN_PASSWORD."))
            password = self._prompt()
        try:
            user = services.create_staff(None, username=username, password=password, role=User.Role.ADMIN,
                                         display_name=options["display_name"], email=options["email"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(_("Administrator %(username)s created.") % {"username": user.username}))

    def _prompt(self) -> str:
        for _attempt in range(3):
            try:
                first = getpass.getpass(_("Password: "))
                second = getpass.getpass(_("Password (again): "))
            except (EOFError, KeyboardInterrupt):
                raise CommandError(_("Cancelled.")) from None
            if not first:
                self.stderr.write(_("The password cannot be empty."))
            elif first != second:
                self.stderr.write(_("The passwords do not match; try again."))
            else:
                return first
        raise CommandError(_("No password set."))
