from django.db.models import OuterRef, Prefetch, Subquery

from contracts.models import Contract, ContractDocument, ContractStatus, SignedDocument
from procurement.models import CaseEvent


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
    if status == ContractStatus.LEGAL_REVIEW:
        # The jurists' review queue: the contract waiting longest first. It waits from its last submission,
        # so a contract resubmitted after requested changes does not jump the queue with its first date.
        submitted = CaseEvent.objects.filter(contract=OuterRef("pk"), verb="submit_for_review").order_by("-created_at")
        qs = qs.annotate(submitted_at=Subquery(submitted.values("created_at")[:1])).order_by("submitted_at", "pk")
    return qs
