"""Contracts in the admin: read-only. States change through services only (no FSM buttons, no status edits)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin
from contracts.models import Contract, ContractDocument, SignatureDelegation


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """R2184-12: contracts and their documents are kept; never changed nor deleted in the admin."""


class ContractDocumentInline(admin.TabularInline):
    model = ContractDocument
    fields = ["version", "status", "sha256", "size", "created_at", "rendered_at", "attempts"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    list_display = ["reference", "case", "supplier_name", "status", "quantity", "unit_price", "created_at"]
    list_filter = ["status"]
    search_fields = ["reference", "case__reference", "offer__supplier__name"]
    list_select_related = ["case", "offer__supplier"]
    readonly_fields = [
        "case",
        "offer",
        "reference",
        "status",
        "quantity",
        "unit_price",
        "vat_rate",
        "created_at",
        "terms_version",
        "clauses_checked",
        "approved_document",
        "approved_by",
        "approved_at",
        "signed_by",
        "signed_at",
        "signed_sha256",
        "delegation",
        "prefect_transmitted_on",
        "notified_at",
    ]
    fields = readonly_fields
    inlines = [ContractDocumentInline]

    @admin.display(description=_("supplier"), ordering="offer__supplier__name")
    def supplier_name(self, obj):
        return obj.offer.supplier.name


@admin.register(ContractDocument)
class ContractDocumentAdmin(ReadOnlyAdmin):
    list_display = ["contract", "version", "status", "sha256", "size", "rendered_at", "attempts"]
    list_filter = ["status"]
    search_fields = ["contract__reference", "sha256"]
    list_select_related = ["contract"]
    readonly_fields = [
        "contract",
        "version",
        "status",
        "sha256",
        "size",
        "created_at",
        "rendered_at",
        "attempts",
        "error",
    ]
    # The file itself is served only through the permission-checked download view.
    fields = readonly_fields


@admin.register(SignatureDelegation)
class SignatureDelegationAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "delegate",
        "organisation",
        "amount_ceiling",
        "valid_from",
        "valid_until",
    ]
    list_filter = ["organisation"]
    search_fields = ["reference", "delegate__username", "delegate__last_name", "delegating_authority"]
    list_select_related = ["delegate", "organisation"]
    raw_id_fields = ["delegate"]

    def has_delete_permission(self, request, obj=None):
        # A delegation referenced by a signed contract must stay (PROTECT); keep them all for the audit.
        return False
