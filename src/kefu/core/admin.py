"""Admin for the shared models, and the pieces every kefu admin uses to save through the services.

One write path: an admin form never saves a domain model itself. :class:`ServiceForm` calls the domain's
service once the form is valid (inside the admin's transaction, in a savepoint); a ``DomainError`` becomes a
form error and nothing is saved. :class:`ServiceAdmin` then skips Django's own ``save_model``/``save_related``.
"""

from __future__ import annotations

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import unquote
from django.db import router, transaction
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from . import scheduler, tokens
from .errors import DomainError
from .models import ApiToken, Event, IdempotencyRecord, ScheduledJob


class ServiceForm(forms.ModelForm):
    """A model form that saves through a service: subclasses implement :meth:`apply`.

    ``apply(actor)`` reads the cleaned data, calls the service functions and returns the saved object. It runs
    after every field and model check passed; a ``DomainError`` it raises is shown on the field it names (or
    above the form) and the savepoint rolls back whatever the service did before it failed."""

    actor = None  # the signed-in user; set per request by ServiceAdmin.get_form
    # Service error fields that are named differently in the form.
    error_fields: dict[str, str] = {}

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            with transaction.atomic():
                saved = self.apply(self.actor)
        except DomainError as exc:
            field = self.error_fields.get(exc.field, exc.field)
            self.add_error(field if field in self.fields else None, exc.message)
            return
        if saved is not None:
            self.instance = saved

    def apply(self, actor):  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def changed(self, names) -> dict:
        """The cleaned values of the fields among ``names`` that the user changed."""
        return {name: self.cleaned_data[name] for name in names if name in self.changed_data}


class ServiceAdmin(admin.ModelAdmin):
    """A model admin whose forms save through services (see :class:`ServiceForm`).

    ``add_form`` (optional) is used to create an object, ``form`` to change one."""

    add_form: type[ServiceForm] | None = None
    add_fieldsets = None

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs["form"] = self.add_form
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        return form

    def get_fieldsets(self, request, obj=None):
        if obj is None and self.add_fieldsets is not None:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None and self.add_fieldsets is not None:
            return ()  # the add form has its own fields; readonly_fields describe an existing object
        return super().get_readonly_fields(request, obj)

    def get_changelist_form(self, request, **kwargs):
        """The list's editable columns (``list_editable``) save through ``form`` too."""
        kwargs.setdefault("form", self.form)
        form = super().get_changelist_form(request, **kwargs)
        form.actor = request.user
        return form

    def changelist_view(self, request, extra_context=None):
        """Saving the list's editable columns is one transaction: if any row is refused, none is saved
        (each row's form calls its service while the rows are validated)."""
        if not (request.method == "POST" and self.list_editable and "_save" in request.POST):
            return super().changelist_view(request, extra_context)
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changelist_view(request, extra_context)
            changelist = (getattr(response, "context_data", None) or {}).get("cl")
            if changelist is not None and changelist.formset is not None and not changelist.formset.is_valid():
                transaction.set_rollback(True)
        return response

    def save_model(self, request, obj, form, change):
        """Saved already: the form called the service."""

    def save_related(self, request, form, formsets, change):
        """Saved already: the form called the service (many-to-many fields included)."""

    def has_delete_permission(self, request, obj=None):
        return False  # no service deletes these; each domain has its own way (close, revoke, erase)


def _delete_selected(modeladmin, request, queryset):
    """Django's "delete selected" action, for a :class:`ServiceDeleteAdmin`: every object is checked first;
    a refusal is shown as a message and nothing is deleted."""
    try:
        for obj in queryset:
            modeladmin.check_delete(obj)
        with transaction.atomic(using=router.db_for_write(modeladmin.model)):
            return delete_selected(modeladmin, request, queryset)
    except DomainError as exc:
        modeladmin.message_user(request, exc.message, messages.ERROR)
        return None


_delete_selected.__name__ = "delete_selected"


class ServiceDeleteAdmin(ServiceAdmin):
    """A :class:`ServiceAdmin` whose objects may be deleted, through a service.

    Subclasses implement ``delete_object(actor, obj)`` (the service call) and ``check_delete(obj)`` (raises the
    service's ``DomainError`` when ``obj`` must not be deleted, e.g. while it is in use). A refused deletion is
    a message on the object's page (or the list) and deletes nothing."""

    actions = [admin.action(permissions=["delete"], description=delete_selected.short_description)(
        _delete_selected)]

    def has_delete_permission(self, request, obj=None):
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def check_delete(self, obj):  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def delete_object(self, actor, obj):  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def delete_model(self, request, obj):
        self.delete_object(request.user, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_object(request.user, obj)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        try:
            if obj is not None:
                self.check_delete(obj)
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change",
                                                args=[obj.pk]))


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the system: they can be looked at, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def admin_link(obj, label=None):
    """A link to ``obj``'s admin change page."""
    if obj is None:
        return "-"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label if label is not None else str(obj))


def id_term(term: str) -> int | None:
    """``123`` or ``#123`` as an id, else None."""
    term = term.strip().lstrip("#")
    if term.isdigit() and len(term) < 19:
        return int(term)
    return None


# --- the event log ----------------------------------------------------------------------------------------

@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "at", "actor_label", "actor_kind", "verb", "subject", "case_id", "customer_id",
                    "field", "change"]
    list_filter = ["actor_kind"]
    search_fields = ["verb"]  # see get_search_results: ids and exact action names, both indexed
    search_help_text = _("A case number (e.g. #1024), a case or customer id, or an action such as "
                         "case.status_changed.")
    ordering = ["-id"]
    show_full_result_count = False
    list_select_related = False

    @admin.display(description=_("subject"))
    def subject(self, obj):
        return f"{obj.subject_type} #{obj.subject_id}"

    @admin.display(description=_("change"))
    def change(self, obj):
        if obj.old is None and obj.new is None:
            return ""
        return f"{obj.old} → {obj.new}"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("#") and id_term(term) is not None:
            return queryset.filter(case_id=id_term(term)), False
        number = id_term(term)
        if number is not None:
            return queryset.filter(Q(case_id=number) | Q(customer_id=number)), False
        return queryset.filter(verb=term), False


# --- API tokens ---------------------------------------------------------------------------------------------

class ApiTokenAddForm(ServiceForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at"]

    def apply(self, actor):
        data = self.cleaned_data
        token, raw = tokens.create_token(actor, data["user"], data["name"], expires_at=data["expires_at"])
        self.raw_token = raw
        return token


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceAdmin):
    """Tokens are created through kefu.core.tokens; the token itself is shown once, its digest never."""

    add_form = ApiTokenAddForm
    add_fieldsets = [(None, {"fields": ["user", "name", "expires_at"],
                             "description": _("The token is shown once, right after it is created. "
                                              "Only a digest of it is kept.")})]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "active"]
    readonly_fields = fields
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username", "user__display_name"]
    autocomplete_fields = ["user"]
    ordering = ["-created_at"]
    actions = ["revoke"]

    @admin.display(description=_("active"), boolean=True)
    def active(self, obj):
        return obj.is_active

    def has_change_permission(self, request, obj=None):
        return False  # a token is never edited: revoke it and create another

    def has_revoke_permission(self, request):
        return request.user.has_perm("core.change_apitoken")

    @admin.action(description=_("Revoke the selected tokens"), permissions=["revoke"])
    def revoke(self, request, queryset):
        count = 0
        for token in queryset.select_related("user"):
            if token.revoked_at is None:
                tokens.revoke_token(request.user, token)
                count += 1
        self.message_user(request, ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
                          % {"count": count}, messages.SUCCESS)

    def response_add(self, request, obj, post_url_continue=None):
        raw = getattr(request, "_kefu_raw_token", None)
        if raw:
            self.message_user(request, format_html(
                "{} <code>{}</code>",
                gettext("Copy the token now; it will not be shown again:"), raw), messages.WARNING)
        return super().response_add(request, obj, post_url_continue)

    def save_form(self, request, form, change):
        request._kefu_raw_token = getattr(form, "raw_token", None)
        return super().save_form(request, form, change)


# --- idempotency records and periodic jobs --------------------------------------------------------------

@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "method", "path", "key", "status_code"]
    list_filter = ["method", "status_code"]
    list_select_related = ["user"]
    search_fields = ["=key"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    show_full_result_count = False


@admin.register(ScheduledJob)
class ScheduledJobAdmin(ReadOnlyAdmin):
    list_display = ["name", "every", "next_run_at", "last_run_at", "runs", "registered"]
    ordering = ["name"]
    actions = ["run_soon"]

    @admin.display(description=_("interval"))
    def every(self, obj):
        return scheduler.format_interval(obj.interval_seconds)

    @admin.display(description=_("registered"), boolean=True)
    def registered(self, obj):
        scheduler.autodiscover()
        return scheduler.registry.get(obj.name) is not None

    def has_run_permission(self, request):
        return request.user.has_perm("core.change_scheduledjob")

    @admin.action(description=_("Run at the next scheduler tick"), permissions=["run"])
    def run_soon(self, request, queryset):
        count = sum(scheduler.run_soon(name) for name in queryset.values_list("name", flat=True))
        self.message_user(request, ngettext(
            "%(count)d job will run at the next scheduler tick.",
            "%(count)d jobs will run at the next scheduler tick.", count) % {"count": count}, messages.SUCCESS)


# --- background task results (django-tasks-db) -------------------------------------------------------------
# django-tasks-db ships no Chinese: its model's strings are listed here so that kefu's catalog translates them,
# and its admin is registered again with translatable column names and a translatable section name.

TASKS_DB_STRINGS = (
    _("Task Result"), _("Task Results"), _("enqueued at"), _("started at"), _("finished at"), _("args kwargs"),
    _("task path"), _("worker id"), _("queue name"), _("backend name"), _("run after"), _("return value"),
    _("exception class path"), _("traceback"),
    pgettext_lazy("Task", "Ready"), pgettext_lazy("Task", "Running"), pgettext_lazy("Task", "Failed"),
    pgettext_lazy("Task", "Successful"),
)

apps.get_app_config("django_tasks_database").verbose_name = _("Background tasks")

if admin.site.is_registered(DBTaskResult):
    admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskResultAdmin(DBTaskResultAdmin):
    list_display = ["id", "task", "status", "enqueued_at", "started_at", "finished_at", "priority", "queue_name"]
    list_filter = ["status", "queue_name"]
    show_full_result_count = False

    @admin.display(description=_("task"))
    def task(self, obj):
        return obj.task_name

    @admin.display(description=_("traceback"))
    def formatted_traceback(self, obj):
        return super().formatted_traceback(obj)

    @admin.display(description=_("run after"))
    def display_run_after(self, obj):
        return super().display_run_after(obj)
