"""Where the index lives: a stock FTS5 table on SQLite, a tsvector column with a GIN index on PostgreSQL.

Both store one document per case (its subject, every message, its team and involved departments) and one per
customer (name, organisation, identities), keyed by the case or customer id, holding the tokens of
:mod:`kefu.search.tokens`. Everything
here is SQL; deciding what to index and how to answer a query is in ``index.py`` and ``queries.py``.

SQLite: ``search_<kind>_fts`` is a *contentless* FTS5 table (``content=''``: the texts live in the domain
tables, the index only holds postings) with the ``ascii`` tokenizer (the tokens are already made; it keeps
every non-ASCII character and splits on spaces) and ``detail=full`` (positions, so a phrase of bigrams is an
exact substring match). SQLite 3.40 cannot delete from a contentless table without the old tokens, so a
rewrite passes the document's previous texts; customers keep theirs in ``search_customer_text`` because a
customer's texts change in several places (name, identities, the organisation's name).

PostgreSQL: ``search_<kind>doc`` has the tokens as a ``tsvector`` literal with positions (no text search
parser or configuration is involved, so nothing depends on the server's locale) and a GIN index. A tsvector
keeps at most 256 positions per lexeme and none above 16383; a document beyond that (or beyond the 1 MB
tsvector limit) is stored with ``exact = false`` and its matches are verified against the texts.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence

from . import tokens as tk

KINDS = ("case", "customer")

# Texts of one document are stored joined by this (a customer's texts never contain it).
TEXT_SEPARATOR = "\x1e"

OldTokens = Callable[[], Sequence[str]]


class SqliteBackend:
    vendor = "sqlite"
    # Phrase matches are exact for every document: FTS5 positions have no limit.
    all_exact = True
    # SQLite joins in the order written after CROSS JOIN: the index's candidates drive, each looked up by
    # primary key (left to itself the planner may scan a team's whole keyset index instead).
    join = "CROSS JOIN"

    @staticmethod
    def table(kind: str) -> str:
        return f"search_{kind}_fts"

    def existing(self, cursor, kind: str, ids: Sequence[int]) -> set[int]:
        """Which of these documents are in the index (the docsize table has a row per document)."""
        if not ids:
            return set()
        cursor.execute(f"SELECT id FROM {self.table(kind)}_docsize WHERE id IN (SELECT value FROM json_each(%s))",
                       [json.dumps(list(ids))])
        return {row[0] for row in cursor.fetchall()}

    def write(self, cursor, kind: str, doc_id: int, tokens: Sequence[str], old: OldTokens | None) -> None:
        """Put a document in the index, replacing the one there (whose tokens ``old()`` gives)."""
        table = self.table(kind)
        if self.existing(cursor, kind, [doc_id]):
            if old is None:
                raise ValueError(f"{kind} {doc_id} is indexed already and its old texts are unknown")
            cursor.execute(f"INSERT INTO {table}({table}, rowid, body) VALUES ('delete', %s, %s)",
                           [doc_id, " ".join(old())])
        cursor.execute(f"INSERT INTO {table}(rowid, body) VALUES (%s, %s)", [doc_id, " ".join(tokens)])

    def insert_many(self, cursor, kind: str, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
        """New documents (none of them indexed yet), with one executemany."""
        table = self.table(kind)
        cursor.executemany(f"INSERT INTO {table}(rowid, body) VALUES (%s, %s)",
                           [(doc_id, " ".join(toks)) for doc_id, toks in rows])

    def clear(self, cursor, kind: str) -> None:
        table = self.table(kind)
        cursor.execute(f"INSERT INTO {table}({table}) VALUES ('delete-all')")
        if kind == "customer":
            cursor.execute("DELETE FROM search_customer_text")

    def optimize(self, cursor, kind: str) -> None:
        table = self.table(kind)
        cursor.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")

    # Customers keep the texts they were indexed with (see the module docstring).
    def stored_texts(self, cursor, customer_id: int) -> list[str] | None:
        cursor.execute("SELECT texts FROM search_customer_text WHERE customer_id = %s", [customer_id])
        row = cursor.fetchone()
        return row[0].split(TEXT_SEPARATOR) if row else None

    def store_texts(self, cursor, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
        cursor.executemany("INSERT OR REPLACE INTO search_customer_text (customer_id, texts) VALUES (%s, %s)",
                           [(i, TEXT_SEPARATOR.join(texts)) for i, texts in rows])

    # --- reading ---
    def match(self, kind: str, terms: Sequence[tk.Term], any_of: Sequence[str] = ()) -> tuple[str, list]:
        """SQL selecting the ids of every document that satisfies all the clauses (and holds one of the
        ``any_of`` tokens)."""
        table = self.table(kind)
        return (f"SELECT rowid AS doc_id FROM {table} WHERE {table} MATCH %s",
                [tk.fts5_expression(terms, any_of)])

    def split(self, kind: str, terms: Sequence[tk.Term], any_of: Sequence[str] = ()
              ) -> tuple[tuple[str, list] | None, tuple[str, list] | None]:
        """(ids that certainly match, ids that must be verified): either may be None. ``any_of`` narrows
        only the certain part (the other is joined to the visible cases by the caller)."""
        if tk.all_exact(terms):
            return self.match(kind, terms, any_of), None
        return None, self.match(kind, terms)

    def candidates(self, kind: str, terms: Sequence[tk.Term]) -> tuple[str, list]:
        return self.match(kind, terms)

    def count_certain(self, cursor, kind: str, terms: Sequence[tk.Term], any_of: Sequence[str] = ()) -> int:
        """How many documents certainly match an exact plan (and hold one of ``any_of``)."""
        sql, params = self.match(kind, terms, any_of)
        cursor.execute(f"SELECT count(*) FROM ({sql})", params)
        return cursor.fetchone()[0]

    @staticmethod
    def hints():
        return contextlib.nullcontext()

    @staticmethod
    def likely_dense(cursor, kind: str, terms: Sequence[tk.Term], cap: int) -> bool:
        return False  # FTS5 keeps no statistics: see sample() and at_least()

    def sample(self, cursor, kind: str, terms: Sequence[tk.Term], n: int) -> list[int]:
        """Up to ``n`` candidates, the newest documents (highest ids) first."""
        sql, params = self.candidates(kind, terms)
        cursor.execute(f"{sql} ORDER BY doc_id DESC LIMIT %s", [*params, n])
        return [row[0] for row in cursor.fetchall()]

    def at_least(self, cursor, kind: str, terms: Sequence[tk.Term], sample: Sequence[int], cap: int) -> bool:
        """Whether there are about ``cap`` candidates or more, judged from a full sample of the newest ones
        (ids are handed out in order, so the sample's id range is the share of the table it covers). This is
        the density among recent documents, which is what walking the newest cases depends on; counting to
        ``cap`` instead costs 5–15 ms for a phrase at a million cases."""
        if not sample:
            return self.count_at_most(cursor, kind, terms, cap) >= cap
        newest, oldest = sample[0], sample[-1]
        return len(sample) * newest / max(newest - oldest + 1, 1) >= cap

    def count_at_most(self, cursor, kind: str, terms: Sequence[tk.Term], cap: int) -> int:
        sql, params = self.candidates(kind, terms)
        cursor.execute(f"SELECT count(*) FROM ({sql} LIMIT %s)", [*params, cap])
        return cursor.fetchone()[0]

    @staticmethod
    def id_list(ids: Sequence[int]) -> tuple[str, list]:
        """SQL giving these ids as ``doc_id`` (one parameter, however many ids)."""
        return "SELECT value AS doc_id FROM json_each(%s)", [json.dumps(list(ids))]

    def ranked(self, kind: str, terms: Sequence[tk.Term], after: tuple[float, int] | None,
               limit: int) -> tuple[str, list]:
        """(id, score) of candidates, best first (lower score is better), after a (score, id) cursor."""
        table = self.table(kind)
        sql = (f"SELECT id, score FROM (SELECT rowid AS id, bm25({table}) AS score FROM {table} "
               f"WHERE {table} MATCH %s)")
        params: list = [tk.fts5_expression(terms)]
        if after is not None:
            sql += " WHERE score > %s OR (score = %s AND id > %s)"
            params += [after[0], after[0], after[1]]
        return sql + " ORDER BY score, id LIMIT %s", [*params, limit]


class PostgresBackend:
    vendor = "postgresql"
    all_exact = False
    join = "JOIN"

    @staticmethod
    def table(kind: str) -> str:
        return f"search_{kind}doc"

    @staticmethod
    def key(kind: str) -> str:
        return f"{kind}_id"

    # Above this many bytes of literal the tsvector could pass PostgreSQL's 1 MB limit: store none, verify.
    MAX_LITERAL = 900_000

    def _row(self, doc_id: int, tokens: Sequence[str]) -> tuple[int, str | None, bool]:
        literal, lossless = tk.tsvector_literal(tokens)
        if len(literal.encode()) > self.MAX_LITERAL:
            return doc_id, None, False
        return doc_id, literal, lossless

    def existing(self, cursor, kind: str, ids: Sequence[int]) -> set[int]:
        if not ids:
            return set()
        cursor.execute(f"SELECT {self.key(kind)} FROM {self.table(kind)} WHERE {self.key(kind)} = ANY(%s)",
                       [list(ids)])
        return {row[0] for row in cursor.fetchall()}

    def write(self, cursor, kind: str, doc_id: int, tokens: Sequence[str], old: OldTokens | None) -> None:
        self.upsert_many(cursor, kind, [(doc_id, tokens)])

    def upsert_many(self, cursor, kind: str, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
        table, key = self.table(kind), self.key(kind)
        cursor.executemany(
            f"INSERT INTO {table} ({key}, tsv, exact) VALUES (%s, %s::tsvector, %s) "
            f"ON CONFLICT ({key}) DO UPDATE SET tsv = EXCLUDED.tsv, exact = EXCLUDED.exact",
            [self._row(doc_id, toks) for doc_id, toks in rows])

    insert_many = upsert_many

    def clear(self, cursor, kind: str) -> None:
        cursor.execute(f"TRUNCATE {self.table(kind)}")

    def optimize(self, cursor, kind: str) -> None:
        cursor.execute(f"ANALYZE {self.table(kind)}")

    def stored_texts(self, cursor, customer_id: int) -> list[str] | None:
        return None  # an upsert needs no old texts

    def store_texts(self, cursor, rows) -> None:
        pass

    # --- reading ---
    @staticmethod
    def _any_order(terms: Sequence[tk.Term]) -> str:
        """The same tokens without adjacency: what a document with lossy positions must satisfy."""
        flat = [tk.Term(t.text, tuple(tk.Clause((tok,), prefix=c.prefix and i == len(c.tokens) - 1)
                                      for c in t.clauses for i, tok in enumerate(c.tokens)), t.exact)
                for t in terms]
        return tk.tsquery_expression(flat)

    def split(self, kind: str, terms: Sequence[tk.Term], any_of: Sequence[str] = ()
              ) -> tuple[tuple[str, list] | None, tuple[str, list] | None]:
        table, key = self.table(kind), self.key(kind)
        query, loose = tk.tsquery_expression(terms, any_of), self._any_order(terms)
        lossy = (f"SELECT {key} AS doc_id FROM {table} WHERE NOT exact "
                 f"AND (tsv IS NULL OR tsv @@ %s::tsquery)", [loose])
        if tk.all_exact(terms):
            return (f"SELECT {key} AS doc_id FROM {table} WHERE tsv @@ %s::tsquery AND exact", [query]), lossy
        return None, self.candidates(kind, terms)

    def candidates(self, kind: str, terms: Sequence[tk.Term]) -> tuple[str, list]:
        """Two selects rather than one with OR: with the OR, PostgreSQL re-checks every row's tsvector."""
        table, key = self.table(kind), self.key(kind)
        query = tk.tsquery_expression(terms)
        return (f"SELECT {key} AS doc_id FROM {table} WHERE tsv @@ %s::tsquery UNION ALL "
                f"SELECT {key} AS doc_id FROM {table} WHERE NOT exact "
                f"AND (tsv IS NULL OR (tsv @@ %s::tsquery AND NOT tsv @@ %s::tsquery))",
                [query, self._any_order(terms), query])

    # Candidates of a phrase cost a tsvector read back from the heap each (positions are not in the GIN
    # index): from this many on, walking the newest cases is cheaper than joining the candidates.
    PHRASE_DENSE = 2_000

    def likely_dense(self, cursor, kind: str, terms: Sequence[tk.Term], cap: int) -> bool:
        """Whether a query has at least ``cap`` candidates (``PHRASE_DENSE`` when it has a phrase), by the
        planner's estimates from the tsvector statistics ANALYZE keeps: per lexeme, since the words of a
        phrase are anything but independent; the rarest bounds them all. No heap row is read."""
        lexemes = {tok for t in terms for c in t.clauses if not c.prefix for tok in c.tokens}
        if any(len(c.tokens) > 1 for t in terms for c in t.clauses):
            cap = min(cap, self.PHRASE_DENSE)
        table = self.table(kind)
        least = None
        for lexeme in sorted(lexemes):
            cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE tsv @@ %s::tsquery",
                           [f"'{lexeme}'"])
            plan = cursor.fetchone()[0]
            rows = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]
            least = rows if least is None else min(least, rows)
        return least is not None and least >= cap

    def count_at_most(self, cursor, kind: str, terms: Sequence[tk.Term], cap: int) -> int:
        """An upper bound, for choosing a plan: the lexemes in any order (answered by the GIN index without
        reading a tsvector back to check positions)."""
        table = self.table(kind)
        cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE tsv @@ %s::tsquery LIMIT %s) AS c",
                       [self._any_order(terms), cap])
        return cursor.fetchone()[0]

    def count_certain(self, cursor, kind: str, terms: Sequence[tk.Term], any_of: Sequence[str] = ()) -> int:
        """All matches minus those in inexact documents (few, through the partial index): the first count
        needs no column but the tsvector, so PostgreSQL can answer it from the GIN index and the visibility
        map."""
        table = self.table(kind)
        query = tk.tsquery_expression(terms, any_of)
        cursor.execute(f"SELECT (SELECT count(*) FROM {table} WHERE tsv @@ %s::tsquery) - "
                       f"(SELECT count(*) FROM {table} WHERE NOT exact AND tsv @@ %s::tsquery)", [query, query])
        return cursor.fetchone()[0]

    @staticmethod
    @contextlib.contextmanager
    def hints():
        """Searches run with sequential scans off: the planner prices ``tsv @@ q`` on a sequential scan as
        cheap, not knowing that every row's tsvector must be detoasted, and picks it for common words (a
        second per query at 200,000 cases, against milliseconds through the GIN index)."""
        from django.db import connection, transaction

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")
            before = cursor.fetchone()[0]
            try:
                yield
            finally:
                cursor.execute("SELECT set_config('enable_seqscan', %s, true)", [before])

    @staticmethod
    def id_list(ids: Sequence[int]) -> tuple[str, list]:
        return "SELECT unnest(%s::bigint[]) AS doc_id", [list(ids)]

    def sample(self, cursor, kind: str, terms: Sequence[tk.Term], n: int) -> list[int]:
        """Up to ``n`` candidates, in no particular order (ordering would sort them all)."""
        sql, params = self.candidates(kind, terms)
        cursor.execute(f"{sql} LIMIT %s", [*params, n])
        return [row[0] for row in cursor.fetchall()]

    def at_least(self, cursor, kind: str, terms: Sequence[tk.Term], sample: Sequence[int], cap: int) -> bool:
        return self.count_at_most(cursor, kind, terms, cap) >= cap

    def ranked(self, kind: str, terms: Sequence[tk.Term], after: tuple[float, int] | None,
               limit: int) -> tuple[str, list]:
        table, key = self.table(kind), self.key(kind)
        cand, cand_params = self.candidates(kind, terms)
        sql = (f"SELECT id, score FROM (SELECT d.{key} AS id, "
               f"-ts_rank(coalesce(d.tsv, ''::tsvector), %s::tsquery)::float8 AS score "
               f"FROM {table} d WHERE d.{key} IN ({cand})) AS r")
        params: list = [tk.tsquery_expression(terms), *cand_params]
        if after is not None:
            sql += " WHERE score > %s OR (score = %s AND id > %s)"
            params += [after[0], after[0], after[1]]
        return sql + " ORDER BY score, id LIMIT %s", [*params, limit]


def backend_for(connection):
    if connection.vendor == "sqlite":
        return SqliteBackend()
    if connection.vendor == "postgresql":
        return PostgresBackend()
    raise NotImplementedError(f"no search index for the {connection.vendor} database")
