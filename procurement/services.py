"""The only code that changes a case or writes its rows. Each function takes an explicit actor and an
optional `now` clock (demo data and tests place events in time)."""

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django_fsm import TransitionNotAllowed

from notifications.services import notify
from procurement import workflow
from procurement.models import (
    CaseEvent,
    ConformityCheck,
    NeedLine,
    NegotiationRound,
    Offer,
    PurchaseCase,
    UrgencyJustification,
    VettingDecision,
)


def lock_case(case: PurchaseCase) -> PurchaseCase:
    return PurchaseCase.objects.select_for_update().select_related("owner", "organisation").get(pk=case.pk)


def perform_transition(
    obj,
    name: str,
    *,
    actor,
    case: PurchaseCase,
    contract=None,
    ip: str | None = None,
    now: datetime | None = None,
    comment: str = "",
    guards=None,
    extra_blockers=None,
    **transition_kwargs,
) -> CaseEvent:
    """Run transition `name` on an already locked row: role, availability, guards, save, one audit event."""
    bound = getattr(obj, name)
    workflow.ensure_allowed(bound, actor)
    if not workflow.is_available(bound):
        raise TransitionNotAllowed(
            gettext("This step is not possible from the current state."), object=obj, method=bound
        )
    workflow.ensure_ready(bound, guards=guards, extra=extra_blockers)
    source = obj.status
    bound(**transition_kwargs)
    obj.save()
    return CaseEvent.record(
        case=case,
        contract=contract,
        verb=name,
        actor=actor,
        source=source,
        target=obj.status,
        comment=comment,
        ip=ip,
        now=now,
    )


def _next_reference(organisation, now: datetime) -> str:
    year = now.year
    prefix = f"URG-{year}-"
    last = (
        PurchaseCase.objects.filter(organisation=organisation, reference__startswith=prefix)
        .order_by("-reference")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:04d}"


def _ensure_buyer_of(case: PurchaseCase, actor) -> None:
    if not workflow.case_buyer(case, actor):
        raise PermissionDenied(gettext("Only a buyer of this case may do this."))


def _ensure_status(case: PurchaseCase, *statuses: str) -> None:
    if case.status not in statuses:
        raise TransitionNotAllowed(gettext("This is not possible at the current stage of the case."))


@transaction.atomic
def case_create(
    *,
    actor,
    title: str,
    need_lines: list[dict],
    justification: dict,
    ip: str | None = None,
    now: datetime | None = None,
) -> PurchaseCase:
    if not actor.is_buyer:
        raise PermissionDenied(gettext("Only a buyer may open a case."))
    now = now or timezone.now()
    organisation = actor.organisation
    # Serialise reference numbering per organisation.
    type(organisation).objects.select_for_update().get(pk=organisation.pk)
    case = PurchaseCase.objects.create(
        organisation=organisation,
        reference=_next_reference(organisation, now),
        title=title.strip(),
        owner=actor,
        created_at=now,
        stage_entered_at=now,
    )
    for line in need_lines:
        NeedLine.objects.create(case=case, **line)
    UrgencyJustification.objects.create(case=case, **justification)
    CaseEvent.record(case=case, verb="create", actor=actor, target=case.status, ip=ip, now=now)
    return case


@transaction.atomic
def case_update_need(
    *,
    case: PurchaseCase,
    actor,
    title: str,
    need_line: dict | None,
    justification: dict,
    ip: str | None = None,
    now: datetime | None = None,
) -> PurchaseCase:
    """Edit the need while the case is still at the need stage (adds a line when one is given)."""
    case = lock_case(case)
    _ensure_buyer_of(case, actor)
    _ensure_status(case, "need")
    case.title = title.strip()
    case.save(update_fields=["title"])
    if need_line:
        NeedLine.objects.create(case=case, **need_line)
    UrgencyJustification.objects.update_or_create(case=case, defaults=justification)
    CaseEvent.record(case=case, verb="need_updated", actor=actor, ip=ip, now=now)
    return case


@transaction.atomic
def case_assign_buyer(*, case: PurchaseCase, actor, buyer, ip=None, now=None) -> PurchaseCase:
    """Add a buyer of the organisation to the case's purchasing team (the lead buyer or a director decides)."""
    case = lock_case(case)
    if not workflow.case_buyer_or_director(case, actor):
        raise PermissionDenied(gettext("Only a buyer of this case or the director may assign buyers."))
    if buyer.organisation_id != case.organisation_id or not buyer.is_buyer:
        raise PermissionDenied(gettext("Only a buyer of the same organisation can join the case."))
    if buyer.pk not in case.buyer_ids:
        case.buyers.add(buyer)
        CaseEvent.record(case=case, verb="buyer_assigned", actor=actor, comment=str(buyer), ip=ip, now=now)
    return case


def _case_transition(name: str, *, case: PurchaseCase, actor, ip=None, now=None, comment: str = "") -> PurchaseCase:
    now = now or timezone.now()
    case = lock_case(case)
    perform_transition(case, name, actor=actor, case=case, ip=ip, now=now, comment=comment)
    case.stage_entered_at = now
    case.save(update_fields=["stage_entered_at"])
    return case


@transaction.atomic
def case_submit(*, case, actor, ip=None, now=None) -> PurchaseCase:
    return _case_transition("submit", case=case, actor=actor, ip=ip, now=now)


@transaction.atomic
def case_start_norm_check(*, case, actor, ip=None, now=None) -> PurchaseCase:
    return _case_transition("start_norm_check", case=case, actor=actor, ip=ip, now=now)


@transaction.atomic
def case_back_to_vetting(*, case, actor, comment: str, ip=None, now=None) -> PurchaseCase:
    workflow.require_comment(comment)
    return _case_transition("back_to_vetting", case=case, actor=actor, ip=ip, now=now, comment=comment)


@transaction.atomic
def case_start_negotiation(*, case, actor, ip=None, now=None) -> PurchaseCase:
    return _case_transition("start_negotiation", case=case, actor=actor, ip=ip, now=now)


# --- acts inside a stage ---------------------------------------------------------------------
@transaction.atomic
def offer_create(*, case: PurchaseCase, actor, ip=None, now=None, **fields) -> Offer:
    now = now or timezone.now()
    case = lock_case(case)
    _ensure_buyer_of(case, actor)
    _ensure_status(case, "vetting", "norm_check", "negotiation")
    if fields["need_line"].case_id != case.pk or fields["supplier"].organisation_id != case.organisation_id:
        raise PermissionDenied
    offer = Offer.objects.create(case=case, created_by=actor, received_at=now, **fields)
    CaseEvent.record(case=case, verb="offer_added", actor=actor, comment=str(offer), ip=ip, now=now)
    return offer


@transaction.atomic
def vetting_decide(
    *, case: PurchaseCase, supplier, actor, decision: str, findings: str, ip=None, now=None
) -> VettingDecision:
    now = now or timezone.now()
    case = lock_case(case)
    _ensure_buyer_of(case, actor)
    _ensure_status(case, "vetting", "norm_check")
    if supplier.organisation_id != case.organisation_id:
        raise PermissionDenied
    row = VettingDecision.objects.create(
        case=case, supplier=supplier, decision=decision, findings=findings, decided_by=actor, decided_at=now
    )
    CaseEvent.record(
        case=case,
        verb="vetting_decision",
        actor=actor,
        comment=f"{supplier}: {row.get_decision_display()} — {findings}",
        ip=ip,
        now=now,
    )
    return row


@transaction.atomic
def conformity_record(*, offer: Offer, actor, ip=None, now=None, **fields) -> ConformityCheck:
    now = now or timezone.now()
    case = lock_case(offer.case)
    _ensure_buyer_of(case, actor)
    _ensure_status(case, "norm_check", "negotiation")
    check = ConformityCheck(offer=offer, checked_by=actor, checked_at=now, **fields)
    check.full_clean()
    check.save()
    CaseEvent.record(
        case=case,
        verb="conformity_check",
        actor=actor,
        comment=f"{offer}: {check.get_verdict_display()} — {check.findings}",
        ip=ip,
        now=now,
    )
    return check


@transaction.atomic
def negotiation_round_add(*, offer: Offer, actor, ip=None, now=None, **fields) -> NegotiationRound:
    now = now or timezone.now()
    case = lock_case(offer.case)
    _ensure_buyer_of(case, actor)
    _ensure_status(case, "negotiation")
    number = (offer.rounds.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    row = NegotiationRound.objects.create(offer=offer, number=number, recorded_by=actor, recorded_at=now, **fields)
    CaseEvent.record(
        case=case,
        verb="negotiation_round",
        actor=actor,
        comment=gettext("%(offer)s: round %(n)d, %(price)s € per unit%(final)s")
        % {
            "offer": offer,
            "n": number,
            "price": row.unit_price,
            "final": gettext(" (final terms)") if row.is_final else "",
        },
        ip=ip,
        now=now,
    )
    return row


def notify_overdue(*, now=None) -> int:
    """Tell the director about cases past their stage target (once per case and stage)."""
    from accounts.models import User

    now = now or timezone.now()
    count = 0
    for case in PurchaseCase.objects.overdue(now).select_related("organisation"):
        already = case.events.filter(verb="overdue_notice", target=case.status, created_at__gte=case.stage_entered_at)
        if already.exists():
            continue
        with transaction.atomic():
            directors = User.objects.filter(organisation=case.organisation, groups__name="director", is_active=True)
            notify(
                recipients=directors,
                verb="case_overdue",
                text=gettext("Case %(ref)s is overdue at stage “%(stage)s”.")
                % {"ref": case.reference, "stage": case.get_status_display()},
                url=case.get_absolute_url(),
                now=now,
            )
            CaseEvent.record(case=case, verb="overdue_notice", target=case.status, now=now)
        count += 1
    return count
