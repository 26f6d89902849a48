"""Staff, departments and teams. Competency models, training, quality scoring and rewards build on these."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    """A department of the company: the service centre, quality, logistics, finance, medical affairs…

    Back-office departments are internal suppliers (内部客户): cases can involve them besides the owning team.
    """

    class Kind(models.TextChoices):
        FRONT = "front", _("Front line")
        BACK = "back", _("Back office")

    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.BACK)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent department"), null=True, blank=True, on_delete=models.PROTECT
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A member of staff. Customers are not users: they live in ``customers``."""

    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        TEAM_LEAD = "team_lead", _("Team lead")
        MANAGER = "manager", _("Manager")
        ADMIN = "admin", _("Administrator")

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.AGENT)
    department = models.ForeignKey(
        Department, verbose_name=_("department"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="staff",
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    is_customer = False

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def sees_everything(self) -> bool:
        """Managers and administrators see every case; agents and team leads see their teams' cases."""
        return self.is_superuser or self.role in (self.Role.MANAGER, self.Role.ADMIN)


class Team(models.Model):
    """A group of staff that owns cases (e.g. 医院客户组, 患者热线组)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT, related_name="teams"
    )
    lead = models.ForeignKey(
        User, verbose_name=_("team lead"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    members = models.ManyToManyField(User, verbose_name=_("members"), blank=True, related_name="teams")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
