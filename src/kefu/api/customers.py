"""Customers: list, create, read, update, identities, grade. Readable and writable by all staff.

Lists mask personal data (phone numbers, email addresses, WeChat ids); the detail shows it in full.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from kefu.customers import services
from kefu.customers.identities import mask
from kefu.customers.models import Customer, Grade, Identity, Tag

from . import idempotency
from .common import ERRORS, Id, In, PageParams, Text, get_or_404, get_or_422, text, user
from .errors import Unprocessable
from .filters import since
from .pagination import Page, by_recency, residual

router = Router(tags=["customers"])

IdentityChannel = Literal[tuple(Identity.Channel.values)]
Kind = Literal[tuple(Customer.Kind.values)]
OrgType = Literal[("", *Customer.OrgType.values)]


# --- schemas ----------------------------------------------------------------------------------------------

class GradeRef(Schema):
    code: str
    name: str
    rank: int


class OrganisationRef(Schema):
    id: int
    name: str


class IdentityOut(Schema):
    id: int
    channel: str
    value: str = Field(description="Masked in lists, in full in the customer detail.")
    is_primary: bool
    verified: bool


class CustomerItem(Schema):
    id: int
    kind: str
    name: str
    org_type: str
    organisation: OrganisationRef | None
    title: str
    region: str
    grade: GradeRef | None
    tags: list[str]
    identities: list[IdentityOut]
    created_at: datetime
    updated_at: datetime
    last_contact_at: datetime | None


class Consent(Schema):
    service: bool
    marketing: bool
    survey: bool
    updated_at: datetime | None


class CustomerOut(CustomerItem):
    birthday: date | None
    grade_source: str
    grade_reason: str
    grade_set_at: datetime | None
    needs: str
    preferences: str
    expectations: str
    purchase_reasons: str
    non_purchase_reasons: str
    lifetime_value: str
    consent: Consent
    erased_at: datetime | None


class IdentityIn(In):
    channel: IdentityChannel
    value: text(254, 1)


class IdentityCreate(IdentityIn):
    verified: bool = False


class CustomerCreate(In):
    name: text(200)
    kind: Kind = "person"
    org_type: OrgType = ""
    organisation: Id | None = Field(None, description="Id of the organisation (hospital, pharmacy…) a person belongs to.")
    title: text(100) = ""
    region: text(100) = ""
    birthday: date | None = None
    needs: Text = ""
    preferences: Text = ""
    expectations: Text = ""
    purchase_reasons: Text = ""
    non_purchase_reasons: Text = ""
    consent_service: bool = True
    consent_marketing: bool = False
    consent_survey: bool = True
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)
    grade: text(8) | None = Field(None, description="Grade code (A, B, C, D by default); needs grade_reason.")
    grade_reason: text(300) = ""
    tags: list[text(50)] = Field(default_factory=list, max_length=50)


class CustomerUpdate(In):
    """Only the fields sent are changed. ``organisation`` and ``birthday`` may be null to clear them."""

    name: text(200) = None
    kind: Kind = None
    org_type: OrgType = None
    organisation: Id | None = None
    title: text(100) = None
    region: text(100) = None
    birthday: date | None = None
    needs: Text = None
    preferences: Text = None
    expectations: Text = None
    purchase_reasons: Text = None
    non_purchase_reasons: Text = None
    consent_service: bool = None
    consent_marketing: bool = None
    consent_survey: bool = None
    tags: list[text(50)] = Field(None, max_length=50)


class GradeIn(In):
    grade: text(8) | None = Field(description="Grade code, or null to clear the hand-set grade.")
    reason: text(300) = ""


class CustomerFilters(PageParams):
    grade: text(8) | None = Field(None, description="Grade code.")
    kind: Kind | None = None
    organisation: Id | None = Field(None, description="Members of this organisation.")
    tag: text(50) | None = None
    updated_since: datetime | None = Field(None, description="Changed at or after this time.")


# --- serializers ------------------------------------------------------------------------------------------

def _grade(g: Grade | None) -> dict | None:
    return {"code": g.code, "name": g.label, "rank": g.rank} if g else None


def _identity(i: Identity, masked: bool) -> dict:
    return {"id": i.pk, "channel": i.channel, "value": mask(i.channel, i.value) if masked else i.value,
            "is_primary": i.is_primary, "verified": i.verified}


def customer_item(c: Customer, masked: bool = True) -> dict:
    org = c.organisation
    return {
        "id": c.pk, "kind": c.kind, "name": c.name, "org_type": c.org_type,
        "organisation": {"id": org.pk, "name": org.name} if org else None,
        "title": c.title, "region": c.region, "grade": _grade(c.grade),
        "tags": [t.name for t in c.tags.all()],
        "identities": [_identity(i, masked) for i in c.identities.all()],
        "created_at": c.created_at, "updated_at": c.updated_at, "last_contact_at": c.last_contact_at,
    }


def customer_detail(c: Customer) -> dict:
    data = customer_item(c, masked=False)
    data.update({
        "birthday": c.birthday, "grade_source": c.grade_source, "grade_reason": c.grade_reason,
        "grade_set_at": c.grade_set_at, "needs": c.needs, "preferences": c.preferences,
        "expectations": c.expectations, "purchase_reasons": c.purchase_reasons,
        "non_purchase_reasons": c.non_purchase_reasons, "lifetime_value": str(c.lifetime_value),
        "consent": {"service": c.consent_service, "marketing": c.consent_marketing,
                    "survey": c.consent_survey, "updated_at": c.consent_updated_at},
        "erased_at": c.erased_at,
    })
    return data


def customers_qs():
    return Customer.objects.select_related("grade", "organisation").prefetch_related(
        Prefetch("identities", queryset=Identity.objects.order_by("id")),
        Prefetch("tags", queryset=Tag.objects.order_by("name")),
    )


def _load(pk: int) -> Customer:
    return get_or_404(customers_qs(), pk, _("customer"))


def _grade_by_code(code: str, field: str = "grade") -> Grade:
    return get_or_422(Grade.objects.all(), field, _("grade"), code=code)


def _organisation(pk: int | None) -> Customer | None:
    if pk is None:
        return None
    return get_or_422(Customer.objects.all(), "organisation", _("organisation"), pk=pk)


# --- endpoints --------------------------------------------------------------------------------------------

@router.get("", response={200: Page[CustomerItem], **ERRORS}, summary="List customers")
def list_customers(request: HttpRequest, filters: Query[CustomerFilters]):
    """Newest changes first; identities are masked. Page with ``cursor``."""
    qs = Customer.objects.all()
    # The grade filter, or else the organisation, chooses the index; the others are residual.
    if filters.grade is not None:
        qs = qs.filter(grade=_grade_by_code(filters.grade))
    if filters.organisation is not None:
        qs = (residual(qs, "organisation_id", filters.organisation) if filters.grade is not None
              else qs.filter(organisation_id=filters.organisation))
    if filters.kind is not None:
        qs = residual(qs, "kind", filters.kind)
    if filters.tag is not None:
        tagged = Customer.tags.through.objects.filter(tag__name=filters.tag.strip()).values("customer_id")
        qs = residual(qs, "id", tagged, "in")
    if filters.updated_since is not None:
        qs = qs.filter(updated_at__gte=since(filters.updated_since))
    rows, cursor = by_recency([qs], "customers", filters.cursor, filters.limit,
                              lambda ids: customers_qs().filter(pk__in=ids))
    return {"items": [customer_item(c) for c in rows], "next_cursor": cursor}


@router.post("", response={201: CustomerOut, **ERRORS}, summary="Create a customer")
def create_customer(request: HttpRequest, payload: CustomerCreate):
    """Create a person or organisation, with identities, a grade (with the reason) and tags.
    Send an ``Idempotency-Key`` header to make retries safe."""

    def run():
        data = payload.model_dump(exclude={"identities", "grade", "grade_reason", "tags", "organisation"})
        grade = None
        if payload.grade is not None:
            grade = _grade_by_code(payload.grade)
            if not payload.grade_reason.strip():
                raise Unprocessable(_("say why the grade is set by hand"), field="grade_reason")
        customer = services.create_customer(
            user(request), identities=[(i.channel, i.value) for i in payload.identities], grade=grade,
            grade_reason=payload.grade_reason, tags=payload.tags,
            organisation=_organisation(payload.organisation), **data)
        return 201, customer_detail(_load(customer.pk))

    return idempotency.create(request, run)


@router.get("/{int:customer_id}", response={200: CustomerOut, **ERRORS}, summary="Read a customer")
def get_customer(request: HttpRequest, customer_id: Id):
    """Everything about a customer: identities in full, grade and why, organisation, consent, needs."""
    return customer_detail(_load(customer_id))


@router.patch("/{int:customer_id}", response={200: CustomerOut, **ERRORS}, summary="Change a customer")
def update_customer(request: HttpRequest, customer_id: Id, payload: CustomerUpdate):
    customer = _load(customer_id)
    changes = payload.model_dump(exclude_unset=True)
    if "organisation" in changes:
        changes["organisation"] = _organisation(changes["organisation"])
    if changes:
        services.update_customer(user(request), customer, **changes)
        customer = _load(customer_id)
    return customer_detail(customer)


@router.post("/{int:customer_id}/identities", response={201: IdentityOut, 200: IdentityOut, **ERRORS},
             summary="Add an identity")
def add_identity(request: HttpRequest, customer_id: Id, payload: IdentityCreate):
    """Add a phone number, email address or WeChat id. Adding one the customer has already answers 200
    with it; one that belongs to another customer is a 409."""
    customer = get_or_404(Customer.objects.all(), customer_id, _("customer"))

    def run():
        known = set(customer.identities.values_list("pk", flat=True))
        identity = services.add_identity(user(request), customer, payload.channel, payload.value,
                                         verified=payload.verified)
        return (200 if identity.pk in known else 201), _identity(identity, masked=False)

    return idempotency.create(request, run)


@router.delete("/{int:customer_id}/identities/{int:identity_id}", response={204: None, **ERRORS},
               summary="Remove an identity")
def remove_identity(request: HttpRequest, customer_id: Id, identity_id: Id):
    customer = get_or_404(Customer.objects.all(), customer_id, _("customer"))
    identity = get_or_404(customer.identities.all(), identity_id, _("identity"))
    services.remove_identity(user(request), identity)
    return Status(204, None)


@router.put("/{int:customer_id}/grade", response={200: CustomerOut, **ERRORS}, summary="Set the grade")
def set_grade(request: HttpRequest, customer_id: Id, payload: GradeIn):
    """Set the customer's grade by hand, saying why; ``{"grade": null}`` hands grading back to the
    computed grade."""
    customer = _load(customer_id)
    grade = _grade_by_code(payload.grade) if payload.grade is not None else None
    services.set_grade(user(request), customer, grade, reason=payload.reason)
    return customer_detail(_load(customer_id))
