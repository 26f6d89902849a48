"""Admin for staff, departments and teams. Every save goes through kefu.people.services (create_*,
update_staff, set_password, update_team, set_team_members, update_department), so the rules hold here
exactly as everywhere else: nobody changes their own role or deactivates themselves, an active administrator
always remains, a team with open cases stays active, no department lies inside itself."""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import password_validation
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from kefu.cases.models import OPEN_STATUSES, Case
from kefu.core.admin import ServiceAdmin, ServiceForm
from kefu.core.errors import DomainError

from . import services
from .models import Department, Team, User

# --- departments ------------------------------------------------------------------------------------------

DEPARTMENT_FIELDS = ["name", "kind", "parent"]


class DepartmentAddForm(ServiceForm):
    class Meta:
        model = Department
        fields = ["name", "code", "kind", "parent"]

    def apply(self, actor):
        data = self.cleaned_data
        return services.create_department(actor, name=data["name"], code=data["code"], kind=data["kind"],
                                          parent=data["parent"])


class DepartmentChangeForm(ServiceForm):
    class Meta:
        model = Department
        fields = DEPARTMENT_FIELDS

    def apply(self, actor):
        dept = Department.objects.get(pk=self.instance.pk)
        changes = self.changed(DEPARTMENT_FIELDS)
        if changes:
            services.update_department(actor, dept, **changes)
        return dept


@admin.register(Department)
class DepartmentAdmin(ServiceAdmin):
    add_form = DepartmentAddForm
    form = DepartmentChangeForm
    add_fieldsets = [(None, {"fields": ["name", "code", "kind", "parent"]})]
    fieldsets = [(None, {"fields": ["name", "code", "kind", "parent"],
                         "description": _("The code does not change: other systems refer to the department "
                                          "by it.")})]
    readonly_fields = ["code"]
    list_display = ["name", "code", "kind", "parent", "staff_count"]
    list_filter = ["kind"]
    list_select_related = ["parent"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["parent"]
    ordering = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(staff_total=Count("staff", distinct=True))

    @admin.display(description=_("staff"), ordering="staff_total")
    def staff_count(self, obj):
        return obj.staff_total


# --- teams ------------------------------------------------------------------------------------------------

TEAM_FIELDS = ["name", "department", "lead", "is_active"]


class TeamAddForm(ServiceForm):
    class Meta:
        model = Team
        fields = ["name", "department", "lead", "members"]

    def apply(self, actor):
        data = self.cleaned_data
        return services.create_team(actor, name=data["name"], department=data["department"], lead=data["lead"],
                                    members=data["members"])


class TeamChangeForm(ServiceForm):
    class Meta:
        model = Team
        fields = [*TEAM_FIELDS, "members"]
        help_texts = {
            "lead": _("The team lead is always one of the members."),
            "is_active": _("A team with open cases stays active until they are transferred or closed."),
        }

    def apply(self, actor):
        team = Team.objects.get(pk=self.instance.pk)
        changes = self.changed(TEAM_FIELDS)
        if changes:
            services.update_team(actor, team, **changes)
        if "members" in self.changed_data:
            services.set_team_members(actor, team, self.cleaned_data["members"])
        return team


@admin.register(Team)
class TeamAdmin(ServiceAdmin):
    add_form = TeamAddForm
    form = TeamChangeForm
    add_fieldsets = [(None, {"fields": ["name", "department", "lead", "members"]})]
    fieldsets = [(None, {"fields": [*TEAM_FIELDS, "members"]})]
    list_display = ["name", "department", "lead", "member_count", "is_active"]
    list_filter = ["is_active", "department"]
    list_select_related = ["department", "lead"]
    search_fields = ["name"]
    autocomplete_fields = ["department", "lead", "members"]
    ordering = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members", distinct=True))

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, obj):
        return obj.member_total


# --- staff ------------------------------------------------------------------------------------------------

STAFF_FIELDS = ["display_name", "email", "phone", "role", "department", "is_active"]


class StaffAddForm(ServiceForm):
    new_password = forms.CharField(
        label=_("password"), strip=False, required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty for an account that cannot sign in with a password yet."),
    )
    new_password_again = forms.CharField(label=_("password again"), strip=False, required=False,
                                         widget=forms.PasswordInput(render_value=False))
    teams = forms.ModelMultipleChoiceField(queryset=Team.objects.filter(is_active=True), required=False,
                                           label=_("teams"), widget=forms.CheckboxSelectMultiple)
    error_fields = {"password": "new_password"}

    class Meta:
        model = User
        fields = ["username", "display_name", "email", "role", "department"]

    def clean(self):
        data = super().clean()
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", gettext("The two passwords are not the same."))
        return data

    def apply(self, actor):
        data = self.cleaned_data
        return services.create_staff(
            actor, username=data["username"], password=data["new_password"] or None, role=data["role"],
            display_name=data["display_name"], email=data["email"], department=data["department"],
            teams=data["teams"],
        )


class StaffChangeForm(ServiceForm):
    teams = forms.ModelMultipleChoiceField(queryset=Team.objects.none(), required=False, label=_("teams"),
                                           widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = User
        fields = STAFF_FIELDS
        help_texts = {
            "role": _("Managers and administrators may use this admin site; administrators may change "
                      "everything in it. Nobody changes their own role."),
            "is_active": _("A deactivated member of staff can no longer sign in or use API tokens; their "
                           "teams and cases stay as they are."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "teams" in self.fields and self.instance.pk:
            current = list(self.instance.teams.values_list("pk", flat=True))
            self.fields["teams"].queryset = Team.objects.filter(Q(is_active=True) | Q(pk__in=current))
            self.initial.setdefault("teams", current)

    def apply(self, actor):
        user = User.objects.get(pk=self.instance.pk)
        changes = self.changed([*STAFF_FIELDS, "teams"])
        if changes:
            services.update_staff(actor, user, **changes)
        return user


class StaffPasswordForm(forms.Form):
    """The new-password page (``<id>/password/``): the password is set by services.set_password, so it
    is checked by the password validators and the change is in the event log."""

    required_css_class = "required"
    actor = None  # set per request by UserAdmin.user_change_password
    password1 = forms.CharField(
        label=_("new password"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(label=_("new password again"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", gettext("The two passwords are not the same."))
        elif first and second:
            try:
                with transaction.atomic():
                    services.set_password(self.actor, self.user, first)
            except DomainError as exc:
                self.add_error("password1" if exc.field == "password" else None, exc.message)
        data["set_usable_password"] = True  # what Django's password view asks of its form
        return data

    def save(self, commit=True):
        """Saved already: clean() called the service."""
        return self.user

    @property
    def changed_data(self):
        return ["password"] if super().changed_data else []


@admin.register(User)
class UserAdmin(ServiceAdmin, DjangoUserAdmin):
    add_form = StaffAddForm
    form = StaffChangeForm
    change_password_form = StaffPasswordForm
    change_user_password_template = "admin/people/user/change_password.html"
    add_fieldsets = [
        (None, {"fields": ["username", "display_name", "email", "role", "department", "teams"]}),
        (_("Password"), {"fields": ["new_password", "new_password_again"]}),
    ]
    fieldsets = [
        (None, {"fields": ["username", "password_link", "display_name", "email", "phone"]}),
        (_("Role and teams"), {"fields": ["role", "department", "teams"]}),
        (_("Access"), {"fields": ["is_active", "is_staff", "is_superuser", "last_login", "date_joined"]}),
    ]
    readonly_fields = ["username", "password_link", "is_staff", "is_superuser", "last_login", "date_joined"]
    list_display = ["username", "display_name", "role", "department", "is_active", "last_login"]
    list_filter = ["role", "is_active", "department"]
    list_select_related = ["department"]
    search_fields = ["username", "display_name", "email"]
    ordering = ["username"]
    filter_horizontal = []

    @admin.display(description=_("password"))
    def password_link(self, obj):
        url = reverse("admin:auth_user_password_change", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, gettext("Set a new password"))

    def user_change_password(self, request, id, form_url=""):
        # Django's view builds the form from self.change_password_form: hand it a copy of this admin whose
        # form knows who is acting (the admin object itself is shared by every request).
        acting = copy.copy(self)
        acting.change_password_form = type("StaffPasswordForm", (StaffPasswordForm,), {"actor": request.user})
        return super(UserAdmin, acting).user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change):
        """Saved already (the form called the service); say what a deactivation leaves behind."""
        if change and "is_active" in form.changed_data and not obj.is_active:
            count = Case.objects.filter(assignee=obj, status__in=OPEN_STATUSES).count()
            if count:
                self.message_user(request, ngettext(
                    "%(name)s still has %(count)d open case assigned; assign it to someone else.",
                    "%(name)s still has %(count)d open cases assigned; assign them to someone else.", count)
                    % {"name": obj, "count": count}, messages.WARNING)
