"""Modifications (avenants) of a notified contract, and the preview a buyer submits to the legal team.

A modification is appended, numbered and never edited; the contract takes the new terms while the published
essential data (DECP) keep the notified amount and list the modifications in order."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from django_fsm import TransitionNotAllowed

from contracts import decp, services
from contracts.models import Contract, ContractModification
from notifications.models import Notification
from procurement.models import CaseEvent
from procurement.workflow import Conflict, TransitionBlocked
from tests import factories
from tests.factories import make_contract

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "contracts/decp_schema/schema_decp_v2.0.3.json").read_text(encoding="utf-8")
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def signer(director):
    factories.SignatureDelegationFactory(delegate=director)
    return director


@pytest.fixture
def notified(buyer, jurist, signer):
    """100 000 FFP2 masks at 0,85 € HT (85 000 €), notified to the supplier today."""
    return make_contract(buyer, "notified", jurist=jurist, signer=signer)


def modify(contract, actor, **kwargs):
    contract = Contract.objects.get(pk=contract.pk)
    return services.contract_modify(
        contract=contract,
        actor=actor,
        quantity=kwargs.pop("quantity", contract.quantity),
        unit_price=kwargs.pop("unit_price", contract.unit_price),
        reason=kwargs.pop("reason", "Livraison partielle acceptée d'un commun accord."),
        notified_on=kwargs.pop("notified_on", timezone.localdate()),
        terms_version=kwargs.pop("terms_version", contract.terms_version),
        **kwargs,
    )


def export(contract) -> dict:
    (record,) = decp.export([Contract.objects.get(pk=contract.pk)])["marches"]["marche"]
    document = {"marches": {"marche": [record]}}
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    return record


# --- the service --------------------------------------------------------------------------------
def test_a_modification_is_numbered_and_the_contract_takes_the_new_terms(notified, buyer, jurist):
    first = modify(notified, buyer, quantity=90_000)
    second = modify(notified, jurist, unit_price=Decimal("0.80"))
    assert (first.number, second.number) == (1, 2)
    assert (first.previous_quantity, first.quantity) == (100_000, 90_000)
    assert (second.previous_unit_price, second.unit_price) == (Decimal("0.85"), Decimal("0.80"))
    contract = Contract.objects.get(pk=notified.pk)
    assert (contract.quantity, contract.unit_price, contract.status) == (90_000, Decimal("0.80"), "notified")
    assert contract.amount_ht == Decimal("72000.00")
    events = CaseEvent.objects.filter(contract=contract, verb="modification")
    assert [e.actor for e in events] == [buyer, jurist]
    assert "Livraison partielle" in events[0].comment


def test_the_team_and_the_legal_department_are_told(notified, buyer, jurist, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        modify(notified, buyer, quantity=90_000)
    told = set(Notification.objects.filter(verb="contract_modified").values_list("recipient", flat=True))
    assert {buyer.pk, jurist.pk} <= told


def test_modifications_cannot_be_edited_nor_deleted(notified, buyer):
    modification = modify(notified, buyer, quantity=90_000)
    modification.reason = "Autre motif"
    with pytest.raises(PermissionError):
        modification.save()
    with pytest.raises(PermissionError):
        modification.delete()
    with pytest.raises(PermissionError):
        ContractModification.objects.filter(pk=modification.pk).update(quantity=1)
    with pytest.raises(PermissionError):
        ContractModification.objects.all().delete()
    assert ContractModification.objects.get(pk=modification.pk).reason.startswith("Livraison partielle")


@pytest.mark.parametrize("state", ["draft", "approved", "signed"])
def test_only_a_notified_contract_is_modified(buyer, jurist, signer, state):
    contract = make_contract(buyer, state, jurist=jurist, signer=signer)
    with pytest.raises(TransitionNotAllowed, match="notified"):
        modify(contract, buyer, quantity=90_000)
    assert not ContractModification.objects.exists()


def test_another_buyer_and_the_director_may_not_modify(notified, buyer2, director):
    for user in (buyer2, director):
        with pytest.raises(PermissionDenied):
            modify(notified, user, quantity=90_000)
    assert Contract.objects.get(pk=notified.pk).quantity == 100_000


def test_terms_changed_meanwhile_are_a_conflict(notified, buyer, jurist):
    stale = notified.terms_version
    modify(notified, jurist, quantity=90_000)
    with pytest.raises(Conflict):
        modify(notified, buyer, quantity=80_000, terms_version=stale)
    assert Contract.objects.get(pk=notified.pk).quantity == 90_000
    assert ContractModification.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "same as the current ones"),
        ({"quantity": 150_000}, "strictly needed"),
        ({"unit_price": Decimal("1.40")}, "more than half the initial amount"),
        ({"quantity": 90_000, "notified_on": timezone.localdate() + timedelta(days=1)}, "between"),
        ({"quantity": 90_000, "notified_on": timezone.localdate() - timedelta(days=1)}, "between"),
    ],
)
def test_bad_modifications_are_refused_with_the_reason(notified, buyer, changes, message):
    with pytest.raises(ValidationError, match=message):
        modify(notified, buyer, **changes)
    contract = Contract.objects.get(pk=notified.pk)
    assert (contract.quantity, contract.unit_price) == (100_000, Decimal("0.85"))
    assert not ContractModification.objects.exists()


def test_a_modification_needs_its_reason(notified, buyer):
    with pytest.raises(TransitionBlocked, match="comment is required"):
        modify(notified, buyer, quantity=90_000, reason="  ")
    assert not ContractModification.objects.exists()


def test_the_half_is_measured_against_the_initial_amount_not_the_last_one(notified, buyer):
    modify(notified, buyer, quantity=60_000)  # 51 000 €
    # 100 000 × 1.27 = 127 000 €: +76 000 € over the current amount, more than half of the initial 85 000 €.
    with pytest.raises(ValidationError, match="85000.00"):
        modify(notified, buyer, quantity=100_000, unit_price=Decimal("1.27"))
    modify(notified, buyer, quantity=100_000, unit_price=Decimal("0.93"))  # +42 000 €, within half of 85 000 €


# --- the published data ----------------------------------------------------------------------------
def test_the_essential_data_keep_the_notified_amount_and_append_each_modification(notified, buyer, jurist):
    before = export(notified)
    modify(notified, buyer, quantity=90_000)
    modify(notified, jurist, unit_price=Decimal("0.80"))
    record = export(notified)
    assert record["montant"] == before["montant"] == 85000.0
    assert record["dateNotification"] == before["dateNotification"]
    today = timezone.localdate().isoformat()
    assert [m["modification"] for m in record["modifications"]] == [
        {
            "id": 1,
            "montant": 76500.0,
            "dateNotificationModification": today,
            "datePublicationDonneesModification": today,
        },
        {
            "id": 2,
            "montant": 72000.0,
            "dateNotificationModification": today,
            "datePublicationDonneesModification": today,
        },
    ]
    # Every other published field is what was published before the modifications.
    assert {k: v for k, v in record.items() if k != "modifications"} == before


def test_a_contract_notified_above_the_threshold_stays_published_after_a_reduction(notified, buyer):
    modify(notified, buyer, quantity=40_000)  # 34 000 €, below 40 000 € now; notified at 85 000 €
    assert decp.is_publishable(Contract.objects.get(pk=notified.pk))


# --- the page -------------------------------------------------------------------------------------
def test_the_jurist_records_a_modification_from_the_contract_page(client, notified, jurist):
    client.force_login(jurist)
    page = client.get(notified.get_absolute_url())
    assert f'action="/contrats/{notified.pk}/modify/"' in page.content.decode()
    response = client.post(
        reverse("contracts:transition", args=[notified.pk, "modify"]),
        {
            "modify-quantity": "90000",
            "modify-unit_price": "0.85",
            "modify-notified_on": timezone.localdate().isoformat(),
            "modify-reason": "Livraison partielle acceptée.",
            "modify-terms_version": notified.terms_version,
        },
        follow=True,
    )
    body = response.content.decode()
    assert "100\xa0000 → 90\xa0000" in body, "the page (in French) lists the modification"
    assert "Livraison partielle acceptée." in body
    assert ContractModification.objects.get().recorded_by == jurist


def test_a_modification_form_with_errors_keeps_what_was_typed(client, notified, jurist):
    client.force_login(jurist)
    response = client.post(
        reverse("contracts:transition", args=[notified.pk, "modify"]),
        {
            "modify-quantity": "90000",
            "modify-unit_price": "0.85",
            "modify-notified_on": "",
            "modify-reason": "Motif saisi par la juriste",
            "modify-terms_version": notified.terms_version,
        },
    )
    assert response.status_code == 422
    assert "Motif saisi par la juriste" in response.content.decode()
    assert not ContractModification.objects.exists()


# --- the preview before submission ---------------------------------------------------------------
def test_the_buyer_previews_the_version_then_submits_it(client, buyer, jurist):
    contract = make_contract(buyer, "draft", jurist=jurist)
    document = contract.current_document
    client.force_login(buyer)
    page = client.get(contract.get_absolute_url()).content.decode()
    assert f"{document.get_download_url()}?apercu=1" in page
    preview = client.get(document.get_download_url(), {"apercu": "1"})
    assert preview["Content-Disposition"].startswith("inline")
    assert b"".join(preview.streaming_content).startswith(b"%PDF")
    download = client.get(document.get_download_url())
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"%PDF")

    url = reverse("contracts:transition", args=[contract.pk, "submit_for_review"])
    refused = client.post(url, {"submit_for_review-rendered_sha256": document.sha256})
    assert refused.status_code == 422, "submitting needs the confirmation that the preview was read"
    client.post(url, {"submit_for_review-rendered_sha256": document.sha256, "submit_for_review-confirm": "on"})
    assert Contract.objects.get(pk=contract.pk).status == "legal_review"


def test_a_version_replaced_after_the_preview_is_not_submitted(buyer, jurist):
    contract = make_contract(buyer, "draft", jurist=jurist)
    previewed = contract.current_document.sha256
    services.contract_amend(
        contract=contract,
        actor=buyer,
        quantity=contract.quantity,
        unit_price=Decimal("0.80"),
        comment="Prix revu.",
        terms_version=contract.terms_version,
    )
    factories.render_pending(contract.case)
    with pytest.raises(Conflict, match="changed since you opened it"):
        services.contract_submit_for_review(
            contract=Contract.objects.get(pk=contract.pk), actor=buyer, rendered_sha256=previewed
        )
    assert Contract.objects.get(pk=contract.pk).status == "draft"
