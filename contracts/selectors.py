from django.db.models import Prefetch

from contracts.models import Contract, ContractDocument, SignedDocument


def contracts_for(*, user):
    if not user.is_authenticated or user.organisation_id is None:
        return Contract.objects.none()
    return (
        Contract.objects.for_organisation(user.organisation_id)
        .select_related(
            "case__organisation",
            "case__owner",
            "offer__supplier",
            "offer__need_line",
            "offer__awarded_by",
            "approved_by",
            "signed_by",
            "delegation",
        )
        .prefetch_related(
            Prefetch("documents", queryset=ContractDocument.objects.order_by("version")),
            "offer__rounds",
            "case__buyers",
        )
    )


def documents_for(*, user):
    return ContractDocument.objects.filter(contract__in=contracts_for(user=user)).select_related("contract")


def signed_documents_for(*, user):
    return SignedDocument.objects.filter(contract__in=contracts_for(user=user)).select_related("contract", "source")


def signed_document(contract: Contract) -> SignedDocument | None:
    """The signed PDF (PAdES) of the contract, if one was requested at signature."""
    return SignedDocument.objects.filter(contract=contract).select_related("source").first()


def contract_list(*, user, status: str | None = None):
    """The organisation's contracts for the list page: only the joins the table needs."""
    if not user.is_authenticated or user.organisation_id is None:
        return Contract.objects.none()
    qs = Contract.objects.for_organisation(user.organisation_id).select_related("case", "offer__supplier")
    if status:
        qs = qs.filter(status=status)
    return qs
