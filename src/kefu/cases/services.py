"""The only write path for cases: create, messages, status, assignment, transfer, departments, merge.

Every function validates, changes the rows in one transaction and writes the event log. Admin, API, pages,
CLI and tasks all call these functions, so a rule holds the same way everywhere.

``actor`` is a staff ``User``, a ``Customer`` (the customer acting on their own case) or None (the system).
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.validators import slug_re
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from kefu.core import events
from kefu.core.errors import Conflict, DomainError, InvalidTransition
from kefu.customers.models import Customer
from kefu.customers.services import touch_contact
from kefu.people.models import Department, Team, User
from kefu.search import index as search_index

from .models import TRANSITIONS, Attachment, Case, CaseType, Channel, Message, Priority, Stage, Status


@dataclass(frozen=True)
class Upload:
    """A file to attach: its name, declared type and bytes."""

    filename: str
    content: bytes
    content_type: str = ""


def _is_customer(actor) -> bool:
    return bool(getattr(actor, "is_customer", False))


def _check_choice(value: str, choices, field: str) -> None:
    if value not in choices.values:
        raise DomainError(gettext("unknown %(field)s %(value)r; choose one of %(choices)s") % {"field": field, "value": value, "choices": ", ".join(choices.values)}, field=field)


def _check_staff(user: User | None, field: str) -> None:
    if user is not None and (not isinstance(user, User) or not user.is_active):
        raise DomainError(gettext("%(field)s must be an active member of staff") % {"field": field}, field=field)


def _check_open(case: Case) -> None:
    if case.status == Status.CLOSED:
        raise InvalidTransition(gettext("case %(ref)s is closed; open a follow-up case instead") % {"ref": case.reference})


def _event(verb: str, actor, case: Case, *, at, **kwargs):
    return events.build(verb, actor=actor, subject_type="case", subject_id=case.pk, case_id=case.pk,
                        customer_id=case.customer_id, at=at, **kwargs)


def _validate_upload(upload: Upload) -> str:
    name = (upload.filename or "").strip().replace("/", "_").replace("\\", "_")[:255]
    if not name:
        raise DomainError(gettext("an attachment needs a file name"), field="attachments")
    size = len(upload.content)
    if size == 0:
        raise DomainError(gettext("attachment %(name)s is empty") % {"name": name}, field="attachments")
    if size > settings.KEFU_ATTACHMENT_MAX_BYTES:
        limit = settings.KEFU_ATTACHMENT_MAX_BYTES // (1024 * 1024)
        raise DomainError(gettext("attachment %(name)s is larger than %(limit)d MB") % {"name": name, "limit": limit}, field="attachments",
                          code="too_large")
    ctype = (upload.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream").lower()
    ctype = ctype.split(";")[0].strip()
    if ctype not in settings.KEFU_ATTACHMENT_TYPES:
        raise DomainError(gettext("attachments of type %(type)s are not accepted") % {"type": ctype}, field="attachments",
                          code="unsupported_type")
    return ctype


def _store_attachments(message: Message, uploads: list[Upload], types: list[str]) -> None:
    for upload, ctype in zip(uploads, types, strict=True):
        digest = hashlib.sha256(upload.content).hexdigest()
        att = Attachment(message=message, filename=upload.filename.strip()[:255], content_type=ctype,
                         size=len(upload.content), sha256=digest)
        att.file.save(upload.filename, ContentFile(upload.content), save=False)
        att.save()


# --- create -----------------------------------------------------------------------------------------------

def create_case(actor, *, customer: Customer, subject: str, type: CaseType, channel: str,
                body: str = "", body_from_customer: bool = True, stage: str = Stage.AFTER_SALE,
                priority: str = Priority.NORMAL, team: Team | None = None, assignee: User | None = None,
                departments: Iterable[Department] = (), attachments: Iterable[Upload] = (),
                external_id: str = "", at=None) -> Case:
    """Open a case for a customer. ``body`` is the first message: the customer's words (as told on the
    phone or written in a channel) unless ``body_from_customer`` is False (a staff-initiated case)."""
    subject = (subject or "").strip()
    if not subject:
        raise DomainError(gettext("a case needs a subject"), field="subject")
    if len(subject) > 200:
        raise DomainError(gettext("the subject is longer than 200 characters"), field="subject")
    if not type.is_active:
        raise DomainError(gettext("case type %(code)s is not in use") % {"code": type.code}, field="type")
    _check_choice(channel, Channel, "channel")
    _check_choice(stage, Stage, "stage")
    _check_choice(priority, Priority, "priority")
    _check_staff(assignee, "assignee")
    if customer.erased_at:
        raise DomainError(gettext("this customer's personal data was erased"), field="customer", code="erased")
    if _is_customer(actor) and actor.pk != customer.pk:
        raise DomainError(gettext("customers can only open cases for themselves"), field="customer", code="forbidden")
    if team is not None and not team.is_active:
        raise DomainError(gettext("team %(team)s is not active") % {"team": team.name}, field="team")
    if assignee is not None and team is not None and not team.members.filter(pk=assignee.pk).exists():
        raise DomainError(gettext("%(user)s is not a member of team %(team)s") % {"user": assignee, "team": team.name}, field="assignee")
    uploads = list(attachments)
    types = [_validate_upload(u) for u in uploads]
    if uploads and not body.strip():
        raise DomainError(gettext("attachments need a message"), field="body")
    departments = list(departments)
    now = at or timezone.now()

    case = Case(subject=subject, type=type, channel=channel, stage=stage, priority=priority, customer=customer,
                team=team, assignee=assignee, created_by=None if _is_customer(actor) else actor,
                created_at=now, updated_at=now,
                status=Status.OPEN if assignee else Status.NEW)
    if body.strip():
        # The first message's counters go in with the case row itself: one INSERT, no UPDATE.
        case.message_count = 1
        if body_from_customer:
            case.last_customer_message_at = now
        else:
            case.last_staff_message_at = now
    try:
        with transaction.atomic():
            case.save(force_insert=True)
            log = [_event("case.created", actor, case, at=now, data={
                "subject": subject, "type": type.code, "channel": channel, "stage": stage, "priority": priority,
                "status": case.status, "team": team.pk if team else None,
                "assignee": assignee.pk if assignee else None})]
            if departments:
                case.departments.set(departments)
                log.append(_event("case.departments_changed", actor, case, at=now, field="departments",
                                  old=[], new=sorted(d.pk for d in departments)))
            if body.strip():
                kind = Message.Kind.CUSTOMER if body_from_customer else Message.Kind.STAFF
                message = _insert_message(case, actor, kind, body, channel, external_id, now)
                _store_attachments(message, uploads, types)
                log.append(_message_event(actor, case, message, now))
                touch_contact(customer.pk, now)
            events.record_many(log)
            search_index.index_case_text(case.pk, [subject, body], team_id=case.team_id,
                                         department_ids=[d.pk for d in departments])
    except IntegrityError as exc:
        if external_id:
            raise Conflict(gettext("a message with external id %(id)s exists already") % {"id": external_id},
                           code="duplicate") from exc
        raise
    return case


# --- messages ---------------------------------------------------------------------------------------------

def _insert_message(case: Case, actor, kind: str, body: str, channel: str, external_id: str, at) -> Message:
    return Message.objects.create(
        case=case, kind=kind, channel=channel, body=body, external_id=external_id or "", created_at=at,
        author=None if _is_customer(actor) or actor is None else actor,
        customer=case.customer if kind == Message.Kind.CUSTOMER else None,
    )


def _count_message(case: Case, kind: str, at) -> None:
    """Update the counters of a case locked for update (the caller saves it)."""
    case.message_count += 1
    if kind == Message.Kind.CUSTOMER:
        case.last_customer_message_at = at
    elif kind == Message.Kind.STAFF:
        case.last_staff_message_at = at
        if case.first_response_at is None and case.last_customer_message_at is not None:
            case.first_response_at = at


def _message_event(actor, case: Case, message: Message, at):
    return _event("message.added", actor, case, at=at, data={
        "message": message.pk, "kind": message.kind, "channel": message.channel})


def add_message(actor, case: Case, *, kind: str, body: str, channel: str | None = None,
                attachments: Iterable[Upload] = (), external_id: str = "", at=None) -> Message:
    """Add a customer message, a public staff reply or an internal note.

    A customer message on a pending or solved case opens it again (solved -> open counts as a reopen);
    a staff reply on a new case opens it. A closed case takes no more messages."""
    _check_choice(kind, Message.Kind, "kind")
    body = body or ""
    if not body.strip():
        raise DomainError(gettext("the message is empty"), field="body")
    if _is_customer(actor):
        if kind != Message.Kind.CUSTOMER or actor.pk != case.customer_id:
            raise DomainError(gettext("customers can only write on their own cases"), code="forbidden")
    elif kind == Message.Kind.CUSTOMER and actor is not None and not isinstance(actor, User):
        raise DomainError(gettext("unknown author"))
    _check_open(case)
    channel = channel or case.channel
    _check_choice(channel, Channel, "channel")
    uploads = list(attachments)
    types = [_validate_upload(u) for u in uploads]
    now = at or timezone.now()
    original = case
    try:
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=case.pk)
            _check_open(case)
            case.updated_at = now
            message = _insert_message(case, actor, kind, body, channel, external_id, now)
            _store_attachments(message, uploads, types)
            _count_message(case, kind, now)
            log = [_message_event(actor, case, message, now)]
            new_status = None
            if kind == Message.Kind.CUSTOMER and case.status in (Status.PENDING, Status.SOLVED):
                new_status = Status.OPEN
            elif kind == Message.Kind.STAFF and case.status == Status.NEW:
                new_status = Status.OPEN
            if new_status:
                log.extend(_apply_status(actor, case, new_status, now, reason="message"))
            case.save()
            events.record_many(log)
            search_index.index_message(message)
            if kind != Message.Kind.NOTE:
                touch_contact(case.customer_id, now)
    except IntegrityError as exc:
        if external_id:
            raise Conflict(gettext("a message with external id %(id)s exists already") % {"id": external_id},
                           code="duplicate") from exc
        raise
    _copy(case, original)
    return message


# --- status -----------------------------------------------------------------------------------------------

def _apply_status(actor, case: Case, new: str, now, reason: str = "") -> list:
    old = case.status
    if new == old:
        return []
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(
            gettext("case %(ref)s cannot go from %(old)s to %(new)s") % {"ref": case.reference, "old": Status(old).label, "new": Status(new).label},
            field="status")
    log = [_event("case.status_changed", actor, case, at=now, field="status", old=old, new=new,
                  data={"reason": reason} if reason else None)]
    case.status = new
    if new == Status.SOLVED:
        case.solved_at = now
    elif new == Status.CLOSED:
        case.closed_at = now
    elif old == Status.SOLVED:
        case.reopen_count += 1
        case.solved_at = None
        log.append(_event("case.reopened", actor, case, at=now, data={"reopens": case.reopen_count}))
    case.updated_at = now
    return log


def change_status(actor, case: Case, status: str, *, reason: str = "", at=None) -> Case:
    _check_choice(status, Status, "status")
    if _is_customer(actor):
        raise DomainError(gettext("customers cannot change a case's status"), code="forbidden")
    now = at or timezone.now()
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        log = _apply_status(actor, locked, status, now, reason)
        if log:
            locked.save()
            events.record_many(log)
    _copy(locked, case)
    return case


def _copy(src: Case, dst: Case) -> None:
    if src is not dst:
        for f in Case._meta.concrete_fields:
            setattr(dst, f.attname, getattr(src, f.attname))


# --- fields, assignment, transfer -------------------------------------------------------------------------

EDITABLE = {"subject", "type", "stage", "priority"}


def update_case(actor, case: Case, **changes) -> Case:
    """Change the subject, type, stage or priority; one event per changed field."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise DomainError(gettext("these fields cannot be changed here: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if "subject" in changes:
        changes["subject"] = (changes["subject"] or "").strip()
        if not changes["subject"] or len(changes["subject"]) > 200:
            raise DomainError(gettext("a subject of 1 to 200 characters is required"), field="subject")
    if "stage" in changes:
        _check_choice(changes["stage"], Stage, "stage")
    if "priority" in changes:
        _check_choice(changes["priority"], Priority, "priority")
    if "type" in changes and not changes["type"].is_active:
        raise DomainError(gettext("case type %(code)s is not in use") % {"code": changes["type"].code}, field="type")
    _check_open(case)
    now = timezone.now()
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        old_subject = locked.subject
        log = []
        for field, value in changes.items():
            old = getattr(locked, field)
            if old != value:
                setattr(locked, field, value)
                log.append(_event("case.updated", actor, locked, at=now, field=field,
                                  old=old.code if field == "type" else old,
                                  new=value.code if field == "type" else value))
        if log:
            locked.updated_at = now
            locked.save()
            events.record_many(log)
            if locked.subject != old_subject:
                search_index.reindex_case(locked.pk, old_subject=old_subject)
    _copy(locked, case)
    return case


def assign(actor, case: Case, assignee: User | None, *, at=None) -> Case:
    """Give the case to a member of its team (or take it off everyone with None).

    Handing a case that already has an assignee to somebody else counts as a transfer."""
    _check_staff(assignee, "assignee")
    _check_open(case)
    now = at or timezone.now()
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.assignee_id == (assignee.pk if assignee else None):
            return case
        if assignee is not None and locked.team_id and not locked.team.members.filter(pk=assignee.pk).exists():
            raise DomainError(gettext("%(user)s is not a member of team %(team)s; transfer the case instead") % {"user": assignee, "team": locked.team},
                              field="assignee")
        log = [_event("case.assigned", actor, locked, at=now, field="assignee", old=locked.assignee_id,
                      new=assignee.pk if assignee else None)]
        if locked.assignee_id is not None and assignee is not None:
            locked.transfer_count += 1
            log.append(_event("case.transferred", actor, locked, at=now, data={
                "from_assignee": locked.assignee_id, "to_assignee": assignee.pk,
                "from_team": locked.team_id, "to_team": locked.team_id, "transfers": locked.transfer_count}))
        locked.assignee = assignee
        if assignee is not None and locked.status == Status.NEW:
            log.extend(_apply_status(actor, locked, Status.OPEN, now, reason="assigned"))
        locked.updated_at = now
        locked.save()
        events.record_many(log)
    _copy(locked, case)
    return case


def transfer(actor, case: Case, *, team: Team, assignee: User | None = None, reason: str = "",
             at=None) -> Case:
    """Move the case to another team (and optionally one of its members), with a reason. Counted."""
    _check_staff(assignee, "assignee")
    _check_open(case)
    if not team.is_active:
        raise DomainError(gettext("team %(team)s is not active") % {"team": team.name}, field="team")
    if assignee is not None and not team.members.filter(pk=assignee.pk).exists():
        raise DomainError(gettext("%(user)s is not a member of team %(team)s") % {"user": assignee, "team": team.name}, field="assignee")
    reason = (reason or "").strip()
    now = at or timezone.now()
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        new_assignee_id = assignee.pk if assignee else None
        if locked.team_id == team.pk and locked.assignee_id == new_assignee_id:
            raise DomainError(gettext("the case is with %(team)s already") % {"team": team.name}, field="team")
        counted = locked.team_id is not None or locked.assignee_id is not None
        log = []
        if counted:
            locked.transfer_count += 1
        log.append(_event("case.transferred", actor, locked, at=now, data={
            "from_team": locked.team_id, "to_team": team.pk, "from_assignee": locked.assignee_id,
            "to_assignee": new_assignee_id, "reason": reason, "counted": counted,
            "transfers": locked.transfer_count}))
        if locked.team_id != team.pk:
            log.append(_event("case.team_changed", actor, locked, at=now, field="team", old=locked.team_id,
                              new=team.pk))
        if locked.assignee_id != new_assignee_id:
            log.append(_event("case.assigned", actor, locked, at=now, field="assignee",
                              old=locked.assignee_id, new=new_assignee_id))
        old_team_id = locked.team_id
        locked.team = team
        locked.assignee = assignee
        locked.updated_at = now
        locked.save()
        events.record_many(log)
        if old_team_id != team.pk:
            search_index.reindex_case(locked.pk, old_team_id=old_team_id)
    _copy(locked, case)
    return case


def set_departments(actor, case: Case, departments: Iterable[Department]) -> Case:
    """The departments involved besides the owning team (多部门协作): their staff can see and work the case."""
    departments = list(departments)
    _check_open(case)
    now = timezone.now()
    with transaction.atomic():
        old = sorted(case.departments.values_list("pk", flat=True))
        new = sorted({d.pk for d in departments})
        if old == new:
            return case
        case.departments.set(departments)
        Case.objects.filter(pk=case.pk).update(updated_at=now)
        case.updated_at = now
        events.record_many([_event("case.departments_changed", actor, case, at=now, field="departments",
                                   old=old, new=new)])
        search_index.reindex_case(case.pk, old_department_ids=old)
    return case


def merge_cases(actor, source: Case, target: Case, *, at=None) -> Case:
    """Move every message of ``source`` onto ``target`` and close ``source`` as merged."""
    if source.pk == target.pk:
        raise DomainError(gettext("a case cannot be merged into itself"))
    if source.customer_id != target.customer_id:
        raise DomainError(gettext("only cases of the same customer can be merged"))
    _check_open(source)
    _check_open(target)
    now = at or timezone.now()
    with transaction.atomic():
        src = Case.objects.select_for_update().get(pk=source.pk)
        dst = Case.objects.select_for_update().get(pk=target.pk)
        search_index.merge_case_documents(src.pk, dst.pk)
        moved = src.messages.update(case=dst)
        dst.message_count = dst.messages.count()
        src.message_count = 0
        for f in ("last_customer_message_at", "last_staff_message_at", "first_response_at"):
            values = [v for v in (getattr(src, f), getattr(dst, f)) if v]
            if values:
                setattr(dst, f, min(values) if f == "first_response_at" else max(values))
        log = [_event("case.merged", actor, dst, at=now, data={"from": src.pk, "messages": moved}),
               _event("case.merged_into", actor, src, at=now, data={"into": dst.pk, "messages": moved})]
        src.merged_into = dst
        if src.status != Status.SOLVED:
            log.extend(_apply_status(actor, src, Status.SOLVED, now, reason="merged"))
        log.extend(_apply_status(actor, src, Status.CLOSED, now, reason="merged"))
        dst.updated_at = now
        src.save()
        dst.save()
        events.record_many(log)
    _copy(dst, target)
    _copy(src, source)
    return target


# --- configuration: case types ----------------------------------------------------------------------------

CASE_TYPE_FIELDS = ("name", "name_en", "is_complaint", "is_active", "position")


def _check_case_type_values(values: dict) -> dict:
    for field, label, required in (("name", gettext("the name"), True),
                                   ("name_en", gettext("the English name"), False)):
        if field in values:
            value = (values[field] or "").strip()
            if required and not value:
                raise DomainError(gettext("%(field)s cannot be empty") % {"field": label}, field=field)
            limit = CaseType._meta.get_field(field).max_length
            if len(value) > limit:
                raise DomainError(gettext("%(field)s is longer than %(max)d characters")
                                  % {"field": label, "max": limit}, field=field)
            values[field] = value
    for flag in ("is_complaint", "is_active"):
        if flag in values:
            values[flag] = bool(values[flag])
    if "position" in values:
        position = values["position"]
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 32767:
            raise DomainError(gettext("the position is a whole number from 0 to 32767"), field="position")
    return values


def create_case_type(actor, *, code: str, name: str, name_en: str = "", is_complaint: bool = False,
                     is_active: bool = True, position: int = 0) -> CaseType:
    """A new case type. Its code is how the API, imports and events refer to it, so it never changes."""
    code = (code or "").strip()
    if not code:
        raise DomainError(gettext("a case type needs a code"), field="code")
    limit = CaseType._meta.get_field("code").max_length
    if len(code) > limit or not slug_re.fullmatch(code):
        raise DomainError(gettext("the code is made of at most %(max)d letters, digits, hyphens and "
                                  "underscores") % {"max": limit}, field="code")
    if CaseType.objects.filter(code=code).exists():
        raise Conflict(gettext("a case type with code %(code)s exists already") % {"code": code}, field="code")
    values = _check_case_type_values({"name": name, "name_en": name_en, "is_complaint": is_complaint,
                                      "is_active": is_active, "position": position})
    with transaction.atomic():
        case_type = CaseType.objects.create(code=code, **values)
        events.record("case_type.created", actor=actor, subject_type="case_type", subject_id=case_type.pk,
                      data={"code": code, **values})
    return case_type


def update_case_type(actor, case_type: CaseType, **changes) -> CaseType:
    """Change a case type's names, complaint flag, order or whether it is in use. A type that is no longer
    wanted is deactivated: new cases cannot have it, the cases that have it keep it."""
    unknown = sorted(set(changes) - set(CASE_TYPE_FIELDS))
    if unknown:
        raise DomainError(gettext("these fields cannot be changed here: %(fields)s; the fields that can are "
                                  "%(allowed)s") % {"fields": ", ".join(unknown),
                                                    "allowed": ", ".join(CASE_TYPE_FIELDS)})
    changes = _check_case_type_values(changes)
    now = timezone.now()
    with transaction.atomic():
        log = events.apply_changes("case_type.updated", case_type, changes, actor=actor,
                                   subject_type="case_type", at=now)
        if log:
            case_type.save(update_fields=[e.field for e in log])
            events.record_many(log)
    return case_type


def check_case_type_deletable(case_type: CaseType) -> None:
    """Raise a DomainError if cases have ``case_type``: such a type is deactivated, never deleted."""
    count = case_type.cases.count()
    if count:
        raise DomainError(ngettext(
            "%(count)d case is of type %(type)s, so the type cannot be deleted; deactivate it instead",
            "%(count)d cases are of type %(type)s, so the type cannot be deleted; deactivate it instead", count)
            % {"count": count, "type": case_type.name}, code="in_use")


def delete_case_type(actor, case_type: CaseType) -> None:
    """Delete a case type no case has (a type that cases have is deactivated instead)."""
    with transaction.atomic():
        check_case_type_deletable(case_type)
        pk, data = case_type.pk, {"code": case_type.code, "name": case_type.name}
        try:
            with transaction.atomic():
                case_type.delete()
        except ProtectedError as exc:
            raise DomainError(gettext("case type %(type)s is in use; deactivate it instead")
                              % {"type": case_type.name}, code="in_use") from exc
        events.record("case_type.deleted", actor=actor, subject_type="case_type", subject_id=pk, data=data)
