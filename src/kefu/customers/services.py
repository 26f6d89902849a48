"""The only write path for customers: profile, identities, grade, consent, tags."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext, ngettext

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
        raise DomainError(gettext("a customer needs a name"), field="name")
    kind = values.get("kind", customer.kind if customer else Customer.Kind.PERSON)
    if kind not in Customer.Kind.values:
        raise DomainError(gettext("unknown kind %(kind)r; choose person or organisation") % {"kind": kind}, field="kind")
    org_type = values.get("org_type", customer.org_type if customer else "")
    if org_type and org_type not in Customer.OrgType.values:
        raise DomainError(gettext("unknown organisation type %(type)r") % {"type": org_type}, field="org_type")
    if org_type and kind != Customer.Kind.ORGANISATION:
        raise DomainError(gettext("only an organisation has an organisation type"), field="org_type")
    org = values.get("organisation", customer.organisation if customer else None)
    if org is not None:
        if org.kind != Customer.Kind.ORGANISATION:
            raise DomainError(gettext("a customer can only belong to an organisation"), field="organisation")
        if kind == Customer.Kind.ORGANISATION:
            raise DomainError(gettext("an organisation cannot belong to another organisation"), field="organisation")
        if customer is not None and org.pk == customer.pk:
            raise DomainError(gettext("a customer cannot belong to itself"), field="organisation")


def _normalized_identities(identities: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for channel, value in identities:
        try:
            out.append((channel, normalize(channel, value)))
        except InvalidIdentity as exc:
            raise DomainError(gettext(exc.template) % exc.params, field="identities") from exc
    return out


def create_customer(actor, *, identities: Iterable[tuple[str, str]] = (), grade: Grade | None = None,
                    grade_reason: str = "", tags: Iterable[str] = (), **fields) -> Customer:
    unknown = set(fields) - set(PROFILE_FIELDS) - set(CONSENT_FIELDS)
    if unknown:
        raise DomainError(gettext("unknown customer fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
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
        raise Conflict(gettext("identity %(identity)s belongs to another customer already") % {"identity": owner}, field="identities") from exc
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
        raise DomainError(gettext("unknown customer fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if customer.erased_at:
        raise DomainError(gettext("this customer's personal data was erased"), code="erased")
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
        raise Conflict(gettext("%(channel)s:%(value)s belongs to customer %(id)s already") % {"channel": channel, "value": value, "id": existing.customer_id}, field="value")
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
        raise Conflict(gettext("%(channel)s:%(value)s belongs to another customer already") % {"channel": channel, "value": value}, field="value") from exc
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
        raise DomainError(gettext("unknown grade source %(source)r") % {"source": source})
    if source == Customer.GradeSource.MANUAL and grade is not None and not (reason or "").strip():
        raise DomainError(gettext("say why the grade is set by hand"), field="grade_reason")
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


# --- configuration: grades and tags -----------------------------------------------------------------------

GRADE_FIELDS = ("name", "name_en", "rank", "description")


def _config_text(model, field: str, value, label: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(gettext("%(field)s cannot be empty") % {"field": label}, field=field)
    limit = model._meta.get_field(field).max_length
    if limit and len(value) > limit:
        raise DomainError(gettext("%(field)s is longer than %(max)d characters") % {"field": label, "max": limit},
                          field=field)
    return value


def _check_grade_values(values: dict) -> dict:
    if "name" in values:
        values["name"] = _config_text(Grade, "name", values["name"], gettext("the name"), required=True)
    if "name_en" in values:
        values["name_en"] = _config_text(Grade, "name_en", values["name_en"], gettext("the English name"))
    if "description" in values:
        values["description"] = (values["description"] or "").strip()
    if "rank" in values:
        rank = values["rank"]
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank <= 32767:
            raise DomainError(gettext("the rank is a whole number from 0 to 32767 (1 is the most valuable grade)"),
                              field="rank")
    return values


def create_grade(actor, *, code: str, name: str, name_en: str = "", rank: int = 0,
                 description: str = "") -> Grade:
    """A new customer grade. Its code is how events, reports and imports refer to it, so it never changes."""
    code = _config_text(Grade, "code", code, gettext("the code"), required=True)
    if Grade.objects.filter(code=code).exists():
        raise Conflict(gettext("a grade with code %(code)s exists already") % {"code": code}, field="code")
    values = _check_grade_values({"name": name, "name_en": name_en, "rank": rank, "description": description})
    with transaction.atomic():
        grade = Grade.objects.create(code=code, **values)
        events.record("grade.created", actor=actor, subject_type="grade", subject_id=grade.pk,
                      data={"code": code, "name": grade.name, "rank": grade.rank})
    return grade


def update_grade(actor, grade: Grade, **changes) -> Grade:
    """Change a grade's name, English name, rank or description; one ``grade.updated`` event per field."""
    unknown = sorted(set(changes) - set(GRADE_FIELDS))
    if unknown:
        raise DomainError(gettext("these fields cannot be changed here: %(fields)s; the fields that can are "
                                  "%(allowed)s") % {"fields": ", ".join(unknown), "allowed": ", ".join(GRADE_FIELDS)})
    changes = _check_grade_values(changes)
    now = timezone.now()
    with transaction.atomic():
        log = events.apply_changes("grade.updated", grade, changes, actor=actor, subject_type="grade", at=now)
        if log:
            grade.save(update_fields=[e.field for e in log])
            events.record_many(log)
    return grade


def check_grade_deletable(grade: Grade) -> None:
    """Raise a DomainError if customers still have ``grade``."""
    count = grade.customers.count()
    if count:
        raise DomainError(ngettext(
            "%(count)d customer has grade %(grade)s; give that customer another grade before deleting it",
            "%(count)d customers have grade %(grade)s; give them another grade before deleting it", count)
            % {"count": count, "grade": grade.code}, code="in_use")


def delete_grade(actor, grade: Grade) -> None:
    """Delete a grade nobody has (refused, with the number of customers, while any customer has it)."""
    with transaction.atomic():
        check_grade_deletable(grade)
        pk, data = grade.pk, {"code": grade.code, "name": grade.name, "rank": grade.rank}
        try:
            with transaction.atomic():
                grade.delete()
        except ProtectedError as exc:
            raise DomainError(gettext("grade %(grade)s is in use and cannot be deleted") % {"grade": grade.code},
                              code="in_use") from exc
        events.record("grade.deleted", actor=actor, subject_type="grade", subject_id=pk, data=data)


def _tag_name(name, tag: Tag | None = None) -> str:
    name = _config_text(Tag, "name", name, gettext("the tag name"), required=True)
    if Tag.objects.filter(name=name).exclude(pk=tag.pk if tag else None).exists():
        raise Conflict(gettext("a tag named %(name)s exists already") % {"name": name}, field="name")
    return name


def create_tag(actor, name: str) -> Tag:
    name = _tag_name(name)
    with transaction.atomic():
        tag = Tag.objects.create(name=name)
        events.record("tag.created", actor=actor, subject_type="tag", subject_id=tag.pk, data={"name": name})
    return tag


def rename_tag(actor, tag: Tag, name: str) -> Tag:
    """Rename a tag; the customers that have it keep it under the new name."""
    name = _tag_name(name, tag)
    if name == tag.name:
        return tag
    with transaction.atomic():
        old, tag.name = tag.name, name
        tag.save(update_fields=["name"])
        events.record("tag.renamed", actor=actor, subject_type="tag", subject_id=tag.pk, field="name",
                      old=old, new=name)
    return tag


def delete_tag(actor, tag: Tag) -> None:
    """Delete a tag and take it off every customer that had it; the event says how many had it."""
    with transaction.atomic():
        pk, name = tag.pk, tag.name
        count = tag.customers.count()
        tag.delete()
        events.record("tag.deleted", actor=actor, subject_type="tag", subject_id=pk,
                      data={"name": name, "customers": count})
