"""Reads scoped to what the user may see (their organisation), with the joins done once."""

from django.db.models import Prefetch, Q

from procurement.models import (
    CaseEvent,
    ConformityCheck,
    ConformityEvidence,
    NegotiationRound,
    Offer,
    PurchaseCase,
    SupplyChainParty,
    VettingDecision,
)


def cases_for(*, user):
    if not user.is_authenticated or user.organisation_id is None:
        return PurchaseCase.objects.none()
    return PurchaseCase.objects.for_organisation(user.organisation_id).select_related("owner")


def case_list(*, user, status: str | None = None):
    qs = cases_for(user=user).with_amounts()
    if status:
        qs = qs.filter(status=status)
    return qs


def case_list_page(*, user, status: str | None = None, after: tuple | None = None, size: int = 50):
    """One page of the case list, newest first, by keyset on (created_at, pk) so a deep page costs what the
    first one does (DESIGN.md §8). `after` is the (created_at, pk) of the previous page's last row.
    Returns (cases, cursor of the next page or None)."""
    qs = case_list(user=user, status=status)
    if after is not None:
        created_at, pk = after
        qs = qs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    rows = list(qs.order_by("-created_at", "-pk")[: size + 1])
    if len(rows) > size:
        last = rows[size - 1]
        return rows[:size], (last.created_at, last.pk)
    return rows, None


def case_detail_queryset(*, user):
    offers = Offer.objects.select_related("supplier", "need_line", "awarded_by").prefetch_related(
        Prefetch("rounds", queryset=NegotiationRound.objects.select_related("recorded_by")),
        Prefetch("conformity_checks", queryset=ConformityCheck.objects.select_related("checked_by")),
        Prefetch("chain", queryset=SupplyChainParty.objects.select_related("supplier")),
        "supplier__documents",
        "supplier__offers",
    )
    return (
        cases_for(user=user)
        .select_related("organisation", "justification")
        .prefetch_related(
            "need_lines",
            "buyers",
            Prefetch("offers", queryset=offers),
            "vetting_decisions__supplier",
            "vetting_decisions__decided_by",
            "vetting_decisions__countersigned_by",
            Prefetch("events", queryset=CaseEvent.objects.select_related("actor", "contract")),
            "contracts__offer__supplier",
        )
    )


def offers_for(*, user):
    return Offer.objects.filter(case__in=cases_for(user=user)).select_related("case", "supplier", "need_line")


def offer_detail_queryset(*, user):
    return offers_for(user=user).prefetch_related(
        Prefetch("rounds", queryset=NegotiationRound.objects.select_related("recorded_by")),
        Prefetch(
            "conformity_checks",
            queryset=ConformityCheck.objects.select_related("checked_by", "overridden_by").prefetch_related("evidence"),
        ),
        Prefetch("chain", queryset=SupplyChainParty.objects.select_related("supplier", "added_by")),
        "supplier__documents",
        "supplier__offers",
        "case__vetting_decisions",
    )


def case_parties(case) -> set[int]:
    """Every company of the case's offers (suppliers and chain parties); offers and chains prefetched."""
    return {pk for offer in case.offers.all() for pk in offer_parties(offer)}


def offer_parties(offer) -> set[int]:
    return {offer.supplier_id, *(party.supplier_id for party in offer.chain.all())}


def vetting_decisions_for(*, user):
    return VettingDecision.objects.filter(case__in=cases_for(user=user)).select_related(
        "case", "supplier", "decided_by"
    )


def chain_parties_for(*, user):
    return SupplyChainParty.objects.filter(offer__case__in=cases_for(user=user)).select_related(
        "offer__case", "supplier"
    )


def conformity_checks_for(*, user):
    return ConformityCheck.objects.filter(offer__case__in=cases_for(user=user)).select_related(
        "offer__case", "offer__supplier", "offer__need_line", "norm_class__norm", "checked_by"
    )


def evidence_for(*, user):
    return ConformityEvidence.objects.filter(conformity_check__offer__case__in=cases_for(user=user))
