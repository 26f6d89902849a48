"""Writing the search index. The services call these inside their transaction, so a case, a message or a
customer is searchable the moment it is committed, and a rolled-back write leaves no trace in the index.

A case's document is its subject and the bodies of all its messages (customer messages, staff replies and
internal notes: only staff search), in message order. A customer's document is the name, the organisation's
name and every identity value (phone in E.164, email, WeChat ids).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection

from . import tokens as tk
from .backends import backend_for


def _backend():
    return backend_for(connection)


# Ids per IN list (SQLite allows 32,766 parameters in one statement).
IN_CHUNK = 5000


def _in_chunks(loader):
    """Call ``loader`` on slices of at most IN_CHUNK ids and merge the dicts it returns."""
    def load(ids):
        ids = list(ids)
        if len(ids) <= IN_CHUNK:
            return loader(ids)
        out = {}
        for start in range(0, len(ids), IN_CHUNK):
            out.update(loader(ids[start:start + IN_CHUNK]))
        return out
    load.__doc__ = loader.__doc__
    load.__name__ = loader.__name__
    return load


# --- cases ------------------------------------------------------------------------------------------------

@_in_chunks
def case_texts(case_ids: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
    """For each case, ``[(0, subject), (message id, body), …]`` in message order, read from the database
    (two plain queries: this runs on every message written and on every page verified)."""
    from kefu.cases.models import Case, Message

    if not case_ids:
        return {}
    ids = list(case_ids)
    marks = ",".join(["%s"] * len(ids))
    case_table, message_table = Case._meta.db_table, Message._meta.db_table
    case_col = Message._meta.get_field("case").column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, subject FROM {case_table} WHERE id IN ({marks})", ids)
        out: dict[int, list[tuple[int, str]]] = {pk: [(0, subject)] for pk, subject in cursor.fetchall()}
        cursor.execute(f"SELECT {case_col}, id, body FROM {message_table} WHERE {case_col} IN ({marks}) "
                       f"ORDER BY {case_col}, id", ids)
        for case_id, message_id, body in cursor.fetchall():
            out[case_id].append((message_id, body))
    return out


@_in_chunks
def case_visibility(case_ids: Sequence[int]) -> dict[int, tuple[int | None, list[int]]]:
    """For each case, (team id, involved department ids), read from the database."""
    from kefu.cases.models import Case

    if not case_ids:
        return {}
    ids = list(case_ids)
    marks = ",".join(["%s"] * len(ids))
    through = Case.departments.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, team_id FROM {Case._meta.db_table} WHERE id IN ({marks})", ids)
        out: dict[int, tuple[int | None, list[int]]] = {pk: (team, []) for pk, team in cursor.fetchall()}
        cursor.execute(f"SELECT case_id, department_id FROM {through} WHERE case_id IN ({marks})", ids)
        for case_id, department_id in cursor.fetchall():
            out[case_id][1].append(department_id)
    return out


def index_case_text(case_id: int, texts: Sequence[str], *, team_id: int | None = None,
                    department_ids: Iterable[int] = ()) -> None:
    """Index a case created in this transaction from what is at hand: its texts (subject, first message),
    its team and the departments involved."""
    tokens = tk.document_tokens(texts) + tk.visibility_tokens(team_id, department_ids)
    with connection.cursor() as cursor:
        _backend().write(cursor, "case", case_id, tokens, old=None)


def index_message(message) -> None:
    """Add a message just saved (in this transaction) to its case's document."""
    reindex_case(message.case_id, added_message_id=message.pk)


_CURRENT = object()


def reindex_case(case_id: int, *, added_message_id: int | None = None, old_subject: str | None = None,
                 old_team_id=_CURRENT, old_department_ids=_CURRENT) -> None:
    """Rewrite a case's document from the database, in the transaction that just changed it. SQLite needs
    what the document held before: the same texts without ``added_message_id``, with ``old_subject``, and
    the team and departments it had (``old_team_id``, ``old_department_ids``) when those just changed."""
    texts = case_texts([case_id]).get(case_id)
    if texts is None:
        return
    team_id, department_ids = case_visibility([case_id])[case_id]
    per_text = [(key, tk.text_tokens(body)) for key, body in texts]
    new = [tok for _, toks in per_text for tok in toks] + tk.visibility_tokens(team_id, department_ids)

    def old() -> list[str]:
        out: list[str] = []
        for key, toks in per_text:
            if key == 0 and old_subject is not None:
                out.extend(tk.text_tokens(old_subject))
            elif key != added_message_id:
                out.extend(toks)
        out.extend(tk.visibility_tokens(
            team_id if old_team_id is _CURRENT else old_team_id,
            department_ids if old_department_ids is _CURRENT else old_department_ids))
        return out

    with connection.cursor() as cursor:
        _backend().write(cursor, "case", case_id, new, old=old)


def merge_case_documents(source_id: int, target_id: int) -> None:
    """Call *before* the messages of ``source`` move to ``target`` (same transaction): afterwards the source's
    document is its subject alone and the target's holds its subject and every message of both, in order."""
    texts = case_texts([source_id, target_id])
    vis = {pk: tk.visibility_tokens(*v) for pk, v in case_visibility([source_id, target_id]).items()}
    src = [(key, tk.text_tokens(body)) for key, body in texts[source_id]]
    dst = [(key, tk.text_tokens(body)) for key, body in texts[target_id]]
    messages = sorted(src[1:] + dst[1:], key=lambda item: item[0])
    backend = _backend()
    with connection.cursor() as cursor:
        backend.write(cursor, "case", source_id, src[0][1] + vis[source_id],
                      old=lambda: [tok for _, toks in src for tok in toks] + vis[source_id])
        backend.write(cursor, "case", target_id,
                      [tok for _, toks in [dst[0], *messages] for tok in toks] + vis[target_id],
                      old=lambda: [tok for _, toks in dst for tok in toks] + vis[target_id])


def index_batch(rows: Iterable[tuple], *, skip_existing: bool = False) -> int:
    """Bulk-index cases that are not indexed yet (the seeder, ``kefu reindex``), with one executemany. Each
    row is ``(case_id, texts)`` or ``(case_id, updated_at, texts)``: ``updated_at`` is accepted and not needed,
    because results are ordered through the case table's own index; the team and involved departments are
    read from the database. With ``skip_existing``, cases already in the index (written meanwhile by the
    services) are left alone. Returns how many were indexed."""
    docs = [(row[0], row[-1]) for row in rows]
    if not docs:
        return 0
    backend = _backend()
    with connection.cursor() as cursor:
        if skip_existing:
            have = backend.existing(cursor, "case", [pk for pk, _ in docs])
            docs = [(pk, texts) for pk, texts in docs if pk not in have]
        vis = case_visibility([pk for pk, _ in docs])
        backend.insert_many(cursor, "case", [
            (pk, tk.document_tokens(texts) + tk.visibility_tokens(*vis.get(pk, (None, ()))))
            for pk, texts in docs])
    return len(docs)


# --- customers --------------------------------------------------------------------------------------------

@_in_chunks
def customer_texts(customer_ids: Sequence[int]) -> dict[int, list[str]]:
    """For each customer: name, organisation name (if any), identity values."""
    from kefu.customers.models import Customer, Identity

    out: dict[int, list[str]] = {}
    rows = Customer.objects.filter(pk__in=customer_ids).values_list("pk", "name", "organisation__name")
    for pk, name, org in rows:
        out[pk] = [name] + ([org] if org else [])
    for customer_id, value in Identity.objects.filter(customer_id__in=customer_ids).order_by("pk").values_list(
            "customer_id", "value"):
        out[customer_id].append(value)
    return out


def index_customer(customer) -> None:
    """Rewrite a customer's document from the database (after any change to the name, organisation or
    identities), and, for an organisation, its members' documents (they hold its name)."""
    from kefu.customers.models import Customer

    ids = [customer.pk]
    if customer.kind == Customer.Kind.ORGANISATION:
        ids += list(Customer.objects.filter(organisation_id=customer.pk).values_list("pk", flat=True))
    _reindex_customers(ids)


def _reindex_customers(ids: Sequence[int]) -> None:
    backend = _backend()
    texts = customer_texts(ids)
    with connection.cursor() as cursor:
        for customer_id, current in texts.items():
            stored = backend.stored_texts(cursor, customer_id)
            if stored == current:
                continue
            backend.write(cursor, "customer", customer_id, tk.document_tokens(current),
                          old=(lambda s=stored: tk.document_tokens(s or [])))
            backend.store_texts(cursor, [(customer_id, current)])


def index_customer_batch(rows: Iterable[tuple[int, Sequence[str]]], *, skip_existing: bool = False) -> int:
    """Bulk-index customers that are not indexed yet: ``(customer_id, texts)`` rows (see
    :func:`customer_texts` for what the texts are). Returns how many were indexed."""
    docs = [(pk, list(texts)) for pk, texts in rows]
    if not docs:
        return 0
    backend = _backend()
    with connection.cursor() as cursor:
        if skip_existing:
            have = backend.existing(cursor, "customer", [pk for pk, _ in docs])
            docs = [(pk, texts) for pk, texts in docs if pk not in have]
        backend.insert_many(cursor, "customer", [(pk, tk.document_tokens(t)) for pk, t in docs])
        backend.store_texts(cursor, docs)
    return len(docs)


def index_seeded_batch(batch) -> None:
    """An ``on_batch`` hook for the bulk seeder (``kefu.demo.seeding``): index the cases it just wrote from
    the texts it hands over (``case_id``, ``subject``, ``messages`` as ``(id, kind, text)``), and its
    customers from the database (their identities and organisation are not in the batch)."""
    cases = getattr(batch, "cases", None) or []
    if cases:
        index_batch([(c.case_id, [c.subject, *(text for _, _, text in c.messages)]) for c in cases])
    customers = getattr(batch, "customers", None) or []
    if customers:
        ids = [c.customer_id for c in customers]
        texts = customer_texts(ids)
        index_customer_batch([(pk, texts[pk]) for pk in ids if pk in texts])


def clear(kind: str) -> None:
    with connection.cursor() as cursor:
        _backend().clear(cursor, kind)


def optimize(kind: str) -> None:
    with connection.cursor() as cursor:
        _backend().optimize(cursor, kind)
