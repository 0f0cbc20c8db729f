from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import NoDeleteAdminMixin, ReadOnlyAdminMixin
from procurement import notified_bodies, services
from procurement.models import (
    CaseEvent,
    ConformityCheck,
    ConformityEvidence,
    EvidenceRequirement,
    Legislation,
    NeedLine,
    NegotiationRound,
    Norm,
    NormClass,
    NotifiedBody,
    Offer,
    PurchaseCase,
    ReferencePrice,
    SupplyChainParty,
    Threshold,
    UrgencyJustification,
    VettingDecision,
)


class NeedLineInline(admin.TabularInline):
    model = NeedLine
    extra = 0
    can_delete = False


@admin.register(PurchaseCase)
class PurchaseCaseAdmin(admin.ModelAdmin):
    list_display = ("reference", "title", "organisation", "status", "owner", "stage_entered_at")
    list_filter = ("organisation", "status")
    search_fields = ("reference", "title")
    list_select_related = ("organisation", "owner")
    # `status` is a protected FSM field: it changes only through the services, never through a form.
    readonly_fields = ("status", "reference", "organisation", "created_at", "stage_entered_at", "closed_at")
    filter_horizontal = ("buyers",)
    inlines = [NeedLineInline]

    def has_add_permission(self, request):
        # A case is opened through procurement.services.case_create, which numbers it and writes its audit row.
        return False

    def has_delete_permission(self, request, obj=None):
        # R2184-12: no hard delete of a case, ever.
        return False


@admin.register(NeedLine)
class NeedLineAdmin(NoDeleteAdminMixin, admin.ModelAdmin):
    list_display = ("case", "product", "quantity", "unit", "cpv_code", "required_date")
    list_filter = ("product",)
    search_fields = ("case__reference", "description")
    list_select_related = ("case",)


@admin.register(UrgencyJustification)
class UrgencyJustificationAdmin(NoDeleteAdminMixin, SimpleHistoryAdmin):
    list_display = ("case", "event_date", "triggering_text")
    search_fields = ("case__reference", "triggering_event")
    list_select_related = ("case",)


class SupplyChainPartyInline(admin.TabularInline):
    model = SupplyChainParty
    fields = ("position", "role", "supplier", "note", "added_by", "added_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # Parties are added from the offer page, which screens them against the sanctions lists.
        return False


@admin.register(Offer)
class OfferAdmin(NoDeleteAdminMixin, SimpleHistoryAdmin):
    list_display = ("case", "supplier", "product_description", "unit_price", "quantity", "awarded_quantity")
    search_fields = ("case__reference", "supplier__name", "product_description")
    list_select_related = ("case", "supplier")
    inlines = [SupplyChainPartyInline]


@admin.register(ReferencePrice)
class ReferencePriceAdmin(admin.ModelAdmin):
    """The reference prices behind the "more than 3× the reference" red flag: add a newer row to change one."""

    list_display = ("product", "unit_price", "valid_from", "source")
    list_filter = ("product",)


@admin.register(VettingDecision)
class VettingDecisionAdmin(NoDeleteAdminMixin, admin.ModelAdmin):
    list_display = ("case", "supplier", "decision", "decided_by", "decided_at", "countersigned_by")
    list_filter = ("decision",)
    search_fields = ("case__reference", "supplier__name")
    list_select_related = ("case", "supplier", "decided_by")


@admin.register(ConformityCheck)
class ConformityCheckAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: checks are recorded from the offer's page and overridden by a jurist there, audited."""

    list_display = ("offer", "standard", "verdict", "computed_verdict", "checked_by", "checked_at")
    list_filter = ("verdict",)
    search_fields = ("offer__case__reference", "standard", "certificate_reference")
    list_select_related = ("offer__supplier", "checked_by")


@admin.register(NegotiationRound)
class NegotiationRoundAdmin(NoDeleteAdminMixin, admin.ModelAdmin):
    list_display = ("offer", "number", "unit_price", "quantity", "delivery_date", "is_final", "recorded_at")
    list_filter = ("is_final",)
    search_fields = ("offer__case__reference", "offer__supplier__name")
    list_select_related = ("offer__supplier",)


@admin.register(Threshold)
class ThresholdAdmin(admin.ModelAdmin):
    list_display = ("kind", "amount", "valid_from", "valid_until", "note")
    list_filter = ("kind",)


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit log is append-only: read it here, never change it."""

    list_display = ("created_at", "case", "verb", "actor", "source", "target", "ip")
    list_filter = ("verb",)
    search_fields = ("case__reference", "comment")
    list_select_related = ("case", "actor")
    date_hierarchy = "created_at"


# =====================================================================================================
# The norms catalogue and the notified bodies (DOMAIN.md §4): data Tandem's administrators keep up to date.
# =====================================================================================================
def _manages_catalogue(request) -> bool:
    """Tandem's administrators (group admin, Django staff) keep the catalogue; superusers can too."""
    user = request.user
    return user.is_active and user.is_staff and (user.is_superuser or user.is_tandem_admin)


class CatalogueAccess:
    """Who edits the catalogue: Tandem's administrators, whatever Django model permissions say (their group
    holds none). Deleting a row a conformity check points to is refused by the admin (on_delete=PROTECT)."""

    def has_module_permission(self, request):
        return _manages_catalogue(request)

    def has_view_permission(self, request, obj=None):
        return _manages_catalogue(request)

    def has_add_permission(self, request, obj=None):
        return _manages_catalogue(request)

    def has_change_permission(self, request, obj=None):
        return _manages_catalogue(request)

    def has_delete_permission(self, request, obj=None):
        return _manages_catalogue(request)


THRESHOLDS = (
    ("filtration_min", _("filtration ≥ %(value)s %%")),
    ("inward_leakage_max", _("inward leakage ≤ %(value)s %%")),
    ("bacterial_filtration_min", _("bacterial filtration ≥ %(value)s %%")),
    ("breathing_resistance_max", _("breathing resistance < %(value)s Pa/cm²")),
    ("splash_resistance_min", _("splash resistance ≥ %(value)s kPa")),
    ("aql_max", _("AQL ≤ %(value)s")),
)
THRESHOLD_FIELDS = tuple(field for field, _label in THRESHOLDS)


class NormClassInline(CatalogueAccess, admin.TabularInline):
    model = NormClass
    fields = ("label", "product", *THRESHOLD_FIELDS, "valid_from", "valid_until")
    extra = 0
    show_change_link = True  # the derogation reference and the required evidence are edited on the class's page


@admin.register(Norm)
class NormAdmin(CatalogueAccess, admin.ModelAdmin):
    list_display = ("code", "title", "legislation", "country")
    list_filter = ("legislation",)
    search_fields = ("code", "title")
    inlines = [NormClassInline]


class EvidenceRequirementInline(CatalogueAccess, admin.TabularInline):
    model = EvidenceRequirement
    extra = 0


@admin.register(NormClass)
class NormClassAdmin(CatalogueAccess, admin.ModelAdmin):
    list_display = ("label", "norm", "product", "thresholds", "is_derogation", "valid_from", "valid_until")
    list_filter = ("product", "norm__legislation")
    search_fields = ("label", "norm__code", "derogation_reference")
    list_select_related = ("norm",)
    fieldsets = (
        (None, {"fields": ("norm", "label", "product", "note")}),
        (_("Thresholds (leave empty when the class has none)"), {"fields": THRESHOLD_FIELDS}),
        (
            _("Derogation"),
            {
                "description": _(
                    "For a foreign standard accepted for a time under a legal text (2020 FFP2 equivalents)."
                ),
                "fields": ("derogation_reference", "valid_from", "valid_until"),
            },
        ),
    )
    inlines = [EvidenceRequirementInline]

    @admin.display(description=_("thresholds"))
    def thresholds(self, obj):
        figures = [
            label % {"value": formats.number_format(getattr(obj, field).normalize())}
            for field, label in THRESHOLDS
            if getattr(obj, field) is not None
        ]
        return "; ".join(figures) or "—"

    @admin.display(boolean=True, description=_("derogation"))
    def is_derogation(self, obj):
        return obj.is_derogation


class SemicolonListField(forms.CharField):
    """A JSON list of names edited as one line: "ECM; Ente Certificazione Macchine"."""

    def prepare_value(self, value):
        return "; ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return notified_bodies.split(super().to_python(value))


class NotifiedBodyForm(forms.ModelForm):
    legislations = forms.MultipleChoiceField(
        label=_("notified for"),
        choices=[(value.value, value.label) for value in notified_bodies.NOTIFIABLE],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("As listed in NANDO. Leave empty for an issuer that is not notified."),
    )
    aliases = SemicolonListField(
        label=_("other names"),
        required=False,
        help_text=_("Separated by semicolons: acronyms and names found on certificates (e.g. ECM)."),
    )

    class Meta:
        model = NotifiedBody
        fields = ("number", "name", "country", "legislations", "aliases", "note")
        help_texts = {"number": _("The 4 digits that follow the CE mark; empty for an issuer that is not notified.")}

    def clean_number(self):
        number = self.cleaned_data["number"].strip()
        if number and not notified_bodies.NUMBER.fullmatch(number):
            raise ValidationError(_("A notified body's number is 4 digits."))
        return number

    def clean_country(self):
        return self.cleaned_data["country"].strip().upper()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("legislations") and not cleaned.get("number"):
            self.add_error("legislations", _("A body without a number cannot be notified for a legislation."))
        return cleaned


class NotifiedForFilter(admin.SimpleListFilter):
    title = _("notified for")
    parameter_name = "notified_for"
    NOT_NOTIFIED = "none"

    def lookups(self, request, model_admin):
        return [
            *((value.value, value.label) for value in notified_bodies.NOTIFIABLE),
            (self.NOT_NOTIFIED, _("Not notified (voluntary certificates)")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NOT_NOTIFIED:
            return queryset.filter(Q(number="") | Q(legislations=[]))
        if value in notified_bodies.NOTIFIABLE:
            # The list holds fixed codes: matching the quoted code in the JSON text works on PostgreSQL and on the
            # SQLite demo alike (SQLite has no JSON containment).
            return queryset.exclude(number="").filter(legislations__icontains=f'"{value}"')
        return queryset


class NotifiedBodiesUploadForm(forms.Form):
    MAX_BYTES = 2 * 1024 * 1024  # the whole NANDO list is far smaller

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, with the header row number,name,country,legislations,aliases,note. Bodies are matched by "
            "number, or by name when they have none; importing the same file again changes nothing."
        ),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > self.MAX_BYTES:
            raise ValidationError(_("The file is larger than 2 MB: is it really the list of notified bodies?"))
        return file


@admin.register(NotifiedBody)
class NotifiedBodyAdmin(CatalogueAccess, admin.ModelAdmin):
    """The reference behind the "body not notified for PPE" red flag: edited here one by one, or refreshed from a
    CSV file (services.notified_bodies_import) through the "Import a CSV file" button of the list."""

    form = NotifiedBodyForm
    list_display = ("number", "name", "country", "notified_for", "is_notified")
    list_display_links = ("number", "name")
    list_filter = (NotifiedForFilter, "country")
    search_fields = ("number", "name", "aliases")
    change_list_template = "admin/procurement/notifiedbody/change_list.html"
    upload_template = "admin/procurement/notifiedbody/upload.html"

    @admin.display(description=_("notified for"))
    def notified_for(self, obj):
        labels = dict(Legislation.choices)
        return ", ".join(str(labels.get(value, value)) for value in obj.legislations) or "—"

    @admin.display(boolean=True, description=_("notified"))
    def is_notified(self, obj):
        return obj.is_notified

    def get_urls(self):
        import_view = self.admin_site.admin_view(self.import_view)
        return [path("import/", import_view, name="procurement_notifiedbody_import"), *super().get_urls()]

    def import_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        posted = request.method == "POST"
        form = NotifiedBodiesUploadForm(request.POST if posted else None, request.FILES if posted else None)
        if posted and form.is_valid():
            try:
                text = notified_bodies.decode(form.cleaned_data["file"].read())
                created, updated = services.notified_bodies_import(text=text)
            except ValidationError as error:
                form.add_error("file", error)
            else:
                self.message_user(
                    request,
                    gettext("Notified bodies: %(created)s created, %(updated)s updated.")
                    % {"created": created, "updated": updated},
                )
                return redirect(reverse("admin:procurement_notifiedbody_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import notified bodies"),
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, self.upload_template, context, status=422 if posted else 200)


@admin.register(ConformityEvidence)
class ConformityEvidenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: evidence files arrive only through the offer's upload page, which sniffs them and recomputes
    the verdict."""

    list_display = ("conformity_check", "kind", "issuer", "notified_body", "number", "expires_on")
    list_filter = ("kind",)
    search_fields = ("conformity_check__offer__case__reference", "issuer", "number", "original_name", "sha256")
    list_select_related = ("conformity_check__offer__supplier", "notified_body")
