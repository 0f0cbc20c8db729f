from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import ReadOnlyAdminMixin
from suppliers import services
from suppliers.forms import SanctionsListUploadForm
from suppliers.models import SanctionsList, SanctionsScreening, Supplier, SupplierDocument


class SupplierDocumentInline(admin.TabularInline):
    model = SupplierDocument
    fields = ("kind", "issued_on", "expires_on", "original_name", "verified_with_issuer", "verified_on", "verified_by")
    readonly_fields = ("original_name", "verified_by")
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
    readonly_fields = (
        "file",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
        "uploaded_at",
        "verified_by",
    )

    def has_add_permission(self, request):
        # Files arrive only through the upload page, which sniffs and checks them.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- sanctions lists and screenings ---------------------------------------------------------------------
def _manages_sanctions_lists(request) -> bool:
    """Tandem's administrators (group admin, Django staff) import the lists; superusers can too."""
    user = request.user
    return user.is_active and user.is_staff and (user.is_superuser or user.is_tandem_admin)


@admin.register(SanctionsList)
class SanctionsListAdmin(admin.ModelAdmin):
    """Lists are added by uploading the file as published (services.sanctions_import), then read-only:
    screenings point to the version they used, so a list is never changed or deleted."""

    list_display = ("__str__", "version", "published_at", "entry_count", "imported_at", "imported_by")
    list_filter = ("source",)
    list_select_related = ("imported_by",)
    upload_template = "admin/suppliers/sanctionslist/upload.html"

    def has_module_permission(self, request):
        return _manages_sanctions_lists(request)

    def has_view_permission(self, request, obj=None):
        return _manages_sanctions_lists(request)

    def has_add_permission(self, request):
        return _manages_sanctions_lists(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = SanctionsListUploadForm(request.POST if posted else None, request.FILES if posted else None)
        if posted and form.is_valid():
            uploaded = form.cleaned_data["file"]
            try:
                sanctions_list = services.sanctions_import(
                    data=uploaded.read(),
                    original_name=uploaded.name,
                    actor=request.user,
                    source=form.cleaned_data["source"] or None,
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                params = {"list": sanctions_list, "count": sanctions_list.entry_count}
                if sanctions_list.newly_imported:
                    self.log_addition(request, sanctions_list, [{"added": {}}])
                    self.message_user(
                        request,
                        ngettext(
                            "List imported: %(list)s, %(count)d entry.",
                            "List imported: %(list)s, %(count)d entries.",
                            sanctions_list.entry_count,
                        )
                        % params,
                    )
                else:
                    self.message_user(
                        request,
                        gettext("List already imported: %(list)s (nothing changed).") % params,
                        messages.WARNING,
                    )
                return redirect(reverse("admin:suppliers_sanctionslist_change", args=[sanctions_list.pk]))
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "title": _("Import a sanctions list"),
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, self.upload_template, context, status=422 if posted else 200)


@admin.register(SanctionsScreening)
class SanctionsScreeningAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: screenings are run from the supplier page and reviewed there by a jurist."""

    list_display = ("supplier", "sanctions_list", "screened_at", "result", "review", "reviewed_by")
    list_filter = ("result", "review", "sanctions_list__source")
    search_fields = ("supplier__name",)
    list_select_related = ("supplier", "sanctions_list", "reviewed_by")

    def has_module_permission(self, request):
        return _manages_sanctions_lists(request)

    def has_view_permission(self, request, obj=None):
        return _manages_sanctions_lists(request)
