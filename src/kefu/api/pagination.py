"""Keyset (cursor) paging. Never OFFSET: a deep page costs the same as the first.

Lists ordered by recency use (-updated_at, -id); messages, events, teams and users use id. The cursor is
an opaque URL-safe base64 string naming the list it belongs to and the sort key of the last item
returned; the next page starts strictly after it, so rows inserted or changed meanwhile never make an
unchanged row appear twice or go missing.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Generic, TypeVar

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from ninja import Schema

from .common import MAX_ID
from .errors import BadRequest

T = TypeVar("T")


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(kind: str, *values) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid() -> BadRequest:
    return BadRequest(_("the cursor is not valid for this list; use the next_cursor of the previous page"),
                      code="invalid_cursor", field="cursor")


def decode_cursor(cursor: str, kind: str, n_values: int) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise _invalid() from None
    if not isinstance(data, list) or len(data) != n_values + 1 or data[0] != kind:
        raise _invalid()
    return data[1:]


def _cursor_id(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise _invalid()
    return value


def _cursor_time(value) -> datetime:
    if not isinstance(value, str):
        raise _invalid()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid() from None
    if moment.tzinfo is None:
        raise _invalid()
    return moment


def by_recency(qs: QuerySet, kind: str, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """A page ordered by (-updated_at, -id), for the indexes (…, -updated_at, -id)."""
    if cursor:
        stamp, last_id = decode_cursor(cursor, kind, 2)
        moment, last_id = _cursor_time(stamp), _cursor_id(last_id)
        # The redundant ``updated_at <= t`` is what lets the index range-scan from the cursor on both
        # SQLite and PostgreSQL; the OR only decides ties on updated_at.
        qs = qs.filter(updated_at__lte=moment).filter(Q(updated_at__lt=moment) | Q(id__lt=last_id))
    rows = list(qs.order_by("-updated_at", "-id")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(kind, last.updated_at.isoformat(), last.pk)


def by_id(qs: QuerySet, kind: str, cursor: str | None, limit: int, *, descending: bool = False
          ) -> tuple[list, str | None]:
    """A page ordered by id (ascending unless ``descending``)."""
    if cursor:
        (last_id,) = decode_cursor(cursor, kind, 1)
        last_id = _cursor_id(last_id)
        qs = qs.filter(id__lt=last_id) if descending else qs.filter(id__gt=last_id)
    rows = list(qs.order_by("-id" if descending else "id")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(kind, rows[-1].pk)
