"""Guards and permissions of the contract life cycle, and the contract-related guards of the case."""

from collections.abc import Callable

from django.utils import timezone
from django.utils.translation import gettext

from procurement.workflow import _same_org, jurist_or_director
from procurement.workflow import ready as _ready

SIGNED = ("signed", "notified")
OPEN = ("draft", "legal_review", "approved")

__all__ = ["jurist_or_director"]


# --- permissions ----------------------------------------------------------------------------
def contract_buyer(contract, user) -> bool:
    return _same_org(contract, user) and contract.case.is_case_buyer(user)


def jurist(contract, user) -> bool:
    return _same_org(contract, user) and user.is_jurist


def four_eyes_jurist(contract, user) -> bool:
    """A jurist, and not the buyer who awarded the offer (four eyes)."""
    return jurist(contract, user) and contract.offer.awarded_by_id != user.pk


def delegation_holder(contract, user) -> bool:
    return _same_org(contract, user) and user.delegations.filter(organisation_id=contract.organisation_id).exists()


# --- guards ---------------------------------------------------------------------------------
def submit_for_review_blockers(contract) -> list[str]:
    document = contract.current_document
    if document is None or document.status != "rendered":
        return [gettext("The contract document is still being generated; wait until its PDF is ready.")]
    return []


def approve_blockers(contract) -> list[str]:
    reasons = submit_for_review_blockers(contract)
    reasons += [
        gettext("Clause checklist: “%(clause)s” is not checked.") % {"clause": c} for c in contract.missing_clauses
    ]
    return reasons


def sign_blockers(contract) -> list[str]:
    current = contract.current_document
    if contract.approved_document_id is None or current is None or contract.approved_document_id != current.pk:
        return [gettext("The approved version is not the current version of the contract.")]
    return []


def notify_supplier_blockers(contract) -> list[str]:
    from procurement.models import Threshold

    day = timezone.localdate(contract.signed_at or timezone.now())
    eu_threshold = Threshold.amount_on(Threshold.Kind.EU_SUPPLIES, day)
    # CGCT L4141-2 (a region's acts; L2131-2 for a commune): above the EU threshold, transmission to the prefect
    # comes before notification.
    if eu_threshold is not None and contract.amount_ht >= eu_threshold and contract.prefect_transmitted_on is None:
        return [gettext("The amount is at or above the EU threshold: record the transmission to the prefect first.")]
    return []


def delegation_blockers(contract, user, day) -> tuple[object | None, list[str]]:
    """The delegation that covers this signature, or the reasons none does."""
    delegations = list(user.delegations.filter(organisation_id=contract.organisation_id))
    for delegation in delegations:
        if delegation.covers(day=day, amount=contract.amount_ht):
            return delegation, []
    reasons = []
    for delegation in delegations:
        if day < delegation.valid_from:
            reasons.append(
                gettext("Delegation %(ref)s only starts on %(date)s.")
                % {"ref": delegation.reference, "date": delegation.valid_from}
            )
        elif day > delegation.valid_until:
            reasons.append(
                gettext("Delegation %(ref)s ended on %(date)s.")
                % {"ref": delegation.reference, "date": delegation.valid_until}
            )
        elif contract.amount_ht > delegation.amount_ceiling:
            reasons.append(
                gettext("Delegation %(ref)s is capped at %(ceiling)s € excl. VAT, below this contract.")
                % {"ref": delegation.reference, "ceiling": delegation.amount_ceiling}
            )
    return None, reasons or [gettext("You hold no signature delegation.")]


GUARDS: dict[str, Callable] = {
    "submit_for_review": submit_for_review_blockers,
    "approve": approve_blockers,
    "sign": sign_blockers,
    "notify_supplier": notify_supplier_blockers,
}


def ready(name: str) -> Callable:
    return _ready(name, GUARDS)


# --- the case's contract-related guards -----------------------------------------------------
def close_blockers(case) -> list[str]:
    statuses = [c.status for c in case.contracts.all()]
    reasons = []
    if not any(s in SIGNED for s in statuses):
        reasons.append(gettext("At least one contract must be signed."))
    if any(s in OPEN for s in statuses):
        reasons.append(gettext("Every contract must be signed or withdrawn."))
    return reasons


def reopen_blockers(case) -> list[str]:
    if any(c.status in SIGNED for c in case.contracts.all()):
        return [gettext("A contract of this case is signed: negotiation cannot be reopened.")]
    return []


def cancel_blockers(case) -> list[str]:
    if any(c.status in SIGNED for c in case.contracts.all()):
        return [gettext("A contract of this case is signed: the case cannot be cancelled.")]
    return []


CASE_GUARDS: dict[str, Callable] = {
    "close": close_blockers,
    "reopen_negotiation": reopen_blockers,
    "cancel": cancel_blockers,
}
