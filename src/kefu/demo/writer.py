"""Writing many planned rows fast: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

This is the one place that writes domain tables without the services, for generating synthetic history
(docs/adr/0002-bulk-seeding.md). Rows are tuples in the column order given; values are plain Python
(``int``, ``str``, ``bool``, ``None``, ``Decimal``, ``date``), times are epoch seconds (``float``) in
columns listed as time columns, and JSON columns take already-encoded JSON text.

Ids are allocated here so rows can refer to each other before they are written:
- SQLite: inside the batch's transaction (``BEGIN IMMEDIATE`` holds the write lock) the next id is read from
  the table and ``sqlite_sequence``, and counted up (:class:`IdBlock`); or a block is reserved ahead by moving
  ``sqlite_sequence`` past it (:meth:`BulkWriter.reserve`), when another thread writes the rows;
- PostgreSQL: ids are drawn from the table's own sequence (``nextval``) in blocks, so other writers running
  at the same time never collide (unused ids leave gaps, as sequences always may).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence

from django.db import DatabaseError, connection, transaction

UTC = dt.UTC


_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=UTC)
_delta = dt.timedelta


def sqlite_time(ts: float) -> str:
    """A time as Django's SQLite backend stores it: naive UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    return (_EPOCH + _delta(seconds=ts)).isoformat(" ", "microseconds")


def pg_time(ts: float) -> dt.datetime:
    return _EPOCH_UTC + _delta(seconds=ts)


class IdBlock:
    """Hands out ids for one table during one batch, in ascending order."""

    def __init__(self, writer: BulkWriter, table: str):
        self.writer = writer
        self.table = table
        self._ids: deque[int] = deque()
        self._next: int | None = None
        if writer.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
                top = cursor.fetchone()[0]
                cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
                seq = cursor.fetchone()[0]
            self._next = max(top, seq) + 1

    def reserve(self, n: int) -> None:
        """PostgreSQL: make sure ``n`` ids are at hand, in one round trip (SQLite needs nothing)."""
        if self._next is None and len(self._ids) < n:
            self._ids.extend(self.writer.nextvals(self.table, max(n - len(self._ids), 256)))

    def take(self) -> int:
        if self._next is not None:
            value = self._next
            self._next += 1
            return value
        if not self._ids:
            self.reserve(1024)
        return self._ids.popleft()


class BulkWriter:
    def __init__(self):
        self.vendor = connection.vendor
        if self.vendor not in ("sqlite", "postgresql"):
            raise RuntimeError(f"bulk seeding supports SQLite and PostgreSQL, not {self.vendor}")
        self.time = sqlite_time if self.vendor == "sqlite" else pg_time
        self.rows_written: dict[str, int] = {}
        self.seconds: dict[str, float] = {}  # time spent writing, by table
        self._undo: dict[int, str] = {}

    def tune(self) -> None:
        """Settings for this connection while it seeds: a larger page cache on SQLite (index pages stay in
        memory), no wait for the WAL flush at each commit on PostgreSQL (a crash loses at most the last
        batches, never consistency). :meth:`restore` puts them back."""
        with connection.cursor() as cursor:
            if self.vendor == "sqlite":
                cursor.execute("PRAGMA cache_size")
                undo = f"PRAGMA cache_size = {int(cursor.fetchone()[0])}"
                cursor.execute("PRAGMA cache_size = -262144")  # 256 MB
            else:
                cursor.execute("SHOW synchronous_commit")
                undo = f"SET synchronous_commit TO {cursor.fetchone()[0]}"
                cursor.execute("SET synchronous_commit TO off")
        self._undo[threading.get_ident()] = undo  # per thread: each thread has its own connection

    def restore(self) -> None:
        restore = self._undo.pop(threading.get_ident(), None)
        if restore:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(restore)
            except DatabaseError:
                pass  # the transaction failed: PostgreSQL rolls the setting back with it

    def ids(self, table: str) -> IdBlock:
        return IdBlock(self, table)

    def reserve(self, table: str, n: int) -> Sequence[int]:
        """``n`` ids nobody else will take, for rows written later (perhaps by another thread).

        SQLite: a short write transaction moves the table's AUTOINCREMENT counter (``sqlite_sequence``) past
        the block; new rows from anyone else are numbered above it. PostgreSQL: the table's sequence."""
        if self.vendor != "sqlite":
            return self.nextvals(table, n)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
            top = cursor.fetchone()[0]
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            start = max(top, row[0] if row else 0) + 1
            if row:
                cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [start + n - 1, table])
            else:
                cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, start + n - 1])
        return range(start, start + n)

    def nextvals(self, table: str, n: int) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n]
            )
            return sorted(row[0] for row in cursor.fetchall())

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple], *,
               time_columns: Sequence[str] = ()) -> int:
        """Insert ``rows``; values in ``time_columns`` are epoch seconds (or None)."""
        started = time.perf_counter()
        rows = list(rows)
        if not rows:
            return 0
        time_idx = [columns.index(c) for c in time_columns]
        if time_idx:
            conv = self.time
            prepared = []
            for row in rows:
                row = list(row)
                for i in time_idx:
                    if row[i] is not None:
                        row[i] = conv(row[i])
                prepared.append(row)
            rows = prepared
        cols = ", ".join(f'"{c}"' for c in columns)
        with connection.cursor() as cursor:
            if self.vendor == "sqlite":
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', rows)
            else:
                with cursor.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
        self.rows_written[table] = self.rows_written.get(table, 0) + len(rows)
        self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - started
        return len(rows)
