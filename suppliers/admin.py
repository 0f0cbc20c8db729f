from django.contrib import admin
from django.db import models
from simple_history.admin import SimpleHistoryAdmin

from suppliers.models import Supplier, SupplierDocument


class SupplierDocumentInline(admin.TabularInline):
    model = SupplierDocument
    fields = ("kind", "issued_on", "expires_on", "original_name", "verified_with_issuer", "verified_on")
    readonly_fields = ("original_name",)
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        # Files arrive only through the upload page, which sniffs and checks them.
        return False


@admin.register(Supplier)
class SupplierAdmin(SimpleHistoryAdmin):
    list_display = ("name", "country", "identifier_type", "siret", "vat_number", "organisation", "created_at")
    list_filter = ("organisation", "country", "identifier_type")
    search_fields = ("name", "siret", "siren", "vat_number", "registration_number")
    readonly_fields = ("identifier_type", "siren", "created_at", "created_by")
    list_select_related = ("organisation",)
    inlines = [SupplierDocumentInline]
    # Django 6 defaults URLs without a scheme to https; say so now (the deprecation warning is an error in tests).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_delete_permission(self, request, obj=None):
        # R2184-12: documents of a procurement are kept; suppliers are never hard-deleted.
        return False


@admin.register(SupplierDocument)
class SupplierDocumentAdmin(admin.ModelAdmin):
    list_display = ("supplier", "kind", "issued_on", "expires_on", "verified_with_issuer", "uploaded_at")
    list_filter = ("kind", "verified_with_issuer")
    search_fields = ("supplier__name", "original_name", "sha256")
    list_select_related = ("supplier",)
    readonly_fields = ("file", "original_name", "content_type", "size", "sha256", "uploaded_by", "uploaded_at")

    def has_add_permission(self, request):
        # Files arrive only through the upload page, which sniffs and checks them.
        return False

    def has_delete_permission(self, request, obj=None):
        return False
