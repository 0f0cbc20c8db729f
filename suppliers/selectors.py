from suppliers.models import Supplier, SupplierDocument


def suppliers_for(*, user):
    if not user.is_authenticated or user.organisation_id is None:
        return Supplier.objects.none()
    return Supplier.objects.for_organisation(user.organisation_id)


def documents_for(*, user):
    return SupplierDocument.objects.filter(supplier__in=suppliers_for(user=user)).select_related("supplier")
