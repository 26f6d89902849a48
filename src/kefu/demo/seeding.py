"""The bulk seeder: customers and case histories in batches, each batch in its own transaction.

Memory stays flat: a batch is planned, written and dropped; what is kept between batches is the pool of
customer ids to give cases to (an ``array`` of ids and a byte per customer) and the organisations made in
the run. Outside a caller's transaction (``kefu seed``) a second thread writes each batch while the next one
is planned, with ids reserved ahead (``BulkWriter.reserve``); inside one (``kefu demo``, tests) batches are
planned and written in turn.

After each batch is written, still inside its transaction, every ``on_batch`` callable receives a
:class:`SeededBatch`: the customers (id, name, organisation) or the cases (id, subject and every message's
id, kind and text) the batch wrote. That is where a search index is filled.
"""

from __future__ import annotations

import queue
import random
import sys
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils.translation import gettext as _
from tqdm import tqdm

from kefu.cases.models import Case, CaseType, Message
from kefu.core import events
from kefu.core.models import Event
from kefu.customers import services as customer_services
from kefu.customers.models import Customer, Grade, Identity, Tag

from . import corpus
from .centre import CentreRefs, SeedError, ensure_centre
from .generator import (
    CASE_COLUMNS,
    CASE_GRADE_WEIGHTS,
    CASE_TIMES,
    CUSTOMER_COLUMNS,
    CUSTOMER_TIMES,
    EVENT_COLUMNS,
    HAS_EMAIL,
    HAS_WECHAT,
    IDENTITY_COLUMNS,
    MESSAGE_COLUMNS,
    MESSAGE_TIMES,
    SEG_CONSUMER,
    SEG_HOSPITAL,
    SEG_TRADE,
    TYPE_CODES,
    CasePlanner,
    CreationTimes,
    CustomerInfo,
    CustomerMaker,
    Staffing,
    staff_actor,
)
from .writer import BulkWriter


@dataclass
class SeededCase:
    case_id: int
    customer_id: int
    subject: str
    messages: list[tuple[int, str, str]]  # (message id, kind, text), oldest first


@dataclass
class SeededCustomer:
    customer_id: int
    name: str
    organisation_id: int | None


@dataclass
class SeededBatch:
    """What one batch wrote, handed to the ``on_batch`` callables inside the batch's transaction."""

    customers: list[SeededCustomer] = field(default_factory=list)
    cases: list[SeededCase] = field(default_factory=list)


@dataclass
class SeedStats:
    customers: int = 0
    cases: int = 0
    messages: int = 0
    events: int = 0
    rows: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# --- the customers cases are given to -------------------------------------------------------------------

class Pool:
    """Customer ids by grade, with a byte of facts per customer (segment, has WeChat, has e-mail)."""

    def __init__(self):
        self.ids = array("q")
        self.meta = bytearray()
        self.by_grade: dict[str, array] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, customer_id: int, meta: int, grade: str) -> None:
        self.by_grade.setdefault(grade, array("l")).append(len(self.ids))
        self.ids.append(customer_id)
        self.meta.append(meta)

    def pick(self, rng: random.Random) -> tuple[int, int, str]:
        grades = [g for g in self.by_grade if self.by_grade[g]]
        weights = [dict(CASE_GRADE_WEIGHTS).get(g, 20) for g in grades]
        grade = rng.choices(grades, weights=weights)[0]
        positions = self.by_grade[grade]
        pos = positions[rng.randrange(len(positions))]
        return self.ids[pos], self.meta[pos], grade

    @classmethod
    def from_database(cls) -> Pool:
        """Every customer already there (not erased), streamed in id order."""
        pool = cls()
        rows = (Customer.objects.filter(erased_at__isnull=True).order_by("pk")
                .values_list("pk", "grade__code", "kind", "org_type", "organisation__org_type")
                .iterator(chunk_size=20_000))
        for pk, grade, kind, org_type, member_of in rows:
            kind_type = org_type if kind == Customer.Kind.ORGANISATION else member_of
            segment = SEG_HOSPITAL if kind_type in ("hospital", "clinic") else \
                SEG_TRADE if kind_type else SEG_CONSUMER
            pool.add(pk, segment, grade or "C")
        bits = {Identity.Channel.WECHAT_OPENID: HAS_WECHAT, Identity.Channel.EMAIL: HAS_EMAIL}
        for customer_id, channel in (Identity.objects.filter(channel__in=list(bits))
                                     .values_list("customer_id", "channel").iterator(chunk_size=20_000)):
            pos = bisect_left(pool.ids, customer_id)
            if pos < len(pool.ids) and pool.ids[pos] == customer_id:
                pool.meta[pos] |= bits[channel]
        return pool


def load_customer_infos(ids: Iterable[int]) -> dict[int, CustomerInfo]:
    ids = sorted(set(ids))
    out: dict[int, CustomerInfo] = {}
    for i in range(0, len(ids), 2000):
        for pk, name, title, kind, region, org in (
                Customer.objects.filter(pk__in=ids[i:i + 2000])
                .values_list("pk", "name", "title", "kind", "region", "organisation__name")):
            out[pk] = CustomerInfo(pk, name, title, kind, region, org or "")
    return out


class ReservedIds:
    """Message ids reserved in blocks for the threaded writer; the last blocks are sized to what is left."""

    def __init__(self, writer: BulkWriter, table: str, chunk: int):
        self.writer = writer
        self.table = table
        self.chunk = chunk
        self.remaining_cases = 0
        self._ids: Iterator[int] = iter(())

    def take(self) -> int:
        for value in self._ids:
            return value
        # at most ~8 messages per case are left to come: do not reserve (and leave unused) far more
        self._ids = iter(self.writer.reserve(self.table, max(min(self.chunk, self.remaining_cases * 8), 64)))
        return next(self._ids)


# --- the seeder -------------------------------------------------------------------------------------------

class Seeder:
    def __init__(self, *, seed: int = 42, batch: int = 5000, now: float | None = None,
                 refs: CentreRefs | None = None, progress: bool = False,
                 on_batch: Iterable[Callable[[SeededBatch], None]] = (), threaded: bool = True):
        if batch < 1:
            raise SeedError(_("The batch size must be at least 1."))
        self.rng = random.Random(seed)
        self.seed = seed
        self.batch = batch
        self.now = time.time() if now is None else now
        self.refs = refs
        self.progress = progress
        self.on_batch = list(on_batch)
        self.threaded = threaded
        self.used_thread = False
        self.stats = SeedStats()
        self.writer: BulkWriter | None = None
        self.pool = Pool()

    def _bar(self, total: int, unit: str) -> tqdm:
        return tqdm(total=total, unit=unit, file=sys.stderr, disable=not self.progress or total == 0,
                    dynamic_ncols=True, mininterval=0.5, smoothing=0.1)

    def run(self, *, customers: int, cases: int) -> SeedStats:
        if customers < 0 or cases < 0:
            raise SeedError(_("The numbers of customers and cases cannot be negative."))
        started = time.perf_counter()
        self.writer = BulkWriter()
        refs = self.refs or ensure_centre()
        self.refs = refs
        grade_ids = dict(Grade.objects.values_list("code", "pk"))
        missing = [g for g in "ABCD" if g not in grade_ids]
        if missing:
            raise SeedError(_("The customer grades %(grades)s are missing; the generated data uses grades A to D.")
                            % {"grades": ", ".join(missing)})
        types = dict(CaseType.objects.filter(code__in=TYPE_CODES, is_active=True).values_list("code", "pk"))
        missing = [t for t in TYPE_CODES if t not in types]
        if missing:
            raise SeedError(_("The case types %(types)s are missing or not in use.") % {"types": ", ".join(missing)})
        existing = set(Tag.objects.filter(name__in=corpus.TAGS).values_list("name", flat=True))
        for name in corpus.TAGS:
            if name not in existing:
                customer_services.create_tag(refs.admin, name)
        tag_ids = dict(Tag.objects.filter(name__in=corpus.TAGS).values_list("name", "pk"))

        self.writer.tune()
        try:
            if customers:
                self._customers(customers, grade_ids, tag_ids)
            if cases:
                if not len(self.pool):
                    self.pool = Pool.from_database()
                if not len(self.pool):
                    raise SeedError(_("There are no customers to give cases to; add some with --customers N."))
                self._cases(cases, Staffing.from_refs(refs, types))
        finally:
            self.writer.restore()
        self.stats.seconds = time.perf_counter() - started
        self.stats.tables = dict(self.writer.rows_written)
        self.stats.rows = sum(self.writer.rows_written.values())
        self.stats.events = self.writer.rows_written.get(Event._meta.db_table, 0)
        self.stats.messages = self.writer.rows_written.get(Message._meta.db_table, 0)
        return self.stats

    # customers ------------------------------------------------------------------------------------------
    def _customers(self, total: int, grade_ids: dict[str, int], tag_ids: dict[str, int]) -> None:
        writer = self.writer
        maker = CustomerMaker(self.rng, now=self.now, total=total, grade_ids=grade_ids, tag_ids=tag_ids,
                              actor=staff_actor(self.refs.admin))
        table = Customer._meta.db_table
        tags_table = Customer.tags.through._meta.db_table
        with self._bar(total, " customers") as bar:
            for start in range(0, total, self.batch):
                size = min(self.batch, total - start)
                with transaction.atomic():
                    ids = writer.ids(table)
                    ids.reserve(size)
                    made = [maker.make(i, ids.take()) for i in range(start, start + size)]
                    writer.insert(table, CUSTOMER_COLUMNS, (m.customer for m in made), time_columns=CUSTOMER_TIMES)
                    writer.insert(Identity._meta.db_table, IDENTITY_COLUMNS,
                                  (r for m in made for r in m.identities), time_columns=("created_at",))
                    writer.insert(tags_table, ("customer_id", "tag_id"), (r for m in made for r in m.tags))
                    writer.insert(Event._meta.db_table, EVENT_COLUMNS,
                                  sorted((e for m in made for e in m.events), key=lambda e: e[0]),
                                  time_columns=("at",))
                    if self.on_batch:
                        batch = SeededBatch(customers=[SeededCustomer(m.customer[0], m.customer[2], m.customer[4])
                                                       for m in made])
                        for hook in self.on_batch:
                            hook(batch)
                for m in made:
                    self.pool.add(m.customer[0], m.meta, m.grade)
                self.stats.customers += size
                bar.update(size)

    # cases ----------------------------------------------------------------------------------------------
    def _cases(self, total: int, staffing: Staffing) -> None:
        planner = CasePlanner(self.rng, now=self.now, times=CreationTimes(self.now), staffing=staffing)
        # Writing in a second thread lets SQLite / PostgreSQL work while Python plans the next batch. Not
        # inside a caller's transaction (the demo seeds in one), nor on an in-memory SQLite test database.
        threaded = self.threaded and not connection.in_atomic_block and not (
            connection.vendor == "sqlite" and connection.is_in_memory_db())
        self.used_thread = threaded
        with self._bar(total, " cases") as bar:
            if threaded:
                self.writer.restore()  # this thread only reads now: the writing thread gets the large cache
                self._cases_threaded(total, planner, bar)
            else:
                self._cases_in_line(total, planner, bar)

    def _plan_facts(self, planner: CasePlanner, start: int, size: int, total: int):
        rng = self.rng
        picks = [self.pool.pick(rng) for _ in range(size)]
        facts = [planner.choose(start + k, total, meta & 3, meta, grade)
                 for k, (_cid, meta, grade) in enumerate(picks)]
        infos = load_customer_infos(cid for cid, _m, _g in picks)
        return [(f, infos[cid]) for f, (cid, _m, _g) in zip(facts, picks, strict=True)]

    def _cases_in_line(self, total: int, planner: CasePlanner, bar) -> None:
        writer = self.writer
        for start in range(0, total, self.batch):
            size = min(self.batch, total - start)
            planned = self._plan_facts(planner, start, size, total)
            with transaction.atomic():
                case_ids = writer.ids(Case._meta.db_table)
                case_ids.reserve(size)
                message_ids = writer.ids(Message._meta.db_table)
                message_ids.reserve(size * 7)
                sims = [planner.build(case_ids.take(), f, info, message_ids.take) for f, info in planned]
                self._write_cases(sims)
            self.stats.cases += size
            bar.update(size)

    def _cases_threaded(self, total: int, planner: CasePlanner, bar) -> None:
        writer = self.writer
        case_ids = writer.reserve(Case._meta.db_table, total)
        message_ids = ReservedIds(writer, Message._meta.db_table, chunk=self.batch * 10)
        work: queue.Queue = queue.Queue(maxsize=1)  # at most three batches in memory
        failure: list[BaseException] = []

        def write_loop() -> None:
            try:
                writer.tune()
                while (sims := work.get()) is not None:
                    if failure:
                        continue  # drain: the planner stops at its next batch
                    with transaction.atomic():
                        self._write_cases(sims)
                    self.stats.cases += len(sims)
                    bar.update(len(sims))
            except BaseException as exc:  # handed to the planning thread, which re-raises it
                failure.append(exc)
                while work.get() is not None:
                    pass
            finally:
                writer.restore()
                connection.close()  # this thread's own connection

        thread = threading.Thread(target=write_loop, name="kefu-seed-writer", daemon=True)
        thread.start()
        try:
            taken = 0
            for start in range(0, total, self.batch):
                if failure:
                    break
                size = min(self.batch, total - start)
                planned = self._plan_facts(planner, start, size, total)
                message_ids.remaining_cases = total - start
                sims = [planner.build(case_ids[taken + k], f, info, message_ids.take)
                        for k, (f, info) in enumerate(planned)]
                taken += size
                work.put(sims)
        finally:
            work.put(None)
            thread.join()
        if failure:
            raise failure[0]

    def _write_cases(self, sims) -> None:
        """Write one planned batch in the current transaction, then hand it to the ``on_batch`` callables."""
        writer = self.writer
        writer.insert(Case._meta.db_table, CASE_COLUMNS, (s.row() for s in sims), time_columns=CASE_TIMES)
        writer.insert(Case.departments.through._meta.db_table, ("case_id", "department_id"),
                      ((s.id, d) for s in sims for d in s.departments))
        writer.insert(Message._meta.db_table, MESSAGE_COLUMNS, (m for s in sims for m in s.messages),
                      time_columns=MESSAGE_TIMES)
        writer.insert(Event._meta.db_table, EVENT_COLUMNS, (e for s in sims for e in s.events),
                      time_columns=("at",))
        self._touch_contacts(Customer._meta.db_table, sims)
        if self.on_batch:
            batch = SeededBatch(cases=[SeededCase(s.id, s.customer_id, s.subject,
                                                  [(m[0], m[2], m[4]) for m in s.messages]) for s in sims])
            for hook in self.on_batch:
                hook(batch)

    def _touch_contacts(self, table: str, sims) -> None:
        """The customer's last contact: the latest message that was not an internal note (as the services
        keep it), never moved backwards."""
        latest: dict[int, float] = {}
        for s in sims:
            t = max(x for x in (s.last_customer_message_at, s.last_staff_message_at) if x is not None)
            if t > latest.get(s.customer_id, 0.0):
                latest[s.customer_id] = t
        conv = self.writer.time
        with connection.cursor() as cursor:
            cursor.executemany(
                f'UPDATE "{table}" SET last_contact_at = %s WHERE id = %s '
                "AND (last_contact_at IS NULL OR last_contact_at < %s)",
                [(conv(t), cid, conv(t)) for cid, t in latest.items()])


def record_seeded(verb: str, **data) -> None:
    """The event-log row that says a seeding run happened (and, for the demo, that the demo is complete)."""
    events.record(verb, actor=None, subject_type="system", subject_id=0, data=data)

