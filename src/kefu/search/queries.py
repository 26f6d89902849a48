"""Searching cases and customers.

The result of a search is exactly the documents in which every term of the query occurs (case-insensitive,
full-width folded: see :mod:`kefu.search.tokens`), as a substring of the subject, of one message, of the name
or of one identity; no misses, no false hits. The index gives the candidates; whatever the index cannot
decide alone is verified against the texts, and every returned page is checked against the texts too, so a
text changed behind the services' back never shows up as a false hit.

Newest first (by the case's ``updated_at``, then id, with a keyset cursor) without fetching every hit:

* fewer than ``FEW`` candidates (a rare word, a phone number): read once, joined to the cases, sorted;
* fewer than about ``DENSE``: the index's candidates drive a join to the cases and are sorted;
* more (a word in a sizeable share of all cases): the visible cases are walked newest first along their
  keyset index (each visibility scope on its own) and checked against their texts, which finds 25 hits after
  about 25/share cases; if a scope has not filled the page after ``WALK_BUDGET`` cases (the word is common
  elsewhere but rare among the cases this user sees), the rest comes from the candidates as above.

Counts are answered inside the index, restricted users' through the visibility tokens of their teams and
department (see :func:`_visibility_tokens`). docs/adr/0003-search-index.md has the reasons and numbers.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kefu.core.errors import DomainError

from . import tokens as tk
from .backends import backend_for
from .index import case_texts, customer_texts

DENSE = 20_000  # candidates from which walking the newest cases beats joining all candidates
FEW = 2_000  # candidates read at once to see whether that is all of them
WALK_BUDGET = 3_000  # cases walked before falling back to the candidates
MAX_QUERY = 200  # characters
MAX_TERMS = 8
MAX_LIMIT = 100
VERIFY_CHUNK = 2_000

highlight = tk.highlight


# --- the query --------------------------------------------------------------------------------------------

def plan(q: str) -> list[tk.Term]:
    """The terms of a query, or a DomainError saying what is wrong with it."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY:
        raise DomainError(_("The search is longer than %(max)d characters.") % {"max": MAX_QUERY},
                          field="q", code="query_too_long")
    terms = tk.plan_query(q)
    if not terms:
        raise DomainError(_("Type something to search for."), field="q", code="empty_query")
    if len(terms) > MAX_TERMS:
        raise DomainError(_("Search for at most %(max)d words at once.") % {"max": MAX_TERMS},
                          field="q", code="too_many_terms")
    if not tk.has_clauses(terms):
        raise DomainError(_("Search for at least one letter, digit or Chinese character."),
                          field="q", code="unsearchable")
    return terms


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise DomainError(_("The limit must be between 1 and %(max)d.") % {"max": MAX_LIMIT},
                          field="limit", code="invalid_limit")


# --- cursors ----------------------------------------------------------------------------------------------

def _encode(kind: str, *values) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str | None, kind: str) -> list | None:
    if not cursor:
        return None
    invalid = DomainError(_("The cursor is not valid for this search; use the next cursor of the previous page."),
                          field="cursor", code="invalid_cursor")
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise invalid from None
    if not isinstance(data, list) or len(data) != 3 or data[0] != kind:
        raise invalid
    first, last_id = data[1], data[2]
    if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 <= last_id < 2**63:
        raise invalid
    if kind.endswith(":rank"):
        if not isinstance(first, (int, float)) or isinstance(first, bool):
            raise invalid
        return [float(first), last_id]
    try:
        moment = datetime.fromisoformat(first) if isinstance(first, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid
    return [moment, last_id]


# --- the engine (cases and customers alike) ---------------------------------------------------------------

Texts = Callable[[Sequence[int]], dict[int, list[str]]]


def _case_texts(ids: Sequence[int]) -> dict[int, list[str]]:
    return {pk: [body for _, body in items] for pk, items in case_texts(ids).items()}


def _verified(ids: Sequence[int], terms: Sequence[tk.Term], texts: Texts) -> set[int]:
    if not ids:
        return set()
    return {pk for pk, items in texts(ids).items() if tk.matches(items, terms)}


def _key(row: tuple[int, datetime]) -> tuple[datetime, int]:
    """The keyset position (updated_at, id) of an (id, updated_at) row."""
    return row[1], row[0]


def _after(qs: QuerySet, after) -> QuerySet:
    if after is None:
        return qs
    moment, last_id = after
    # ``updated_at <= t`` lets the index range-scan from the cursor; the OR only settles ties.
    return qs.filter(updated_at__lte=moment).filter(Q(updated_at__lt=moment) | Q(id__lt=last_id))


def _as_datetime(value) -> datetime:
    """A datetime column read with a plain cursor (SQLite gives text, naive UTC)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _newest_candidates(qs, kind, terms, need, after, texts, ids=None) -> list[tuple[int, datetime]]:
    """The candidates the index gives (or ``ids``, when they were read already), newest first: joined to
    the document table from the index side and sorted (there are fewer than ``DENSE`` of them, or few are
    left to find), then read a chunk at a time, kept if the user may see them and their texts match."""
    backend = backend_for(connection)
    cand, params = backend.candidates(kind, terms) if ids is None else backend.id_list(ids)
    table = qs.model._meta.db_table
    sql = (f"SELECT d.id, d.updated_at FROM ({cand}) AS h {backend.join} {table} AS d ON d.id = h.doc_id")
    if after is not None:
        moment = connection.ops.adapt_datetimefield_value(after[0])
        sql += " WHERE d.updated_at <= %s AND (d.updated_at < %s OR d.id < %s)"
        params = [*params, moment, moment, after[1]]
    sql += " ORDER BY d.updated_at DESC, d.id DESC"
    restricted = not _unrestricted(qs)
    out: list[tuple[int, datetime]] = []
    size = max(need, 8)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while len(out) < need:
            chunk = cursor.fetchmany(size)
            if not chunk:
                break
            ids = [row[0] for row in chunk]
            if restricted:
                visible = set(qs.filter(pk__in=ids).values_list("pk", flat=True))
                ids = [pk for pk in ids if pk in visible]
            ok = _verified(ids, terms, texts)
            out.extend((pk, _as_datetime(stamp)) for pk, stamp in chunk if pk in ok)
            size = min(size * 4, VERIFY_CHUNK)
    return out[:need]


def _walk(qs, terms, need, after, texts) -> tuple[list[tuple[int, datetime]], object, bool]:
    """Newest visible documents checked one chunk at a time; (hits, position, budget spent)."""
    ordered = qs.order_by("-updated_at", "-id")
    out: list[tuple[int, datetime]] = []
    pos, size, walked = after, 32, 0
    while walked < WALK_BUDGET:
        chunk = list(_after(ordered, pos).values_list("id", "updated_at")[:size])
        if not chunk:
            return out, pos, False
        ok = _verified([pk for pk, _ in chunk], terms, texts)
        for row in chunk:
            if row[0] in ok:
                out.append(row)
                if len(out) == need:
                    return out, _key(row), False
        walked += len(chunk)
        pos = _key(chunk[-1])
        if len(chunk) < size:
            return out, pos, False
        size = min(size * 4, 512)
    return out, pos, True


def _has_prefix(terms: Sequence[tk.Term]) -> bool:
    """A one-character term is a prefix query, which costs its full doclist even to count a few hits."""
    return any(c.prefix for t in terms for c in t.clauses)


def _newest(qs, scopes, kind, terms, need, after, texts) -> list[tuple[int, datetime]]:
    """``scopes`` split ``qs`` into parts that each follow one index in (updated_at, id) order (one per
    team an agent is in, …): each part is walked on its own and the hits are merged."""
    backend = backend_for(connection)
    with connection.cursor() as cursor:
        dense = _has_prefix(terms) or backend.likely_dense(cursor, kind, terms, DENSE)
        if not dense:
            # Read a few candidates: when that is all of them (a rare word, a phone number), use them as
            # they are; otherwise judge whether there are DENSE or more, to choose between joining the
            # candidates and walking.
            ids = backend.sample(cursor, kind, terms, FEW)
            if len(ids) < FEW:
                return _newest_candidates(qs, kind, terms, need, after, texts, ids=ids)
            dense = backend.at_least(cursor, kind, terms, ids, DENSE)
    if not dense:
        return _newest_candidates(qs, kind, terms, need, after, texts)
    found: list[tuple[int, datetime]] = []
    for scope in scopes:
        rows, pos, spent = _walk(scope, terms, need, after, texts)
        if spent and len(rows) < need:
            rows += _newest_candidates(scope, kind, terms, need - len(rows), pos, texts)
        found += rows
    if len(scopes) > 1:
        found.sort(key=lambda row: (row[1], row[0]), reverse=True)
    return found[:need]


def _ranked(qs, kind, terms, need, after, texts) -> list[tuple[int, float]]:
    backend = backend_for(connection)
    out: list[tuple[int, float]] = []
    pos, size = after, max(need * 2, 50)
    while len(out) < need:
        sql, params = backend.ranked(kind, terms, pos, size)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            chunk = [(row[0], float(row[1])) for row in cursor.fetchall()]
        if not chunk:
            break
        visible = set(qs.filter(pk__in=[pk for pk, _ in chunk]).values_list("pk", flat=True))
        ok = _verified(sorted(visible), terms, texts)
        out.extend(row for row in chunk if row[0] in ok)
        if len(chunk) < size:
            break
        pos, size = (chunk[-1][1], chunk[-1][0]), min(size * 4, VERIFY_CHUNK)
    return out[:need]


def _unrestricted(qs: QuerySet) -> bool:
    """Whether the permission helper let the whole table through (a manager or an administrator)."""
    return not qs.query.where.children and not qs.query.is_empty()


def _count(qs, kind, terms, texts, any_of: Sequence[str] | None = None) -> int:
    """``any_of``: the visibility tokens equivalent to ``qs`` (None: ``qs`` is the whole table). The part
    of the answer the index decides alone is counted inside the index; the rest is joined to ``qs`` and
    verified against the texts."""
    if qs.query.is_empty() or any_of == []:
        return 0
    backend = backend_for(connection)
    with backend.hints():
        return _count_of(backend, qs, kind, terms, texts, any_of)


def _count_of(backend, qs, kind, terms, texts, any_of) -> int:
    certain, uncertain = backend.split(kind, terms, any_of or ())
    total = 0
    if certain is not None:
        with connection.cursor() as cursor:
            total += backend.count_certain(cursor, kind, terms, any_of or ())
    if uncertain is not None:
        base = qs.filter(pk__in=RawSQL(*uncertain)).order_by("pk")
        last = 0
        while True:
            ids = list(base.filter(pk__gt=last).values_list("pk", flat=True)[:VERIFY_CHUNK])
            if not ids:
                break
            total += len(_verified(ids, terms, texts))
            last = ids[-1]
    return total


def _page(qs, scopes, kind, q, limit, cursor, ranked, texts) -> tuple[list[int], str | None]:
    terms = plan(q)
    _check_limit(limit)
    with backend_for(connection).hints():
        return _page_of(qs, scopes, kind, terms, limit, cursor, ranked, texts)


def _page_of(qs, scopes, kind, terms, limit, cursor, ranked, texts) -> tuple[list[int], str | None]:
    if ranked:
        after = _decode(cursor, f"{kind}:rank")
        rows = _ranked(qs, kind, terms, limit + 1, after, texts)
        more = len(rows) > limit
        rows = rows[:limit]
        return [pk for pk, _ in rows], (_encode(f"{kind}:rank", rows[-1][1], rows[-1][0]) if more else None)
    after = _decode(cursor, kind)
    rows = _newest(qs, scopes, kind, terms, limit + 1, after, texts)
    more = len(rows) > limit
    rows = rows[:limit]
    return [pk for pk, _ in rows], (_encode(kind, rows[-1][1].isoformat(), rows[-1][0]) if more else None)


def _in_order(qs: QuerySet, ids: list[int]) -> list:
    found = qs.in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


# --- cases ------------------------------------------------------------------------------------------------

def search_cases(user, q: str, *, limit: int = 25, cursor: str | None = None,
                 ranked: bool = False) -> tuple[list, str | None]:
    """The cases this user may see that contain every term of ``q``: newest first (``updated_at``, id),
    or best first by BM25 / ts_rank with ``ranked``. Returns (cases, next cursor or None)."""
    from kefu.cases.models import Case
    from kefu.cases.queries import visible_case_scopes, visible_cases

    qs = visible_cases(user)
    parts = visible_case_scopes(user)
    scopes = [qs] if parts is None else [qs.filter(part) for part in parts]
    ids, next_cursor = _page(qs, scopes, "case", q, limit, cursor, ranked, _case_texts)
    related = Case.objects.select_related("customer", "type", "team", "assignee")
    return _in_order(related, ids), next_cursor


def count_cases(user, q: str) -> int:
    """How many cases this user may see contain every term of ``q``."""
    from kefu.cases.queries import visible_cases

    return _count(visible_cases(user), "case", plan(q), _case_texts, _visibility_tokens(user))


def _visibility_tokens(user) -> list[str] | None:
    """``kefu.cases.queries.visible_cases`` as index tokens: None for every case, else any of the user's
    teams or the user's department (involved in the case). Keep in step with visible_cases; the tests
    compare the two for every kind of user."""
    from kefu.people.queries import team_ids_of

    if user is None or not user.is_authenticated or not user.is_active:
        return []
    if user.sees_everything:
        return None
    tokens = [tk.team_token(t) for t in team_ids_of(user)]
    if user.department_id:
        tokens.append(tk.department_token(user.department_id))
    return tokens


# --- customers --------------------------------------------------------------------------------------------

def search_customers_page(q: str, *, limit: int = 25, cursor: str | None = None,
                          ranked: bool = False) -> tuple[list, str | None]:
    """Customers whose name, organisation's name or an identity (phone, email, WeChat id) contains every
    term of ``q``, most recently updated first. Returns (customers, next cursor or None)."""
    from kefu.customers.models import Customer

    qs = Customer.objects.all()
    ids, next_cursor = _page(qs, [qs], "customer", q, limit, cursor, ranked, customer_texts)
    return _in_order(Customer.objects.select_related("organisation", "grade"), ids), next_cursor


def search_customers(q: str, limit: int = 25) -> list:
    """The first page of :func:`search_customers_page`."""
    return search_customers_page(q, limit=limit)[0]


def count_customers(q: str) -> int:
    from kefu.customers.models import Customer

    return _count(Customer.objects.all(), "customer", plan(q), customer_texts)


# --- snippets ---------------------------------------------------------------------------------------------

def case_snippet(case, q: str, *, width: int = 80) -> str:
    """A highlighted snippet from the case's subject or first message that matches ``q`` (HTML-escaped)."""
    texts = [body for _, body in case_texts([case.pk]).get(case.pk, [])]
    return tk.best_snippet(texts, q, width=width)
