from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from procurement.models import (
    CaseEvent,
    ConformityCheck,
    NeedLine,
    NegotiationRound,
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
class NeedLineAdmin(admin.ModelAdmin):
    list_display = ("case", "product", "quantity", "unit", "cpv_code", "required_date")
    list_filter = ("product",)
    search_fields = ("case__reference", "description")
    list_select_related = ("case",)


@admin.register(UrgencyJustification)
class UrgencyJustificationAdmin(SimpleHistoryAdmin):
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
class OfferAdmin(SimpleHistoryAdmin):
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
class VettingDecisionAdmin(admin.ModelAdmin):
    list_display = ("case", "supplier", "decision", "decided_by", "decided_at", "countersigned_by")
    list_filter = ("decision",)
    search_fields = ("case__reference", "supplier__name")
    list_select_related = ("case", "supplier", "decided_by")


@admin.register(ConformityCheck)
class ConformityCheckAdmin(admin.ModelAdmin):
    list_display = ("offer", "standard", "verdict", "checked_by", "checked_at")
    list_filter = ("verdict",)
    search_fields = ("offer__case__reference", "standard", "certificate_reference")
    list_select_related = ("offer__supplier", "checked_by")


@admin.register(NegotiationRound)
class NegotiationRoundAdmin(admin.ModelAdmin):
    list_display = ("offer", "number", "unit_price", "quantity", "delivery_date", "is_final", "recorded_at")
    list_filter = ("is_final",)
    search_fields = ("offer__case__reference", "offer__supplier__name")
    list_select_related = ("offer__supplier",)


@admin.register(Threshold)
class ThresholdAdmin(admin.ModelAdmin):
    list_display = ("kind", "amount", "valid_from", "valid_until", "note")
    list_filter = ("kind",)


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    """The audit log is append-only: read it here, never change it."""

    list_display = ("created_at", "case", "verb", "actor", "source", "target", "ip")
    list_filter = ("verb",)
    search_fields = ("case__reference", "comment")
    list_select_related = ("case", "actor")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
