"""The execution page: forms by role, actions through the page, the contract's summary, the CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from execution import forms, services
from execution.models import Allocation, DeliveryLot

pytestmark = pytest.mark.django_db


def _action(contract, name):
    return reverse("execution:action", args=[contract.pk, name])


def _admitted_lot(contract, buyer, quantity=1000):
    lot = services.lot_add(
        contract=contract,
        actor=buyer,
        quantity=quantity,
        due_on=timezone.localdate(),
        delivery_place="Marseille",
        incoterm="DAP",
    )
    shipment = services.shipment_add(lot=lot, actor=buyer, quantity=quantity, mode="air")
    reception = services.reception_record(
        shipment=shipment, actor=buyer, received_on=timezone.localdate(), quantity_received=quantity
    )
    services.reception_decide(reception=reception, actor=buyer, decision="admit")
    return lot


def test_the_buyer_records_a_lot_through_the_page(client, contract, buyer):
    client.force_login(buyer)
    response = client.post(
        _action(contract, "lot"),
        {
            "lot-quantity": 50_000,
            "lot-due_on": (timezone.localdate() + timedelta(days=7)).isoformat(),
            "lot-delivery_place": "Marseille",
            "lot-incoterm": "DAP",
        },
    )
    assert response.status_code == 302
    assert DeliveryLot.objects.get(contract=contract).quantity == 50_000


def test_an_invalid_form_is_shown_again_with_its_errors(client, contract, buyer):
    client.force_login(buyer)
    response = client.post(_action(contract, "lot"), {"lot-quantity": 0})
    assert response.status_code == 422
    assert 'id="id_lot-quantity_error"' in response.content.decode()
    assert not DeliveryLot.objects.exists()


def test_a_refused_allocation_says_why_and_changes_nothing(client, contract, buyer):
    client.force_login(buyer)
    response = client.post(
        _action(contract, "allocation"),
        {
            "allocation-beneficiary": "carers",
            "allocation-quantity": 10,
            "allocation-allocated_on": timezone.localdate().isoformat(),
        },
        follow=True,
    )
    assert "Seuls les biens admis sont attribués" in response.content.decode()
    assert not Allocation.objects.exists()


def test_forms_follow_the_roles(client, contract, buyer, jurist, director):
    url = reverse("execution:contract", args=[contract.pk])
    client.force_login(buyer)
    page = client.get(url).content.decode()
    assert _action(contract, "reception") in page
    assert _action(contract, "waiver") not in page
    client.force_login(jurist)
    page = client.get(url).content.decode()
    assert _action(contract, "waiver") in page
    assert _action(contract, "reception") not in page
    client.force_login(director)
    page = client.get(url).content.decode()
    assert "Vous ne pouvez rien enregistrer sur ce marché." in page


def test_the_page_needs_a_fixed_number_of_queries(client, contract, buyer, django_assert_max_num_queries):
    for _ in range(3):
        _admitted_lot(contract, buyer)
    client.force_login(buyer)
    with django_assert_max_num_queries(60):
        response = client.get(reverse("execution:contract", args=[contract.pk]))
    assert response.status_code == 200


def test_the_contract_page_shows_the_execution_at_a_glance(client, contract, buyer):
    _admitted_lot(contract, buyer, quantity=1000)
    client.force_login(buyer)
    page = client.get(contract.get_absolute_url()).content.decode()
    assert reverse("execution:contract", args=[contract.pk]) in page
    assert 'data-figure="1">100' in page  # ordered: 100 000 (French grouping)
    assert 'data-figure="4">1' in page  # admitted: 1 000


def test_the_allocation_export_neutralises_formulas(client, contract, buyer):
    _admitted_lot(contract, buyer)
    services.allocation_record(
        contract=contract,
        actor=buyer,
        beneficiary="small_towns",
        quantity=200,
        allocated_on=timezone.localdate(),
        detail='=HYPERLINK("http://evil")',
    )
    client.force_login(buyer)
    response = client.get(reverse("execution:allocation_export", args=[contract.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][4].startswith("'=")
    assert rows[1][5] == "200"


@pytest.mark.parametrize(
    ("form_class", "data"),
    [
        (forms.PaymentExceptionForm, {"quantity": str(2**63), "reason": "Payé sur le tarmac."}),
        (forms.AllocationForm, {"quantity": str(2**63)}),
    ],
)
def test_a_quantity_beyond_what_the_database_holds_is_a_field_error(contract, form_class, data):
    form = form_class(data, contract=contract)
    assert not form.is_valid()
    assert "quantity" in form.errors
