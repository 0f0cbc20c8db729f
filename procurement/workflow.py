"""Pure guard and permission predicates of the case workflow, and the helpers services use to run them.

Guards return the reasons they fail, in words a buyer understands, so pages can show a checklist.
django-fsm-2 does not enforce `permission=`: services call `ensure_allowed` every time.
"""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class TransitionBlocked(Exception):
    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(str(r) for r in reasons))
        self.reasons = [str(r) for r in reasons]


class Conflict(Exception):
    """The step was already taken or the document changed (stale approval)."""


CONFLICT_MESSAGE = _("This step was already taken, or the document changed. Here is its current state.")

VERB_LABELS = {
    "create": _("Case created"),
    "submit": _("Need submitted"),
    "start_norm_check": _("Norm check started"),
    "back_to_vetting": _("Sent back to vetting"),
    "start_negotiation": _("Negotiation started"),
    "award": _("Offers awarded"),
    "reopen_negotiation": _("Negotiation reopened"),
    "close": _("Case closed"),
    "cancel": _("Case cancelled"),
    "need_updated": _("Need updated"),
    "buyer_assigned": _("Buyer assigned"),
    "overdue_notice": _("Stage target exceeded"),
    "offer_added": _("Offer recorded"),
    "vetting_decision": _("Vetting decision"),
    "vetting_countersigned": _("Vetting decision countersigned"),
    "vetting_countersign_refused": _("Countersignature refused"),
    "chain_party_added": _("Supply chain party added"),
    "chain_party_removed": _("Supply chain party removed"),
    "conformity_check": _("Conformity check"),
    "conformity_override": _("Verdict overridden by a jurist"),
    "negotiation_round": _("Negotiation round"),
    "contract_created": _("Contract created"),
    "document_rendered": _("Contract document rendered"),
    "document_signed": _("Signed PDF sealed (PAdES)"),
    "modification": _("Modification of the contract (avenant)"),
    "submit_for_review": _("Contract submitted for legal review"),
    "request_changes": _("Changes requested"),
    "approve": _("Contract approved"),
    "revise": _("Contract revised"),
    "amend": _("Contract terms changed"),
    "sign": _("Contract signed"),
    "notify_supplier": _("Supplier notified"),
    "withdraw": _("Contract withdrawn"),
    "prefect_transmission": _("Transmitted to the prefect"),
    "case_file_exported": _("Case file exported for auditors"),
    "award_notice": _("Award notice published"),
    "decp_published": _("Essential data (DECP) published"),
}


# --- permissions (role and object rules) -----------------------------------------------------
def _same_org(obj, user) -> bool:
    return user.is_authenticated and user.organisation_id is not None and user.organisation_id == obj.organisation_id


def case_buyer(case, user) -> bool:
    return _same_org(case, user) and case.is_case_buyer(user)


def case_buyer_or_jurist(case, user) -> bool:
    return _same_org(case, user) and (case.is_case_buyer(user) or user.is_jurist)


def case_buyer_or_director(case, user) -> bool:
    return _same_org(case, user) and (case.is_case_buyer(user) or user.is_director)


def jurist_of(obj, user) -> bool:
    return _same_org(obj, user) and user.is_jurist


def jurist_or_director(obj, user) -> bool:
    return _same_org(obj, user) and (user.is_jurist or user.is_director)


# --- guards ------------------------------------------------------------------------------------
def submit_blockers(case) -> list[str]:
    reasons = []
    lines = list(case.need_lines.all())
    if not lines:
        reasons.append(gettext("Add at least one need line."))
    for index, line in enumerate(lines, start=1):
        missing = line.missing_fields()
        if missing:
            reasons.append(
                gettext("Need line %(n)d is incomplete: %(fields)s.") % {"n": index, "fields": ", ".join(missing)}
            )
    justification = getattr(case, "justification", None)
    if justification is None:
        reasons.append(gettext("The urgency justification (R2122-1) is missing."))
    else:
        for label in justification.missing_conditions():
            reasons.append(gettext("Urgency justification: argue “%(label)s”.") % {"label": label})
    return reasons


def sanctions_blockers(offers) -> dict[int, list]:
    """Offer pk → companies of its chain (supplier included) with a pending or confirmed sanctions match."""
    from procurement.flags import chain_blocking_parties
    from suppliers.selectors import current_screenings_by_supplier

    companies = {offer.supplier_id for offer in offers}
    companies.update(party.supplier_id for offer in offers for party in offer.chain.all())
    screenings = current_screenings_by_supplier(companies)
    return {offer.pk: chain_blocking_parties(offer, screenings) for offer in offers}


def _sanctions_reason(offer, blocking) -> str:
    return gettext("%(offer)s: sanctions match to settle for %(names)s.") % {
        "offer": offer,
        "names": ", ".join(company.name for company in blocking),
    }


def start_norm_check_blockers(case) -> list[str]:
    offers = list(case.offers.all())
    if not offers:
        return [gettext("Record at least one offer.")]
    blocked = sanctions_blockers(offers)
    if any(offer.is_vetted() and not blocked[offer.pk] for offer in offers):
        return []
    reasons = [gettext("No offer comes from a supplier approved by a vetting decision for this case.")]
    for decision in case.latest_vetting_decisions():
        if decision.awaiting_countersign:
            reasons.append(
                gettext("%(supplier)s: the approval awaits a jurist's countersignature (red flags).")
                % {"supplier": decision.supplier}
            )
    reasons += [_sanctions_reason(offer, blocked[offer.pk]) for offer in offers if blocked[offer.pk]]
    return reasons


def start_negotiation_blockers(case) -> list[str]:
    offers = list(case.offers.all())
    blocked = sanctions_blockers(offers)
    if not any(offer.is_conform() and offer.is_vetted() and not blocked[offer.pk] for offer in offers):
        reasons = [gettext("No offer has a conform (or conform under derogation) check.")]
        for offer in offers:
            check = offer.latest_check
            if check is None:
                reasons.append(gettext("%(offer)s: not checked yet.") % {"offer": offer})
            elif not offer.is_conform():
                reasons.append(
                    gettext("%(offer)s: %(verdict)s.") % {"offer": offer, "verdict": check.get_verdict_display()}
                )
        return reasons + [_sanctions_reason(offer, blocked[offer.pk]) for offer in offers if blocked[offer.pk]]
    return []


def award_blockers(case) -> list[str]:
    reasons = []
    offers = list(case.offers.all())
    awarded = [o for o in offers if o.awarded_quantity]
    if not awarded:
        return [gettext("Award at least one offer.")]
    for offer in awarded:
        if offer.final_round is None:
            reasons.append(
                gettext("%(offer)s: record the final terms (a negotiation round marked final).") % {"offer": offer}
            )
        if not offer.is_conform():
            reasons.append(gettext("%(offer)s: the product is not conform.") % {"offer": offer})
        if not offer.is_vetted():
            reasons.append(gettext("%(offer)s: the supplier is not approved.") % {"offer": offer})
    # R2122-1: the contract is limited to what is strictly necessary.
    for line in case.need_lines.all():
        total = sum(o.awarded_quantity for o in awarded if o.need_line_id == line.pk)
        if total > line.quantity:
            reasons.append(
                gettext(
                    "%(line)s: %(awarded)s awarded for %(needed)s needed; award no more than is strictly necessary."
                )
                % {
                    "line": line.get_product_display(),
                    "awarded": number_format(total, force_grouping=True),
                    "needed": number_format(line.quantity, force_grouping=True),
                }
            )
    return reasons


def award_sanctions_blockers(case) -> list[str]:
    """A sanctions match found since vetting (a new list, a new chain party) still stops the award."""
    awarded = [offer for offer in case.offers.all() if offer.awarded_quantity]
    blocked = sanctions_blockers(awarded)
    return [_sanctions_reason(offer, blocked[offer.pk]) for offer in awarded if blocked[offer.pk]]


def award_guard(case) -> list[str]:
    return award_blockers(case) + award_sanctions_blockers(case)


# Guards of the case transitions. The contracts app adds those about contracts (close, reopen, cancel)
# in its AppConfig.ready(), since procurement must not import it.
GUARDS: dict[str, Callable] = {
    "submit": submit_blockers,
    "start_norm_check": start_norm_check_blockers,
    "start_negotiation": start_negotiation_blockers,
    "award": award_guard,
}

# Case transitions in the order the checklist shows them, with whether each needs a comment.
CASE_TRANSITIONS = [
    ("submit", _("Submit the need"), False),
    ("start_norm_check", _("Start the norm check"), False),
    ("back_to_vetting", _("Send back to vetting"), True),
    ("start_negotiation", _("Start the negotiation"), False),
    ("award", _("Award"), True),
    ("reopen_negotiation", _("Reopen the negotiation"), True),
    ("close", _("Close the case"), False),
    ("cancel", _("Cancel the case"), True),
]


def case_checklist(case, user) -> list[dict]:
    """The transitions possible from the case's state that this user may take, each with its unmet guards."""
    items = []
    for name, label, needs_comment in CASE_TRANSITIONS:
        bound = getattr(case, name)
        if not is_available(bound) or not may(bound, user):
            continue
        guard = GUARDS.get(name)
        items.append(
            {"name": name, "label": label, "needs_comment": needs_comment, "blockers": guard(case) if guard else []}
        )
    return items


def ready(name: str, guards: dict[str, Callable] | None = None) -> Callable:
    """A django-fsm condition for transition `name`: true when its guard finds nothing missing."""

    def condition(instance) -> bool:
        return not (guards if guards is not None else GUARDS)[name](instance)

    condition.__name__ = f"{name}_ready"
    return condition


# --- helpers for services and views -----------------------------------------------------------
def _permission_of(bound_transition) -> Callable | None:
    meta = bound_transition._django_fsm
    for transition in meta.transitions.values():
        return transition.permission
    return None


def may(bound_transition, user) -> bool:
    """Role and object rule of a transition, whatever the current state."""
    permission = _permission_of(bound_transition)
    return permission is None or bool(permission(bound_transition.__self__, user))


def ensure_allowed(bound_transition, user) -> None:
    if not may(bound_transition, user):
        raise PermissionDenied(gettext("You are not allowed to take this step."))


def is_available(bound_transition) -> bool:
    """The transition exists from the current state (guards aside)."""
    instance = bound_transition.__self__
    meta = bound_transition._django_fsm
    return meta.has_transition(getattr(instance, meta.field.name if hasattr(meta.field, "name") else meta.field))


def ensure_ready(bound_transition, guards: dict[str, Callable] | None = None, extra: list[str] | None = None) -> None:
    guard = (guards if guards is not None else GUARDS).get(bound_transition.__name__)
    reasons = list(extra or [])
    if guard is not None and is_available(bound_transition):
        reasons = guard(bound_transition.__self__) + reasons
    if reasons:
        raise TransitionBlocked(reasons)


def require_comment(comment: str) -> None:
    if not (comment or "").strip():
        raise TransitionBlocked([gettext("A comment is required for this step.")])
