"""The only code that changes a case or writes its rows. Each function takes an explicit actor and an
optional `now` clock (demo data and tests place events in time)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django_fsm import TransitionNotAllowed

from accounts import roles
from accounts.selectors import members_with_role
from notifications.services import notify
from procurement import conformity, flags, workflow
from procurement.models import (
    CaseEvent,
    ConformityCheck,
    ConformityEvidence,
    NeedLine,
    NegotiationRound,
    NotifiedBody,
    Offer,
    PurchaseCase,
    SupplyChainParty,
    UrgencyJustification,
    VettingDecision,
)
from suppliers import selectors as supplier_selectors
from suppliers import services as supplier_services
from suppliers import uploads
from suppliers.models import Supplier


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


def screen_case_parties(*, case: PurchaseCase, actor=None, now=None) -> None:
    """Re-run the stale screenings (older than a week, another list version, another name) of every company
    of the case's offers, each kept in its own transaction, before a step checks for sanctions matches."""
    companies = {}
    for offer in Offer.objects.filter(case=case).select_related("supplier").prefetch_related("chain__supplier"):
        companies[offer.supplier_id] = offer.supplier
        companies.update({party.supplier_id: party.supplier for party in offer.chain.all()})
    for company in companies.values():
        supplier_services.supplier_screen_if_stale(supplier=company, actor=actor, now=now)


def case_start_norm_check(*, case, actor, ip=None, now=None) -> PurchaseCase:
    if workflow.case_buyer(case, actor):
        screen_case_parties(case=case, actor=actor, now=now)
    with transaction.atomic():
        return _case_transition("start_norm_check", case=case, actor=actor, ip=ip, now=now)


@transaction.atomic
def case_back_to_vetting(*, case, actor, comment: str, ip=None, now=None) -> PurchaseCase:
    workflow.require_comment(comment)
    return _case_transition("back_to_vetting", case=case, actor=actor, ip=ip, now=now, comment=comment)


def case_start_negotiation(*, case, actor, ip=None, now=None) -> PurchaseCase:
    if workflow.case_buyer(case, actor):
        screen_case_parties(case=case, actor=actor, now=now)
    with transaction.atomic():
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


@dataclass
class VettingAssessment:
    """What a vetting decision about one supplier of a case weighs, screenings freshly re-run."""

    supplier: object
    offers: list
    flags: list
    screenings: dict
    blocking: list
    parties: list = field(default_factory=list)
    valid_documents: list = field(default_factory=list)

    @property
    def companies(self) -> list[dict]:
        """The supplier and its chain parties, each with its current screenings."""
        return [{"company": company, "screenings": self.screenings.get(company.pk, [])} for company in self.parties]

    @property
    def suggested_decision(self) -> str:
        if self.blocking:
            return VettingDecision.Decision.REJECTED
        return VettingDecision.Decision.RESERVED if self.flags else VettingDecision.Decision.APPROVED

    def suggested_findings(self) -> str:
        """A draft of the findings from the file: valid documents, screenings, red flags."""
        lines = []
        if self.valid_documents:
            lines.append(
                gettext("Valid documents: %(documents)s.")
                % {
                    "documents": "; ".join(
                        gettext("%(kind)s until %(date)s")
                        % {"kind": d.get_kind_display(), "date": date_format(d.expires_on, "SHORT_DATE_FORMAT")}
                        if d.expires_on
                        else str(d.get_kind_display())
                        for d in self.valid_documents
                    )
                }
            )
        for screening in self.screenings.get(self.supplier.pk, []):
            lines.append(
                gettext("Screening of %(date)s against %(list)s: %(result)s.")
                % {
                    "date": date_format(timezone.localtime(screening.screened_at), "SHORT_DATETIME_FORMAT"),
                    "list": screening.sanctions_list,
                    "result": screening.get_result_display().lower(),
                }
            )
        lines.extend(flag.reason for flag in self.flags)
        return "\n".join(lines)


def vetting_assess(*, case: PurchaseCase, supplier, actor=None, now=None) -> VettingAssessment:
    """Re-run the stale screenings of the supplier and of its offers' chain parties (each kept, in its own
    transaction, whatever follows), then gather its flags. Used to prefill and to record a decision."""
    now = now or timezone.now()
    offers = list(
        Offer.objects.filter(case=case, supplier=supplier)
        .select_related("supplier", "need_line")
        .prefetch_related("rounds", "chain__supplier", "supplier__documents", "supplier__offers")
    )
    companies = {supplier.pk: supplier}
    for offer in offers:
        companies.update({party.supplier_id: party.supplier for party in offer.chain.all()})
    for company in companies.values():
        supplier_services.supplier_screen_if_stale(supplier=company, actor=actor, now=now)
    screenings = supplier_selectors.current_screenings_by_supplier(companies)
    supplier = Supplier.objects.prefetch_related("documents", "offers").get(pk=supplier.pk)
    today = timezone.localdate(now)
    blocking = {}
    for offer in offers:
        blocking.update({company.pk: company for company in flags.chain_blocking_parties(offer, screenings)})
    if any(screening.blocks_approval for screening in screenings.get(supplier.pk, [])):
        blocking[supplier.pk] = supplier
    return VettingAssessment(
        supplier=supplier,
        offers=offers,
        flags=flags.vetting_flags(supplier, offers, today, screenings),
        screenings=screenings,
        blocking=list(blocking.values()),
        parties=[supplier, *(company for pk, company in companies.items() if pk != supplier.pk)],
        valid_documents=[d for d in supplier.documents.all() if d.is_valid_on(today)],
    )


def _sanctions_refusal(blocking) -> ValidationError:
    return ValidationError(
        gettext(
            "Approval is impossible: %(names)s possibly or certainly match the asset-freeze list. "
            "A jurist must clear the match first."
        )
        % {"names": ", ".join(company.name for company in blocking)},
        code="sanctions",
    )


def vetting_decide(
    *, case: PurchaseCase, supplier, actor, decision: str, findings: str, ip=None, now=None
) -> VettingDecision:
    """Record a buyer's decision. Stale screenings are re-run first; a sanctions match on any company of the
    supplier's offers blocks approval; red flags make an approval wait for a jurist's countersignature."""
    now = now or timezone.now()
    if not workflow.case_buyer(case, actor):
        raise PermissionDenied(gettext("Only a buyer of this case may do this."))
    if supplier.organisation_id != case.organisation_id:
        raise PermissionDenied
    assessment = vetting_assess(case=case, supplier=supplier, actor=actor, now=now)
    with transaction.atomic():
        case = lock_case(case)
        _ensure_buyer_of(case, actor)
        _ensure_status(case, "vetting", "norm_check")
        if decision in VettingDecision.PASSING and assessment.blocking:
            raise _sanctions_refusal(assessment.blocking)
        row = VettingDecision.objects.create(
            case=case,
            supplier=supplier,
            decision=decision,
            findings=findings,
            decided_by=actor,
            decided_at=now,
            red_flags=[flag.as_dict() for flag in assessment.flags] if decision in VettingDecision.PASSING else [],
        )
        CaseEvent.record(
            case=case,
            verb="vetting_decision",
            actor=actor,
            comment=f"{supplier}: {row.get_decision_display()} — {findings}",
            ip=ip,
            now=now,
        )
        if row.awaiting_countersign:
            notify(
                recipients=members_with_role(case.organisation_id, roles.JURIST),
                verb="vetting_countersign",
                text=gettext("%(case)s: the approval of %(supplier)s, with red flags, awaits your countersignature.")
                % {"case": case.reference, "supplier": supplier},
                url=case.get_absolute_url(),
                now=now,
            )
    return row


@transaction.atomic
def vetting_countersign(
    *, decision: VettingDecision, actor, approve: bool, comment: str, ip=None, now=None
) -> VettingDecision:
    """A jurist countersigns an approval given despite red flags, or refuses it (the supplier is then
    rejected for this case by a new decision in the jurist's name). A comment is required either way."""
    now = now or timezone.now()
    case = lock_case(decision.case)
    if not workflow.jurist_of(case, actor):
        raise PermissionDenied(gettext("Only a jurist may countersign a vetting decision."))
    if actor.pk == decision.decided_by_id:
        raise PermissionDenied(gettext("The countersignature must come from someone other than the decision's author."))
    _ensure_status(case, "vetting", "norm_check")
    decision = VettingDecision.objects.select_for_update().get(pk=decision.pk)
    latest = case.vetting_decisions.filter(supplier_id=decision.supplier_id).order_by("-decided_at", "-pk").first()
    if not decision.awaiting_countersign or latest.pk != decision.pk:
        raise workflow.Conflict
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": gettext("Say why you countersign or refuse.")}, code="required")
    if approve:
        decision.countersigned_by = actor
        decision.countersigned_at = now
        decision.countersign_comment = comment
        decision.save(update_fields=["countersigned_by", "countersigned_at", "countersign_comment"])
        verb, result = "vetting_countersigned", decision
    else:
        result = VettingDecision.objects.create(
            case=case,
            supplier=decision.supplier,
            decision=VettingDecision.Decision.REJECTED,
            findings=gettext("Countersignature refused: %(comment)s") % {"comment": comment},
            decided_by=actor,
            decided_at=now,
        )
        verb = "vetting_countersign_refused"
    CaseEvent.record(case=case, verb=verb, actor=actor, comment=f"{decision.supplier}: {comment}", ip=ip, now=now)
    notify(
        recipients=case.purchasing_team(),
        verb=verb,
        text=(
            gettext("%(case)s: the approval of %(supplier)s was countersigned by %(jurist)s.")
            if approve
            else gettext("%(case)s: %(jurist)s refused to countersign the approval of %(supplier)s.")
        )
        % {"case": case.reference, "supplier": decision.supplier, "jurist": actor.get_full_name() or actor},
        url=case.get_absolute_url(),
        now=now,
    )
    return result


def _chain_position(offer: Offer, role: str) -> int:
    rank = list(SupplyChainParty.Role.values).index(role) + 1
    same_role = sum(1 for party in offer.chain.all() if party.role == role)
    return rank * 10 + same_role


def chain_party_add(*, offer: Offer, actor, supplier, role: str, note: str = "", ip=None, now=None) -> SupplyChainParty:
    """Add a company to the offer's chain (placed from the factory to the delivery point by its role) and
    screen it against the sanctions lists if it was not screened recently."""
    now = now or timezone.now()
    with transaction.atomic():
        case = lock_case(offer.case)
        _ensure_buyer_of(case, actor)
        _ensure_status(case, "vetting", "norm_check", "negotiation")
        if supplier.organisation_id != case.organisation_id:
            raise PermissionDenied
        offer = Offer.objects.prefetch_related("chain").get(pk=offer.pk)
        if any(party.supplier_id == supplier.pk and party.role == role for party in offer.chain.all()):
            raise ValidationError(
                gettext("%(company)s is already in this chain as %(role)s.")
                % {"company": supplier, "role": SupplyChainParty.Role(role).label.lower()},
                code="duplicate",
            )
        party = SupplyChainParty.objects.create(
            offer=offer,
            supplier=supplier,
            role=role,
            position=_chain_position(offer, role),
            note=note.strip(),
            added_by=actor,
            added_at=now,
        )
        CaseEvent.record(case=case, verb="chain_party_added", actor=actor, comment=str(party), ip=ip, now=now)
    supplier_services.supplier_screen_if_stale(supplier=supplier, actor=actor, now=now)
    return party


@transaction.atomic
def chain_party_remove(*, party: SupplyChainParty, actor, ip=None, now=None) -> None:
    now = now or timezone.now()
    case = lock_case(party.offer.case)
    _ensure_buyer_of(case, actor)
    _ensure_status(case, "vetting", "norm_check", "negotiation")
    label = str(party)
    deleted, _rows = SupplyChainParty.objects.filter(pk=party.pk).delete()
    if not deleted:
        raise workflow.Conflict
    CaseEvent.record(case=case, verb="chain_party_removed", actor=actor, comment=label, ip=ip, now=now)


REASON_ORDER = {"danger": 0, "missing": 1, "info": 2}


def _evidence_rows(evidence: list[dict]) -> list[ConformityEvidence]:
    """Unsaved evidence rows; each upload is checked (type sniffed, size) before anything is written."""
    rows = []
    for fields in evidence:
        fields = dict(fields)
        uploaded = fields.pop("uploaded", None)
        row = ConformityEvidence(**fields)
        if uploaded is not None:
            row.content_type = uploads.validate_upload(uploaded)
            row.original_name = uploaded.name[-200:]
            row.size = uploaded.size
            row.sha256 = uploads.sha256_of(uploaded)
            row._uploaded = uploaded
        rows.append(row)
    return rows


def conformity_assess(*, offer: Offer, claim: dict, evidence: list, day=None) -> conformity.Assessment:
    """The verdict the engine gives to a claim and its evidence, without writing anything (live preview)."""
    check = ConformityCheck(offer=offer, **claim)
    norm_class = check.norm_class
    requirements = list(norm_class.requirements.values_list("kind", flat=True)) if norm_class else []
    return conformity.assess(
        check=check,
        evidence=evidence,
        requirements=requirements,
        product=offer.need_line.product,
        day=day or timezone.localdate(),
        bodies=conformity.BodyIndex(NotifiedBody.objects.all()),
    )


@transaction.atomic
def conformity_record(
    *, offer: Offer, actor, claim: dict, evidence: list[dict], findings: str = "", ip=None, now=None
) -> ConformityCheck:
    """Record a norm check: the claim (class, model, marking, CE number, measured values), the evidence with
    their files, and the verdict computed from them with every reason (procurement.conformity)."""
    now = now or timezone.now()
    case = lock_case(offer.case)
    _ensure_buyer_of(case, actor)
    _ensure_status(case, "norm_check", "negotiation")
    rows = _evidence_rows(evidence)
    assessment = conformity_assess(offer=offer, claim=claim, evidence=rows, day=timezone.localdate(now))
    norm_class = claim.get("norm_class")
    check = ConformityCheck.objects.create(
        offer=offer,
        checked_by=actor,
        checked_at=now,
        findings=findings,
        standard=str(norm_class) if norm_class else "",
        computed_verdict=assessment.verdict,
        verdict=assessment.verdict,
        # What makes the product non-conform first, then what is missing, then notes.
        reasons=[
            finding.as_dict()
            for finding in sorted(assessment.findings, key=lambda f: REASON_ORDER.get(f.level, len(REASON_ORDER)))
        ],
        derogation_reference=assessment.derogation_reference,
        **claim,
    )
    for row in rows:
        row.conformity_check = check
        uploaded = getattr(row, "_uploaded", None)
        if uploaded is not None:
            row.file.save(uploads.private_name(row.content_type), uploaded, save=False)
        row.save()
    CaseEvent.record(
        case=case,
        verb="conformity_check",
        actor=actor,
        comment=f"{offer}: {check.get_verdict_display()} — "
        + "; ".join(finding.reason for finding in assessment.findings if finding.level != "info"),
        ip=ip,
        now=now,
    )
    return check


@transaction.atomic
def conformity_override(*, check: ConformityCheck, actor, verdict: str, reason: str, ip=None, now=None):
    """A jurist replaces the computed verdict of the latest check of an offer, with a reason (audited)."""
    now = now or timezone.now()
    case = lock_case(check.offer.case)
    if not workflow.jurist_of(case, actor):
        raise PermissionDenied(gettext("Only a jurist may override a verdict."))
    if actor.pk == check.checked_by_id or case.is_case_buyer(actor):
        raise PermissionDenied(gettext("The override must come from a jurist who is not a buyer of this case."))
    _ensure_status(case, "norm_check", "negotiation")
    check = ConformityCheck.objects.select_for_update().get(pk=check.pk)
    latest = ConformityCheck.objects.filter(offer_id=check.offer_id).order_by("-checked_at", "-pk").first()
    if latest.pk != check.pk or check.is_overridden:
        raise workflow.Conflict
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": gettext("Say why the computed verdict is replaced.")}, code="required")
    if verdict not in ConformityCheck.Verdict.values:
        raise ValidationError({"verdict": gettext("Choose a verdict.")}, code="invalid")
    passing = verdict in ConformityCheck.PASSING
    if passing and check.computed_verdict == ConformityCheck.Verdict.INCOMPLETE:
        # An override weighs red flags; it does not replace missing evidence (DOMAIN.md §4).
        raise ValidationError(
            {"verdict": gettext("Missing evidence cannot be waived: record a new check with it.")}, code="incomplete"
        )
    norm_class = check.norm_class
    if verdict == ConformityCheck.Verdict.DEROGATION:
        if norm_class is None or not norm_class.is_derogation:
            raise ValidationError(
                {"verdict": gettext("Only a standard accepted under a derogation can be conform under derogation.")},
                code="derogation",
            )
        check.derogation_reference = norm_class.derogation_reference
    else:
        check.derogation_reference = ""
    before = check.get_verdict_display()
    check.verdict = verdict
    check.overridden_by, check.overridden_at, check.override_reason = actor, now, reason
    check.save(update_fields=["verdict", "derogation_reference", "overridden_by", "overridden_at", "override_reason"])
    CaseEvent.record(
        case=case,
        verb="conformity_override",
        actor=actor,
        comment=f"{check.offer}: {before} → {check.get_verdict_display()} — {reason}",
        ip=ip,
        now=now,
    )
    notify(
        recipients=case.purchasing_team(),
        verb="conformity_override",
        text=gettext("%(case)s: %(jurist)s set the verdict of %(offer)s to “%(verdict)s”.")
        % {
            "case": case.reference,
            "jurist": actor.get_full_name() or actor,
            "offer": check.offer,
            "verdict": check.get_verdict_display(),
        },
        url=case.get_absolute_url(),
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
    from accounts.selectors import members_with_role

    now = now or timezone.now()
    count = 0
    for case in PurchaseCase.objects.overdue(now).select_related("organisation"):
        already = case.events.filter(verb="overdue_notice", target=case.status, created_at__gte=case.stage_entered_at)
        if already.exists():
            continue
        with transaction.atomic():
            directors = members_with_role(case.organisation_id, roles.DIRECTOR)
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


# =====================================================================================================
# Supplier documents expiring soon (daily beat task procurement.tasks.remind_expiring_documents). Here rather
# than in suppliers: the recipients are the purchasing teams of the cases, and suppliers must not reach into
# procurement (DESIGN.md §2).
# =====================================================================================================


def _expiry_reminder_recipients(supplier: Supplier) -> list:
    """The purchasing teams of the open cases where the supplier has an offer, else every active buyer of its
    organisation."""
    cases = (
        PurchaseCase.objects.open()
        .filter(offers__supplier=supplier)
        .distinct()
        .select_related("owner")
        .prefetch_related("buyers")
    )
    recipients = [user for case in cases for user in case.purchasing_team() if user.is_active]
    if recipients:
        return recipients
    return list(members_with_role(supplier.organisation_id, roles.BUYER).distinct())


def documents_remind_expiring(*, now: datetime | None = None) -> int:
    """Tell the purchasing team, once, of each supplier document expiring within DOCUMENT_REMINDER_DAYS
    (suppliers.selectors.documents_expiring_unreminded). Each document is claimed before its notification, in
    the same transaction, so two runs, even concurrent, notify once. Returns the number of notifications written."""
    from django.conf import settings
    from django.utils import translation

    now = now or timezone.now()
    count = 0
    for document in supplier_selectors.documents_expiring_unreminded(today=timezone.localdate(now)):
        with transaction.atomic():
            if not supplier_services.document_claim_expiry_reminder(document=document, now=now):
                continue  # another run took it
            supplier = document.supplier
            # Stored text: in the site's language, whoever (or whatever task) runs the reminder.
            with translation.override(settings.LANGUAGE_CODE):
                text = gettext("%(kind)s of %(supplier)s expires on %(date)s: ask for a renewed one.") % {
                    "kind": document.get_kind_display(),
                    "supplier": supplier.name,
                    "date": date_format(document.expires_on, "SHORT_DATE_FORMAT"),
                }
            rows = notify(
                recipients=_expiry_reminder_recipients(supplier),
                verb="document_expiring",
                text=text,
                url=supplier.get_absolute_url(),
                now=now,
            )
            count += len(rows)
    return count


# =====================================================================================================
# The notified-bodies reference (DOMAIN.md §4): data the administrator refreshes from NANDO, as a CSV file.
# =====================================================================================================


def _notified_body_for(row: dict) -> NotifiedBody | None:
    """The stored body a CSV row describes: by number; by name for an issuer without number — which is also how a
    body listed without number first is found again once the file gives its number."""
    bodies = NotifiedBody.objects.select_for_update()
    if row["number"]:
        body = bodies.filter(number=row["number"]).first()
        if body is not None:
            return body
    return bodies.filter(number="", name__iexact=row["name"]).first()


@transaction.atomic
def notified_bodies_import(*, text: str) -> tuple[int, int]:
    """Create or update the bodies of a CSV file (procurement.notified_bodies); returns (created, updated).

    Upserts by number, or by name for the issuers without number; rows identical to what is stored count in
    neither figure, so importing the same file twice changes nothing. Bodies absent from the file are kept
    (conformity evidence refers to them). A file with one bad row raises ValidationError and changes nothing.
    """
    from procurement import notified_bodies  # here: this section is appended to a file others edit

    created = updated = 0
    for row in notified_bodies.parse_csv(text):
        body = _notified_body_for(row)
        if body is None:
            NotifiedBody.objects.create(**row)
            created += 1
            continue
        changed = [field for field, value in row.items() if getattr(body, field) != value]
        if changed:
            for field in changed:
                setattr(body, field, row[field])
            body.save(update_fields=changed)
            updated += 1
    return created, updated
