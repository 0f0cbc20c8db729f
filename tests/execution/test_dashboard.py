"""The execution figures the director's dashboard reads (dashboard.execution.execution_quantities)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from dashboard.execution import execution_quantities
from execution import services

pytestmark = pytest.mark.django_db


def test_quantities_per_product_in_two_queries(contract, buyer, outsider, django_assert_num_queries):
    """Every figure from the order to the payment, each from its own rows: the ordered units from the figures
    kept per product, the six others from one statement."""
    today = timezone.localdate()
    lot = services.lot_add(
        contract=contract, actor=buyer, quantity=5000, due_on=today, delivery_place="M", incoterm="DAP"
    )
    shipment = services.shipment_add(lot=lot, actor=buyer, quantity=5000, mode="sea")
    reception = services.reception_record(shipment=shipment, actor=buyer, received_on=today, quantity_received=4000)
    services.reception_decide(reception=reception, actor=buyer, decision="admit")
    services.allocation_record(contract=contract, actor=buyer, beneficiary="police", quantity=400, allocated_on=today)
    invoice = services.invoice_record(
        contract=contract,
        actor=buyer,
        number="F-1",
        received_on=today,
        amount=Decimal("850.00"),
        quantity=1000,
        lots=[lot],
    )
    services.payment_record(invoice=invoice, actor=buyer, paid_on=today, amount=Decimal("510"), quantity=600)
    with django_assert_num_queries(2):
        [line] = execution_quantities(organisation_id=buyer.organisation_id)
    assert line["product"] == contract.offer.need_line.product
    assert [line[name] for name in ("ordered", "shipped", "received", "admitted", "allocated", "invoiced", "paid")] == [
        100_000,
        5000,
        4000,
        4000,
        400,
        1000,
        600,
    ]
    assert execution_quantities(organisation_id=outsider.organisation_id) == []


def test_a_rejected_reception_is_received_not_admitted(contract, buyer):
    today = timezone.localdate()
    lot = services.lot_add(
        contract=contract, actor=buyer, quantity=5000, due_on=today, delivery_place="M", incoterm="DAP"
    )
    shipment = services.shipment_add(lot=lot, actor=buyer, quantity=3000, mode="air")
    reception = services.reception_record(shipment=shipment, actor=buyer, received_on=today, quantity_received=3000)
    services.reception_decide(reception=reception, actor=buyer, decision="reject", comment="Masques non conformes.")
    [line] = execution_quantities(organisation_id=buyer.organisation_id)
    assert (line["shipped"], line["received"], line["admitted"]) == (3000, 3000, 0)
