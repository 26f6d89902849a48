"""Admin for cases, their messages and attachments, and the case types. Every change to a case goes
through kefu.cases.services (create_case, update_case, change_status, assign, transfer, set_departments),
so the workflow rules hold here exactly as in the API and the workspace; case types through
create_case_type / update_case_type / delete_case_type. Messages and attachments are shown read-only: they are
written in the workspace and the channels."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.text import get_text_list
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kefu.core.admin import ReadOnlyAdmin, ServiceAdmin, ServiceDeleteAdmin, ServiceForm, admin_link, id_term
from kefu.core.errors import DomainError

from . import services
from .models import TRANSITIONS, Attachment, Case, CaseType, Message, Status

# --- case types -------------------------------------------------------------------------------------------

CASE_TYPE_FIELDS = ["name", "name_en", "is_complaint", "is_active", "position"]


class CaseTypeAddForm(ServiceForm):
    class Meta:
        model = CaseType
        fields = ["code", *CASE_TYPE_FIELDS]

    def apply(self, actor):
        data = self.cleaned_data
        return services.create_case_type(actor, code=data["code"],
                                         **{name: data[name] for name in CASE_TYPE_FIELDS})


class CaseTypeChangeForm(ServiceForm):
    class Meta:
        model = CaseType
        fields = CASE_TYPE_FIELDS
        help_texts = {"is_active": _("New cases can only have an active type; the cases that have this type "
                                     "keep it. A type that cases have is deactivated, never deleted.")}

    def apply(self, actor):
        case_type = CaseType.objects.get(pk=self.instance.pk)
        changes = self.changed(CASE_TYPE_FIELDS)
        if changes:
            services.update_case_type(actor, case_type, **changes)
        return case_type


@admin.register(CaseType)
class CaseTypeAdmin(ServiceDeleteAdmin):
    add_form = CaseTypeAddForm
    form = CaseTypeChangeForm
    add_fieldsets = [(None, {"fields": ["code", *CASE_TYPE_FIELDS]})]
    fieldsets = [(None, {"fields": ["code", *CASE_TYPE_FIELDS],
                         "description": _("The code does not change: the API and imports refer to case types "
                                          "by it.")})]
    readonly_fields = ["code"]
    list_display = ["code", "name", "name_en", "is_complaint", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active", "is_complaint"]
    search_fields = ["code", "name", "name_en"]
    ordering = ["position", "code"]

    def check_delete(self, obj):
        services.check_case_type_deletable(obj)

    def delete_object(self, actor, obj):
        services.delete_case_type(actor, obj)


# --- cases ------------------------------------------------------------------------------------------------

FIELDS = ["subject", "type", "stage", "priority"]


class CaseChangeForm(ServiceForm):
    reason = forms.CharField(
        label=_("reason"), required=False, max_length=300,
        help_text=_("Why the status changes or the case moves to another team; kept in the case history."),
    )

    class Meta:
        model = Case
        fields = [*FIELDS, "status", "team", "assignee", "departments"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "status" in self.fields:
            allowed = [str(label) for value, label in Status.choices if value in TRANSITIONS[self.instance.status]]
            self.fields["status"].help_text = (
                gettext("From here the case can go to %(statuses)s.") % {"statuses": get_text_list(allowed)}
                if allowed else gettext("A closed case is final; open a follow-up case instead.")
            )

    def apply(self, actor):
        case = Case.objects.get(pk=self.instance.pk)
        data = self.cleaned_data
        reason = data.get("reason", "")
        status = data["status"] if "status" in self.changed_data else None
        # Reopen a solved case before changing it; any other status change comes after the other changes
        # (so a case can be edited and closed in one save).
        reopen_first = status is not None and case.status == Status.SOLVED and status != Status.CLOSED
        if reopen_first:
            services.change_status(actor, case, status, reason=reason)
        fields = self.changed(FIELDS)
        if fields:
            services.update_case(actor, case, **fields)
        if "team" in self.changed_data:
            if data["team"] is None:
                raise DomainError(gettext("A case cannot be taken off its team; transfer it to another team."),
                                  field="team")
            services.transfer(actor, case, team=data["team"], assignee=data["assignee"], reason=reason)
        elif "assignee" in self.changed_data:
            services.assign(actor, case, data["assignee"])
        if "departments" in self.changed_data:
            services.set_departments(actor, case, data["departments"])
        if status is not None and not reopen_first:
            services.change_status(actor, case, status, reason=reason)
        return case


class CaseAddForm(ServiceForm):
    body = forms.CharField(
        label=_("first message"), required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What the customer said (as told on the phone or written in a channel)."),
    )
    body_from_customer = forms.BooleanField(
        label=_("the first message is the customer's words"), required=False, initial=True,
        help_text=_("Untick for a case staff open themselves (a proactive call, a follow-up)."),
    )

    class Meta:
        model = Case
        fields = ["customer", "subject", "type", "channel", "stage", "priority", "team", "assignee",
                  "departments"]

    def apply(self, actor):
        data = self.cleaned_data
        return services.create_case(
            actor, customer=data["customer"], subject=data["subject"], type=data["type"],
            channel=data["channel"], body=data["body"], body_from_customer=data["body_from_customer"],
            stage=data["stage"], priority=data["priority"], team=data["team"], assignee=data["assignee"],
            departments=data["departments"],
        )


@admin.register(Case)
class CaseAdmin(ServiceAdmin):
    form = CaseChangeForm
    add_form = CaseAddForm
    fieldsets = [
        (None, {"fields": ["customer_link", "channel", *FIELDS]}),
        (_("Status and owner"), {"fields": ["status", "reason", "team", "assignee", "departments"]}),
        (_("Times"), {"fields": ["created_at", "updated_at", "first_response_at", "last_customer_message_at",
                                 "last_staff_message_at", "solved_at", "closed_at"]}),
        (_("Due"), {"fields": ["first_response_due_at", "next_response_due_at", "resolution_due_at"],
                    "classes": ["collapse"]}),
        (_("Counts"), {"fields": ["message_count", "transfer_count", "reopen_count", "created_by",
                                  "merged_into_link"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["customer", "subject", "type", "channel", "stage", "priority"]}),
        (_("Owner"), {"fields": ["team", "assignee", "departments"]}),
        (_("First message"), {"fields": ["body", "body_from_customer"]}),
    ]
    readonly_fields = ["customer_link", "channel", "created_at", "updated_at", "first_response_at",
                       "last_customer_message_at", "last_staff_message_at", "solved_at", "closed_at",
                       "first_response_due_at", "next_response_due_at", "resolution_due_at", "message_count",
                       "transfer_count", "reopen_count", "created_by", "merged_into_link"]
    list_display = ["id", "subject", "status", "priority", "type", "channel", "customer", "team", "assignee",
                    "updated_at"]
    list_display_links = ["id", "subject"]
    list_filter = ["status", "priority", "channel", "stage", "type", "team", ("updated_at",
                                                                             admin.DateFieldListFilter)]
    list_select_related = ["type", "customer", "team", "assignee"]
    raw_id_fields = ["customer"]
    autocomplete_fields = ["team", "assignee", "departments"]
    search_fields = ["subject"]  # see get_search_results
    search_help_text = _("A case number (e.g. #1024) or words from the subject.")
    ordering = ["-updated_at", "-id"]  # the case_updated index
    show_full_result_count = False

    @admin.display(description=_("customer"))
    def customer_link(self, obj):
        return admin_link(obj.customer)

    @admin.display(description=_("merged into"))
    def merged_into_link(self, obj):
        return admin_link(obj.merged_into)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = id_term(term)
        if number is not None:
            return queryset.filter(pk=number), False
        return queryset.filter(subject__icontains=term), False


# --- messages and attachments -----------------------------------------------------------------------------

class AttachmentInline(admin.TabularInline):
    model = Attachment
    fields = ["filename", "content_type", "size", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "kind", "channel", "author", "customer", "delivery", "created_at"]
    list_filter = ["kind", "channel", "delivery"]
    list_select_related = ["case", "author", "customer"]
    fields = ["case_link", "kind", "channel", "body", "author", "customer", "external_id", "delivery",
              "created_at"]
    readonly_fields = fields
    search_fields = ["=case__id"]  # see get_search_results
    search_help_text = _("A case number, e.g. #1024.")
    inlines = [AttachmentInline]
    ordering = ["-id"]
    show_full_result_count = False

    @admin.display(description=_("case"))
    def case_link(self, obj):
        return admin_link(obj.case)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = id_term(term)
        return queryset.filter(case_id=number if number is not None else -1), False


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "filename", "content_type", "size", "message", "created_at"]
    list_select_related = ["message"]
    fields = ["message_link", "filename", "content_type", "size", "sha256", "file", "created_at"]
    readonly_fields = fields
    search_fields = ["=message__case__id"]
    ordering = ["-id"]
    show_full_result_count = False

    @admin.display(description=_("message"))
    def message_link(self, obj):
        return admin_link(obj.message)

    def get_search_results(self, request, queryset, search_term):
        number = id_term(search_term)
        if not search_term.strip():
            return queryset, False
        return queryset.filter(message__case_id=number if number is not None else -1), False
