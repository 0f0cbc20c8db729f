from suppliers.models import Supplier, SupplierDocument


def suppliers_for(*, user):
    if not user.is_authenticated or user.organisation_id is None:
        return Supplier.objects.none()
    return Supplier.objects.for_organisation(user.organisation_id)


def documents_for(*, user):
    return SupplierDocument.objects.filter(supplier__in=suppliers_for(user=user)).select_related("supplier")


def supplier_detail_queryset(*, user):
    """A supplier with its documents, offers (and the contracts they won) and vetting decisions, joined once."""
    return suppliers_for(user=user).prefetch_related(
        "documents",
        "offers__case",
        "offers__need_line",
        "offers__contracts",
        "vetting_decisions__case",
        "vetting_decisions__decided_by",
    )
