"""``kefu token``: create, list and revoke personal API tokens."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from kefu.core import tokens
from kefu.core.errors import DomainError
from kefu.core.models import ApiToken
from kefu.people.models import User


class Command(BaseCommand):
    help = _("Create, list and revoke personal API tokens (used as 'Authorization: Bearer <token>').")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="{create,list,revoke}", required=True)
        create = sub.add_parser("create", help=_("create a token and print it once"),
                                description=_("Create a token for a staff member and print it. The token is "
                                              "shown only this once; only its digest is stored."))
        create.add_argument("--user", required=True, metavar="USERNAME", help=_("the staff member's username"))
        create.add_argument("--name", required=True, metavar="LABEL",
                            help=_("a label to recognise the token by, e.g. 'CRM sync'"))
        create.add_argument("--expires-days", type=int, metavar="N",
                            help=_("the token stops working after N days (default: never)"))
        listing = sub.add_parser("list", help=_("list tokens (never the tokens themselves)"),
                                 description=_("List tokens: id, user, name, prefix, state, last use."))
        listing.add_argument("--user", metavar="USERNAME", help=_("only this staff member's tokens"))
        revoke = sub.add_parser("revoke", help=_("revoke a token by its id"),
                                description=_("Revoke a token: it stops working at once."))
        revoke.add_argument("id", type=int, help=_("the token id (see 'kefu token list')"))

    def handle(self, *args, **options):
        return getattr(self, "_" + options["action"])(options)

    def _user(self, username: str) -> User:
        found = User.objects.filter(username=username).first()
        if found is None:
            raise CommandError(_("there is no staff member with the username %(name)r") % {"name": username})
        return found

    def _create(self, options) -> None:
        user = self._user(options["user"])
        expires_at = None
        days = options.get("expires_days")
        if days is not None:
            if days < 1 or days > 36500:
                raise CommandError(_("--expires-days must be between 1 and 36500"))
            expires_at = timezone.now() + timedelta(days=days)
        try:
            token, raw = tokens.create_token(None, user, options["name"], expires_at=expires_at)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(raw)
        expiry = timezone.localtime(expires_at).strftime("%Y-%m-%d %H:%M") if expires_at else _("never")
        self.stderr.write(_("Token %(id)s for %(user)s created (expires: %(expiry)s). It is shown only once: "
                            "store it now.") % {"id": token.pk, "user": user.username, "expiry": expiry})

    def _list(self, options) -> None:
        qs = ApiToken.objects.select_related("user").order_by("id")
        if options.get("user"):
            qs = qs.filter(user=self._user(options["user"]))
        now = timezone.now()
        rows = [(_("id"), _("user"), _("name"), _("prefix"), _("state"), _("last used"))]
        for t in qs.iterator():
            if t.revoked_at:
                state = _("revoked")
            elif t.expires_at and t.expires_at <= now:
                state = _("expired")
            else:
                state = _("active")
            used = timezone.localtime(t.last_used_at).strftime("%Y-%m-%d %H:%M") if t.last_used_at else "-"
            rows.append((str(t.pk), t.user.username, t.name, t.prefix + "…", state, used))
        if len(rows) == 1:
            self.stdout.write(_("no tokens"))
            return
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())

    def _revoke(self, options) -> None:
        token = ApiToken.objects.select_related("user").filter(pk=options["id"]).first()
        if token is None:
            raise CommandError(_("there is no token with id %(id)s") % {"id": options["id"]})
        was_revoked = token.revoked_at is not None
        tokens.revoke_token(None, token)
        if was_revoked:
            self.stdout.write(_("token %(id)s was already revoked") % {"id": token.pk})
        else:
            self.stdout.write(_("token %(id)s (%(name)s, %(user)s) revoked") % {
                "id": token.pk, "name": token.name, "user": token.user.username})
