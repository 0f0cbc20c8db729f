"""Reads scoped to what the user may see (their organisation), with the joins done once."""

from django.db.models import Prefetch

from procurement.models import CaseEvent, ConformityCheck, NegotiationRound, Offer, PurchaseCase


def cases_for(*, user):
    if not user.is_authenticated or user.organisation_id is None:
        return PurchaseCase.objects.none()
    return PurchaseCase.objects.for_organisation(user.organisation_id).select_related("owner")


def case_list(*, user, status: str | None = None):
    qs = cases_for(user=user).with_amounts()
    if status:
        qs = qs.filter(status=status)
    return qs


def case_detail_queryset(*, user):
    offers = Offer.objects.select_related("supplier", "need_line", "awarded_by").prefetch_related(
        Prefetch("rounds", queryset=NegotiationRound.objects.select_related("recorded_by")),
        Prefetch("conformity_checks", queryset=ConformityCheck.objects.select_related("checked_by")),
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
            Prefetch("events", queryset=CaseEvent.objects.select_related("actor", "contract")),
            "contracts__offer__supplier",
        )
    )


def offers_for(*, user):
    return Offer.objects.filter(case__in=cases_for(user=user)).select_related("case", "supplier", "need_line")
