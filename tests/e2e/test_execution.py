"""The execution in chromium: a buyer records a shipment milestone, a reception admitted with a price reduction
and an allocation; the contract's execution figures follow."""

import re

from django.utils import timezone
from playwright.sync_api import expect

from execution import services
from execution.models import Allocation, Milestone, Reception
from tests.factories import make_contract

PASSWORD = "un-mot-de-passe-de-test"


def figure(page, n: int) -> int:
    """The n-th execution figure (1 ordered … 4 admitted, 5 allocated …) as a number, whatever the grouping."""
    return int(re.sub(r"\D", "", page.locator(f'[data-figure="{n}"]').first.inner_text()))


def record(page, action: str, fields: dict, selects: dict | None = None):
    form = page.locator(f"form[action$='/{action}/']")
    form.locator("xpath=ancestor::details").locator("summary").click()
    for name, value in (selects or {}).items():
        form.locator(f"#id_{action}-{name}").select_option(str(value))
    for name, value in fields.items():
        form.locator(f"#id_{action}-{name}").fill(str(value))
    form.locator("[type=submit]").click()
    page.wait_for_load_state()


def test_buyer_records_milestone_reception_and_allocation(
    browser, live_server, login, buyer, jurist, director, delegation, axe_check
):
    contract = make_contract(buyer, "signed", jurist=jurist, signer=director)
    lot = services.lot_add(
        contract=contract,
        actor=buyer,
        quantity=1000,
        due_on=timezone.localdate(),
        delivery_place="Marseille",
        incoterm="DAP",
    )
    shipment = services.shipment_add(lot=lot, actor=buyer, quantity=1000, mode="air", waybill="057-12345675")
    today = timezone.localdate().isoformat()
    page = browser.new_context().new_page()
    login(page, buyer.username, PASSWORD)

    page.goto(f"{live_server.url}{contract.get_absolute_url()}")
    expect(page.locator("#execution-summary")).to_be_visible()
    assert figure(page, 1) == 100_000
    assert figure(page, 4) == 0
    page.locator("#execution-summary a").click()
    page.wait_for_load_state()
    axe_check(page)

    record(
        page, "milestone", {"occurred_on": today, "note": "Vol AF 1234"}, {"shipment": shipment.pk, "kind": "arrived"}
    )
    assert Milestone.objects.filter(shipment=shipment, kind="arrived").exists()
    expect(page.locator("main")).to_contain_text("Vol AF 1234")

    record(page, "reception", {"received_on": today, "quantity_received": 1000}, {"shipment": shipment.pk})
    reception = Reception.objects.get(shipment=shipment)
    record(
        page,
        "decision",
        {"amount": "50.00", "comment": "Cartons abîmés à la livraison."},
        {"reception": reception.pk, "decision": "reduce"},
    )
    reception.refresh_from_db()
    assert (reception.status, reception.decided_by) == ("reduced", buyer)

    record(page, "allocation", {"quantity": 600, "allocated_on": today}, {"beneficiary": "carers"})
    assert Allocation.objects.get(contract=contract).quantity == 600
    axe_check(page)
    assert (figure(page, 3), figure(page, 4), figure(page, 5)) == (1000, 1000, 600)

    page.goto(f"{live_server.url}{contract.get_absolute_url()}")
    assert (figure(page, 2), figure(page, 4), figure(page, 5)) == (1000, 1000, 600)
