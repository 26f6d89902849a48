"""``Idempotency-Key`` on creating requests: a retried request never makes a duplicate.

The first request with a key runs the create and stores its response in ``core.IdempotencyRecord``
in the same transaction. A retry by the same user with the same key and the same request gets the
stored response again (same status, same body, header ``Idempotent-Replayed: true``). The same key
with a different request is refused (422 ``idempotency_key_reused``). Two requests racing with one
key both run, but the unique constraint on (user, key) lets only one commit: the loser's transaction,
its new row included, is rolled back and it answers with the winner's stored response.

Only successful creates are stored: a request refused with a 4xx error changed nothing and may be
retried with the same key once it is fixed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from kefu.core.models import IdempotencyRecord

from .errors import BadRequest, Unprocessable

HEADER = "Idempotency-Key"
KEY_MAX = IdempotencyRecord._meta.get_field("key").max_length
PATH_MAX = IdempotencyRecord._meta.get_field("path").max_length


def _key(request: HttpRequest) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > KEY_MAX or not key.isascii() or not key.isprintable():
        raise BadRequest(_("the Idempotency-Key header must be 1 to %(max)d printable ASCII characters")
                         % {"max": KEY_MAX}, code="invalid_idempotency_key", field=HEADER)
    return key


def fingerprint(request: HttpRequest) -> str:
    """A digest of what the request asks for: method, path and body (JSON compared by value, multipart
    by its fields and the digests of its files), so a retry with re-encoded JSON still matches."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    if request.content_type == "multipart/form-data":
        fields = sorted((k, v) for k, values in request.POST.lists() for v in values)
        digest.update(json.dumps(fields, ensure_ascii=False).encode())
        for name, files in sorted(request.FILES.lists()):
            for f in files:
                file_digest = hashlib.sha256()
                for chunk in f.chunks():
                    file_digest.update(chunk)
                f.seek(0)
                digest.update(f"\n{name} {f.name} {f.content_type} {file_digest.hexdigest()}".encode())
    else:
        try:
            canonical = json.dumps(json.loads(request.body), sort_keys=True, ensure_ascii=False,
                                   separators=(",", ":")).encode("utf-8", "surrogatepass")
        except (ValueError, RecursionError):
            canonical = request.body
        digest.update(canonical)
    return digest.hexdigest()


def _render(body: dict) -> str:
    return json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False)


def _json_response(status: int, content: str, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(content, status=status, content_type="application/json; charset=utf-8")
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _replay(record: IdempotencyRecord, digest: str) -> HttpResponse:
    if record.request_hash != digest:
        raise Unprocessable(
            _("this Idempotency-Key was already used for a different request; use a new key for a new "
              "request"), code="idempotency_key_reused", field=HEADER)
    # The answer is kept as its JSON text (PostgreSQL's jsonb would reorder the keys).
    return _json_response(record.status_code, record.response, replayed=True)


def _find(user, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(user=user, key=key).first()


def create(request: HttpRequest, run: Callable[[], tuple[int, dict]], *,
           secret_fields: Iterable[str] = ()) -> HttpResponse:
    """Run ``run`` (which creates something and returns (status, body)) in one transaction, honouring
    the request's Idempotency-Key. ``secret_fields`` are answered once but never stored (a replay
    answers them as null): a new API token is only ever shown once."""
    key = _key(request)
    user = request.auth
    if key is None:
        with transaction.atomic():
            status, body = run()
        return _json_response(status, _render(body))

    digest = fingerprint(request)
    existing = _find(user, key)
    if existing is not None:
        return _replay(existing, digest)
    try:
        with transaction.atomic():
            status, body = run()
            content = _render(body)
            # What is stored is exactly what is sent, so a replay is byte-for-byte the same answer.
            secrets = [f for f in secret_fields if f in body]
            stored = _render({**body, **{f: None for f in secrets}}) if secrets else content
            IdempotencyRecord.objects.create(user=user, key=key, method=request.method,
                                             path=request.path[:PATH_MAX], request_hash=digest,
                                             status_code=status, response=stored)
    except IntegrityError:
        existing = _find(user, key)
        if existing is None:
            raise
        return _replay(existing, digest)
    return _json_response(status, content)
