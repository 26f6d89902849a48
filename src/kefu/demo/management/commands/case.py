"""``kefu case``: look at a case and change its status from the command line, through the cases service.

    kefu case show 123
    kefu case status 123 solved --as xiaowang --reason "answered on the phone"

The rules are the service's own: an invalid transition is refused with the same message the API gives.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from kefu.cases import services
from kefu.cases.models import Case, Message
from kefu.cases.queries import get_visible_case
from kefu.core.errors import DomainError, NotFound
from kefu.people.models import User


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _("Show a case, or change its status through the same service the pages and the API use.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{show,status}")
        show = sub.add_parser("show", help=_("Show a case with its messages."))
        show.add_argument("case_id", type=int, metavar="ID")
        show.add_argument("--as", dest="username",
                          help=_("Look as this member of staff (only cases they may see)."))
        status = sub.add_parser("status", help=_("Change a case's status."))
        status.add_argument("case_id", type=int, metavar="ID")
        status.add_argument("status", metavar="STATUS",
                            help=_("new, open, pending, on_hold, solved or closed"))
        status.add_argument("--as", dest="username",
                            help=_("Act as this member of staff (default: the system)."))
        status.add_argument("--reason", default="", help=_("Why (kept in the event log)."))

    def handle(self, *args, **options):
        try:
            actor = self._actor(options.get("username"))
            case = self._case(actor, options["case_id"])
            if options["action"] == "status":
                old = case.get_status_display()
                services.change_status(actor, case, options["status"], reason=options["reason"])
                self.stdout.write(_("Case %(ref)s: %(old)s → %(new)s")
                                  % {"ref": case.reference, "old": old, "new": case.get_status_display()})
            else:
                self._show(case)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _actor(self, username: str | None) -> User | None:
        if not username:
            return None
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(_("There is no active member of staff called %(username)r.") % {"username": username})
        return user

    def _case(self, actor: User | None, case_id: int) -> Case:
        qs = Case.objects.select_related("type", "customer", "team", "assignee")
        if actor is not None:
            return get_visible_case(actor, case_id, qs)
        case = qs.filter(pk=case_id).first()
        if case is None:
            raise NotFound(_("case %(id)s does not exist") % {"id": case_id})
        return case

    def _show(self, case: Case) -> None:
        w = self.stdout.write
        w(self.style.MIGRATE_HEADING(f"{case.reference} {case.subject}"))
        w(_("type %(type)s · status %(status)s · priority %(priority)s · stage %(stage)s · channel %(channel)s") % {
            "type": case.type.label, "status": case.get_status_display(), "priority": case.get_priority_display(),
            "stage": case.get_stage_display(), "channel": case.get_channel_display()})
        w(_("customer %(customer)s (#%(id)s) · team %(team)s · assignee %(assignee)s") % {
            "customer": case.customer.name, "id": case.customer_id, "team": case.team or "—",
            "assignee": case.assignee or "—"})
        departments = ", ".join(d.name for d in case.departments.order_by("name"))
        if departments:
            w(_("involved departments: %(names)s") % {"names": departments})
        w(_("created %(created)s · first response %(first)s · solved %(solved)s · closed %(closed)s") % {
            "created": _when(case.created_at), "first": _when(case.first_response_at),
            "solved": _when(case.solved_at), "closed": _when(case.closed_at)})
        w(_("messages %(messages)d · transfers %(transfers)d · reopens %(reopens)d") % {
            "messages": case.message_count, "transfers": case.transfer_count, "reopens": case.reopen_count})
        for message in case.messages.select_related("author", "customer").order_by("id"):
            who = message.author or message.customer or _("system")
            if message.kind == Message.Kind.CUSTOMER and message.customer:
                who = message.customer
            w("")
            w(f"{_when(message.created_at)}  [{message.get_kind_display()}] {who}")
            for line in message.body.splitlines() or [""]:
                w(f"    {line}")
