"""The only write path for customers: profile, identities, grade, consent, tags."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from kefu.core import events
from kefu.core.errors import Conflict, DomainError
from kefu.search import index as search_index

from .identities import InvalidIdentity, normalize
from .models import Customer, Grade, Identity, Tag

PROFILE_FIELDS = (
    "name", "kind", "org_type", "organisation", "title", "region", "birthday", "needs", "preferences",
    "expectations", "purchase_reasons", "non_purchase_reasons",
)
CONSENT_FIELDS = ("consent_service", "consent_marketing", "consent_survey")


def _check_profile(values: dict, customer: Customer | None = None) -> None:
    name = values.get("name", customer.name if customer else "")
    if not (name or "").strip():
        raise DomainError("a customer needs a name", field="name")
    kind = values.get("kind", customer.kind if customer else Customer.Kind.PERSON)
    if kind not in Customer.Kind.values:
        raise DomainError(f"unknown kind {kind!r}; choose person or organisation", field="kind")
    org_type = values.get("org_type", customer.org_type if customer else "")
    if org_type and org_type not in Customer.OrgType.values:
        raise DomainError(f"unknown organisation type {org_type!r}", field="org_type")
    if org_type and kind != Customer.Kind.ORGANISATION:
        raise DomainError("only an organisation has an organisation type", field="org_type")
    org = values.get("organisation", customer.organisation if customer else None)
    if org is not None:
        if org.kind != Customer.Kind.ORGANISATION:
            raise DomainError("a customer can only belong to an organisation", field="organisation")
        if kind == Customer.Kind.ORGANISATION:
            raise DomainError("an organisation cannot belong to another organisation", field="organisation")
        if customer is not None and org.pk == customer.pk:
            raise DomainError("a customer cannot belong to itself", field="organisation")


def _normalized_identities(identities: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for channel, value in identities:
        try:
            out.append((channel, normalize(channel, value)))
        except InvalidIdentity as exc:
            raise DomainError(str(exc), field="identities") from exc
    return out


def create_customer(actor, *, identities: Iterable[tuple[str, str]] = (), grade: Grade | None = None,
                    grade_reason: str = "", tags: Iterable[str] = (), **fields) -> Customer:
    unknown = set(fields) - set(PROFILE_FIELDS) - set(CONSENT_FIELDS)
    if unknown:
        raise DomainError(f"unknown customer fields: {', '.join(sorted(unknown))}")
    _check_profile(fields)
    idents = _normalized_identities(identities)
    now = timezone.now()
    customer = Customer(**fields, created_at=now, updated_at=now)
    if grade is not None:
        customer.grade = grade
        customer.grade_source = Customer.GradeSource.MANUAL
        customer.grade_reason = grade_reason
        customer.grade_set_at = now
    try:
        with transaction.atomic():
            customer.save()
            for i, (channel, value) in enumerate(idents):
                Identity.objects.create(customer=customer, channel=channel, value=value, is_primary=(i == 0))
            if tags:
                customer.tags.set(_tags(tags))
            events.record("customer.created", actor=actor, subject_type="customer", subject_id=customer.pk,
                          customer_id=customer.pk, data={"name": customer.name, "kind": customer.kind})
            search_index.index_customer(customer)
    except IntegrityError as exc:
        owner = _identity_owner(idents)
        raise Conflict(f"identity {owner} belongs to another customer already", field="identities") from exc
    return customer


def _identity_owner(idents: list[tuple[str, str]]) -> str:
    for channel, value in idents:
        found = Identity.objects.filter(channel=channel, value=value).select_related("customer").first()
        if found:
            return f"{channel}:{value} (customer {found.customer_id})"
    return "?"


def _tags(names: Iterable[str]) -> list[Tag]:
    out = []
    for name in names:
        name = name.strip()
        if name:
            out.append(Tag.objects.get_or_create(name=name[:50])[0])
    return out


def update_customer(actor, customer: Customer, **changes) -> Customer:
    unknown = set(changes) - set(PROFILE_FIELDS) - set(CONSENT_FIELDS) - {"tags"}
    if unknown:
        raise DomainError(f"unknown customer fields: {', '.join(sorted(unknown))}")
    if customer.erased_at:
        raise DomainError("this customer's personal data was erased", code="erased")
    tags = changes.pop("tags", None)
    _check_profile(changes, customer)
    now = timezone.now()
    log = []
    with transaction.atomic():
        for field, value in changes.items():
            old = getattr(customer, field)
            if old != value:
                setattr(customer, field, value)
                log.append(events.build("customer.updated", actor=actor, subject_type="customer",
                                        subject_id=customer.pk, customer_id=customer.pk,
                                        field=field, old=old, new=value, at=now))
        if any(e.field in CONSENT_FIELDS for e in log):
            customer.consent_updated_at = now
        if tags is not None:
            old_tags = sorted(customer.tags.values_list("name", flat=True))
            new_objs = _tags(tags)
            new_tags = sorted(t.name for t in new_objs)
            if old_tags != new_tags:
                customer.tags.set(new_objs)
                log.append(events.build("customer.updated", actor=actor, subject_type="customer",
                                        subject_id=customer.pk, customer_id=customer.pk,
                                        field="tags", old=old_tags, new=new_tags, at=now))
        if log:
            customer.updated_at = now
            customer.save()
            events.record_many(log)
            if any(e.field in ("name", "organisation") for e in log):
                search_index.index_customer(customer)
    return customer


def add_identity(actor, customer: Customer, channel: str, value: str, *, verified: bool = False) -> Identity:
    [(channel, value)] = _normalized_identities([(channel, value)])
    existing = Identity.objects.filter(channel=channel, value=value).first()
    if existing:
        if existing.customer_id == customer.pk:
            return existing
        raise Conflict(f"{channel}:{value} belongs to customer {existing.customer_id} already", field="value")
    try:
        with transaction.atomic():
            identity = Identity.objects.create(
                customer=customer, channel=channel, value=value, verified=verified,
                is_primary=not customer.identities.filter(channel=channel).exists(),
            )
            events.record("customer.identity_added", actor=actor, subject_type="customer",
                          subject_id=customer.pk, customer_id=customer.pk, data={"channel": channel})
            search_index.index_customer(customer)
    except IntegrityError as exc:
        raise Conflict(f"{channel}:{value} belongs to another customer already", field="value") from exc
    return identity


def remove_identity(actor, identity: Identity) -> None:
    with transaction.atomic():
        customer_id = identity.customer_id
        channel = identity.channel
        identity.delete()
        events.record("customer.identity_removed", actor=actor, subject_type="customer",
                      subject_id=customer_id, customer_id=customer_id, data={"channel": channel})
        search_index.index_customer(identity.customer)


def find_by_identity(channel: str, value: str) -> Customer | None:
    try:
        value = normalize(channel, value)
    except InvalidIdentity:
        return None
    identity = Identity.objects.filter(channel=channel, value=value).select_related("customer").first()
    return identity.customer if identity else None


def set_grade(actor, customer: Customer, grade: Grade | None, *, reason: str,
              source: str = Customer.GradeSource.MANUAL) -> Customer:
    """Set the grade by hand (``manual``) or from the grading job (``computed``).

    A computed grade never overrides one set by hand; clear the manual grade first (grade=None, manual)."""
    if source not in Customer.GradeSource.values:
        raise DomainError(f"unknown grade source {source!r}")
    if source == Customer.GradeSource.MANUAL and grade is not None and not (reason or "").strip():
        raise DomainError("say why the grade is set by hand", field="grade_reason")
    if source == Customer.GradeSource.COMPUTED and customer.grade_source == Customer.GradeSource.MANUAL \
            and customer.grade_id is not None:
        return customer
    old = customer.grade.code if customer.grade else None
    now = timezone.now()
    with transaction.atomic():
        customer.grade = grade
        customer.grade_reason = reason or ""
        customer.grade_set_at = now
        customer.grade_source = source if grade is not None else Customer.GradeSource.COMPUTED
        customer.updated_at = now
        customer.save(update_fields=["grade", "grade_reason", "grade_set_at", "grade_source", "updated_at"])
        events.record("customer.grade_changed", actor=actor, subject_type="customer", subject_id=customer.pk,
                      customer_id=customer.pk, field="grade", old=old, new=grade.code if grade else None,
                      data={"reason": reason, "source": source})
    return customer


def touch_contact(customer_id: int, at) -> None:
    """Called by the cases service when a message arrives or is sent."""
    Customer.objects.filter(pk=customer_id).update(last_contact_at=at)
