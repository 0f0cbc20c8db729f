"""The execution services: schedule, shipments, reception and decisions, penalties, payments, allocations."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from execution import selectors, services
from execution.models import Reception
from notifications.models import Notification
from procurement.models import CaseEvent, NormClass, SupplyChainParty
from procurement.workflow import Conflict, TransitionBlocked
from tests import factories
from tests.execution.conftest import paris
from tests.factories import make_contract

pytestmark = pytest.mark.django_db


def _lot(contract, buyer, *, quantity=100_000, due_on=None, now=None):
    return services.lot_add(
        contract=contract,
        actor=buyer,
        quantity=quantity,
        due_on=due_on or timezone.localdate() + timedelta(days=10),
        delivery_place="Marseille",
        incoterm="DAP",
        now=now,
    )


def _shipment(lot, buyer, *, quantity=None, now=None):
    return services.shipment_add(
        lot=lot, actor=buyer, quantity=quantity or lot.quantity, mode="air", waybill="057-12345675", now=now
    )


def _received(contract, buyer, *, quantity=100_000, received_on=None, now=None, due_on=None):
    lot = _lot(contract, buyer, quantity=quantity, due_on=due_on, now=now)
    shipment = _shipment(lot, buyer, now=now)
    return services.reception_record(
        shipment=shipment,
        actor=buyer,
        received_on=received_on or timezone.localdate(),
        quantity_received=quantity,
        now=now,
    )


def _admitted(contract, buyer, **kwargs):
    reception = _received(contract, buyer, **kwargs)
    return services.reception_decide(reception=reception, actor=buyer, decision="admit", now=kwargs.get("now"))


# --- schedule and shipments ---------------------------------------------------------------------------------
def test_lots_never_schedule_more_than_ordered(contract, buyer):
    _lot(contract, buyer, quantity=60_000)
    with pytest.raises(ValidationError, match="40000 left"):
        _lot(contract, buyer, quantity=40_001)
    assert _lot(contract, buyer, quantity=40_000).number == 2


def test_only_a_buyer_of_the_case_schedules(contract, buyer2, jurist):
    for user in (buyer2, jurist):
        with pytest.raises(PermissionDenied):
            _lot(contract, user)


def test_an_unsigned_contract_has_no_execution(buyer, jurist):
    draft = make_contract(buyer, "draft", jurist=jurist)
    with pytest.raises(TransitionNotAllowed):
        _lot(draft, buyer)


def test_forwarder_and_carrier_come_from_the_supply_chain(contract, buyer):
    lot = _lot(contract, buyer)
    stranger = factories.SupplierFactory(organisation=buyer.organisation, created_by=buyer)
    with pytest.raises(ValidationError, match="supply chain"):
        services.shipment_add(lot=lot, actor=buyer, quantity=10, mode="air", forwarder=stranger)
    carrier = factories.SupplierFactory(organisation=buyer.organisation, name="Fret Express", created_by=buyer)
    SupplyChainParty.objects.create(
        offer=contract.offer,
        supplier=carrier,
        role=SupplyChainParty.Role.CARRIER,
        position=2,
        added_by=buyer,
        added_at=timezone.now(),
    )
    shipment = services.shipment_add(
        lot=lot, actor=buyer, quantity=10, mode="air", carrier=carrier, forwarder=contract.offer.supplier
    )
    assert shipment.carrier == carrier


def test_a_lot_ships_no_more_than_its_quantity(contract, buyer):
    lot = _lot(contract, buyer, quantity=1000)
    _shipment(lot, buyer, quantity=600)
    with pytest.raises(ValidationError, match="400 left"):
        _shipment(lot, buyer, quantity=401)


def test_each_milestone_is_a_timeline_event_and_tells_the_purchasing_team(contract, buyer, buyer2, director):
    contract.case.buyers.add(buyer2)
    shipment = _shipment(_lot(contract, buyer), buyer)
    events = CaseEvent.objects.count()
    services.milestone_record(shipment=shipment, actor=buyer, kind="departed", occurred_on=timezone.localdate())
    assert CaseEvent.objects.count() == events + 1
    event = CaseEvent.objects.latest("pk")
    assert (event.verb, event.contract) == ("shipment_milestone", contract)
    assert "Departed" in event.comment
    notified = set(Notification.objects.filter(verb="shipment_milestone").values_list("recipient", flat=True))
    assert notified == {buyer.pk, buyer2.pk}
    with pytest.raises(Conflict):
        services.milestone_record(shipment=shipment, actor=buyer, kind="departed", occurred_on=timezone.localdate())


@pytest.mark.parametrize(("kind", "director_told"), [("delayed", False), ("diverted", True), ("requisitioned", True)])
def test_incidents_tell_the_team_and_diversions_the_director(contract, buyer, director, kind, director_told):
    shipment = _shipment(_lot(contract, buyer), buyer)
    with pytest.raises(TransitionBlocked):
        services.incident_record(
            shipment=shipment, actor=buyer, kind=kind, occurred_on=timezone.localdate(), description=""
        )
    services.incident_record(
        shipment=shipment, actor=buyer, kind=kind, occurred_on=timezone.localdate(), description="Escale imprévue."
    )
    recipients = set(Notification.objects.filter(verb="shipment_incident").values_list("recipient", flat=True))
    assert buyer.pk in recipients
    assert (director.pk in recipients) is director_told
    assert CaseEvent.objects.filter(contract=contract, verb="shipment_incident").count() == 1


# --- reception ----------------------------------------------------------------------------------------------
def test_receiving_more_than_shipped_needs_a_note(contract, buyer):
    shipment = _shipment(_lot(contract, buyer, quantity=1000), buyer)
    with pytest.raises(ValidationError, match="explain the difference"):
        services.reception_record(
            shipment=shipment, actor=buyer, received_on=timezone.localdate(), quantity_received=1200
        )
    assert not Reception.objects.exists()
    reception = services.reception_record(
        shipment=shipment,
        actor=buyer,
        received_on=timezone.localdate(),
        quantity_received=1200,
        note="200 masques offerts par le fournisseur.",
    )
    assert reception.quantity_received == 1200


def test_decisions_are_taken_by_a_named_buyer(contract, buyer, buyer2):
    reception = _received(contract, buyer, quantity=1000)
    with pytest.raises(PermissionDenied):
        services.reception_decide(reception=reception, actor=buyer2, decision="admit")
    reception = services.reception_decide(
        reception=reception, actor=buyer, decision="reduce", amount=Decimal("85.00"), comment="Cartons abîmés."
    )
    assert (reception.status, reception.decided_by, reception.price_reduction) == ("reduced", buyer, Decimal("85.00"))
    assert reception.quantity_admitted == 1000
    with pytest.raises(TransitionNotAllowed):
        services.reception_decide(reception=reception, actor=buyer, decision="reject", comment="Trop tard.")


def test_a_price_reduction_stays_below_the_value_delivered(contract, buyer):
    reception = _received(contract, buyer, quantity=1000)  # 850 €
    with pytest.raises(ValidationError, match="850.00"):
        services.reception_decide(
            reception=reception, actor=buyer, decision="reduce", amount=Decimal("850"), comment="x"
        )


def test_postponement_then_rejection(contract, buyer, today):
    reception = _received(contract, buyer, quantity=1000)
    with pytest.raises(ValidationError):
        services.reception_decide(reception=reception, actor=buyer, decision="postpone", comment="Étiquetage.")
    reception = services.reception_decide(
        reception=reception, actor=buyer, decision="postpone", comment="Étiquetage.", new_date=today + timedelta(days=5)
    )
    assert reception.status == "postponed"
    assert reception.decision_deadline == today + timedelta(days=20)
    reception = services.reception_decide(reception=reception, actor=buyer, decision="reject", comment="Non conforme.")
    assert reception.status == "rejected"
    assert selectors.contract_figures(contract).admitted == 0


def test_sample_inspection_compares_with_the_catalogue_thresholds(contract, buyer):
    reception = _received(contract, buyer, quantity=1000)
    ffp2 = NormClass.objects.get(norm__code="EN 149:2001+A1:2009", label="FFP2")
    passing = services.inspection_record(
        reception=reception,
        actor=buyer,
        norm_class=ffp2,
        sample_size=20,
        measured={"filtration": Decimal("95.5"), "inward_leakage": Decimal("7")},
    )
    assert passing.passed
    assert passing.findings == []
    failing = services.inspection_record(
        reception=reception, actor=buyer, norm_class=ffp2, sample_size=20, measured={"filtration": Decimal("90")}
    )
    assert not failing.passed
    assert any("measured 90" in finding and "≥ 94" in finding for finding in failing.findings)
    assert any("Not measured" in finding for finding in failing.findings)


def test_admission_is_deemed_after_fifteen_days_without_decision(contract, buyer, director):
    """Time frozen through the services' clock: day 15 nothing happens, day 16 the task records and says so."""
    delivered = paris(2026, 3, 2)
    reception = _received(contract, buyer, quantity=1000, received_on=delivered.date(), now=delivered)
    assert services.receptions_admit_tacitly(now=paris(2026, 3, 17, 6)) == 0
    assert Reception.objects.get(pk=reception.pk).status == "recorded"
    assert services.receptions_admit_tacitly(now=paris(2026, 3, 18, 6)) == 1
    reception = Reception.objects.get(pk=reception.pk)
    assert (reception.status, reception.tacit, reception.decided_by) == ("admitted", True, None)
    event = CaseEvent.objects.get(contract=contract, verb="tacit_admission")
    assert "deemed admitted" in event.comment
    assert "15 days" in event.comment
    assert Notification.objects.filter(recipient=buyer, verb="tacit_admission").exists()
    assert services.receptions_admit_tacitly(now=paris(2026, 3, 19, 6)) == 0  # idempotent


# --- penalties ----------------------------------------------------------------------------------------------
def test_penalty_per_lot_counts_the_late_part_only(contract, buyer, today):
    lot = _lot(contract, buyer, quantity=60_000, due_on=today - timedelta(days=10))
    first, second = _shipment(lot, buyer, quantity=20_000), _shipment(lot, buyer, quantity=40_000)
    services.reception_record(
        shipment=first, actor=buyer, received_on=today - timedelta(days=12), quantity_received=20_000
    )
    services.reception_record(shipment=second, actor=buyer, received_on=today, quantity_received=40_000)
    lot.penalty.refresh_from_db()
    # only the 40 000 masks (34 000 €) delivered 10 days late: 34 000 × 10 / 1000
    assert lot.penalty.late_value == Decimal("34000.00")
    assert lot.penalty.days_late == 10
    assert lot.penalty.amount == Decimal("340.00")


def test_goods_not_delivered_are_late_until_today(contract, buyer, today):
    lot = _lot(contract, buyer, quantity=10_000, due_on=today - timedelta(days=4))
    services.penalties_refresh_open()
    lot.refresh_from_db()
    assert lot.penalty.amount == Decimal("34.00")  # 8 500 € × 4 / 1000


def test_a_jurist_waives_a_penalty_with_a_reason(contract, buyer, jurist, today):
    lot = _lot(contract, buyer, quantity=10_000, due_on=today - timedelta(days=4))
    penalty = services.penalties_refresh_open() and lot.__class__.objects.get(pk=lot.pk).penalty
    with pytest.raises(PermissionDenied):
        services.penalty_waive(penalty=penalty, actor=buyer, reason="Geste commercial.")
    with pytest.raises(TransitionBlocked):
        services.penalty_waive(penalty=penalty, actor=jurist, reason=" ")
    penalty = services.penalty_waive(penalty=penalty, actor=jurist, reason="Retard dû à la grève du fret.")
    assert penalty.is_waived
    assert penalty.amount_due == 0
    assert penalty.waived_by == jurist
    assert CaseEvent.objects.filter(contract=contract, verb="penalty_waived", actor=jurist).count() == 1
    services.penalties_refresh_open(now=timezone.now() + timedelta(days=3))
    penalty.refresh_from_db()
    assert penalty.amount == Decimal("34.00")  # a waived proposal is not recomputed


def test_the_covid_waiver_is_offered_for_2020_contracts_only(buyer, jurist, director, contract):
    factories.SignatureDelegationFactory(delegate=director, valid_from=paris(2020, 1, 1).date())
    old = make_contract(buyer, "signed", jurist=jurist, signer=director, now=paris(2020, 3, 22))
    assert "2020-319" in services.covid_waiver_reference(old)
    assert services.covid_waiver_reference(contract) == ""


# --- advance, invoices, payments ----------------------------------------------------------------------------
def test_an_advance_above_thirty_percent_needs_a_guarantee(contract, buyer, today):
    with pytest.raises(ValidationError, match="guarantee"):
        services.advance_record(contract=contract, actor=buyer, rate=Decimal("0.40"), paid_on=today, guarantee="none")
    with pytest.raises(ValidationError, match="60 %"):
        services.advance_record(
            contract=contract, actor=buyer, rate=Decimal("0.70"), paid_on=today, guarantee="first_demand"
        )
    advance = services.advance_record(
        contract=contract, actor=buyer, rate=Decimal("0.40"), paid_on=today, guarantee="first_demand"
    )
    assert advance.amount == Decimal("34000.00")


def _invoice(contract, buyer, *, quantity=1000, amount=Decimal("850.00"), received_on=None, number="F-1"):
    return services.invoice_record(
        contract=contract,
        actor=buyer,
        number=number,
        received_on=received_on or timezone.localdate(),
        amount=amount,
        quantity=quantity,
        lots=list(contract.lots.all()),
    )


def test_payment_only_covers_admitted_quantities_unless_a_jurist_allows_it(contract, buyer, jurist, today):
    _admitted(contract, buyer, quantity=1000)
    invoice = _invoice(contract, buyer, quantity=2000, amount=Decimal("1700.00"))
    with pytest.raises(ValidationError, match="1000 items can be paid"):
        services.payment_record(invoice=invoice, actor=buyer, paid_on=today, amount=Decimal("1700"), quantity=2000)
    services.payment_record(invoice=invoice, actor=buyer, paid_on=today, amount=Decimal("850"), quantity=1000)
    with pytest.raises(ValidationError, match="0 items"):
        services.payment_record(invoice=invoice, actor=buyer, paid_on=today, amount=Decimal("850"), quantity=1000)
    with pytest.raises(PermissionDenied):
        services.payment_exception_record(contract=contract, actor=buyer, quantity=1000, reason="Payé sur le tarmac.")
    services.payment_exception_record(contract=contract, actor=jurist, quantity=1000, reason="Payé sur le tarmac.")
    services.payment_record(invoice=invoice, actor=buyer, paid_on=today, amount=Decimal("850"), quantity=1000)
    assert selectors.contract_figures(contract).paid == 2000


def test_paid_after_thirty_days_records_interest_and_the_fee(contract, buyer, settings, today):
    settings.LATE_PAYMENT_RATE = Decimal("0.08")
    _admitted(contract, buyer, quantity=1000)
    invoice = _invoice(contract, buyer, received_on=today - timedelta(days=40))
    assert invoice.due_on == today - timedelta(days=10)
    payment = services.payment_record(
        invoice=invoice, actor=buyer, paid_on=today, amount=Decimal("850.00"), quantity=1000
    )
    assert payment.days_late == 10
    assert payment.late_interest == Decimal("1.86")  # 850 × 8 % × 10 / 365 = 1.863
    assert payment.recovery_fee == Decimal("40.00")
    assert "10 days late" in CaseEvent.objects.filter(verb="payment").latest("pk").comment


def test_paid_within_thirty_days_owes_nothing(contract, buyer, today):
    _admitted(contract, buyer, quantity=1000)
    invoice = _invoice(contract, buyer, received_on=today - timedelta(days=30))
    payment = services.payment_record(invoice=invoice, actor=buyer, paid_on=today, amount=Decimal("850"), quantity=1000)
    assert (payment.days_late, payment.late_interest, payment.recovery_fee) == (0, 0, 0)


# --- allocation ---------------------------------------------------------------------------------------------
def test_allocations_never_exceed_what_was_admitted(contract, buyer, today):
    reception = _received(contract, buyer, quantity=1000)
    with pytest.raises(ValidationError, match="0 items are left"):
        services.allocation_record(contract=contract, actor=buyer, beneficiary="carers", quantity=1, allocated_on=today)
    services.reception_decide(reception=reception, actor=buyer, decision="admit")
    services.allocation_record(contract=contract, actor=buyer, beneficiary="carers", quantity=700, allocated_on=today)
    with pytest.raises(ValidationError, match="300 items are left"):
        services.allocation_record(
            contract=contract, actor=buyer, beneficiary="police", quantity=301, allocated_on=today
        )
    figures = selectors.contract_figures(contract)
    assert (figures.received, figures.admitted, figures.allocated) == (1000, 1000, 700)


# --- vigilance ----------------------------------------------------------------------------------------------
def test_vigilance_renewal_is_announced_once(contract, buyer, today):
    assert contract.case.status == "contract"
    assert services.vigilance_remind() == 1  # the factory supplier has no URSSAF certificate
    assert services.vigilance_remind() == 0
    notification = Notification.objects.get(verb="vigilance_renewal")
    assert notification.recipient == buyer
    assert "URSSAF" in notification.text
