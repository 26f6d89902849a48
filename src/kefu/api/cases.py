"""Cases, their messages and their event log.

Every read goes through ``kefu.cases.queries`` (an agent sees their teams' cases and the cases that
involve their department; anything else is a 404, exactly like a case that does not exist). Every
change goes through ``kefu.cases.services``.
"""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from pydantic import ValidationError as PydanticValidationError

from kefu.cases import queries, services
from kefu.cases.models import Attachment, Case, CaseType, Channel, Message, Priority, Stage, Status
from kefu.core.errors import NotFound
from kefu.core.models import Event
from kefu.core.prepared import PreparedQuery
from kefu.customers.models import Customer, Grade
from kefu.people.models import Department, Team, User

from . import idempotency
from .common import (
    ERRORS,
    MAX_ID,
    DepartmentRef,
    Id,
    In,
    PageParams,
    TeamRef,
    Text,
    TypeRef,
    UserRef,
    get_many_or_422,
    get_or_404,
    get_or_422,
    json_response,
    text,
    user,
)
from .errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType, parse_json_body, validation_error
from .filters import since
from .pagination import Page, by_id, by_recency, residual

router = Router(tags=["cases"])

# The choices come from the models, so the API and the database never disagree.
StatusCode = Literal[tuple(Status.values)]
ChannelCode = Literal[tuple(Channel.values)]
PriorityCode = Literal[tuple(Priority.values)]
StageCode = Literal[tuple(Stage.values)]
MessageKind = Literal[tuple(Message.Kind.values)]
MAX_FILES = 10


# --- schemas ----------------------------------------------------------------------------------------------

class CustomerRef(Schema):
    id: int
    name: str
    kind: str
    grade: str | None = Field(description="The customer's grade code.")


class CaseItem(Schema):
    id: int
    reference: str
    subject: str
    status: str
    priority: str
    stage: str
    channel: str
    type: TypeRef
    customer: CustomerRef
    team: TeamRef | None
    assignee: UserRef | None
    message_count: int
    transfer_count: int
    reopen_count: int
    created_at: datetime
    updated_at: datetime
    first_response_due_at: datetime | None
    next_response_due_at: datetime | None
    resolution_due_at: datetime | None


class CaseOut(CaseItem):
    departments: list[DepartmentRef]
    created_by: UserRef | None
    merged_into: int | None
    first_response_at: datetime | None
    last_customer_message_at: datetime | None
    last_staff_message_at: datetime | None
    solved_at: datetime | None
    closed_at: datetime | None


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(Schema):
    id: int
    case: int
    kind: str
    channel: str
    body: str
    author: UserRef | None
    customer: int | None = Field(description="The customer who wrote it (customer messages).")
    delivery: str
    created_at: datetime
    attachments: list[AttachmentOut]


class EventActor(Schema):
    id: int | None
    kind: str
    label: str


class EventOut(Schema):
    id: int
    at: datetime
    verb: str
    actor: EventActor
    field: str
    old: object = None
    new: object = None
    data: dict


class CaseCreate(In):
    customer: Id
    subject: text(200)
    type: text(32) = Field(description="Case type code: inquiry, complaint, return, refund…")
    channel: ChannelCode
    body: Text = Field("", description="The first message (optional).")
    body_from_customer: bool = Field(True, description="The first message is the customer's words.")
    stage: StageCode = "after_sale"
    priority: PriorityCode = "normal"
    team: Id | None = None
    assignee: Id | None = None
    departments: list[Id] = Field(default_factory=list, max_length=50)


class CaseUpdate(In):
    """Only the fields sent are changed, all in one transaction: if one change is refused, none is made.
    ``assignee`` may be null to take the case off everyone."""

    subject: text(200) = None
    type: text(32) = None
    stage: StageCode = None
    priority: PriorityCode = None
    status: StatusCode = None
    status_reason: text(300) = ""
    assignee: Id | None = None
    departments: list[Id] = Field(None, max_length=50)


class TransferIn(In):
    team: Id
    assignee: Id | None = None
    reason: text(300, 1)


class MergeIn(In):
    into: Id = Field(description="The case that receives this case's messages.")


class MessageCreate(In):
    kind: MessageKind = Field(description="customer (the customer's words), staff (a reply) or note (internal).")
    body: Text
    channel: ChannelCode | None = Field(None, description="Defaults to the case's channel.")


class CaseFilters(PageParams):
    status: list[StatusCode] = Field(default_factory=list, description="Repeat for several statuses.")
    assignee: text(20) | None = Field(None, description='A user id, "me" or "none".')
    team: Id | None = None
    type: text(32) | None = Field(None, description="Case type code.")
    grade: text(8) | None = Field(None, description="Grade code of the customer.")
    channel: ChannelCode | None = None
    priority: PriorityCode | None = None
    stage: StageCode | None = None
    customer: Id | None = None
    updated_since: datetime | None = Field(None, description="Changed at or after this time.")


# --- serializers ------------------------------------------------------------------------------------------
#
# Cases are read as values (the columns below, joined), not as model instances, and their answers are
# rendered without a second validation (``json_response``): on the hot reads, building model objects and
# validating them again cost ten times what the query does. The dicts follow the schemas field by field;
# tests check them against CaseItem / CaseOut and against the models' own properties.

ITEM_COLUMNS = (
    "id", "subject", "status", "priority", "stage", "channel",
    "type_id", "type__code", "type__name", "type__name_en",
    "customer_id", "customer__name", "customer__kind", "customer__grade__code",
    "team_id", "team__name", "assignee_id", "assignee__username", "assignee__display_name",
    "message_count", "transfer_count", "reopen_count", "created_at", "updated_at",
    "first_response_due_at", "next_response_due_at", "resolution_due_at",
)
DETAIL_COLUMNS = ITEM_COLUMNS + (
    "created_by_id", "created_by__username", "created_by__display_name", "merged_into_id",
    "first_response_at", "last_customer_message_at", "last_staff_message_at", "solved_at", "closed_at",
)


def _user(u: User | None) -> dict | None:
    return {"id": u.pk, "username": u.username, "display_name": str(u)} if u else None


def _user_ref(pk: int | None, username: str, display_name: str) -> dict | None:
    """``_user`` from values: ``str(user)`` is the display name, else the username."""
    return None if pk is None else {"id": pk, "username": username, "display_name": display_name or username}


def _type_label(name: str, name_en: str) -> str:
    """``CaseType.label`` from values: the English name when the language is English and there is one."""
    return name_en if name_en and (get_language() or "").startswith("en") else name


def case_item(r: dict) -> dict:
    """A CaseItem from a row of ``ITEM_COLUMNS``."""
    return {
        "id": r["id"], "reference": f"#{r['id']}", "subject": r["subject"], "status": r["status"],
        "priority": r["priority"], "stage": r["stage"], "channel": r["channel"],
        "type": {"id": r["type_id"], "code": r["type__code"], "name": _type_label(r["type__name"],
                                                                                  r["type__name_en"])},
        "customer": {"id": r["customer_id"], "name": r["customer__name"], "kind": r["customer__kind"],
                     "grade": r["customer__grade__code"]},
        "team": {"id": r["team_id"], "name": r["team__name"]} if r["team_id"] is not None else None,
        "assignee": _user_ref(r["assignee_id"], r["assignee__username"], r["assignee__display_name"]),
        "message_count": r["message_count"], "transfer_count": r["transfer_count"],
        "reopen_count": r["reopen_count"], "created_at": r["created_at"], "updated_at": r["updated_at"],
        "first_response_due_at": r["first_response_due_at"], "next_response_due_at": r["next_response_due_at"],
        "resolution_due_at": r["resolution_due_at"],
    }


def case_detail(r: dict, departments: list[tuple[int, str, str]]) -> dict:
    """A CaseOut from a row of ``DETAIL_COLUMNS`` and the (id, code, name) of its departments by name."""
    data = case_item(r)
    data.update({
        "departments": [{"id": pk, "code": code, "name": name} for pk, code, name in departments],
        "created_by": _user_ref(r["created_by_id"], r["created_by__username"], r["created_by__display_name"]),
        "merged_into": r["merged_into_id"],
        "first_response_at": r["first_response_at"], "last_customer_message_at": r["last_customer_message_at"],
        "last_staff_message_at": r["last_staff_message_at"], "solved_at": r["solved_at"],
        "closed_at": r["closed_at"],
    })
    return data


def case_row(case: Case) -> dict:
    """The row of ``DETAIL_COLUMNS`` for a case in hand (with its related objects), e.g. one just created."""

    def value(path: str):
        obj = case
        for name in path.split("__"):
            if obj is None:
                return None
            obj = getattr(obj, name)
        return obj

    return {column: value(column) for column in DETAIL_COLUMNS}


# A case with its involved departments (one row per department, by name; one row without any).
_DEPARTMENT_COLUMNS = ("departments__id", "departments__code", "departments__name")
_CASE = PreparedQuery(lambda case_id: Case.objects.filter(pk=case_id).order_by("departments__name")
                      .values_list(*DETAIL_COLUMNS, *_DEPARTMENT_COLUMNS), int)


def read_case(case_id: int, me: User | None = None) -> dict:
    """The case as CaseOut, in one query. With ``me``, only if they may see it (``queries.can_see``),
    else NotFound."""
    rows = _CASE.rows(case_id) if 0 < case_id <= MAX_ID else []
    if not rows:
        raise queries.case_not_found(case_id)
    n = len(DETAIL_COLUMNS)
    row = dict(zip(DETAIL_COLUMNS, rows[0][:n], strict=True))
    departments = [r[n:] for r in rows if r[n] is not None]
    if me is not None and not queries.can_see_ids(me, row["team_id"], [pk for pk, _c, _n in departments]):
        raise queries.case_not_found(case_id)
    return case_detail(row, departments)


def message_out(m: Message, case_id: int) -> dict:
    return {
        "id": m.pk, "case": case_id, "kind": m.kind, "channel": m.channel, "body": m.body,
        "author": _user(m.author) if m.author_id else None, "customer": m.customer_id,
        "delivery": m.delivery, "created_at": m.created_at,
        "attachments": [{"id": a.pk, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "url": reverse("api:download_attachment", args=(case_id, a.pk))}
                        for a in m.attachments.all()],
    }


def event_out(e: Event) -> dict:
    return {"id": e.pk, "at": e.at, "verb": e.verb,
            "actor": {"id": e.actor_id, "kind": e.actor_kind, "label": e.actor_label},
            "field": e.field, "old": e.old, "new": e.new, "data": e.data}


def _visible(request: HttpRequest, case_id: int, qs=None) -> Case:
    return queries.get_visible_case(user(request), case_id, qs)


# --- look-ups of what a body names ------------------------------------------------------------------------

def _case_type(code: str) -> CaseType:
    return get_or_422(CaseType.objects.all(), "type", _("case type"), code=code)


def _team(pk: int | None, field: str = "team") -> Team | None:
    return None if pk is None else get_or_422(Team.objects.all(), field, _("team"), pk=pk)


def _staff(pk: int | None, field: str = "assignee") -> User | None:
    return None if pk is None else get_or_422(User.objects.all(), field, _("user"), pk=pk)


def _departments(ids: list[int]) -> list[Department]:
    return get_many_or_422(Department.objects.all(), ids, "departments", _("departments")) if ids else []


# --- cases ------------------------------------------------------------------------------------------------

def _assignee(value: str, request: HttpRequest):
    """The assignee filter: a user id, None for "none" (unassigned), or the caller for "me"."""
    value = value.strip().lower()
    if value == "me":
        return user(request).pk
    if value == "none":
        return None
    if value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    raise Unprocessable(_('assignee must be a user id, "me" or "none"'), field="assignee")


def _list_parts(request: HttpRequest, filters: CaseFilters) -> list:
    """The case list as disjoint querysets, each answered by one of the Case indexes: (customer),
    (assignee, status), (status, team), (team) or none but (updated_at) — in that order of preference,
    every one followed by (-updated_at, -id).

    The equality filters of the chosen index are plain; the other filters are ``residual``. An agent's
    list without a team filter is split by the scopes of ``visible_case_scopes`` (each team, and the
    cases involving their department); several statuses are split one per status. Each part still goes
    through ``visible_cases``."""
    me = user(request)
    statuses = sorted(set(filters.status))
    assignee = _assignee(filters.assignee, request) if filters.assignee is not None else False
    type_id = _case_type(filters.type.strip()).pk if filters.type is not None else None
    grade_id = (get_or_422(Grade.objects.all(), "grade", _("grade"), code=filters.grade.strip()).pk
                if filters.grade is not None else None)

    if filters.team is not None:
        scopes = [(filters.team, Q())]  # the team is then a driving or a residual filter below
    else:
        visible = queries.visible_case_scopes(me)
        scopes = [(None, Q())] if visible is None else [(_scope_team(q), q) for q in visible]

    parts = []
    for team, scope in scopes:
        if filters.customer is not None:
            drive = [{"customer_id": filters.customer}]
        elif assignee is not False:
            drive = [{"assignee_id": assignee, "status": s} for s in (statuses or Status.values)]
        elif team is not None and statuses:
            drive = [{"status": s, "team_id": team} for s in statuses]
        elif team is not None:
            drive = [{"team_id": team}]
        else:
            drive = [{}]
        for driving in drive:
            qs = queries.visible_cases(me, Case.objects.filter(scope, **driving))
            if statuses and "status" not in driving:
                qs = residual(qs, "status", statuses, "in")
            if team is not None and "team_id" not in driving:
                qs = residual(qs, "team_id", team)
            if assignee is not False and "assignee_id" not in driving:
                qs = residual(qs, "assignee_id", True, "isnull") if assignee is None else residual(
                    qs, "assignee_id", assignee)
            if filters.customer is not None and "customer_id" not in driving:
                qs = residual(qs, "customer_id", filters.customer)
            if type_id is not None:
                qs = residual(qs, "type_id", type_id)
            if grade_id is not None:
                # a subquery, not a join: the page's keys come from the cases table alone
                qs = residual(qs, "customer_id", Customer.objects.filter(grade_id=grade_id).values("id"), "in")
            for field in ("channel", "priority", "stage"):
                if getattr(filters, field) is not None:
                    qs = residual(qs, field, getattr(filters, field))
            if filters.updated_since is not None:
                qs = qs.filter(updated_at__gte=since(filters.updated_since))
            parts.append(qs)
    return parts


def _scope_team(scope: Q) -> int | None:
    """The team of a ``visible_case_scopes`` part that is one team's cases, else None."""
    if len(scope.children) == 1 and not scope.negated and isinstance(scope.children[0], tuple):
        name, value = scope.children[0]
        if name == "team_id":
            return value
    return None


def _fetch_cases(ids: list[int]) -> list[dict]:
    return [dict(zip(ITEM_COLUMNS, row, strict=True))
            for row in Case.objects.filter(pk__in=ids).values_list(*ITEM_COLUMNS)]


@router.get("", response={200: Page[CaseItem], **ERRORS}, summary="List cases")
def list_cases(request: HttpRequest, response: HttpResponse, filters: Query[CaseFilters]):
    """The cases you may see, most recently changed first. Filters combine with AND; ``status`` may be
    repeated (``?status=new&status=open``). Page with ``cursor``."""
    rows, cursor = by_recency(_list_parts(request, filters), "cases", filters.cursor, filters.limit,
                              _fetch_cases, key=itemgetter("id"))
    return json_response(response, {"items": [case_item(r) for r in rows], "next_cursor": cursor})


@router.post("", response={201: CaseOut, **ERRORS}, summary="Open a case")
def create_case(request: HttpRequest, payload: CaseCreate):
    """Open a case for a customer, optionally with its first message. Send an ``Idempotency-Key``
    header to make retries safe."""

    def run():
        customer = get_or_422(Customer.objects.select_related("grade"), "customer", _("customer"),
                              pk=payload.customer)
        departments = _departments(payload.departments)
        case = services.create_case(
            user(request), customer=customer, subject=payload.subject, type=_case_type(payload.type),
            channel=payload.channel, body=payload.body, body_from_customer=payload.body_from_customer,
            stage=payload.stage, priority=payload.priority, team=_team(payload.team),
            assignee=_staff(payload.assignee), departments=departments)
        # Every related object is in hand already: the answer needs no second read of the case.
        return 201, case_detail(case_row(case), [(d.pk, d.code, d.name) for d in
                                                 sorted(departments, key=lambda d: d.name)])

    return idempotency.create(request, run)


@router.get("/{int:case_id}", response={200: CaseOut, **ERRORS}, summary="Read a case")
def get_case(request: HttpRequest, response: HttpResponse, case_id: Id):
    return json_response(response, read_case(case_id, user(request)))


@router.patch("/{int:case_id}", response={200: CaseOut, **ERRORS}, summary="Change a case")
def update_case(request: HttpRequest, case_id: Id, payload: CaseUpdate):
    """Change subject, type, stage, priority, involved departments, assignee and status in one go.
    The status changes last, so a case can be edited and solved in one request. An invalid status
    transition is a 409 and nothing is changed."""
    actor = user(request)
    case = _visible(request, case_id)
    sent = payload.model_fields_set
    fields = {f: getattr(payload, f) for f in ("subject", "type", "stage", "priority") if f in sent}
    if "type" in fields:
        fields["type"] = _case_type(fields["type"])
    departments = _departments(payload.departments) if "departments" in sent else None
    assignee = _staff(payload.assignee) if "assignee" in sent else None
    with transaction.atomic():
        if fields:
            services.update_case(actor, case, **fields)
        if departments is not None:
            services.set_departments(actor, case, departments)
        if "assignee" in sent:
            services.assign(actor, case, assignee)
        if "status" in sent:
            services.change_status(actor, case, payload.status, reason=payload.status_reason)
    return read_case(case.pk)


@router.post("/{int:case_id}/transfer", response={200: CaseOut, **ERRORS}, summary="Transfer a case")
def transfer_case(request: HttpRequest, case_id: Id, payload: TransferIn):
    """Move the case to another team (and optionally one of its members), saying why."""
    case = _visible(request, case_id)
    team = _team(payload.team)
    assignee = _staff(payload.assignee)
    services.transfer(user(request), case, team=team, assignee=assignee, reason=payload.reason)
    return read_case(case.pk)


@router.post("/{int:case_id}/merge", response={200: CaseOut, **ERRORS}, summary="Merge into another case")
def merge_case(request: HttpRequest, case_id: Id, payload: MergeIn):
    """Move this case's messages onto the case ``into`` (same customer) and close this one as merged.
    Answers this case as it is now (closed, ``merged_into`` set)."""
    case = _visible(request, case_id)
    try:
        target = _visible(request, payload.into)
    except NotFound:
        raise Unprocessable(_("case %(id)s does not exist") % {"id": payload.into}, code="unknown_reference",
                            field="into") from None
    services.merge_cases(user(request), case, target)
    return read_case(case.pk)


# --- messages ---------------------------------------------------------------------------------------------

def _message_payload(request: HttpRequest) -> tuple[MessageCreate, list[services.Upload]]:
    """A message from a JSON body, or from a multipart form with files (field ``attachments``)."""
    if request.content_type == "multipart/form-data":
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + MAX_FILES * settings.KEFU_ATTACHMENT_MAX_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise PayloadTooLarge(_("the request body is larger than %(limit)s bytes") % {"limit": limit})
        data = {k: request.POST.get(k) for k in request.POST if request.POST.get(k) != "" or k == "body"}
        files = [f for name in request.FILES for f in request.FILES.getlist(name)]
        if len(files) > MAX_FILES:
            raise PayloadTooLarge(_("at most %(n)s files per message") % {"n": MAX_FILES},
                                  code="too_many_files", field="attachments")
        uploads = []
        for f in files:
            if f.size > settings.KEFU_ATTACHMENT_MAX_BYTES:
                limit_mb = settings.KEFU_ATTACHMENT_MAX_BYTES // (1024 * 1024)
                raise PayloadTooLarge(_("attachment %(name)s is larger than %(limit)s MB") % {
                    "name": f.name, "limit": limit_mb}, field="attachments")
            uploads.append(services.Upload(filename=f.name or "", content=f.read(),
                                           content_type=f.content_type or ""))
    else:
        if request.content_type not in ("application/json", "", "text/plain"):
            raise UnsupportedMediaType(_("send the message as application/json or multipart/form-data"))
        data = parse_json_body(request)
        uploads = []
    try:
        return MessageCreate.model_validate(data), uploads
    except PydanticValidationError as exc:
        raise validation_error(exc, "body") from None


_message_body_schema = MessageCreate.model_json_schema()
_multipart_schema = {
    "type": "object",
    "required": ["kind", "body"],
    "properties": {
        **_message_body_schema["properties"],
        "attachments": {"type": "array", "items": {"type": "string", "format": "binary"},
                        "description": f"Up to {MAX_FILES} files."},
    },
}


@router.get("/{int:case_id}/messages", response={200: Page[MessageOut], **ERRORS}, summary="List messages")
def list_messages(request: HttpRequest, case_id: Id, page: Query[PageParams]):
    """The conversation in order, oldest first, including internal notes."""
    case = _visible(request, case_id)
    qs = Message.objects.filter(case_id=case.pk).select_related("author").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
    rows, cursor = by_id(qs, f"messages:{case.pk}", page.cursor, page.limit)
    return {"items": [message_out(m, case.pk) for m in rows], "next_cursor": cursor}


@router.post("/{int:case_id}/messages", response={201: MessageOut, **ERRORS}, summary="Add a message",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": _message_body_schema},
                 "multipart/form-data": {"schema": _multipart_schema}}}})
def add_message(request: HttpRequest, case_id: Id):
    """Add the customer's words, a reply or an internal note. Send JSON, or multipart/form-data with
    files in ``attachments``. A closed case takes no more messages (409). Send an ``Idempotency-Key``
    header to make retries safe."""
    case = _visible(request, case_id)
    payload, uploads = _message_payload(request)

    def run():
        message = services.add_message(user(request), case, kind=payload.kind, body=payload.body,
                                       channel=payload.channel, attachments=uploads)
        message = Message.objects.select_related("author").prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("id"))).get(pk=message.pk)
        return 201, message_out(message, case.pk)

    return idempotency.create(request, run)


@router.get("/{int:case_id}/attachments/{int:attachment_id}", response={200: None, **ERRORS},
            summary="Download an attachment",
            openapi_extra={"responses": {"200": {"description": "The file, with its content type.", "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}})
def download_attachment(request: HttpRequest, case_id: Id, attachment_id: Id):
    case = _visible(request, case_id)
    attachment = get_or_404(Attachment.objects.filter(message__case_id=case.pk), attachment_id,
                            _("attachment"))
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise NotFound(_("the file of attachment %(id)s is missing") % {"id": attachment.pk}) from None
    return FileResponse(handle, as_attachment=True, filename=attachment.filename,
                        content_type=attachment.content_type)


# --- events -----------------------------------------------------------------------------------------------

@router.get("/{int:case_id}/events", response={200: Page[EventOut], **ERRORS}, summary="The case's event log")
def list_events(request: HttpRequest, case_id: Id, page: Query[PageParams]):
    """Every change to the case, oldest first: who, what, when, old and new value."""
    case = _visible(request, case_id)
    rows, cursor = by_id(Event.objects.filter(case_id=case.pk), f"events:{case.pk}", page.cursor, page.limit)
    return {"items": [event_out(e) for e in rows], "next_cursor": cursor}

