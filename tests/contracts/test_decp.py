"""DECP open data (arrêté of 22 December 2022, schema v2.0.3): builders, downloads and the command.

Every export produced here is validated against the official schema kept in contracts/decp_schema/.
"""

import copy
import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from contracts import decp, services
from contracts.models import Contract
from procurement.models import SupplyChainParty
from suppliers.models import Supplier
from tests import factories
from tests.factories import make_case, make_contract, sign_contract

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "contracts/decp_schema/schema_decp_v2.0.3.json"
EXAMPLE_PATH = ROOT / "contracts/decp_schema/example_marches_avec_modifications.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
PROCEDURE = "Marché passé sans publicité ni mise en concurrence préalable"


def assert_valid(document: dict) -> dict:
    errors = sorted(VALIDATOR.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    return document


def marches(document: dict) -> list[dict]:
    return assert_valid(document)["marches"]["marche"]


@pytest.fixture
def signer(director):
    factories.SignatureDelegationFactory(delegate=director)
    return director


@pytest.fixture
def notified(buyer, jurist, signer):
    """A contract of 100 000 FFP2 masks at 0,85 € HT (85 000 €), notified to its French supplier."""
    return make_contract(buyer, "notified", jurist=jurist, signer=signer)


# --- the validator itself ------------------------------------------------------------------------
def test_the_official_example_validates_and_a_broken_copy_does_not():
    example = json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))
    assert_valid(example)
    broken = copy.deepcopy(example)
    del broken["marches"]["marche"][0]["procedure"]
    broken["marches"]["marche"][0]["tauxAvance"] = 30
    messages = " ".join(e.message for e in VALIDATOR.iter_errors(broken))
    assert "'procedure' is a required property" in messages
    assert "30 is greater than the maximum of 1" in messages


# --- one contract ----------------------------------------------------------------------------------
def test_a_notified_contract_exports_its_essential_data(notified, org):
    (record,) = marches(decp.export([notified]))
    supplier = notified.offer.supplier
    assert record["id"] == notified.reference
    assert len(record["id"]) <= 16
    assert record["acheteur"] == {"id": org.siret}
    assert record["procedure"] == PROCEDURE
    assert record["nature"] == "Marché"
    assert record["ccag"] == "Fournitures courantes et services"
    assert record["techniques"] == {"technique": ["Sans objet"]}
    assert record["modalitesExecution"] == {"modaliteExecution": ["Sans objet"]}
    assert record["typesPrix"] == {"typePrix": ["Définitif ferme"]}
    assert record["considerationsSociales"] == {"considerationSociale": ["Pas de considération sociale"]}
    assert record["considerationsEnvironnementales"] == {
        "considerationEnvironnementale": ["Pas de considération environnementale"]
    }
    assert record["codeCPV"] == "18143000"
    assert record["lieuExecution"] == {"code": "13002", "typeCode": "Code postal"}
    assert record["montant"] == 85000.0
    assert record["formePrix"] == "Unitaire"
    assert record["typeGroupementOperateurs"] == "Pas de groupement"
    assert record["offresRecues"] == 1
    assert record["marcheInnovant"] is False
    assert record["sousTraitanceDeclaree"] is False
    assert record["attributionAvance"] is False
    assert record["tauxAvance"] == 0
    assert record["titulaires"] == [{"titulaire": {"typeIdentifiant": "SIRET", "id": supplier.siret}}]
    notified_on = timezone.localdate(notified.notified_at).isoformat()
    assert record["dateNotification"] == notified_on
    assert record["datePublicationDonnees"] == notified_on
    # Delivery ten days after notification: one month, the minimum.
    assert record["dureeMois"] == 1
    # No manufacturer recorded: the origin of the goods is unknown, not "0 %".
    assert "origineUE" not in record
    assert "origineFrance" not in record
    assert "modifications" not in record


def test_the_export_does_not_change_when_produced_again(notified):
    assert decp.export([notified]) == decp.export([Contract.objects.get(pk=notified.pk)])


def test_offers_received_count_every_offer_of_the_need_line(buyer, jurist, signer):
    case = make_case(buyer, "contract", suppliers=2)
    contract = case.contracts.order_by("pk").first()
    sign_contract(contract, buyer, jurist, signer)
    contract = services.contract_notify_supplier(contract=contract, actor=buyer)
    (record,) = marches(decp.export([contract]))
    assert record["offresRecues"] == 2
    assert record["montant"] == 42500.0  # half the need each, at 0,85 €


def test_a_supplier_of_another_eu_country_is_published_with_its_vat_number(notified):
    Supplier.objects.filter(pk=notified.offer.supplier_id).update(
        country="DE", identifier_type="TVA", vat_number="DE136695976", siret="", siren=""
    )
    (record,) = marches(decp.export([Contract.objects.get(pk=notified.pk)]))
    assert record["titulaires"] == [{"titulaire": {"typeIdentifiant": "TVA", "id": "DE136695976"}}]


def test_the_origin_of_the_goods_comes_from_the_manufacturer_of_the_chain(notified, buyer):
    factory = factories.SupplierFactory(
        organisation=buyer.organisation,
        created_by=buyer,
        country="IT",
        identifier_type="TVA",
        vat_number="IT00743110157",
        siret="",
        siren="",
    )
    SupplyChainParty.objects.create(
        offer=notified.offer,
        supplier=factory,
        role=SupplyChainParty.Role.MANUFACTURER,
        position=1,
        added_by=buyer,
        added_at=timezone.now(),
    )
    (record,) = marches(decp.export([Contract.objects.get(pk=notified.pk)]))
    assert (record["origineUE"], record["origineFrance"]) == (1.0, 0.0)


# --- what is published -----------------------------------------------------------------------------
@pytest.mark.parametrize(("unit_price", "published"), [(Decimal("0.40"), True), (Decimal("0.3999"), False)])
def test_only_contracts_of_at_least_40000_euros_are_published(buyer, jurist, signer, unit_price, published):
    contract = make_contract(buyer, "notified", jurist=jurist, signer=signer, unit_price=unit_price)
    assert [m["montant"] for m in marches(decp.export([contract]))] == ([40000.0] if published else [])


@pytest.mark.parametrize("state", ["draft", "approved", "signed", "withdrawn"])
def test_contracts_not_notified_to_the_supplier_are_not_published(buyer, jurist, signer, state):
    contract = make_contract(buyer, state, jurist=jurist, signer=signer)
    assert marches(decp.export([contract])) == []
    with pytest.raises(ValueError, match="was not notified"):
        decp.contract_record(contract)


def test_a_modification_after_notification_is_appended_never_written_over(notified, buyer):
    services.contract_modify(
        contract=notified,
        actor=buyer,
        quantity=90_000,
        unit_price=notified.unit_price,
        reason="Livraison partielle acceptée.",
        notified_on=timezone.localdate(),
        terms_version=notified.terms_version,
    )
    (record,) = marches(decp.export([Contract.objects.get(pk=notified.pk)]))
    assert record["montant"] == 85000.0
    (modification,) = record["modifications"]
    assert modification["modification"]["id"] == 1
    assert modification["modification"]["montant"] == 76500.0


# --- identifiers and duration ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("URG-2026-0001-C1", "URG-2026-0001-C1"),
        ("URG-2026-0001-C12", "20260001C12"),
        ("URG-2026-12345-C123", "202612345C123"),
    ],
)
def test_the_identifier_is_derived_from_the_reference_within_16_characters(reference, expected):
    assert decp.marche_id(Contract(reference=reference)) == expected


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2026, 3, 23), date(2026, 3, 28), 1),
        (date(2026, 3, 23), date(2026, 3, 20), 1),
        (date(2026, 1, 31), date(2026, 2, 28), 1),
        (date(2026, 1, 15), date(2026, 3, 15), 2),
        (date(2026, 1, 15), date(2026, 3, 16), 3),
        (date(2025, 11, 30), date(2026, 2, 1), 3),
    ],
)
def test_the_duration_counts_started_months(start, end, months):
    assert decp._month_span(start, end) == months


# --- the demo ------------------------------------------------------------------------------------
def test_the_demo_contracts_export_with_their_procedure_holders_amounts_and_advance(db):
    call_command("seed_demo", stdout=StringIO())
    records = {m["montant"]: m for m in marches(decp.export(decp.with_related(Contract.objects.all())))}
    kn95, iir = records[2950000.0], records[2320000.0]
    for record in (kn95, iir):
        assert record["procedure"] == PROCEDURE
        assert record["attributionAvance"] is True
        assert record["tauxAvance"] == 0.3
        assert record["dateNotification"] == "2020-03-23"
        assert record["acheteur"]["id"] == Contract.objects.get(reference=record["id"]).case.organisation.siret
    maker = Supplier.objects.get(name__startswith="Shenzhen Yikang")
    forwarder = Supplier.objects.get(name="Transit Sud Logistique")
    assert kn95["titulaires"] == [{"titulaire": {"typeIdentifiant": "HORS-UE", "id": maker.registration_number}}]
    assert iir["titulaires"] == [{"titulaire": {"typeIdentifiant": "SIRET", "id": forwarder.siret}}]
    # The surgical masks were made in Hubei (the manufacturer of the forwarder's chain).
    assert (iir["origineUE"], iir["origineFrance"]) == (0.0, 0.0)
    assert iir["lieuExecution"] == {"code": "13015", "typeCode": "Code postal"}


# --- downloads -----------------------------------------------------------------------------------
def _json(response) -> dict:
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment;")
    return json.loads(response.content)


@pytest.mark.parametrize("role", ["buyer2", "jurist", "director", "admin_user"])
def test_any_member_downloads_the_contract_export(client, notified, request, role):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("contracts:decp_export", args=[notified.pk]))
    assert response.status_code == 200
    assert f'filename="decp-{notified.reference}.json"' in response["Content-Disposition"]
    (record,) = marches(_json(response))
    assert record["id"] == notified.reference


def test_another_organisation_cannot_download_the_contract_export(client, notified, outsider, norole):
    client.force_login(outsider)
    assert client.get(reverse("contracts:decp_export", args=[notified.pk])).status_code == 404
    client.force_login(norole)
    assert client.get(reverse("contracts:decp_export", args=[notified.pk])).status_code == 403


def test_a_contract_not_published_has_no_export_nor_button(client, buyer, jurist, signer):
    contract = make_contract(buyer, "signed", jurist=jurist, signer=signer)
    client.force_login(buyer)
    assert client.get(reverse("contracts:decp_export", args=[contract.pk])).status_code == 404
    page = client.get(contract.get_absolute_url()).content.decode()
    assert reverse("contracts:decp_export", args=[contract.pk]) not in page


def test_the_contract_page_links_to_its_export(client, notified, jurist):
    client.force_login(jurist)
    page = client.get(notified.get_absolute_url()).content.decode()
    assert reverse("contracts:decp_export", args=[notified.pk]) in page


def test_the_period_export_holds_the_contracts_notified_in_the_period(client, notified, buyer):
    client.force_login(buyer)
    url = reverse("contracts:decp_export_period")
    today = timezone.localdate(notified.notified_at)
    response = client.get(url, {"du": (today - timedelta(days=1)).isoformat(), "au": today.isoformat()})
    assert response.status_code == 200
    assert [m["id"] for m in marches(_json(response))] == [notified.reference]
    response = client.get(url, {"du": "2020-01-01", "au": (today - timedelta(days=1)).isoformat()})
    assert marches(_json(response)) == []
    # Without a period: the current calendar year.
    assert [m["id"] for m in marches(_json(client.get(url)))] == [notified.reference]


def test_the_period_export_of_another_organisation_is_empty(client, notified, outsider):
    client.force_login(outsider)
    today = timezone.localdate(notified.notified_at).isoformat()
    response = client.get(reverse("contracts:decp_export_period"), {"du": today, "au": today})
    assert response.status_code == 200
    assert marches(_json(response)) == []


@pytest.mark.parametrize(
    ("params", "error_id"),
    [
        ({"du": "2026-02-30", "au": "2026-03-01"}, "id_du_error"),
        ({"du": "hier", "au": "2026-03-01"}, "id_du_error"),
        ({"du": "2026-01-01"}, "id_au_error"),
    ],
)
def test_a_bad_period_is_refused_with_a_message(client, buyer, params, error_id):
    client.force_login(buyer)
    response = client.get(reverse("contracts:decp_export_period"), params)
    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/html")
    assert f'id="{error_id}"' in response.content.decode()


def test_a_period_ending_before_it_starts_is_refused(client, buyer):
    client.force_login(buyer)
    response = client.get(reverse("contracts:decp_export_period"), {"du": "2026-03-01", "au": "2026-02-01"})
    assert response.status_code == 422
    assert "text-danger" in response.content.decode()


def test_the_contract_list_offers_the_period_export(client, buyer):
    client.force_login(buyer)
    page = client.get(reverse("contracts:list")).content.decode()
    assert f'action="{reverse("contracts:decp_export_period")}"' in page
    assert 'name="du"' in page
    assert 'name="au"' in page


# --- the command ---------------------------------------------------------------------------------
def test_the_command_prints_the_export_of_an_organisation(notified, org, other_org):
    today = timezone.localdate(notified.notified_at).isoformat()
    out = StringIO()
    call_command("export_decp", organisation=org.siret, du=today, au=today, stdout=out)
    assert [m["id"] for m in marches(json.loads(out.getvalue()))] == [notified.reference]
    out = StringIO()
    call_command("export_decp", organisation=str(other_org.pk), du=today, au=today, stdout=out)
    assert marches(json.loads(out.getvalue())) == []


def test_the_command_writes_the_file(notified, org, tmp_path):
    today = timezone.localdate(notified.notified_at).isoformat()
    target = tmp_path / "decp.json"
    call_command(
        "export_decp",
        "--organisation",
        str(org.pk),
        "--du",
        today,
        "--au",
        today,
        "--output",
        str(target),
        stdout=StringIO(),
        stderr=StringIO(),
    )
    (record,) = marches(json.loads(target.read_text(encoding="utf-8")))
    assert record["montant"] == 85000.0


@pytest.mark.parametrize(
    ("organisation", "du", "au", "message"),
    [
        ("99999999999999", "2026-01-01", "2026-12-31", "No organisation"),
        (None, "2026-13-01", "2026-12-31", "Invalid date"),
        (None, "2026-12-31", "2026-01-01", "must not be after"),
    ],
)
def test_the_command_refuses_bad_arguments(org, organisation, du, au, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_decp", organisation=organisation or org.siret, du=du, au=au, stdout=StringIO())
