"""Admin for customers, identities, grades and tags. All of them are written through
kefu.customers.services; a grade that customers have is not deleted."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kefu.core.admin import ServiceAdmin, ServiceDeleteAdmin, ServiceForm, admin_link, id_term

from . import services
from .identities import InvalidIdentity, mask, normalize
from .models import Customer, Grade, Identity, Tag

# --- grades and tags --------------------------------------------------------------------------------------

GRADE_FIELDS = ["name", "name_en", "rank", "description"]


class GradeAddForm(ServiceForm):
    class Meta:
        model = Grade
        fields = ["code", *GRADE_FIELDS]

    def apply(self, actor):
        data = self.cleaned_data
        return services.create_grade(actor, code=data["code"], **{name: data[name] for name in GRADE_FIELDS})


class GradeChangeForm(ServiceForm):
    class Meta:
        model = Grade
        fields = GRADE_FIELDS

    def apply(self, actor):
        grade = Grade.objects.get(pk=self.instance.pk)
        changes = self.changed(GRADE_FIELDS)
        if changes:
            services.update_grade(actor, grade, **changes)
        return grade


@admin.register(Grade)
class GradeAdmin(ServiceDeleteAdmin):
    add_form = GradeAddForm
    form = GradeChangeForm
    add_fieldsets = [(None, {"fields": ["code", *GRADE_FIELDS]})]
    fieldsets = [(None, {"fields": ["code", *GRADE_FIELDS],
                         "description": _("The code does not change: the event log and reports refer to "
                                          "grades by it.")})]
    readonly_fields = ["code"]
    list_display = ["code", "name", "name_en", "rank"]
    list_editable = ["rank"]
    search_fields = ["code", "name", "name_en"]
    ordering = ["rank", "code"]

    def check_delete(self, obj):
        services.check_grade_deletable(obj)

    def delete_object(self, actor, obj):
        services.delete_grade(actor, obj)


class TagForm(ServiceForm):
    class Meta:
        model = Tag
        fields = ["name"]

    def apply(self, actor):
        if self.instance.pk is None:
            return services.create_tag(actor, self.cleaned_data["name"])
        tag = Tag.objects.get(pk=self.instance.pk)
        if "name" in self.changed_data:
            services.rename_tag(actor, tag, self.cleaned_data["name"])
        return tag


@admin.register(Tag)
class TagAdmin(ServiceDeleteAdmin):
    """Renaming a tag keeps it on its customers; deleting it takes it off them."""

    form = TagForm
    list_display = ["name"]
    search_fields = ["name"]
    ordering = ["name"]

    def check_delete(self, obj):
        """A tag can always be deleted."""

    def delete_object(self, actor, obj):
        services.delete_tag(actor, obj)


def identity_matches(term: str) -> Q | None:
    """The identities a search term is: a phone number, an email address or a WeChat id (exact, indexed)."""
    for channel in ("phone", "email", "wechat_openid"):
        try:
            value = normalize(channel, term)
        except InvalidIdentity:
            continue
        if channel == "wechat_openid":
            return Q(channel__in=["wechat_openid", "wechat_unionid"], value=value)
        return Q(channel=channel, value=value)
    return None


# --- customers --------------------------------------------------------------------------------------------

PROFILE = ["kind", "name", "org_type", "organisation", "title", "region", "birthday"]
KNOWLEDGE = ["needs", "preferences", "expectations", "purchase_reasons", "non_purchase_reasons"]
CONSENT = ["consent_service", "consent_marketing", "consent_survey"]
GRADE = ["grade", "grade_reason"]


class CustomerForm(ServiceForm):
    class Meta:
        model = Customer
        fields = [*PROFILE, *GRADE, *KNOWLEDGE, *CONSENT, "tags"]

    def apply(self, actor):
        customer = Customer.objects.get(pk=self.instance.pk)
        changes = self.changed([*PROFILE, *KNOWLEDGE, *CONSENT])
        if "tags" in self.changed_data:
            changes["tags"] = [tag.name for tag in self.cleaned_data["tags"]]
        if changes:
            services.update_customer(actor, customer, **changes)
        if self.changed(GRADE):
            services.set_grade(actor, customer, self.cleaned_data["grade"],
                               reason=self.cleaned_data["grade_reason"])
        return customer


class CustomerAddForm(CustomerForm):
    phone = forms.CharField(label=_("phone"), required=False, max_length=40)
    email = forms.CharField(label=_("email"), required=False, max_length=254)
    wechat_openid = forms.CharField(label=_("WeChat openid"), required=False, max_length=64)
    error_fields = {"identities": "phone"}

    def apply(self, actor):
        data = self.cleaned_data
        identities = [(channel, data[channel]) for channel in ("phone", "email", "wechat_openid")
                      if data.get(channel, "").strip()]
        profile = {name: data[name] for name in [*PROFILE, *KNOWLEDGE, *CONSENT]}
        return services.create_customer(
            actor, identities=identities, grade=data["grade"], grade_reason=data["grade_reason"],
            tags=[tag.name for tag in data["tags"]], **profile,
        )

    def clean(self):
        data = super().clean()
        if data.get("grade") and not (data.get("grade_reason") or "").strip():
            self.add_error("grade_reason", _("Say why the grade is set by hand."))
        return data


@admin.register(Customer)
class CustomerAdmin(ServiceAdmin):
    form = CustomerForm
    add_form = CustomerAddForm
    fieldsets = [
        (None, {"fields": PROFILE}),
        (_("Grade"), {"fields": [*GRADE, "grade_source", "grade_set_at"]}),
        (_("Channels"), {"fields": ["identity_list"]}),
        (_("Needs, preferences and expectations"), {"fields": KNOWLEDGE, "classes": ["collapse"]}),
        (_("Consent"), {"fields": [*CONSENT, "consent_updated_at"]}),
        (_("Tags"), {"fields": ["tags"]}),
        (_("Record"), {"fields": ["lifetime_value", "created_at", "updated_at", "last_contact_at",
                                  "erased_at"]}),
    ]
    add_fieldsets = [
        (None, {"fields": PROFILE}),
        (_("Channels"), {"fields": ["phone", "email", "wechat_openid"]}),
        (_("Grade"), {"fields": GRADE}),
        (_("Needs, preferences and expectations"), {"fields": KNOWLEDGE, "classes": ["collapse"]}),
        (_("Consent"), {"fields": CONSENT}),
        (_("Tags"), {"fields": ["tags"]}),
    ]
    readonly_fields = ["grade_source", "grade_set_at", "identity_list", "consent_updated_at", "lifetime_value",
                       "created_at", "updated_at", "last_contact_at", "erased_at"]
    list_display = ["id", "name", "kind", "org_type", "organisation", "grade", "region", "updated_at",
                    "last_contact_at"]
    list_display_links = ["id", "name"]
    list_filter = ["kind", "org_type", "grade", "grade_source", "consent_marketing"]
    list_select_related = ["organisation", "grade"]
    raw_id_fields = ["organisation"]
    autocomplete_fields = ["tags"]
    search_fields = ["name"]  # see get_search_results
    search_help_text = _("A customer id, a phone number, an email address, a WeChat id, or part of a name.")
    ordering = ["-updated_at", "-id"]  # the customer_updated index
    show_full_result_count = False

    @admin.display(description=_("channels"))
    def identity_list(self, obj):
        rows = obj.identities.order_by("channel", "-is_primary", "id")
        links = format_html_join(
            "", '<li><a href="{}">{}</a>: {}</li>',
            ((reverse("admin:customers_identity_change", args=[i.pk]), i.get_channel_display(), i.value)
             for i in rows),
        )
        add = reverse("admin:customers_identity_add") + f"?customer={obj.pk}"
        return format_html('<ul style="margin:0;padding-left:1em">{}</ul><a href="{}">{}</a>', links, add,
                           _("Add a channel identity"))

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = id_term(term)
        matches = Q(name__icontains=term)
        if number is not None:
            matches |= Q(pk=number)
        identity = identity_matches(term)
        if identity is not None:
            matches |= Q(pk__in=Identity.objects.filter(identity).values("customer_id"))
        return queryset.filter(matches), False


# --- identities -------------------------------------------------------------------------------------------

class IdentityAddForm(ServiceForm):
    class Meta:
        model = Identity
        fields = ["customer", "channel", "value", "verified"]

    def _post_clean(self):
        # The service normalises and checks uniqueness; skip the model's own unique check on the raw value.
        self.validate_unique = lambda: None
        super()._post_clean()

    def apply(self, actor):
        data = self.cleaned_data
        return services.add_identity(actor, data["customer"], data["channel"], data["value"],
                                     verified=data["verified"])


@admin.register(Identity)
class IdentityAdmin(ServiceAdmin):
    """Identities are added and removed through the customer services; they are not edited in place."""

    add_form = IdentityAddForm
    add_fieldsets = [(None, {"fields": ["customer", "channel", "value", "verified"]})]
    fields = ["customer_link", "channel", "value", "is_primary", "verified", "created_at"]
    readonly_fields = fields
    list_display = ["id", "channel", "masked_value", "customer", "is_primary", "verified", "created_at"]
    list_filter = ["channel", "verified"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
    search_fields = ["value"]  # see get_search_results
    search_help_text = _("A phone number, an email address or a WeChat id (exact), or a customer id.")
    ordering = ["-id"]
    show_full_result_count = False

    @admin.display(description=_("value"))
    def masked_value(self, obj):
        return mask(obj.channel, obj.value)

    def action_checkbox(self, obj):
        """Django labels the checkbox with str(obj), which is the full value: label it masked."""
        label = f"{obj.get_channel_display()}: {mask(obj.channel, obj.value)}"
        attrs = {"class": "action-select", "aria-label": format_html(
            gettext("Select this object for an action - {}"), label)}
        return forms.CheckboxInput(attrs, lambda value: False).render(ACTION_CHECKBOX_NAME, str(obj.pk))

    @admin.display(description=_("customer"))
    def customer_link(self, obj):
        return admin_link(obj.customer)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("customers.delete_identity")

    def delete_model(self, request, obj):
        services.remove_identity(request.user, obj)

    def delete_queryset(self, request, queryset):
        for identity in queryset:
            services.remove_identity(request.user, identity)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q(pk__in=[])
        identity = identity_matches(term)
        if identity is not None:
            matches |= identity
        number = id_term(term)
        if number is not None:
            matches |= Q(customer_id=number)
        return queryset.filter(matches), False
