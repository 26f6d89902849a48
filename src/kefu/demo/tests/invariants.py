"""What every case and customer in the database must satisfy, checked by replaying the event log.

Used on seeded data (the bulk seeder writes rows without the services, so these checks are its contract)
and on data made through the services (so the two are held to the same rules).
"""

from __future__ import annotations

from collections import defaultdict

from django.utils import timezone

from kefu.cases.models import OPEN_STATUSES, TRANSITIONS, Case, Message
from kefu.core.models import Event
from kefu.customers.identities import normalize
from kefu.customers.models import Customer, Identity


def case_problems(case_ids=None) -> list[str]:
    """Every broken invariant, as a readable line (an empty list when all hold)."""
    problems: list[str] = []
    cases = Case.objects.all() if case_ids is None else Case.objects.filter(pk__in=case_ids)
    cases = {c.pk: c for c in cases.prefetch_related("departments")}
    messages = defaultdict(list)
    for m in Message.objects.filter(case_id__in=cases).order_by("id"):
        messages[m.case_id].append(m)
    log = defaultdict(list)
    for e in Event.objects.filter(case_id__in=cases).order_by("id"):
        log[e.case_id].append(e)
    now = timezone.now()

    for pk, case in cases.items():
        def bad(what: str, case=case) -> None:
            problems.append(f"case {case.pk}: {what}")

        msgs = messages[pk]
        events = log[pk]
        # the messages and the counters kept on the case
        if case.message_count != len(msgs):
            bad(f"message_count {case.message_count} but {len(msgs)} messages")
        if [m.created_at for m in msgs] != sorted(m.created_at for m in msgs):
            bad("message ids are not in time order")
        customer_times = [m.created_at for m in msgs if m.kind == Message.Kind.CUSTOMER]
        staff_times = [m.created_at for m in msgs if m.kind == Message.Kind.STAFF]
        if case.last_customer_message_at != (max(customer_times) if customer_times else None):
            bad("last_customer_message_at does not match the messages")
        if case.last_staff_message_at != (max(staff_times) if staff_times else None):
            bad("last_staff_message_at does not match the messages")
        first = next((t for t in staff_times if customer_times and t >= min(customer_times)), None)
        if case.first_response_at != first:
            bad(f"first_response_at {case.first_response_at} but the first reply is at {first}")
        for m in msgs:
            if (m.kind == Message.Kind.CUSTOMER) != (m.customer_id == case.customer_id):
                bad(f"message {m.pk}: customer author does not match its kind")
            if m.kind != Message.Kind.CUSTOMER and m.author_id is None:
                bad(f"message {m.pk}: staff message without an author")
        # times in order
        chain = [case.created_at, case.first_response_at, case.solved_at, case.closed_at]
        present = [t for t in chain if t is not None]
        if present != sorted(present) or len(set(present)) != len(present):
            bad(f"times out of order: created {chain[0]}, first reply {chain[1]}, solved {chain[2]}, "
                f"closed {chain[3]}")
        if case.updated_at > now or case.created_at > case.updated_at:
            bad("updated_at outside created_at..now")
        if (case.solved_at is not None) != (case.status in ("solved", "closed")):
            bad(f"solved_at {case.solved_at} with status {case.status}")
        if (case.closed_at is not None) != (case.status == "closed"):
            bad(f"closed_at {case.closed_at} with status {case.status}")

        # replay the event log
        if not events or events[0].verb != "case.created":
            bad("the log does not start with case.created")
            continue
        created = events[0].data
        state = {"status": created["status"], "team": created["team"], "assignee": created["assignee"],
                 "priority": created["priority"], "departments": []}
        transfers = reopens = 0
        added = []
        for e in events:
            if e.at < case.created_at or e.at > now:
                bad(f"event {e.verb} at {e.at} outside the case's life")
            if e.customer_id != case.customer_id or e.subject_type != "case" or e.subject_id != pk:
                bad(f"event {e.pk} has the wrong subject")
            if e.verb == "case.status_changed":
                if e.old != state["status"] or e.new not in TRANSITIONS[e.old]:
                    bad(f"status change {e.old} -> {e.new} from {state['status']}")
                state["status"] = e.new
            elif e.verb == "case.assigned":
                if e.old != state["assignee"]:
                    bad(f"assigned from {e.old} but the assignee was {state['assignee']}")
                state["assignee"] = e.new
            elif e.verb == "case.team_changed":
                if e.old != state["team"]:
                    bad("team change from the wrong team")
                state["team"] = e.new
            elif e.verb == "case.departments_changed":
                if e.old != state["departments"]:
                    bad("departments change from the wrong departments")
                state["departments"] = e.new
            elif e.verb == "case.updated" and e.field == "priority":
                state["priority"] = e.new
            elif e.verb == "case.transferred":
                if e.data.get("counted", True):
                    transfers += 1
                if e.data["transfers"] != transfers:
                    bad("case.transferred carries the wrong running count")
            elif e.verb == "case.reopened":
                reopens += 1
            elif e.verb == "message.added":
                added.append((e.data["message"], e.data["kind"], e.data["channel"], e.at))
        if added != [(m.pk, m.kind, m.channel, m.created_at) for m in msgs]:
            bad("message.added events do not match the messages")
        actual = {"status": case.status, "team": case.team_id, "assignee": case.assignee_id,
                  "priority": case.priority,
                  "departments": sorted(d.pk for d in case.departments.all())}
        for key, value in state.items():
            if actual[key] != value:
                bad(f"{key} is {actual[key]!r} but the log says {value!r}")
        if case.transfer_count != transfers:
            bad(f"transfer_count {case.transfer_count} but {transfers} counted transfers")
        if case.reopen_count != reopens:
            bad(f"reopen_count {case.reopen_count} but {reopens} reopens")
        if case.updated_at != max(e.at for e in events):
            bad("updated_at is not the time of the last change")
        if case.status not in OPEN_STATUSES and case.assignee_id is None and case.first_response_at is None:
            bad("solved without anyone answering")
    return problems


def customer_problems(customer_ids=None) -> list[str]:
    problems: list[str] = []
    customers = Customer.objects.all() if customer_ids is None else Customer.objects.filter(pk__in=customer_ids)
    created = set(Event.objects.filter(verb="customer.created").values_list("customer_id", flat=True))
    last = defaultdict(lambda: None)
    for customer_id, t1, t2 in Case.objects.values_list("customer_id", "last_customer_message_at",
                                                       "last_staff_message_at"):
        t = max((x for x in (t1, t2) if x is not None), default=None)
        if t is not None and (last[customer_id] is None or t > last[customer_id]):
            last[customer_id] = t
    for c in customers.select_related("organisation", "grade"):
        if c.pk not in created:
            problems.append(f"customer {c.pk}: no customer.created event")
        if c.last_contact_at != last[c.pk]:
            problems.append(f"customer {c.pk}: last_contact_at {c.last_contact_at} but the latest contact is "
                            f"{last[c.pk]}")
        if c.organisation_id and (c.kind != "person" or c.organisation.kind != "organisation"):
            problems.append(f"customer {c.pk}: membership of a non-organisation")
        if c.grade_id is None or not c.grade_reason:
            problems.append(f"customer {c.pk}: no grade or no reason")
    for identity in Identity.objects.filter(customer__in=customers):
        if normalize(identity.channel, identity.value) != identity.value:
            problems.append(f"identity {identity.channel}:{identity.value} is not normalised")
    return problems
