"""Keyset (cursor) paging. Never OFFSET: a deep page costs the same as the first.

Lists ordered by recency use (-updated_at, -id); messages, events, teams and users use id. The cursor is
an opaque URL-safe base64 string naming the list it belongs to and the sort key of the last item
returned; the next page starts strictly after it, so rows inserted or changed meanwhile never make an
unchanged row appear twice or go missing.

Recency lists are read in two steps. First the sort keys (updated_at, id) of the page, from the one
table, with only the filters: each query has a single way to be answered well, an index whose
leading columns are the equality filters followed by (-updated_at, -id), and nothing to tempt the
planner into another join order. A list that no single index serves (several statuses, an agent's
several teams) is split into parts that each have one, and their keys are merged. Then the rows of
that page are read by primary key, with their related objects.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from operator import attrgetter
from typing import Generic, TypeVar

from django.db import connection
from django.db.models import F, Func, Q, QuerySet
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
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise _invalid() from None


class Unindexed(Func):
    """A column compared without its index. SQLite's planner, offered an equality on an indexed column,
    tends to use that index and sort every match, even where an index in the list's order would answer
    at once; ``+column`` (a no-op on any value) takes the column off its list of choices. Elsewhere the
    column is compared as it is: PostgreSQL weighs the choices by its statistics."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="+%(expressions)s", **extra)


def residual(qs: QuerySet, field: str, value, lookup: str = "exact") -> QuerySet:
    """Filter on ``field`` without letting the filter choose the index (see :class:`Unindexed`)."""
    if connection.vendor != "sqlite":
        return qs.filter(**{f"{field}__{lookup}": value})
    alias = f"_unindexed_{field}"
    return qs.alias(**{alias: Unindexed(F(field))}).filter(**{f"{alias}__{lookup}": value})


def by_recency(parts: Iterable[QuerySet], kind: str, cursor: str | None, limit: int,
               fetch: Callable[[list[int]], Iterable], key: Callable = attrgetter("pk")
               ) -> tuple[list, str | None]:
    """A page ordered by (-updated_at, -id), newest first, from one or more disjoint ``parts`` (querysets
    of one model, filters only); ``fetch(ids)`` reads the rows of the page with what they need, and
    ``key(row)`` is a row's id (model instances by default)."""
    moment = last_id = None
    if cursor:
        stamp, last_id = decode_cursor(cursor, kind, 2)
        moment, last_id = _cursor_time(stamp), _cursor_id(last_id)
    keys: list[tuple] = []
    for qs in parts:
        if moment is not None:
            # The redundant ``updated_at <= t`` is what lets the index range-scan from the cursor on both
            # SQLite and PostgreSQL; the OR only decides ties on updated_at.
            qs = qs.filter(updated_at__lte=moment).filter(Q(updated_at__lt=moment) | Q(id__lt=last_id))
        keys.extend(qs.order_by("-updated_at", "-id").values_list("updated_at", "id")[: limit + 1])
    keys = sorted(set(keys), reverse=True)  # parts are disjoint; the set only guards against overlap
    more = len(keys) > limit
    keys = keys[:limit]
    found = {key(row): row for row in fetch([pk for _, pk in keys])} if keys else {}
    rows = [found[pk] for _, pk in keys if pk in found]  # a row deleted in between is left out
    next_cursor = encode_cursor(kind, keys[-1][0].isoformat(), keys[-1][1]) if more else None
    return rows, next_cursor


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
