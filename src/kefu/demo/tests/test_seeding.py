"""The bulk seeder keeps the invariants of the services (docs/adr/0002-bulk-seeding.md), on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from kefu.cases import services as case_services
from kefu.cases.models import Case, CaseType, Channel, Message, Priority, Stage, Status
from kefu.core.models import Event
from kefu.customers.identities import normalize_phone
from kefu.customers.models import Customer, Grade
from kefu.demo import centre, generator, story
from kefu.demo.seeding import Seeder, SeedError

from .invariants import case_problems, customer_problems

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(db):
    batches = []
    seeder = Seeder(seed=7, batch=97, on_batch=[batches.append])  # an odd batch size: several batches
    stats = seeder.run(customers=160, cases=700)
    return seeder, stats, batches


def test_seeded_cases_and_customers_keep_the_service_invariants(seeded):
    _seeder, stats, _batches = seeded
    assert stats.customers == 160 and stats.cases == 700
    assert Case.objects.count() == 700
    assert Customer.objects.count() == 160
    assert Message.objects.count() == stats.messages
    assert case_problems() == []
    assert customer_problems() == []


def test_seeded_data_covers_every_grade_type_channel_stage_priority_and_status(seeded):
    assert set(Customer.objects.values_list("grade__code", flat=True)) == set(
        Grade.objects.values_list("code", flat=True))
    assert set(Case.objects.values_list("type__code", flat=True)) == set(generator.TYPE_CODES)
    assert set(Case.objects.values_list("channel", flat=True)) == set(Channel.values) - {""}
    assert set(Case.objects.values_list("stage", flat=True)) == set(Stage.values)
    assert set(Case.objects.values_list("priority", flat=True)) == set(Priority.values)
    assert set(Case.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Customer.objects.values_list("org_type", flat=True)) >= {"hospital", "pharmacy", "distributor"}
    assert Customer.objects.filter(organisation__isnull=False).exists()
    assert Case.objects.filter(transfer_count__gt=0).exists()
    assert Case.objects.filter(reopen_count__gt=0).exists()
    assert Case.objects.filter(departments__isnull=False).exists()
    assert Message.objects.filter(kind=Message.Kind.NOTE).exists()


def test_seeded_times_lie_in_the_past_twelve_months(seeded):
    seeder, _stats, _batches = seeded
    oldest = Case.objects.order_by("created_at").first().created_at.timestamp()
    newest = Event.objects.filter(case_id__isnull=False).order_by("-at").first().at.timestamp()
    assert seeder.now - 366 * 86400 < oldest
    assert newest < seeder.now
    # ids follow creation order, as they would in a live system
    created = list(Case.objects.order_by("id").values_list("created_at", flat=True))
    assert created == sorted(created)


def test_identities_are_valid_and_normalised(seeded):
    phones = list(Customer.objects.filter(identities__channel="phone").values_list("identities__value", flat=True))
    assert phones
    for phone in phones:
        assert normalize_phone(phone) == phone
    for customer_id in (1, 2, 31, 10_000, 123_456_789):
        assert normalize_phone(generator.mobile_number(customer_id)) == generator.mobile_number(customer_id)
    numbers = {generator.mobile_number(i) for i in range(20_000)}
    assert len(numbers) == 20_000  # unique per id
    for _city, _province, area, _districts in generator.corpus.CITIES:
        assert normalize_phone(generator.landline_number(12_345, area))


def test_events_have_the_shapes_the_services_write(seeded, centre):
    """Work a case through the services, then compare each verb's shape with the seeded ones."""
    c = centre
    case = case_services.create_case(c.zhangdoctor, customer=c.zhangdoctor, subject="说明书", type=c.inquiry,
                                     channel="email", team=c.hospital_team, body="请发说明书",
                                     departments=[c.quality_dept])
    case_services.assign(c.zhaolead, case, c.xiaowang)
    case_services.assign(c.zhaolead, case, c.zhaolead)
    case_services.add_message(c.zhaolead, case, kind="staff", body="好的")
    case_services.add_message(c.zhaolead, case, kind="note", body="已转医学部")
    case_services.update_case(c.zhaolead, case, priority="high")
    case_services.change_status(c.zhaolead, case, "pending")
    case_services.add_message(c.zhangdoctor, case, kind="customer", body="收到")
    case_services.set_departments(c.zhaolead, case, [c.quality_dept, c.logistics_dept])
    case_services.transfer(c.zhaolead, case, team=c.hotline_team, assignee=c.xiaoli, reason="转热线")
    case_services.change_status(c.xiaoli, case, "solved")
    case_services.add_message(c.zhangdoctor, case, kind="customer", body="还有问题")
    case_services.change_status(c.xiaoli, case, "solved")
    case_services.change_status(None, case, "closed", reason="auto_close")

    def shapes(events):
        out = {}
        for e in events:
            out.setdefault(e.verb, set()).add((e.subject_type, e.field, tuple(sorted(e.data)), e.actor_kind))
        return out

    service = shapes(Event.objects.filter(case_id=case.pk))
    seeded_shapes = shapes(Event.objects.filter(case_id__isnull=False).exclude(case_id=case.pk))
    for verb, forms in seeded_shapes.items():
        assert verb in service, verb
        service_forms = {f[:3] for f in service[verb]}
        assert {f[:3] for f in forms} <= service_forms, verb
    assert set(seeded_shapes) == set(service)
    assert case_problems([case.pk]) == []


def test_each_batch_reports_what_it_wrote_for_the_search_index(seeded):
    _seeder, _stats, batches = seeded
    customers = [c for b in batches for c in b.customers]
    cases = [c for b in batches for c in b.cases]
    assert len(customers) == 160 and len(cases) == 700
    assert len(batches) == 2 + 8  # ceil(160 / 97) customer batches, ceil(700 / 97) case batches
    sample = cases[::50]
    for seeded_case in sample:
        case = Case.objects.get(pk=seeded_case.case_id)
        assert case.subject == seeded_case.subject
        assert [(m.pk, m.kind, m.body) for m in case.messages.order_by("id")] == seeded_case.messages
    assert {c.customer_id for c in customers} == set(Customer.objects.values_list("pk", flat=True))


def test_seeding_adds_to_existing_data_and_gives_cases_to_existing_customers(seeded):
    before = Case.objects.count()
    stats = Seeder(seed=8).run(customers=0, cases=120)
    assert stats.cases == 120 and Case.objects.count() == before + 120
    assert case_problems(Case.objects.order_by("-id").values_list("pk", flat=True)[:120]) == []
    assert customer_problems() == []


def test_same_seed_same_plan():
    """Pure planning is reproducible: the same seed gives the same customers and histories."""
    def plan(seed):
        rng = random.Random(seed)
        maker = generator.CustomerMaker(rng, now=1.8e9, total=50, grade_ids=dict.fromkeys("ABCD", 1),
                                        tag_ids={}, actor=generator.SYSTEM)
        return [maker.make(i, 1000 + i).customer for i in range(50)]

    assert plan(3) == plan(3)
    assert plan(3) != plan(4)


def test_seeding_needs_customers_for_cases(db):
    with pytest.raises(SeedError, match="no customers"):
        Seeder().run(customers=0, cases=10)


def test_demo_story_cases_are_made_through_the_services(db):
    refs = centre.ensure_centre()
    people = centre.ensure_named_customers(refs)
    ids = story.tell(refs, people, now=time.time())
    assert Counter(Case.objects.filter(pk__in=ids).values_list("status", flat=True)) == Counter(
        {"closed": 2, "solved": 2, "on_hold": 1, "new": 1, "open": 1})
    assert case_problems(ids) == []
    assert customer_problems([p.pk for p in people.values()]) == []
    # ensure_* are idempotent
    assert centre.ensure_centre().staff["xiaowang"].pk == refs.staff["xiaowang"].pk
    assert centre.ensure_named_customers(refs)["patient"].pk == people["patient"].pk
    assert CaseType.objects.filter(code="inquiry").exists()
