"""Types and helpers shared by every router: input text, ids, the error and page schemas, look-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Schema
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder
from pydantic import AfterValidator, ConfigDict

from .errors import NotFound, Unprocessable

MAX_ID = 2**63 - 1


def _clean_text(value: str) -> str:
    """Reject what no database can store: NUL characters and lone UTF-16 surrogates."""
    if "\x00" in value:
        raise ValueError(_("contains a NUL character"))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(_("contains invalid Unicode (a lone surrogate)")) from None
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def text(max_length: int | None = None, min_length: int | None = None) -> Any:
    return Annotated[str, Field(max_length=max_length, min_length=min_length), AfterValidator(_clean_text)]


class In(Schema):
    """Base of every request body: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    code: str = Field(description="Machine-readable error code, e.g. not_found, validation_error.")
    detail: str = Field(description="What is wrong, in words.")
    field: str | None = Field(None, description="The field the error is about, if any.")
    errors: list[dict] | None = Field(None, description="Validation errors: field, in (body/query/path), message.")


class UserRef(Schema):
    id: int
    username: str
    display_name: str


class TeamRef(Schema):
    id: int
    name: str


class TypeRef(Schema):
    id: int
    code: str
    name: str


class DepartmentRef(Schema):
    id: int
    code: str
    name: str


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut,
          422: ErrorOut}


class PageParams(Schema):
    cursor: Text | None = Field(None, description="The next_cursor of the previous page.")
    limit: int = Field(25, ge=1, le=100, description="Items per page (1 to 100).")


class Encoder(NinjaJSONEncoder):
    """Ninja's encoder with datetimes, the bulk of what it is asked for, answered first (the same way)."""

    def default(self, o: Any) -> Any:
        if type(o) is datetime:
            return DjangoJSONEncoder.default(self, o)
        return super().default(o)


class Renderer(JSONRenderer):
    encoder_class = Encoder
    json_dumps_params = {"ensure_ascii": False}  # Chinese stays readable (and shorter) on the wire


RENDERER = Renderer()
_ENCODER = RENDERER.encoder_class(**RENDERER.json_dumps_params)  # what RENDERER.render builds on each call


def json_response(response: HttpResponse, data: Any) -> HttpResponse:
    """``data``, built by our own code to the operation's response schema, rendered into ``response`` (the
    answer ninja prepared: a view parameter annotated ``HttpResponse``) exactly as ninja renders the answers
    it validates, but without validating it again: the hot reads build their dicts straight from database
    rows. The operation keeps its ``response=`` schema for the OpenAPI document, and tests check these
    answers against it."""
    response.content = _ENCODER.encode(data)
    return response


def user(request: HttpRequest):
    """The authenticated staff member (set by the auth classes)."""
    return request.auth


def _one(qs: QuerySet):
    """The first row of a filtered queryset, without the ORDER BY that ``.first()`` adds."""
    rows = list(qs[:1])
    return rows[0] if rows else None


def get_or_404(qs: QuerySet, pk: int, label: str) -> Model:
    obj = _one(qs.filter(pk=pk)) if 0 < pk <= MAX_ID else None
    if obj is None:
        raise NotFound(_("%(thing)s %(id)s does not exist") % {"thing": label, "id": pk})
    return obj


def get_or_422(qs: QuerySet, field: str, label: str, **lookup) -> Model:
    """An object named in a request body; an unknown one is a 422 naming the field."""
    value = next(iter(lookup.values()))
    if isinstance(value, int) and not 0 < value <= MAX_ID:
        obj = None
    else:
        obj = _one(qs.filter(**lookup))
    if obj is None:
        raise Unprocessable(_("%(thing)s %(value)s does not exist") % {"thing": label, "value": repr(value)},
                            code="unknown_reference", field=field)
    return obj


def get_many_or_422(qs: QuerySet, ids: list[int], field: str, label: str) -> list[Model]:
    ids = list(dict.fromkeys(ids))
    found = {o.pk: o for o in qs.filter(pk__in=[i for i in ids if 0 < i <= MAX_ID])}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Unprocessable(_("%(thing)s %(ids)s do not exist") % {
            "thing": label, "ids": ", ".join(str(i) for i in missing)}, code="unknown_reference", field=field)
    return [found[i] for i in ids]


def ref(obj, **fields) -> dict | None:
    """A compact reference to a related object: {"id": …, <fields>…}, or None."""
    if obj is None:
        return None
    return {"id": obj.pk, **{k: getattr(obj, attr) for k, attr in fields.items()}}

