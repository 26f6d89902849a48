"""Every API error is JSON: {"code": "...", "detail": "what is wrong", "field"?: "...", "errors"?: [...]}.

Domain errors (``kefu.core.errors``) keep their status; validation errors are 422 with each field's
problem; malformed bodies are 400; oversize bodies 413; nothing a client sends may produce a 5xx.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFilesSent
from django.db import DataError, IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, RawPostDataException, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError, ValidationError

from kefu.core.errors import DomainError, NotFound  # noqa: F401  (NotFound is re-exported for routers)

logger = logging.getLogger("kefu.api")


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class CsrfFailed(DomainError):
    status = 403
    code = "csrf_failed"


class PayloadTooLarge(DomainError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(DomainError):
    status = 422
    code = "invalid"


def error_body(code: str, detail: str, field: str | None = None, **extra) -> dict:
    body = {"code": code, "detail": str(detail)}
    if field:
        body["field"] = field
    body.update(extra)
    return body


def json_error(status: int, code: str, detail: str, field: str | None = None, **extra) -> HttpResponse:
    """A JSON error response for places outside a ninja operation (405, unknown paths)."""
    return HttpResponse(json.dumps(error_body(code, detail, field, **extra), ensure_ascii=False),
                        status=status, content_type="application/json; charset=utf-8")


def malformed_json(cause: Exception) -> BadRequest:
    if isinstance(cause, json.JSONDecodeError):
        detail = _("the request body is not valid JSON: %(error)s at line %(line)s, column %(col)s") % {
            "error": cause.msg, "line": cause.lineno, "col": cause.colno}
    elif isinstance(cause, UnicodeDecodeError):
        detail = _("the request body is not valid UTF-8")
    else:
        detail = _("the request body cannot be read as JSON")
    return BadRequest(detail, code="malformed_json")


def parse_json_body(request: HttpRequest):
    """The JSON body of a request that ninja does not parse itself (an empty body is an empty object).
    An oversize body raises RequestDataTooBig (413)."""
    raw = request.body
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting too deep to parse
        raise malformed_json(exc) from None


# --- validation messages ----------------------------------------------------------------------------------

def _validation_message(err: dict) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return _("this field is required")
    if kind == "extra_forbidden":
        return _("unknown field")
    if kind == "string_too_long":
        return _("must be at most %(n)s characters") % {"n": ctx.get("max_length")}
    if kind == "string_too_short":
        return _("must be at least %(n)s characters") % {"n": ctx.get("min_length")}
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("must be a whole number")
    if kind in ("bool_parsing", "bool_type"):
        return _("must be true or false")
    if kind in ("string_type", "string_sub_type"):
        return _("must be a string")
    if kind in ("list_type", "tuple_type"):
        return _("must be a list")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("must be an object")
    if kind in ("literal_error", "enum"):
        return _("must be one of: %(choices)s") % {"choices": ctx.get("expected", "")}
    if kind.startswith("datetime"):
        return _("must be a date and time in ISO 8601 form, e.g. 2026-03-01T09:30:00+08:00")
    if kind.startswith("date"):
        return _("must be a date in the form YYYY-MM-DD")
    if kind in ("greater_than_equal", "greater_than"):
        return _("must be at least %(n)s") % {"n": ctx.get("ge", ctx.get("gt"))}
    if kind in ("less_than_equal", "less_than"):
        return _("must be at most %(n)s") % {"n": ctx.get("le", ctx.get("lt"))}
    if kind in ("too_long",):
        return _("has more than %(n)s items") % {"n": ctx.get("max_length")}
    if kind == "value_error":
        msg = str(err.get("msg", ""))
        return msg.removeprefix("Value error, ")
    return str(err.get("msg", kind))


def _field_path(loc) -> tuple[str, str]:
    loc = list(loc or ())
    source = str(loc.pop(0)) if loc else ""
    if source == "body" and loc and loc[0] == "payload":
        loc.pop(0)
    if source == "query":
        if loc and loc[0] in ("filters", "page"):
            loc.pop(0)
        while loc and isinstance(loc[-1], int):  # a repeated parameter (?status=a&status=b)
            loc.pop()
    return source, ".".join(str(p) for p in loc)


def validation_error(exc, source: str) -> ValidationError:
    """A ninja ValidationError from a pydantic one raised while validating data by hand."""
    errors = []
    for e in exc.errors(include_url=False):
        e = dict(e)
        e.pop("input", None)
        if "ctx" in e:
            e["ctx"] = {k: (str(v) if isinstance(v, Exception) else v) for k, v in e["ctx"].items()}
        e["loc"] = (source, *e["loc"])
        errors.append(e)
    return ValidationError(errors)


def validation_body(errors: list[dict]) -> dict:
    items = []
    for err in errors:
        source, field = _field_path(err.get("loc"))
        items.append({"field": field, "in": source, "message": _validation_message(err)})
    detail = "; ".join(f"{i['field'] or i['in']}: {i['message']}" for i in items) or _("invalid input")
    first = items[0]["field"] if items else None
    return error_body("validation_error", detail, first or None, errors=items)


# --- handlers ---------------------------------------------------------------------------------------------

def install(api) -> None:
    def respond(request: HttpRequest, status: int, body: dict) -> HttpResponse:
        response = api.create_response(request, body, status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="kefu"'
        return response

    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        # The attachment size limit is checked in the service; over HTTP it is "payload too large".
        status = 413 if exc.code == "too_large" else exc.status
        return respond(request, status, exc.as_dict())

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return respond(request, 422, validation_body(exc.errors))

    @api.exception_handler(AuthenticationError)
    def not_authenticated(request, exc):
        return respond(request, 401, error_body(
            "not_authenticated",
            _("authentication required: send 'Authorization: Bearer <token>' or sign in")))

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if exc.status_code == 400:
            cause = exc.__cause__
            if isinstance(cause, RequestDataTooBig):
                return too_big(request, cause)
            err = malformed_json(cause)
            return respond(request, err.status, err.as_dict())
        codes = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 429: "throttled"}
        return respond(request, exc.status_code, error_body(codes.get(exc.status_code, "error"), str(exc)))

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return respond(request, 404, error_body("not_found", _("not found")))

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return respond(request, 413, error_body("too_large", _(
            "the request body is larger than %(limit)s bytes") % {"limit": limit}))

    @api.exception_handler(TooManyFilesSent)
    def too_many_files(request, exc):
        return respond(request, 413, error_body("too_many_files", _("too many files in one request")))

    @api.exception_handler(SuspiciousOperation)
    def suspicious(request, exc):
        return respond(request, 400, error_body("bad_request", _("the request cannot be processed: %(error)s")
                                                % {"error": exc}))

    @api.exception_handler(MultiPartParserError)
    def bad_multipart(request, exc):
        return respond(request, 400, error_body("malformed_multipart", _(
            "the multipart body cannot be read: %(error)s") % {"error": exc}))

    @api.exception_handler(RawPostDataException)
    def form_body(request, exc):
        # a form was sent where JSON is expected, and its body was already read as a form
        return respond(request, 415, error_body("unsupported_media_type", _(
            "this endpoint takes a JSON body (Content-Type: application/json)")))

    @api.exception_handler(UnreadablePostError)
    def unreadable(request, exc):
        return respond(request, 400, error_body("bad_request", _("the request body could not be read")))

    @api.exception_handler(IntegrityError)
    def integrity(request, exc):
        logger.warning("integrity error on %s %s: %s", request.method, request.path, exc)
        return respond(request, 409, error_body(
            "conflict", _("the change conflicts with data saved at the same time; reload and try again")))

    @api.exception_handler(DataError)
    def data_error(request, exc):
        return respond(request, 422, error_body("invalid_value", _(
            "a value is out of range or too long for the database")))

    @api.exception_handler(OverflowError)
    def overflow(request, exc):
        return respond(request, 422, error_body("invalid_value", _("a number is too large")))

    @api.exception_handler(Exception)
    def unexpected(request, exc):
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return respond(request, 500, error_body("server_error", _(
            "an unexpected error happened on the server; it has been logged")))
