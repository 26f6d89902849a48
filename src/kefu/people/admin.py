"""Admin for staff, departments and teams. Creating goes through kefu.people.services; so does changing a
team's members. The other fields are shown read-only after creation: the people services have no function
that changes them yet, and the admin writes nothing the services do not."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kefu.core.admin import ServiceAdmin, ServiceForm

from . import services
from .models import Department, Team, User

# --- departments ------------------------------------------------------------------------------------------


class DepartmentAddForm(ServiceForm):
    class Meta:
        model = Department
        fields = ["name", "code", "kind"]

    def apply(self, actor):
        data = self.cleaned_data
        return services.create_department(actor, name=data["name"], code=data["code"], kind=data["kind"])


@admin.register(Department)
class DepartmentAdmin(ServiceAdmin):
    add_form = DepartmentAddForm
    add_fieldsets = [(None, {"fields": ["name", "code", "kind"]})]
    fields = ["name", "code", "kind", "parent"]
    readonly_fields = fields
    list_display = ["name", "code", "kind", "parent", "staff_count"]
    list_filter = ["kind"]
    list_select_related = ["parent"]
    search_fields = ["name", "code"]
    ordering = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(staff_total=Count("staff", distinct=True))

    @admin.display(description=_("staff"), ordering="staff_total")
    def staff_count(self, obj):
        return obj.staff_total


# --- teams ------------------------------------------------------------------------------------------------


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
        fields = ["members"]

    def apply(self, actor):
        team = Team.objects.get(pk=self.instance.pk)
        if "members" in self.changed_data:
            services.set_team_members(actor, team, self.cleaned_data["members"])
        return team


@admin.register(Team)
class TeamAdmin(ServiceAdmin):
    add_form = TeamAddForm
    form = TeamChangeForm
    add_fieldsets = [(None, {"fields": ["name", "department", "lead", "members"]})]
    fieldsets = [(None, {"fields": ["name", "department", "lead", "is_active", "members"]})]
    readonly_fields = ["name", "department", "lead", "is_active"]
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
    class Meta:
        model = User
        fields: list[str] = []

    def apply(self, actor):
        return None


@admin.register(User)
class UserAdmin(ServiceAdmin, DjangoUserAdmin):
    add_form = StaffAddForm
    form = StaffChangeForm
    add_fieldsets = [
        (None, {"fields": ["username", "display_name", "email", "role", "department", "teams"]}),
        (_("Password"), {"fields": ["new_password", "new_password_again"]}),
    ]
    fieldsets = [
        (None, {"fields": ["username", "password_link", "display_name", "email", "phone"]}),
        (_("Role and teams"), {"fields": ["role", "department", "team_list"]}),
        (_("Access"), {"fields": ["is_active", "is_staff", "is_superuser", "last_login", "date_joined"]}),
    ]
    readonly_fields = ["username", "password_link", "display_name", "email", "phone", "role", "department",
                       "team_list", "is_active", "is_staff", "is_superuser", "last_login", "date_joined"]
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

    @admin.display(description=_("teams"))
    def team_list(self, obj):
        teams = obj.teams.order_by("name")
        if not teams:
            return "-"
        return format_html_join(", ", '<a href="{}">{}</a>', (
            (reverse("admin:people_team_change", args=[t.pk]), t.name) for t in teams))
