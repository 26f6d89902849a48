"""Plans synthetic customers and case histories as rows, with a seeded ``random.Random``.

Nothing here touches the database: the seeder (``kefu.demo.seeding``) allocates ids, calls these planners
and writes the rows. Case histories are produced by :class:`CaseSim`, which mirrors
``kefu.cases.services`` step by step (the same status rules, counters and event shapes), so a seeded case
looks exactly like one that was worked through the services.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import string
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from json.encoder import encode_basestring_ascii
from zoneinfo import ZoneInfo

from kefu.cases.models import TRANSITIONS

from . import corpus

# --- segments and identities ------------------------------------------------------------------------------

SEG_HOSPITAL, SEG_TRADE, SEG_CONSUMER = 0, 1, 2
SEGMENTS = ("hospital", "trade", "consumer")
HAS_WECHAT, HAS_EMAIL = 4, 8  # bits of a customer's ``meta`` byte; the low two bits are the segment
SEGMENT_TEAM = {SEG_HOSPITAL: "hospital", SEG_TRADE: "pharmacy", SEG_CONSUMER: "hotline"}

# Mobile prefixes that phonenumbers accepts for every 8-digit suffix (138 is kept for named demo customers).
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "139", "150", "151", "152", "153", "155",
                   "156", "157", "158", "159", "166", "176", "177", "180", "181", "182", "183", "185", "186",
                   "187", "188", "189", "191", "198", "199")
_OPENID_CHARS = string.ascii_letters + string.digits + "_-"
_B36 = string.digits + string.ascii_lowercase


def mobile_number(customer_id: int) -> str:
    """A valid mainland mobile number, unique per customer id (a bijection for ids below 3.2 billion)."""
    prefix = MOBILE_PREFIXES[customer_id % len(MOBILE_PREFIXES)]
    suffix = (customer_id // len(MOBILE_PREFIXES) * 48271 + 2357) % 100_000_000
    return f"+86{prefix}{suffix:08d}"


@cache
def _landline_digits(area: str) -> int:
    """Local numbers have 8 digits in most big cities and 7 in some (厦门, 南宁…): ask phonenumbers once."""
    import phonenumbers

    for digits in (8, 7):
        if phonenumbers.is_valid_number(phonenumbers.parse(f"+86{area}6" + "1" * (digits - 1))):
            return digits
    return 8


def landline_number(customer_id: int, area: str) -> str | None:
    """A fixed line in the organisation's city (local numbers 6…, 7… or 8…), unique per id while ids stay
    below 3 × 10^(digits-1); None beyond that."""
    digits = _landline_digits(area)
    block = 10 ** (digits - 1)
    space = 3 * block
    if customer_id >= space:
        return None
    p = (customer_id * 7_919 + 1_301) % space
    return f"+86{area}{6 + p // block}{p % block:0{digits - 1}d}"


def base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if not n:
            return out


def wechat_openid(rng: random.Random, customer_id: int) -> str:
    """28 characters like a real openid; the id at the end keeps it unique."""
    return "o" + "".join(rng.choices(_OPENID_CHARS, k=17)) + base36(customer_id).rjust(10, "0")


def address_form(name: str, title: str, kind: str) -> str:
    """How staff address the customer: 张先生, 王女士, 李主任; empty for an organisation."""
    if kind == "organisation" or not name:
        return ""
    suffix = _TITLE_ADDRESS.get(title) or ("女士" if name[1:] in corpus.FEMALE_GIVEN else "先生")
    return name[0] + suffix


_TITLE_ADDRESS = {t: a for titles in corpus.MEMBER_TITLES.values() for t, a, _w in titles}


def city_of(region: str) -> str:
    return region.rpartition("·")[2] or region or "本地"


# --- JSON as the event log stores it ------------------------------------------------------------------------

_dumps = json.JSONEncoder().encode  # the same text Django's JSONField writes (ensure_ascii, no sort)


def jtext(value):
    """JSON text for a value of the log's ``old``/``new`` columns (None stays SQL NULL, as Django stores it)."""
    if value is None:
        return None
    if type(value) is str:
        return encode_basestring_ascii(value)
    if type(value) is int:
        return str(value)
    return _dumps(value)


# --- time --------------------------------------------------------------------------------------------------

DAY = 86_400.0
HOUR = 3_600.0

# Relative contact volume by local hour of the day.
_HOURLY = (0.05, 0.03, 0.02, 0.02, 0.03, 0.05, 0.1, 0.3, 0.7, 1.0, 1.0, 0.95, 0.6, 0.65, 0.95, 1.0, 0.95,
           0.85, 0.5, 0.4, 0.35, 0.25, 0.15, 0.08)


def _day_factor(day: dt.date) -> float:
    try:
        import chinese_calendar

        holiday, name = chinese_calendar.get_holiday_detail(day)
        if holiday:
            return 0.25 if name else 0.45  # a public holiday / a weekend
        return 1.0  # a working day, including make-up working days (调休)
    except (NotImplementedError, ImportError):
        return 0.45 if day.weekday() >= 5 else 1.0


class CreationTimes:
    """Case creation times over the past ``days``: busier on working days and office hours, growing slowly.

    ``sample(i, n)`` is increasing in ``i`` (stratified sampling through the inverse of the cumulative
    volume), so case ids follow creation order without holding all the times in memory."""

    def __init__(self, now: float, days: int = 365, tz: str = "Asia/Shanghai"):
        zone = ZoneInfo(tz)
        self.start = math.floor((now - days * DAY) / HOUR) * HOUR
        hours = int((now - self.start) // HOUR)
        self.cum: list[float] = []
        total = 0.0
        factors: dict[dt.date, float] = {}
        for h in range(hours):
            local = dt.datetime.fromtimestamp(self.start + h * HOUR, zone)
            day = local.date()
            if day not in factors:
                factors[day] = _day_factor(day)
            growth = 0.8 + 0.4 * h / max(hours, 1)
            total += _HOURLY[local.hour] * factors[day] * growth
            self.cum.append(total)
        self.total = total
        self.end = now - 120  # leave the last two minutes free

    def sample(self, i: int, n: int, rng: random.Random) -> float:
        target = (i + rng.random()) / n * self.total
        h = min(bisect_right(self.cum, target), len(self.cum) - 1)
        below = self.cum[h - 1] if h else 0.0
        width = self.cum[h] - below or 1.0
        return min(self.start + (h + (target - below) / width) * HOUR, self.end)


# --- customers --------------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = (
    "id", "kind", "name", "org_type", "organisation_id", "title", "region", "birthday", "grade_id",
    "grade_source", "grade_reason", "grade_set_at", "needs", "preferences", "expectations", "purchase_reasons",
    "non_purchase_reasons", "lifetime_value", "consent_service", "consent_marketing", "consent_survey",
    "consent_updated_at", "created_at", "updated_at", "last_contact_at", "erased_at",
)
CUSTOMER_TIMES = ("grade_set_at", "consent_updated_at", "created_at", "updated_at", "last_contact_at",
                  "erased_at")
IDENTITY_COLUMNS = ("customer_id", "channel", "value", "is_primary", "verified", "created_at")
EVENT_COLUMNS = ("at", "actor_id", "actor_kind", "actor_label", "verb", "subject_type", "subject_id", "case_id",
                 "customer_id", "field", "old", "new", "data")

ORG_TYPES = (("hospital", 35), ("clinic", 8), ("pharmacy", 42), ("distributor", 15))
GRADE_SHARES = {  # share of customers per grade, by segment
    SEG_HOSPITAL: (("A", 25), ("B", 35), ("C", 28), ("D", 12)),
    SEG_TRADE: (("A", 15), ("B", 30), ("C", 35), ("D", 20)),
    SEG_CONSUMER: (("A", 4), ("B", 16), ("C", 42), ("D", 38)),
}
LTV = {"A": (200_000, 2_000_000), "B": (50_000, 300_000), "C": (5_000, 60_000), "D": (0, 8_000)}
CONSUMER_LTV = {"A": (5_000, 30_000), "B": (1_500, 8_000), "C": (200, 2_000), "D": (0, 300)}

Actor = tuple  # (user id or None, actor kind, label)
SYSTEM: Actor = (None, "system", "")


def staff_actor(user) -> Actor:
    return (user.pk, "staff", (user.display_name or user.username)[:150])


def event_row(at: float, actor: Actor, verb: str, subject_type: str, subject_id: int, case_id, customer_id,
              field: str = "", old=None, new=None, data=None, data_text: str | None = None) -> tuple:
    return (at, actor[0], actor[1], actor[2], verb, subject_type, subject_id, case_id, customer_id, field,
            jtext(old), jtext(new), data_text or _dumps(data or {}))


def _pick(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[-1] for p in pairs])[0]


@dataclass
class Org:
    id: int
    segment: int
    org_type: str
    city: int
    name: str


@dataclass
class CustomerRows:
    customer: tuple
    identities: list[tuple]
    tags: list[tuple]
    events: list[tuple]
    grade: str
    meta: int


class CustomerMaker:
    """Makes customer ``i`` of ``total`` (organisations first, then their people, patients and consumers)."""

    def __init__(self, rng: random.Random, *, now: float, total: int, grade_ids: dict[str, int],
                 tag_ids: dict[str, int], actor: Actor):
        self.rng = rng
        self.now = now
        self.total = total
        self.grade_ids = grade_ids
        self.tag_ids = tag_ids
        self.actor = actor
        self.n_orgs = 0 if total < 10 else max(2, round(total * 0.08))
        self.orgs: list[Org] = []
        self._surname_w = [w for _s, _p, w in corpus.SURNAMES]
        self._city_w = corpus.CITY_WEIGHTS

    # names ----------------------------------------------------------------------------------------------
    def person_name(self) -> tuple[str, str, str, str]:
        """(name, surname pinyin, given pinyin, gender)"""
        rng = self.rng
        surname, s_py, _w = rng.choices(corpus.SURNAMES, weights=self._surname_w)[0]
        female = rng.random() < 0.5
        given, g_py = rng.choice(corpus.GIVEN_FEMALE if female else corpus.GIVEN_MALE)
        return surname + given, s_py, g_py, "f" if female else "m"

    def org_name(self, org_type: str, city_idx: int) -> tuple[str, str]:
        rng = self.rng
        city, _prov, _area, districts = corpus.CITIES[city_idx]
        values = {"city": city, "district": rng.choice(districts), "nth": rng.choice(corpus.NTH[:4]),
                  "street": rng.choice(corpus.STREETS), "surname": rng.choice(corpus.SURNAMES)[0],
                  "word": rng.choice(corpus.PHARMACY_WORDS)}
        if org_type == "hospital":
            pattern, level, _w = rng.choices(corpus.HOSPITAL_PATTERNS,
                                             weights=[w for *_x, w in corpus.HOSPITAL_PATTERNS])[0]
            return pattern.format(**values), level
        if org_type == "clinic":
            return rng.choice(corpus.CLINIC_PATTERNS).format(**values), "社区医疗"
        if org_type == "pharmacy":
            if rng.random() < 0.7:
                chain = rng.choice(corpus.PHARMACY_CHAINS)
                return f"{chain}({city}{values['street']}店)", "连锁药店"
            return rng.choice(corpus.SINGLE_PHARMACY).format(**values), "单体药店"
        word = rng.choice(corpus.DISTRIBUTOR_WORDS)
        level = "一级经销商" if rng.random() < 0.35 else "二级经销商"
        return f"{city}{word}医药有限公司", level

    # one customer ---------------------------------------------------------------------------------------
    def make(self, index: int, cid: int) -> CustomerRows:
        rng = self.rng
        created = self.now - rng.uniform(366 * DAY, 3 * 365 * DAY)
        identities: list[tuple] = []
        tags: list[str] = []
        meta = 0
        org_id = None
        birthday = None
        title = ""
        org_type = ""
        if index < self.n_orgs:
            kind = "organisation"
            org_type = _pick(rng, ORG_TYPES)
            segment = SEG_HOSPITAL if org_type in ("hospital", "clinic") else SEG_TRADE
            city_idx = rng.choices(range(len(corpus.CITIES)), weights=self._city_w)[0]
            name, level = self.org_name(org_type, city_idx)
            tags.append(level)
            self.orgs.append(Org(cid, segment, org_type, city_idx, name))
            local = f"service{cid}" if segment == SEG_TRADE else f"yaojuke{cid}"
            identities.append(("email", f"{local}@org{cid}.example.com"))
            meta |= HAS_EMAIL
            phone = landline_number(cid, corpus.CITIES[city_idx][2])
            if phone:
                identities.insert(0, ("phone", phone))
        else:
            kind = "person"
            name, s_py, g_py, gender = self.person_name()
            member = self.orgs and rng.random() < 0.35
            if member:
                org = rng.choice(self.orgs)
                org_id = org.id
                segment = org.segment
                city_idx = org.city
                titles = corpus.MEMBER_TITLES[org.org_type]
                title = rng.choices([t for t, _a, _w in titles], weights=[w for *_x, w in titles])[0]
                identities.append(("phone", mobile_number(cid)))
                if rng.random() < 0.7:
                    identities.append(("email", f"{g_py}.{s_py}{cid}@org{org.id}.example.com"))
                    meta |= HAS_EMAIL
                if rng.random() < 0.5:
                    identities.append(("wechat_openid", wechat_openid(rng, cid)))
                    meta |= HAS_WECHAT
            else:
                segment = SEG_CONSUMER
                city_idx = rng.choices(range(len(corpus.CITIES)), weights=self._city_w)[0]
                title = _pick(rng, corpus.CONSUMER_TITLES)
                if rng.random() < 0.6:
                    birthday = f"{rng.randint(1940, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                if rng.random() < 0.97:
                    identities.append(("phone", mobile_number(cid)))
                if rng.random() < 0.65:
                    identities.append(("wechat_openid", wechat_openid(rng, cid)))
                    meta |= HAS_WECHAT
                if rng.random() < 0.2 or not identities:
                    domain = rng.choice(("example.com", "example.net", "example.org"))
                    identities.append(("email", f"{g_py}.{s_py}{cid}@{domain}"))
                    meta |= HAS_EMAIL
                tags.extend(rng.sample(("慢病患者", "糖尿病", "高血压", "过敏性疾病", "医保患者", "价格敏感"),
                                       k=rng.choice((0, 1, 1, 2))))
        meta |= segment
        seg_name = SEGMENTS[segment]
        city, province = corpus.CITIES[city_idx][0], corpus.CITIES[city_idx][1]
        region = city if city == province else f"{province}·{city}"

        # Grade: the first customers of a run cover every grade; most grades are computed, some set by hand.
        grade = "ABCD"[index % 4] if index < 4 or self.n_orgs <= index < self.n_orgs + 4 else \
            _pick(rng, GRADE_SHARES[segment])
        reason = rng.choice(corpus.GRADE_REASONS[seg_name][grade]).format(
            x=rng.randint(20, 900), p=rng.randint(5, 60), n=rng.randint(3, 300))
        manual = rng.random() < 0.3
        grade_at = created if manual else created + rng.uniform(DAY, 30 * DAY)
        if grade == "A":
            tags.append(rng.choice(("高价值", "VIP", "学术合作" if segment == SEG_HOSPITAL else "高价值")))
        if grade == "D" and rng.random() < 0.4:
            tags.append(rng.choice(("新客户", "流失风险")))
        if rng.random() < 0.05:
            tags.append(rng.choice(("投诉敏感", "意见领袖", "冷链产品", "DTP药房")))

        ltv_range = (CONSUMER_LTV if segment == SEG_CONSUMER else LTV)[grade]
        marketing = rng.random() < 0.4
        row = (
            cid, kind, name, org_type, org_id, title, region, birthday, self.grade_ids[grade],
            "manual" if manual else "computed", reason, grade_at,
            self._note(corpus.NEEDS[seg_name], 0.75), self._note(corpus.PREFERENCES[seg_name], 0.6),
            self._note(corpus.EXPECTATIONS[seg_name], 0.6), self._note(corpus.PURCHASE_REASONS, 0.5),
            self._note(corpus.NON_PURCHASE_REASONS, 0.15),
            Decimal(rng.randint(*ltv_range)).quantize(Decimal("0.01")),
            True, marketing, rng.random() < 0.85, created if marketing else None,
            created, grade_at, None, None,
        )
        idents = [(cid, ch, value, i == 0, ch == "phone" and rng.random() < 0.5, created)
                  for i, (ch, value) in enumerate(identities)]
        tag_rows = [(cid, self.tag_ids[t]) for t in dict.fromkeys(tags) if t in self.tag_ids]
        events = [event_row(created, self.actor, "customer.created", "customer", cid, None, cid,
                            data={"name": name, "kind": kind})]
        if not manual:
            events.append(event_row(grade_at, SYSTEM, "customer.grade_changed", "customer", cid, None, cid,
                                    field="grade", old=None, new=grade,
                                    data={"reason": reason, "source": "computed"}))
        return CustomerRows(row, idents, tag_rows, events, grade, meta)

    def _note(self, options, p: float) -> str:
        rng = self.rng
        if rng.random() >= p:
            return ""
        return ";".join(rng.sample(options, k=min(len(options), rng.choice((1, 1, 2)))))


# --- cases: a mirror of kefu.cases.services --------------------------------------------------------------

CASE_COLUMNS = (
    "id", "subject", "type_id", "stage", "channel", "status", "priority", "customer_id", "assignee_id", "team_id",
    "created_by_id", "merged_into_id", "created_at", "updated_at", "first_response_at",
    "last_customer_message_at", "last_staff_message_at", "solved_at", "closed_at", "first_response_due_at",
    "next_response_due_at", "resolution_due_at", "transfer_count", "reopen_count", "message_count",
)
CASE_TIMES = ("created_at", "updated_at", "first_response_at", "last_customer_message_at",
              "last_staff_message_at", "solved_at", "closed_at", "first_response_due_at", "next_response_due_at",
              "resolution_due_at")
MESSAGE_COLUMNS = ("id", "case_id", "kind", "channel", "body", "author_id", "customer_id", "external_id",
                   "delivery", "created_at")
MESSAGE_TIMES = ("created_at",)

NEW, OPEN, PENDING, ON_HOLD, SOLVED, CLOSED = "new", "open", "pending", "on_hold", "solved", "closed"
CUSTOMER, STAFF, NOTE = "customer", "staff", "note"


class InvalidPlan(Exception):
    """A planned history broke a rule of the services; a bug in the planner, never data."""


@dataclass
class CaseSim:
    """One case as the services would build it. Methods are the service functions; rows accumulate."""

    id: int
    subject: str
    type_code: str
    type_id: int
    stage: str
    channel: str
    priority: str
    customer_id: int
    team_id: int | None
    take_message_id: object
    messages: list = field(default_factory=list)
    events: list = field(default_factory=list)
    departments: list = field(default_factory=list)
    status: str = NEW
    assignee_id: int | None = None
    created_by_id: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    first_response_at: float | None = None
    last_customer_message_at: float | None = None
    last_staff_message_at: float | None = None
    solved_at: float | None = None
    closed_at: float | None = None
    transfer_count: int = 0
    reopen_count: int = 0
    message_count: int = 0

    def _event(self, verb: str, actor: Actor, at: float, **kwargs) -> None:
        self.events.append(event_row(at, actor, verb, "case", self.id, self.id, self.customer_id, **kwargs))

    # create_case --------------------------------------------------------------------------------------------
    def create(self, actor: Actor, at: float, body: str, *, assignee_id: int | None = None,
               departments: list[int] = ()) -> None:
        self.assignee_id = assignee_id
        self.status = OPEN if assignee_id else NEW
        self.created_by_id = None if actor[1] == "customer" else actor[0]
        self.created_at = self.updated_at = at
        self._event("case.created", actor, at, data={
            "subject": self.subject, "type": self.type_code, "channel": self.channel, "stage": self.stage,
            "priority": self.priority, "status": self.status, "team": self.team_id, "assignee": assignee_id})
        if departments:
            self.departments = sorted(departments)
            self._event("case.departments_changed", actor, at, field="departments", old=[], new=self.departments)
        self._insert_message(actor, CUSTOMER, body, self.channel, at)
        self._count_message(CUSTOMER, at)

    # add_message ----------------------------------------------------------------------------------------
    def _insert_message(self, actor: Actor, kind: str, body: str, channel: str, at: float) -> None:
        mid = self.take_message_id()
        author = actor[0] if actor[1] == "staff" else None
        self.messages.append((mid, self.id, kind, channel, body, author,
                              self.customer_id if kind == CUSTOMER else None, "", "", at))
        # The text json.dumps({"message": mid, "kind": kind, "channel": channel}) gives, made faster.
        self._event("message.added", actor, at,
                    data_text=f'{{"message": {mid}, "kind": "{kind}", "channel": "{channel}"}}')

    def _count_message(self, kind: str, at: float) -> None:
        self.message_count += 1
        if kind == CUSTOMER:
            self.last_customer_message_at = at
        elif kind == STAFF:
            self.last_staff_message_at = at
            if self.first_response_at is None and self.last_customer_message_at is not None:
                self.first_response_at = at

    def message(self, actor: Actor, kind: str, body: str, at: float) -> None:
        if self.status == CLOSED:
            raise InvalidPlan(f"message on closed case {self.id}")
        self.updated_at = at
        self._insert_message(actor, kind, body, self.channel, at)
        self._count_message(kind, at)
        if kind == CUSTOMER and self.status in (PENDING, SOLVED):
            self._apply_status(actor, OPEN, at, "message")
        elif kind == STAFF and self.status == NEW:
            self._apply_status(actor, OPEN, at, "message")

    # change_status --------------------------------------------------------------------------------------
    def _apply_status(self, actor: Actor, new: str, at: float, reason: str = "") -> None:
        old = self.status
        if new == old:
            return
        if new not in TRANSITIONS[old]:
            raise InvalidPlan(f"case {self.id}: {old} -> {new}")
        self._event("case.status_changed", actor, at, field="status", old=old, new=new,
                    data_text=f'{{"reason": "{reason}"}}' if reason else "{}")
        self.status = new
        if new == SOLVED:
            self.solved_at = at
        elif new == CLOSED:
            self.closed_at = at
        elif old == SOLVED:
            self.reopen_count += 1
            self.solved_at = None
            self._event("case.reopened", actor, at, data={"reopens": self.reopen_count})
        self.updated_at = at

    def change_status(self, actor: Actor, new: str, at: float, reason: str = "") -> None:
        self._apply_status(actor, new, at, reason)

    # assign / transfer / departments / update_case ------------------------------------------------------
    def assign(self, actor: Actor, assignee_id: int, at: float) -> None:
        if self.status == CLOSED or self.assignee_id == assignee_id:
            raise InvalidPlan(f"case {self.id}: assign")
        self._event("case.assigned", actor, at, field="assignee", old=self.assignee_id, new=assignee_id)
        if self.assignee_id is not None:
            self.transfer_count += 1
            self._event("case.transferred", actor, at, data={
                "from_assignee": self.assignee_id, "to_assignee": assignee_id, "from_team": self.team_id,
                "to_team": self.team_id, "transfers": self.transfer_count})
        self.assignee_id = assignee_id
        if self.status == NEW:
            self._apply_status(actor, OPEN, at, "assigned")
        self.updated_at = at

    def transfer(self, actor: Actor, team_id: int, assignee_id: int | None, reason: str, at: float) -> None:
        if self.status == CLOSED or (self.team_id == team_id and self.assignee_id == assignee_id):
            raise InvalidPlan(f"case {self.id}: transfer")
        counted = self.team_id is not None or self.assignee_id is not None
        if counted:
            self.transfer_count += 1
        self._event("case.transferred", actor, at, data={
            "from_team": self.team_id, "to_team": team_id, "from_assignee": self.assignee_id,
            "to_assignee": assignee_id, "reason": reason, "counted": counted, "transfers": self.transfer_count})
        if self.team_id != team_id:
            self._event("case.team_changed", actor, at, field="team", old=self.team_id, new=team_id)
        if self.assignee_id != assignee_id:
            self._event("case.assigned", actor, at, field="assignee", old=self.assignee_id, new=assignee_id)
        self.team_id = team_id
        self.assignee_id = assignee_id
        self.updated_at = at

    def set_departments(self, actor: Actor, departments: list[int], at: float) -> None:
        new = sorted(set(departments))
        if self.status == CLOSED or new == self.departments:
            raise InvalidPlan(f"case {self.id}: departments")
        self._event("case.departments_changed", actor, at, field="departments", old=self.departments, new=new)
        self.departments = new
        self.updated_at = at

    def update_priority(self, actor: Actor, priority: str, at: float) -> None:
        if self.status == CLOSED or priority == self.priority:
            raise InvalidPlan(f"case {self.id}: priority")
        self._event("case.updated", actor, at, field="priority", old=self.priority, new=priority)
        self.priority = priority
        self.updated_at = at

    def row(self) -> tuple:
        return (self.id, self.subject, self.type_id, self.stage, self.channel, self.status, self.priority,
                self.customer_id, self.assignee_id, self.team_id, self.created_by_id, None, self.created_at,
                self.updated_at, self.first_response_at, self.last_customer_message_at,
                self.last_staff_message_at, self.solved_at, self.closed_at, None, None, None,
                self.transfer_count, self.reopen_count, self.message_count)


# --- cases: what happens ------------------------------------------------------------------------------------

TYPE_CODES = ("inquiry", "complaint", "return", "refund", "exchange", "after_sale", "suggestion", "praise")
CHANNELS = ("phone", "wechat", "email", "portal", "api", "walk_in")
PRIORITIES = ("low", "normal", "high", "urgent")
STAGES = ("pre_sale", "in_sale", "after_sale")
TYPE_WEIGHTS = {
    SEG_HOSPITAL: (35, 12, 5, 3, 6, 28, 5, 6),
    SEG_TRADE: (25, 18, 15, 10, 10, 15, 4, 3),
    SEG_CONSUMER: (45, 14, 6, 7, 4, 8, 8, 8),
}
CHANNEL_WEIGHTS = {
    SEG_HOSPITAL: (30, 20, 30, 10, 5, 5),
    SEG_TRADE: (35, 30, 15, 10, 8, 2),
    SEG_CONSUMER: (40, 38, 5, 12, 2, 3),
}
PRIORITY_WEIGHTS = {"normal": (15, 62, 17, 6), "high": (5, 40, 40, 15)}
CASE_GRADE_WEIGHTS = (("A", 25), ("B", 30), ("C", 28), ("D", 17))
TRACKING_PREFIX = {"顺丰速运": "SF", "京东物流": "JDV", "中国邮政EMS": "EM", "德邦快递": "DPK", "中通快递": "ZT",
                   "圆通速递": "YT"}


# Share of solved cases answered completely in the first reply, by type (for scenarios that allow it).
FIRST_CONTACT_RESOLUTION = {"inquiry": 0.75, "praise": 0.8, "suggestion": 0.6, "after_sale": 0.6,
                            "complaint": 0.0, "return": 0.6, "refund": 0.0, "exchange": 0.0}


def target_status(rng: random.Random, age_days: float) -> str:
    """The status a case of this age is in now."""
    if age_days < 0.05:
        table = ((NEW, 60), (OPEN, 40))
    elif age_days < 2:
        table = ((NEW, 15), (OPEN, 35), (PENDING, 15), (ON_HOLD, 15), (SOLVED, 20))
    elif age_days < 7:
        table = ((NEW, 3), (OPEN, 15), (PENDING, 12), (ON_HOLD, 12), (SOLVED, 45), (CLOSED, 13))
    elif age_days < 30:
        table = ((OPEN, 4), (PENDING, 3), (ON_HOLD, 4), (SOLVED, 9), (CLOSED, 80))
    else:
        table = ((OPEN, 1), (PENDING, 0.5), (ON_HOLD, 0.8), (SOLVED, 0.7), (CLOSED, 97))
    return _pick(rng, table)


@dataclass
class CustomerInfo:
    """What a case needs to know about its customer (read from the database for each batch)."""

    id: int
    name: str
    title: str
    kind: str
    region: str
    organisation: str


@dataclass
class Staffing:
    """Ids and names of the demo staff the histories use (from ``centre.CentreRefs``)."""

    team_ids: dict[str, int]
    team_agents: dict[str, list[Actor]]
    team_leads: dict[str, Actor]
    department_ids: dict[str, int]
    department_names: dict[str, str]
    department_contacts: dict[str, Actor]
    type_ids: dict[str, int]

    @classmethod
    def from_refs(cls, refs, type_ids: dict[str, int]) -> Staffing:
        return cls(
            team_ids={k: t.pk for k, t in refs.teams.items()},
            team_agents={k: [staff_actor(u) for u in users] for k, users in refs.team_agents.items()},
            team_leads={k: staff_actor(u) for k, u in refs.team_leads.items()},
            department_ids={k: d.pk for k, d in refs.departments.items()},
            department_names={k: d.name for k, d in refs.departments.items()},
            department_contacts={k: staff_actor(u) for k, u in refs.department_contacts.items()},
            type_ids=type_ids,
        )


class CasePlanner:
    """Plans case ``i`` of ``n``: its customer, type, channel, conversation and every step until now."""

    def __init__(self, rng: random.Random, *, now: float, times: CreationTimes, staffing: Staffing):
        self.rng = rng
        self.now = now
        self.times = times
        self.st = staffing
        self._scenarios = {
            (code, seg): [s for s in corpus.SCENARIOS[code] if SEGMENTS[seg] in s["segments"]]
            or corpus.SCENARIOS[code]
            for code in TYPE_CODES for seg in (SEG_HOSPITAL, SEG_TRADE, SEG_CONSUMER)
        }

    def choose(self, i: int, n: int, segment: int, meta: int, grade: str) -> dict:
        """The facts of case ``i`` that do not depend on the customer's name (chosen before reading it)."""
        rng = self.rng
        t0 = self.times.sample(i, n, rng)
        type_code = TYPE_CODES[i] if i < len(TYPE_CODES) else \
            rng.choices(TYPE_CODES, weights=TYPE_WEIGHTS[segment])[0]
        scenario = rng.choice(self._scenarios[(type_code, segment)])
        channel = CHANNELS[i] if i < len(CHANNELS) else rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS[segment])[0]
        if (channel == "wechat" and not meta & HAS_WECHAT) or (channel == "email" and not meta & HAS_EMAIL):
            channel = "phone" if i >= len(CHANNELS) else channel
        stage = STAGES[i % 3] if i < 3 else rng.choices(STAGES, weights=scenario["stage"])[0]
        priority = PRIORITIES[i % 4] if i < 4 else \
            rng.choices(PRIORITIES, weights=PRIORITY_WEIGHTS[scenario.get("priority", "normal")])[0]
        if grade == "A" and priority in ("low", "normal") and rng.random() < 0.3:
            priority = "high"
        # The newest cases of a run cover every open status (a phone call is never "new": an agent took it).
        forced = (NEW, OPEN, PENDING, ON_HOLD, SOLVED)
        if n >= 20 and i >= n - len(forced):
            status = forced[i - (n - len(forced))]
            if status == NEW and channel in ("phone", "walk_in"):
                channel = "portal"
        else:
            status = target_status(rng, (self.now - t0) / DAY)
        return {"t0": t0, "type": type_code, "scenario": scenario, "channel": channel, "stage": stage,
                "priority": priority, "status": status, "segment": segment}

    # texts ----------------------------------------------------------------------------------------------
    def _context(self, facts: dict, cust: CustomerInfo, agent: Actor) -> dict:
        rng = self.rng
        product = rng.choice(corpus.PRODUCTS)
        carrier = rng.choice(corpus.CARRIERS)
        t0 = dt.datetime.fromtimestamp(facts["t0"], dt.UTC) + dt.timedelta(hours=8)
        earlier = t0 - dt.timedelta(days=rng.randint(3, 12))
        depts = facts["scenario"]["depts"]
        return {
            "product": product[0], "usage": product[1], "insurance": product[2] or "非医保",
            "order": f"KT{earlier:%Y%m%d}{rng.randrange(1_000_000):06d}",
            "batch": f"{(earlier.year - 1) % 100:02d}{rng.randint(1, 12):02d}{rng.randrange(1000):03d}",
            "carrier": carrier, "tracking": f"{TRACKING_PREFIX[carrier]}{rng.randrange(10**12):012d}",
            "days": rng.randint(4, 12), "qty": rng.randint(2, 60),
            "amount": f"{rng.randint(3, 9000) * product[5] // 10 + 10:,}", "ret": f"{rng.randrange(10**6):06d}",
            "pv": f"{rng.randrange(10**5):05d}", "symptom": rng.choice(corpus.SYMPTOMS),
            "agent": agent[2], "addr": address_form(cust.name, cust.title, cust.kind),
            "org": cust.organisation or (cust.name if cust.kind == "organisation" else "我们单位"),
            "city": city_of(cust.region), "company": corpus.COMPANY, "hotline": corpus.HOTLINE,
            "date": f"{earlier.month}月{earlier.day}日",
            "dept": self.st.department_names.get(depts[0], "相关部门") if depts else "相关部门",
        }

    def _text(self, scenario: dict, slot: str, ctx: dict) -> str:
        options = scenario.get(slot) or corpus.GENERIC[slot]
        return self.rng.choice(options).format_map(ctx)

    # the history ---------------------------------------------------------------------------------------
    def build(self, case_id: int, facts: dict, cust: CustomerInfo, take_message_id) -> CaseSim:
        rng = self.rng
        st = self.st
        scenario = facts["scenario"]
        channel = facts["channel"]
        team_key = SEGMENT_TEAM[facts["segment"]]
        if facts["type"] == "complaint" and rng.random() < 0.6:
            team_key = "complaints"
        agent = rng.choice(st.team_agents[team_key])
        if rng.random() < 0.08:
            agent = st.team_leads[team_key]
        ctx = self._context(facts, cust, agent)
        if facts["type"] == "praise":
            ctx["agent"] = rng.choice(st.team_agents["hotline"])[2]
        subject = self._text(scenario, "subject", ctx)[:200]
        case = CaseSim(id=case_id, subject=subject, type_code=facts["type"], type_id=st.type_ids[facts["type"]],
                       stage=facts["stage"], channel=channel, priority=facts["priority"], customer_id=cust.id,
                       team_id=st.team_ids[team_key], take_message_id=take_message_id)
        # Who records the customer's words: the customer on written channels, the agent who takes the call
        # or the visit (and owns the case from the start), the integration (system) through the API.
        staff_logged = channel in ("phone", "walk_in")
        voice: Actor = agent if staff_logged else SYSTEM if channel == "api" else (None, "customer", cust.name[:150])
        prefix = {"phone": "来电:", "walk_in": "到访:"}.get(channel, "")
        steps = self._plan(facts, team_key, agent, voice, staff_logged)
        opening = prefix + self._text(scenario, "open", ctx)
        return self._run(case, facts["t0"], voice, opening, agent if staff_logged else None, steps, agent,
                         scenario, ctx, prefix)

    def _plan(self, facts: dict, team_key: str, agent: Actor, voice: Actor, assigned: bool) -> list:
        """The steps after creation, as (delay in seconds, action, arguments), ending in the target status.

        ``("staff", ...)`` steps are done by whoever handles the case at that moment (a transfer changes it);
        ``("cust", slot)`` is a customer message in the voice chosen at creation."""
        rng = self.rng
        st = self.st
        scenario = facts["scenario"]
        target = facts["status"]
        steps: list[tuple] = []
        add = steps.append
        if target == NEW:
            if rng.random() < 0.3:
                add((rng.uniform(1800, 14400), "cust", "chase"))
            return steps
        first_reply = {"phone": (30, 300), "walk_in": (60, 600), "wechat": (60, 2400), "portal": (300, 10800),
                       "email": (900, 21600), "api": (300, 7200)}[facts["channel"]]
        hurry = 0.5 if facts["priority"] in ("high", "urgent") else 1.0

        if not assigned and rng.random() < 0.85:
            who = st.team_leads[team_key] if rng.random() < 0.4 else agent
            add((rng.uniform(60, 3600) * hurry, "assign", who, agent[0]))
        if target in (SOLVED, CLOSED) and "answer" in scenario \
                and rng.random() < FIRST_CONTACT_RESOLUTION[facts["type"]]:
            # Answered completely in the first reply (一次解决): the most common history of all.
            add((rng.uniform(*first_reply) * hurry, "staff", STAFF, "answer"))
            if rng.random() < 0.3 and facts["channel"] not in ("phone", "walk_in"):
                add((rng.uniform(300, 7200), "cust", "thanks"))
            add((rng.uniform(30, 900), "status", SOLVED))
            if target == CLOSED:
                if rng.random() < 0.7:
                    add((rng.uniform(3 * DAY, 7 * DAY), "system_close"))
                else:
                    add((rng.uniform(HOUR, 3 * DAY), "status", CLOSED))
            return steps
        add((rng.uniform(*first_reply) * hurry, "staff", STAFF, "reply"))
        if rng.random() < 0.05 and facts["priority"] != "urgent":
            up = PRIORITIES[PRIORITIES.index(facts["priority"]) + 1]
            add((rng.uniform(300, 3600), "priority", st.team_leads[team_key], up))
        if rng.random() < 0.2:
            add((rng.uniform(600, 7200), "staff", NOTE, "note"))
        if rng.random() < 0.12:
            if team_key != "complaints" and facts["type"] == "complaint":
                to_key, reasons = "complaints", corpus.TRANSFER_REASONS["complaints"]
            elif rng.random() < 0.5:
                to_key, reasons = team_key, corpus.TRANSFER_REASONS["same"]
            else:
                to_key = rng.choice([k for k in ("hospital", "pharmacy", "hotline") if k != team_key])
                reasons = corpus.TRANSFER_REASONS[to_key]
            add((rng.uniform(600, 7200), "transfer", to_key, rng.choice(reasons)))
            add((rng.uniform(300, 3600), "staff", STAFF, "reply"))
        if target == OPEN and rng.random() < 0.5:
            return steps

        depts = [st.department_ids[d] for d in scenario["depts"]]
        ask = target == PENDING or ("ask" in scenario and rng.random() < 0.5) or rng.random() < 0.1
        hold = target == ON_HOLD or (bool(depts) and rng.random() < 0.65)
        if ask:
            add((rng.uniform(300, 3600), "staff", STAFF, "ask"))
            add((rng.uniform(5, 60), "status", PENDING))
            if target == PENDING and not hold:
                return steps
            add((rng.uniform(1800, 2 * DAY), "cust", "info"))
        if hold:
            if depts:
                add((rng.uniform(60, 1800), "departments", depts))
            add((rng.uniform(10, 300), "staff", NOTE, "hold"))
            add((rng.uniform(5, 60), "status", ON_HOLD))
            if rng.random() < 0.25:
                add((rng.uniform(4 * HOUR, DAY), "cust", "chase"))
            if target == ON_HOLD:
                return steps
            contact = st.department_contacts.get(scenario["depts"][0]) if depts else None
            add((rng.uniform(HOUR, 3 * DAY) * hurry, "note_by", contact or st.team_leads[team_key], "back"))
            add((rng.uniform(300, 3600), "status", OPEN))
            add((rng.uniform(60, 900), "staff", STAFF, "update"))
        if target == PENDING:
            add((rng.uniform(300, 3600), "staff", STAFF, "ask"))
            add((rng.uniform(5, 60), "status", PENDING))
            return steps
        if target == OPEN:
            return steps

        add((rng.uniform(1800, 2 * DAY) * hurry, "staff", STAFF, "resolve"))
        if rng.random() < 0.5:
            add((rng.uniform(300, 7200), "cust", "thanks"))
        add((rng.uniform(60, 1800), "status", SOLVED))
        if rng.random() < 0.07:
            add((rng.uniform(DAY / 2, 3 * DAY), "cust", "reopen"))
            add((rng.uniform(600, 7200), "staff", STAFF, "reopen_reply"))
            add((rng.uniform(HOUR, DAY), "staff", STAFF, "resolve"))
            add((rng.uniform(60, 600), "status", SOLVED))
        if target == CLOSED:
            if rng.random() < 0.7:
                add((rng.uniform(3 * DAY, 7 * DAY), "system_close"))
            else:
                add((rng.uniform(HOUR, 3 * DAY), "status", CLOSED))
        return steps

    def _run(self, case: CaseSim, t0: float, voice: Actor, opening: str, assignee: Actor | None, steps: list,
             agent: Actor, scenario: dict, ctx: dict, prefix: str) -> CaseSim:
        """Place the steps in time (squeezed so the last one is before now) and apply them to the case."""
        rng = self.rng
        st = self.st
        total = sum(s[0] for s in steps)
        room = self.now - 60 - t0
        factor = min(1.0, room / total) if total > 0 else 1.0
        case.create(voice, t0, opening, assignee_id=assignee[0] if assignee else None)
        handler = agent
        signature = f"\n\n{corpus.COMPANY}客户服务中心 {{agent}}\n服务热线 {corpus.HOTLINE}"
        t = t0
        for delay, action, *args in steps:
            t += max(delay * factor, 1.0)
            if t >= self.now - 1:
                break  # a prefix of a valid history is a valid history
            if action == "staff":
                kind, slot = args
                body = self._text(scenario, slot, ctx)
                if kind == STAFF and case.channel == "email":
                    body += signature.format(agent=handler[2])
                case.message(handler, kind, body, t)
            elif action == "cust":
                case.message(voice if voice[1] != "staff" else handler, CUSTOMER,
                             prefix + self._text(scenario, args[0], ctx), t)
            elif action == "status":
                case.change_status(handler, args[0], t)
            elif action == "system_close":
                case.change_status(SYSTEM, CLOSED, t, "auto_close")
            elif action == "note_by":
                case.message(args[0], NOTE, self._text(scenario, args[1], ctx), t)
            elif action == "departments":
                case.set_departments(handler, args[0], t)
            elif action == "assign":
                case.assign(args[0], args[1], t)
            elif action == "priority":
                case.update_priority(args[0], args[1], t)
            elif action == "transfer":
                to_key, reason = args
                candidates = [a for a in st.team_agents[to_key] if a[0] != case.assignee_id]
                new_handler = rng.choice(candidates) if candidates else st.team_leads[to_key]
                to_team = st.team_ids[to_key]
                if to_team == case.team_id:
                    case.assign(st.team_leads[to_key], new_handler[0], t)
                else:
                    case.transfer(handler, to_team, new_handler[0], reason, t)
                handler = new_handler
                ctx["agent"] = handler[2]
        return case
