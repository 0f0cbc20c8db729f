"""The execution figures the director's dashboard reads (dashboard.execution.execution_quantities)."""

import pytest
from django.utils import timezone

from dashboard.execution import execution_quantities
from execution import services

pytestmark = pytest.mark.django_db


def test_quantities_per_product_one_query_per_figure(contract, buyer, outsider, django_assert_num_queries):
    lot = services.lot_add(
        contract=contract, actor=buyer, quantity=5000, due_on=timezone.localdate(), delivery_place="M", incoterm="DAP"
    )
    shipment = services.shipment_add(lot=lot, actor=buyer, quantity=5000, mode="sea")
    reception = services.reception_record(
        shipment=shipment, actor=buyer, received_on=timezone.localdate(), quantity_received=4000
    )
    services.reception_decide(reception=reception, actor=buyer, decision="admit")
    services.allocation_record(
        contract=contract, actor=buyer, beneficiary="police", quantity=400, allocated_on=timezone.localdate()
    )
    with django_assert_num_queries(7):
        [line] = execution_quantities(organisation_id=buyer.organisation_id)
    assert line["product"] == contract.offer.need_line.product
    assert [line[name] for name in ("ordered", "shipped", "received", "admitted", "allocated", "invoiced", "paid")] == [
        100_000,
        5000,
        4000,
        4000,
        400,
        0,
        0,
    ]
    assert execution_quantities(organisation_id=outsider.organisation_id) == []
