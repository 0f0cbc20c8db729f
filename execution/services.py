"""The only code that writes the execution of a contract. Each service locks the contract row (so quantity
checks cannot race), checks the role and the rule, writes its rows and exactly one CaseEvent, and notifies
through the outbox."""

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext
from django_fsm import TransitionNotAllowed

from accounts import roles
from accounts.selectors import members_with_role
from contracts.models import Contract
from execution import rules, selectors, workflow
from execution.models import (
    ADMITTED,
    UNDECIDED,
    AdvancePayment,
    Allocation,
    DeliveryLot,
    Incident,
    Invoice,
    Milestone,
    Payment,
    PaymentException,
    Penalty,
    Reception,
    ReceptionStatus,
    SampleInspection,
    Shipment,
)
from notifications.services import notify
from procurement.models import CaseEvent, SupplyChainParty
from procurement.workflow import Conflict, require_comment


def _lock(contract: Contract) -> Contract:
    return (
        Contract.objects.select_for_update(of=("self",))
        .select_related("case", "offer__supplier", "offer__need_line")
        .get(pk=contract.pk)
    )


def _record(contract, verb: str, actor, comment: str, ip, now) -> CaseEvent:
    return CaseEvent.record(
        case=contract.case, contract=contract, verb=verb, actor=actor, comment=comment, ip=ip, now=now
    )


def _total(queryset, field: str) -> int:
    return queryset.aggregate(n=Sum(field))["n"] or 0


def _admitted(contract) -> int:
    return _total(Reception.objects.filter(shipment__lot__contract=contract, status__in=ADMITTED), "quantity_received")


def _directors(contract):
    return members_with_role(contract.case.organisation_id, roles.DIRECTOR)


# --- the delivery schedule ----------------------------------------------------------------------------------
@transaction.atomic
def lot_add(*, contract, actor, quantity: int, due_on: date, delivery_place: str, incoterm: str, ip=None, now=None):
    now = now or timezone.now()
    contract = _lock(contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    scheduled = _total(contract.lots.all(), "quantity")
    if quantity < 1 or scheduled + quantity > contract.quantity:
        raise ValidationError(
            gettext("The lots cannot schedule more than the contract's quantity (%(n)s left to schedule).")
            % {"n": contract.quantity - scheduled}
        )
    number = (contract.lots.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    lot = DeliveryLot.objects.create(
        contract=contract,
        number=number,
        quantity=quantity,
        due_on=due_on,
        delivery_place=delivery_place,
        incoterm=incoterm,
        created_by=actor,
        created_at=now,
    )
    _record(
        contract,
        "lot_scheduled",
        actor,
        gettext("Lot %(n)s: %(quantity)s due on %(day)s at %(place)s (%(incoterm)s).")
        % {"n": number, "quantity": quantity, "day": due_on, "place": delivery_place, "incoterm": incoterm},
        ip,
        now,
    )
    return lot


def chain_companies(contract, role: str) -> list:
    """The companies the offer's supply chain names in this role; the supplier itself may always act."""
    parties = SupplyChainParty.objects.filter(offer=contract.offer, role=role).select_related("supplier")
    companies = {party.supplier_id: party.supplier for party in parties}
    companies.setdefault(contract.offer.supplier_id, contract.offer.supplier)
    return list(companies.values())


@transaction.atomic
def shipment_add(
    *, lot, actor, quantity: int, mode: str, waybill: str = "", forwarder=None, carrier=None, ip=None, now=None
):
    now = now or timezone.now()
    contract = _lock(lot.contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    lot = DeliveryLot.objects.get(pk=lot.pk, contract=contract)
    for company, role in ((forwarder, SupplyChainParty.Role.FORWARDER), (carrier, SupplyChainParty.Role.CARRIER)):
        if company is not None and company.pk not in {c.pk for c in chain_companies(contract, role)}:
            raise ValidationError(
                gettext("%(company)s is not in the offer's supply chain as %(role)s.")
                % {"company": company, "role": SupplyChainParty.Role(role).label}
            )
    shipped = _total(lot.shipments.all(), "quantity")
    if quantity < 1 or shipped + quantity > lot.quantity:
        raise ValidationError(
            gettext("A lot cannot ship more than its quantity (%(n)s left to ship).") % {"n": lot.quantity - shipped}
        )
    shipment = Shipment.objects.create(
        lot=lot,
        quantity=quantity,
        mode=mode,
        waybill=waybill,
        forwarder=forwarder,
        carrier=carrier,
        created_by=actor,
        created_at=now,
    )
    _record(
        contract,
        "shipment_recorded",
        actor,
        gettext("Lot %(n)s: shipment of %(quantity)s by %(mode)s %(waybill)s")
        % {"n": lot.number, "quantity": quantity, "mode": shipment.get_mode_display(), "waybill": waybill},
        ip,
        now,
    )
    return shipment


def _shipment_of(contract, shipment) -> Shipment:
    return Shipment.objects.select_related("lot").get(pk=shipment.pk, lot__contract=contract)


@transaction.atomic
def milestone_record(*, shipment, actor, kind: str, occurred_on: date, note: str = "", ip=None, now=None):
    now = now or timezone.now()
    contract = _lock(shipment.lot.contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    shipment = _shipment_of(contract, shipment)
    if shipment.milestones.filter(kind=kind).exists():
        raise Conflict(gettext("This milestone is already recorded for this shipment."))
    milestone = Milestone.objects.create(
        shipment=shipment, kind=kind, occurred_on=occurred_on, note=note, recorded_by=actor, recorded_at=now
    )
    text = gettext("Contract %(ref)s, lot %(n)s: %(milestone)s on %(day)s.") % {
        "ref": contract.reference,
        "n": shipment.lot.number,
        "milestone": milestone.get_kind_display(),
        "day": occurred_on,
    }
    _record(contract, "shipment_milestone", actor, f"{text} {note}".strip(), ip, now)
    notify(
        recipients=contract.case.purchasing_team(), verb="shipment_milestone", text=text, url=_url(contract), now=now
    )
    return milestone


@transaction.atomic
def incident_record(*, shipment, actor, kind: str, occurred_on: date, description: str, ip=None, now=None):
    now = now or timezone.now()
    require_comment(description)
    contract = _lock(shipment.lot.contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    shipment = _shipment_of(contract, shipment)
    incident = Incident.objects.create(
        shipment=shipment,
        kind=kind,
        occurred_on=occurred_on,
        description=description,
        recorded_by=actor,
        recorded_at=now,
    )
    text = gettext("Contract %(ref)s, lot %(n)s: shipment %(incident)s on %(day)s — %(description)s") % {
        "ref": contract.reference,
        "n": shipment.lot.number,
        "incident": incident.get_kind_display().lower(),
        "day": occurred_on,
        "description": description,
    }
    _record(contract, "shipment_incident", actor, text, ip, now)
    recipients = list(contract.case.purchasing_team())
    if kind in Incident.DIRECTOR_KINDS:
        recipients += list(_directors(contract))
    notify(recipients=recipients, verb="shipment_incident", text=text, url=_url(contract), now=now)
    return incident


def _url(contract) -> str:
    from django.urls import reverse

    return reverse("execution:contract", args=[contract.pk])


# --- reception ----------------------------------------------------------------------------------------------
@transaction.atomic
def reception_record(
    *, shipment, actor, received_on: date, quantity_received: int, note: str = "", ip=None, now=None
) -> Reception:
    """The quantitative check: what arrived against what was shipped. More than shipped needs a note."""
    now = now or timezone.now()
    contract = _lock(shipment.lot.contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    shipment = _shipment_of(contract, shipment)
    if Reception.objects.filter(shipment=shipment).exists():
        raise Conflict(gettext("This shipment's reception is already recorded."))
    if quantity_received > shipment.quantity and not note.strip():
        raise ValidationError(
            gettext("%(received)s received for %(shipped)s shipped: explain the difference in a note.")
            % {"received": quantity_received, "shipped": shipment.quantity}
        )
    reception = Reception.objects.create(
        shipment=shipment,
        received_on=received_on,
        quantity_received=quantity_received,
        note=note,
        recorded_by=actor,
        recorded_at=now,
    )
    comment = gettext("Lot %(n)s: %(received)s received on %(day)s for %(shipped)s shipped.") % {
        "n": shipment.lot.number,
        "received": quantity_received,
        "day": received_on,
        "shipped": shipment.quantity,
    }
    _record(contract, "reception", actor, f"{comment} {note}".strip(), ip, now)
    penalty_refresh(lot=shipment.lot, now=now)
    return reception


@transaction.atomic
def inspection_record(
    *, reception, actor, norm_class, sample_size: int, measured: dict, ip=None, now=None
) -> SampleInspection:
    """The qualitative check: a sample measured against the thresholds of the norms catalogue."""
    now = now or timezone.now()
    contract = _lock(reception.shipment.lot.contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    if sample_size < 1:
        raise ValidationError(gettext("The sample must hold at least one item."))
    findings = rules.sample_findings(norm_class, measured)
    inspection = SampleInspection.objects.create(
        reception=reception,
        norm_class=norm_class,
        sample_size=sample_size,
        passed=not findings,
        findings=findings,
        inspected_by=actor,
        inspected_at=now,
        **{name: measured.get(name) for name, _limit, _comparison in rules.SAMPLE_MEASURES},
    )
    verdict = gettext("within the standard") if not findings else "; ".join(findings)
    _record(
        contract,
        "sample_inspection",
        actor,
        gettext("Sample of %(n)s against %(norm)s: %(verdict)s")
        % {"n": sample_size, "norm": norm_class, "verdict": verdict},
        ip,
        now,
    )
    return inspection


DECISIONS = {
    "admit": "admit",
    "postpone": "postpone",
    "reduce": "reduce_price",
    "reject": "reject",
}


@transaction.atomic
def reception_decide(
    *,
    reception,
    actor,
    decision: str,
    comment: str = "",
    new_date: date | None = None,
    amount: Decimal | None = None,
    ip=None,
    now=None,
) -> Reception:
    """Admission, postponement (new date), price reduction (amount) or rejection, by a named buyer."""
    now = now or timezone.now()
    contract = _lock(reception.shipment.lot.contract)
    workflow.ensure_executable(contract)
    reception = (
        Reception.objects.select_for_update(of=("self",))
        .select_related("shipment__lot__contract__case")
        .get(pk=reception.pk, shipment__lot__contract=contract)
    )
    bound = getattr(reception, DECISIONS[decision])
    workflow.ensure_buyer(contract, actor)
    if reception.status not in UNDECIDED:
        raise TransitionNotAllowed(gettext("This reception is already decided."))
    kwargs = {"by": actor, "at": now, "comment": comment}
    if decision != "admit":
        require_comment(comment)
    if decision == "postpone":
        if new_date is None or new_date <= reception.received_on:
            raise ValidationError(gettext("A postponement needs a new presentation date after the delivery."))
        kwargs["new_date"] = new_date
    if decision == "reduce":
        value = rules.money(contract.unit_price * reception.quantity_received)
        if amount is None or amount <= 0 or amount >= value:
            raise ValidationError(
                gettext("The price reduction must be positive and below the value delivered (%(value)s €).")
                % {"value": value}
            )
        kwargs["amount"] = rules.money(amount)
    source = reception.status
    bound(**kwargs)
    reception.save()
    label = reception.get_status_display()
    details = {
        "postpone": gettext(" until %(day)s") % {"day": new_date},
        "reduce": gettext(" (%(amount)s € less)") % {"amount": kwargs.get("amount")},
    }.get(decision, "")
    CaseEvent.record(
        case=contract.case,
        contract=contract,
        verb="reception_decision",
        actor=actor,
        source=source,
        target=reception.status,
        comment=gettext("Lot %(n)s: %(decision)s%(details)s. %(comment)s")
        % {"n": reception.shipment.lot.number, "decision": label, "details": details, "comment": comment},
        ip=ip,
        now=now,
    )
    penalty_refresh(lot=reception.shipment.lot, now=now)
    return reception


def receptions_admit_tacitly(*, now=None) -> int:
    """Daily: a reception left without decision past its time limit is deemed admitted; record and say so."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    count = 0
    candidates = Reception.objects.filter(status__in=UNDECIDED).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            reception = (
                Reception.objects.select_for_update(of=("self",))
                .select_related("shipment__lot__contract__case")
                .get(pk=pk)
            )
            if reception.status not in UNDECIDED or today <= reception.decision_deadline:
                continue
            contract = reception.shipment.lot.contract
            source = reception.status
            reception.admit_tacitly(at=now)
            reception.save()
            text = gettext(
                "Contract %(ref)s, lot %(n)s: no decision within %(days)s days of the delivery of %(day)s; "
                "the %(quantity)s items are deemed admitted."
            ) % {
                "ref": contract.reference,
                "n": reception.shipment.lot.number,
                "days": settings.TACIT_ADMISSION_DAYS,
                "day": reception.postponed_to if source == ReceptionStatus.POSTPONED else reception.received_on,
                "quantity": reception.quantity_received,
            }
            CaseEvent.record(
                case=contract.case,
                contract=contract,
                verb="tacit_admission",
                source=source,
                target=reception.status,
                comment=text,
                now=now,
            )
            notify(
                recipients=contract.case.purchasing_team(),
                verb="tacit_admission",
                text=text,
                url=_url(contract),
                now=now,
            )
            penalty_refresh(lot=reception.shipment.lot, now=now)
        count += 1
    return count


# --- penalties ----------------------------------------------------------------------------------------------
def penalty_details(lot, today: date) -> list[dict]:
    """Each late part of the lot: delivered late (its reception date), or still missing at `today`.
    Rejected goods count as not delivered."""
    unit_price = lot.contract.unit_price
    parts, delivered = [], 0
    receptions = Reception.objects.filter(shipment__lot=lot).exclude(status=ReceptionStatus.REJECTED)
    for reception in receptions.order_by("received_on", "pk"):
        delivered += reception.quantity_received
        days = rules.days_late(lot.due_on, reception.received_on)
        if days:
            value = rules.money(unit_price * reception.quantity_received)
            parts.append(
                {
                    "label": gettext("delivered on %(day)s") % {"day": reception.received_on.strftime("%d/%m/%Y")},
                    "quantity": reception.quantity_received,
                    "value": str(value),
                    "days": days,
                    "amount": str(rules.late_penalty(value, days)),
                }
            )
    missing = lot.quantity - delivered
    days = rules.days_late(lot.due_on, today)
    if missing > 0 and days:
        value = rules.money(unit_price * missing)
        parts.append(
            {
                "label": gettext("not delivered at %(day)s") % {"day": today.strftime("%d/%m/%Y")},
                "quantity": missing,
                "value": str(value),
                "days": days,
                "amount": str(rules.late_penalty(value, days)),
            }
        )
    return parts


def penalty_refresh(*, lot, now=None) -> Penalty | None:
    """Recompute the lot's proposal (inside the caller's transaction); a waived penalty stays as waived."""
    now = now or timezone.now()
    penalty = Penalty.objects.filter(lot=lot).first()
    if penalty is not None and penalty.is_waived:
        return penalty
    details = penalty_details(lot, timezone.localdate(now))
    if not details and penalty is None:
        return None
    values = {
        "late_value": sum((Decimal(p["value"]) for p in details), Decimal("0")),
        "days_late": max((p["days"] for p in details), default=0),
        "amount": sum((Decimal(p["amount"]) for p in details), Decimal("0")),
        "details": details,
        "computed_at": now,
    }
    penalty, _created = Penalty.objects.update_or_create(lot=lot, defaults=values)
    return penalty


def penalties_refresh_open(*, now=None) -> int:
    """Daily: the proposal of every lot still late grows with the days (P = V × R / 1000)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    count = 0
    for lot in DeliveryLot.objects.filter(due_on__lt=today, contract__status__in=workflow.EXECUTABLE).select_related(
        "contract"
    ):
        with transaction.atomic():
            if penalty_refresh(lot=lot, now=now) is not None:
                count += 1
    return count


@transaction.atomic
def penalty_waive(*, penalty, actor, reason: str, reference: str = "", ip=None, now=None) -> Penalty:
    now = now or timezone.now()
    require_comment(reason)
    contract = _lock(penalty.lot.contract)
    workflow.ensure_jurist(contract, actor)
    penalty = Penalty.objects.select_for_update().select_related("lot").get(pk=penalty.pk, lot__contract=contract)
    if penalty.is_waived:
        raise Conflict(gettext("This penalty is already waived."))
    penalty.waived_by = actor
    penalty.waived_at = now
    penalty.waiver_reason = reason
    penalty.waiver_reference = reference
    penalty.save(update_fields=["waived_by", "waived_at", "waiver_reason", "waiver_reference"])
    _record(
        contract,
        "penalty_waived",
        actor,
        gettext("Lot %(n)s: penalty of %(amount)s € waived. %(reason)s %(reference)s")
        % {"n": penalty.lot.number, "amount": penalty.amount, "reason": reason, "reference": reference},
        ip,
        now,
    )
    return penalty


def covid_waiver_reference(contract) -> str:
    """Ordonnance 2020-319 art. 6 for contracts signed in its period (offered to the jurist), else nothing."""
    signed_on = timezone.localdate(contract.signed_at) if contract.signed_at else None
    return rules.COVID_WAIVER_REFERENCE if rules.covid_ordinance_applies(signed_on) else ""


# --- advance, invoices, payments ----------------------------------------------------------------------------
# R2191-7: above 30 % the buyer may require a first-demand guarantee, and the advance is capped at 60 %;
# ordonnance 2020-319 (art. 5) lifted both for the 2020 contracts.
ADVANCE_GUARANTEE_RATE = Decimal("0.30")
ADVANCE_MAX_RATE = Decimal("0.60")


@transaction.atomic
def advance_record(*, contract, actor, rate: Decimal, paid_on: date, guarantee: str, ip=None, now=None):
    now = now or timezone.now()
    contract = _lock(contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    if AdvancePayment.objects.filter(contract=contract).exists():
        raise Conflict(gettext("The advance of this contract is already recorded."))
    covid = bool(covid_waiver_reference(contract))
    if rate <= 0 or rate > 1:
        raise ValidationError(gettext("The advance rate is a fraction between 0 and 1 (0.30 = 30 %)."))
    if rate > ADVANCE_MAX_RATE and not covid:
        raise ValidationError(gettext("The advance cannot exceed 60 % of the amount (R2191-7)."))
    if rate > ADVANCE_GUARANTEE_RATE and guarantee == AdvancePayment.Guarantee.NONE and not covid:
        raise ValidationError(gettext("Above 30 %, the advance needs a guarantee (R2191-7)."))
    advance = AdvancePayment.objects.create(
        contract=contract,
        rate=rate,
        amount=rules.money(contract.amount_ht * rate),
        paid_on=paid_on,
        guarantee=guarantee,
        recorded_by=actor,
        recorded_at=now,
    )
    _record(
        contract,
        "advance_paid",
        actor,
        gettext("Advance of %(rate)s %% (%(amount)s €) paid on %(day)s; guarantee: %(guarantee)s.")
        % {"rate": rate * 100, "amount": advance.amount, "day": paid_on, "guarantee": advance.get_guarantee_display()},
        ip,
        now,
    )
    return advance


@transaction.atomic
def invoice_record(
    *, contract, actor, number: str, received_on: date, amount: Decimal, quantity: int, lots, ip=None, now=None
) -> Invoice:
    now = now or timezone.now()
    contract = _lock(contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    lots = list(lots)
    if not lots or any(lot.contract_id != contract.pk for lot in lots):
        raise ValidationError(gettext("An invoice covers one or more lots of this contract."))
    if Invoice.objects.filter(contract=contract, number=number).exists():
        raise Conflict(gettext("This invoice number is already recorded."))
    invoiced = _total(contract.invoices.all(), "quantity")
    if quantity < 1 or invoiced + quantity > contract.quantity:
        raise ValidationError(
            gettext("The invoices cannot cover more than the contract's quantity (%(n)s left).")
            % {"n": contract.quantity - invoiced}
        )
    if amount <= 0:
        raise ValidationError(gettext("The amount must be positive."))
    invoice = Invoice.objects.create(
        contract=contract,
        number=number,
        received_on=received_on,
        amount=rules.money(amount),
        quantity=quantity,
        recorded_by=actor,
        recorded_at=now,
    )
    invoice.lots.set(lots)
    _record(
        contract,
        "invoice_received",
        actor,
        gettext("Invoice %(number)s of %(amount)s € received on %(day)s, payable by %(due)s.")
        % {"number": number, "amount": invoice.amount, "day": received_on, "due": invoice.due_on},
        ip,
        now,
    )
    return invoice


@transaction.atomic
def payment_exception_record(*, contract, actor, quantity: int, reason: str, ip=None, now=None):
    """A jurist allows paying `quantity` beyond what was received and admitted, and says why."""
    now = now or timezone.now()
    require_comment(reason)
    contract = _lock(contract)
    workflow.ensure_jurist(contract, actor)
    workflow.ensure_executable(contract)
    if quantity < 1:
        raise ValidationError(gettext("The quantity must be positive."))
    exception = PaymentException.objects.create(
        contract=contract, quantity=quantity, reason=reason, recorded_by=actor, recorded_at=now
    )
    _record(
        contract,
        "payment_exception",
        actor,
        gettext("Payment of %(n)s items beyond the admitted quantity allowed: %(reason)s")
        % {"n": quantity, "reason": reason},
        ip,
        now,
    )
    return exception


def payable_quantity(contract) -> int:
    """Pay only what was received and accepted: admitted quantity, plus the jurists' exceptions, less paid."""
    allowed = _admitted(contract) + _total(contract.payment_exceptions.all(), "quantity")
    return allowed - _total(Payment.objects.filter(invoice__contract=contract), "quantity")


@transaction.atomic
def payment_record(*, invoice, actor, paid_on: date, amount: Decimal, quantity: int, ip=None, now=None) -> Payment:
    now = now or timezone.now()
    contract = _lock(invoice.contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    invoice = Invoice.objects.get(pk=invoice.pk, contract=contract)
    payable = payable_quantity(contract)
    if quantity < 1 or quantity > payable:
        raise ValidationError(
            gettext(
                "Only what was received and admitted is paid: %(n)s items can be paid now. "
                "A jurist may record an exception."
            )
            % {"n": max(payable, 0)}
        )
    paid = invoice.payments.aggregate(q=Sum("quantity"), a=Sum("amount"))
    if quantity + (paid["q"] or 0) > invoice.quantity or amount + (paid["a"] or 0) > invoice.amount or amount <= 0:
        raise ValidationError(gettext("A payment cannot exceed what is left to pay on the invoice."))
    late = rules.late_payment(amount, invoice.due_on, paid_on)
    payment = Payment.objects.create(
        invoice=invoice,
        paid_on=paid_on,
        amount=rules.money(amount),
        quantity=quantity,
        days_late=late.days,
        late_interest=late.interest,
        recovery_fee=late.fee,
        recorded_by=actor,
        recorded_at=now,
    )
    comment = gettext("Invoice %(number)s: %(amount)s € paid on %(day)s.") % {
        "number": invoice.number,
        "amount": payment.amount,
        "day": paid_on,
    }
    if late.days:
        comment += " " + gettext(
            "Paid %(days)s days late: interest %(interest)s € and fixed recovery fee %(fee)s € owed."
        ) % {"days": late.days, "interest": late.interest, "fee": late.fee}
    _record(contract, "payment", actor, comment, ip, now)
    return payment


# --- allocation ---------------------------------------------------------------------------------------------
@transaction.atomic
def allocation_record(
    *, contract, actor, beneficiary: str, quantity: int, allocated_on: date, detail: str = "", ip=None, now=None
) -> Allocation:
    now = now or timezone.now()
    contract = _lock(contract)
    workflow.ensure_buyer(contract, actor)
    workflow.ensure_executable(contract)
    left = _admitted(contract) - _total(contract.allocations.all(), "quantity")
    if quantity < 1 or quantity > left:
        raise ValidationError(
            gettext("Only admitted goods are allocated: %(n)s items are left to allocate.") % {"n": max(left, 0)}
        )
    allocation = Allocation.objects.create(
        contract=contract,
        beneficiary=beneficiary,
        detail=detail,
        quantity=quantity,
        allocated_on=allocated_on,
        recorded_by=actor,
        recorded_at=now,
    )
    _record(
        contract,
        "allocation",
        actor,
        gettext("%(n)s items allocated to %(who)s on %(day)s. %(detail)s")
        % {"n": quantity, "who": allocation.get_beneficiary_display(), "day": allocated_on, "detail": detail},
        ip,
        now,
    )
    return allocation


# --- vigilance (D8222-5) ------------------------------------------------------------------------------------
def vigilance_state(contract, today: date) -> dict | None:
    """For a contract ≥ the vigilance threshold: the supplier's URSSAF certificate, when it must be renewed
    (six months after issue) and whether that is soon or past."""
    from procurement.models import Threshold
    from suppliers.models import SupplierDocument

    threshold = Threshold.amount_on(Threshold.Kind.VIGILANCE, today)
    if threshold is None or contract.amount_ht < threshold:
        return None
    document = selectors.latest_urssaf(contract.offer.supplier)
    if document is None:
        return {"document": None, "renew_on": None, "due": True, "expired": True}
    renew_on = document.expires_on or SupplierDocument.computed_expiry(document.kind, document.issued_on)
    return {
        "document": document,
        "renew_on": renew_on,
        "due": renew_on - today <= timedelta(days=settings.DOCUMENT_REMINDER_DAYS),
        "expired": renew_on <= today,
    }


def vigilance_remind(*, now=None) -> int:
    """Daily: for contracts in execution (signed, case not closed) at or above the vigilance threshold, tell the
    purchasing team when the supplier's URSSAF certificate is due for renewal — once per certificate."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    count = 0
    contracts = (
        Contract.objects.filter(status__in=workflow.EXECUTABLE, case__status="contract")
        .select_related("case__owner", "offer__supplier")
        .prefetch_related("case__buyers")
    )
    for contract in contracts:
        state = vigilance_state(contract, today)
        if state is None or not state["due"]:
            continue
        document = state["document"]
        key = f"urssaf:{document.pk if document else 'none'}"
        if contract.events.filter(verb="vigilance_reminder", target=key[:20]).exists():
            continue
        if document is None:
            text = gettext("Contract %(ref)s: %(supplier)s has no URSSAF vigilance certificate (D8222-5).")
        else:
            text = gettext(
                "Contract %(ref)s: the URSSAF vigilance certificate of %(supplier)s is due for renewal on %(day)s "
                "(every six months, D8222-5)."
            )
        text %= {
            "ref": contract.reference,
            "supplier": contract.offer.supplier,
            "day": state["renew_on"].strftime("%d/%m/%Y") if state["renew_on"] else "",
        }
        with transaction.atomic():
            notify(
                recipients=contract.case.purchasing_team(),
                verb="vigilance_renewal",
                text=text,
                url=contract.get_absolute_url(),
                now=now,
            )
            CaseEvent.record(
                case=contract.case, contract=contract, verb="vigilance_reminder", target=key[:20], comment=text, now=now
            )
        count += 1
    return count
