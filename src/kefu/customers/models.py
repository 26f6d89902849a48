"""Customer knowledge (熟知你的顾客): people and organisations, channel identities, grades, tags, consent."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Grade(models.Model):
    """A customer grade (客户分级). Configurable; the defaults are A/B/C/D. Lower ``rank`` is more valuable."""

    code = models.CharField(_("code"), max_length=8, unique=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=50, blank=True)
    rank = models.PositiveSmallIntegerField(_("rank"), default=0, help_text=_("1 is the most valuable grade."))
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("customer grade")
        verbose_name_plural = _("customer grades")
        ordering = ["rank", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"

    @property
    def label(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") and self.name_en else self.name


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """A person (patient, consumer, doctor, pharmacist, buyer…) or an organisation (hospital, pharmacy,
    distributor…). People may belong to an organisation."""

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        ORGANISATION = "organisation", _("Organisation")

    class OrgType(models.TextChoices):
        HOSPITAL = "hospital", _("Hospital")
        PHARMACY = "pharmacy", _("Pharmacy")
        DISTRIBUTOR = "distributor", _("Distributor")
        CLINIC = "clinic", _("Clinic")
        COMPANY = "company", _("Company")
        OTHER = "other", _("Other")

    class GradeSource(models.TextChoices):
        COMPUTED = "computed", _("Computed")
        MANUAL = "manual", _("Set by hand")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(_("name"), max_length=200)
    org_type = models.CharField(_("organisation type"), max_length=16, choices=OrgType.choices, blank=True)
    organisation = models.ForeignKey(
        "self", verbose_name=_("organisation"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="members", limit_choices_to={"kind": "organisation"},
    )
    title = models.CharField(_("title / role"), max_length=100, blank=True, help_text=_("e.g. 药剂科主任, 患者"))
    region = models.CharField(_("region"), max_length=100, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)

    grade = models.ForeignKey(
        Grade, verbose_name=_("grade"), null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    grade_source = models.CharField(
        _("grade source"), max_length=10, choices=GradeSource.choices, default=GradeSource.COMPUTED
    )
    grade_reason = models.CharField(_("grade reason"), max_length=300, blank=True)
    grade_set_at = models.DateTimeField(_("grade set at"), null=True, blank=True)

    needs = models.TextField(_("needs"), blank=True)
    preferences = models.TextField(_("preferences"), blank=True)
    expectations = models.TextField(_("expectations"), blank=True)
    purchase_reasons = models.TextField(_("reasons for buying"), blank=True)
    non_purchase_reasons = models.TextField(_("reasons for not buying or leaving"), blank=True)

    # Value (RFM and lifetime value are computed by the grading job; room for it here).
    lifetime_value = models.DecimalField(_("lifetime value"), max_digits=14, decimal_places=2, default=0)

    consent_service = models.BooleanField(
        _("consents to data processing for service"), default=True,
        help_text=_("PIPL: processing personal data to answer the customer's own requests."),
    )
    consent_marketing = models.BooleanField(_("consents to marketing and care messages"), default=False)
    consent_survey = models.BooleanField(_("consents to surveys"), default=True)
    consent_updated_at = models.DateTimeField(_("consent updated"), null=True, blank=True)

    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="customers")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)

    is_customer = True

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="customer_updated"),
            models.Index(fields=["grade", "-updated_at", "-id"], name="customer_grade_updated"),
            models.Index(fields=["organisation"], name="customer_org"),
        ]

    def __str__(self) -> str:
        return self.name


class Identity(models.Model):
    """How a customer is reached on one channel. A (channel, value) pair belongs to one customer."""

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        WECHAT_OPENID = "wechat_openid", _("WeChat openid")
        WECHAT_UNIONID = "wechat_unionid", _("WeChat unionid")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="identities"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    value = models.CharField(_("value"), max_length=254)
    is_primary = models.BooleanField(_("primary"), default=False)
    verified = models.BooleanField(_("verified"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [models.UniqueConstraint(fields=["channel", "value"], name="identity_channel_value")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.value}"
