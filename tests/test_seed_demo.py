"""`manage.py seed_demo`: the archived 2020 story and the live emergency, idempotent."""

from datetime import date
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from stdnum.fr import siret

from accounts.models import Organisation, User
from contracts.models import Contract, ContractDocument, SignatureDelegation
from notifications.models import Notification
from procurement.models import (
    CaseEvent,
    ConformityCheck,
    NeedLine,
    NegotiationRound,
    Offer,
    PurchaseCase,
    VettingDecision,
)
from suppliers.models import Supplier, SupplierDocument

MODELS = [
    Organisation,
    User,
    SignatureDelegation,
    Supplier,
    SupplierDocument,
    PurchaseCase,
    NeedLine,
    Offer,
    VettingDecision,
    ConformityCheck,
    NegotiationRound,
    Contract,
    ContractDocument,
    CaseEvent,
    Notification,
]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


# WeasyPrint 70 leaves its sRGB ICC profile open when it writes PDF/A (weasyprint/pdf/__init__.py).
@pytest.mark.filterwarnings("ignore:Exception ignored in.*sRGB2014.icc:pytest.PytestUnraisableExceptionWarning")
@pytest.mark.django_db
def test_seed_demo_twice_tells_the_stories_once():
    call_command("seed_demo", stdout=StringIO())
    first = _counts()
    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first

    sud = Organisation.objects.get(name="Région Sud")
    var = Organisation.objects.get(name="Département du Var")
    assert siret.is_valid(sud.siret)
    assert all(siret.is_valid(s.siret) for s in Supplier.objects.exclude(siret=""))

    # The archived 2020 story: closed, contracts signed on 22 March 2020 with their rendered PDF.
    case = PurchaseCase.objects.get(organisation=sud, title="Masques de protection — COVID-19")
    assert case.status == "closed"
    assert case.justification.triggering_text == "Décret n° 2020-281 du 20 mars 2020"
    assert sorted(case.need_lines.values_list("quantity", flat=True)) == [1_000_000, 4_000_000]
    contracts = list(case.contracts.all())
    assert len(contracts) == 2
    for contract in contracts:
        assert contract.status in ("signed", "notified")
        assert timezone.localdate(contract.signed_at) == date(2020, 3, 22)
        document = contract.current_document
        assert document.status == "rendered"
        assert contract.approved_document_id == document.pk
        assert contract.signed_sha256 == document.sha256
        with default_storage.open(document.file.name, "rb") as handle:
            assert handle.read(5) == b"%PDF-"
    verdicts = set(ConformityCheck.objects.filter(offer__case=case).values_list("verdict", flat=True))
    assert {"derogation", "non_conform", "conform"} <= verdicts
    # The KN95 offer passes under the 2020 derogation, with its legal reference; the "voluntary certificate"
    # offer does not, and the reason names the issuer.
    kn95 = ConformityCheck.objects.get(offer__case=case, offer__supplier__name__startswith="Shenzhen Yikang")
    assert kn95.verdict == "derogation"
    assert "2020/403" in kn95.derogation_reference
    voluntary = ConformityCheck.objects.get(offer__case=case, offer__supplier__name__startswith="Guangzhou Hengda")
    assert voluntary.verdict == "non_conform"
    assert any("ICR Polska" in reason["reason"] for reason in voluntary.reasons if reason["level"] == "danger")
    # The trader matches the sample register; the jurist confirmed it.
    trader = Supplier.objects.get(organisation=sud, name="Atlas Négoce International")
    assert trader.screenings.filter(review="confirmed").exists()
    # The cargo's chain: factory, forwarder, carrier.
    iir = case.offers.get(supplier__name="Transit Sud Logistique")
    assert [party.role for party in iir.chain.all()] == ["manufacturer", "forwarder", "carrier"]
    # The April 2020 cargo (execution): 4 M medical masks flown by CEVA through the forwarder, arrived 22 April,
    # admitted and allocated 70 / 10 / 20 %, the late penalties waived under ordonnance 2020-319; the KN95
    # flight diverted, the director told.
    from execution.models import Allocation, Incident, Reception
    from execution.selectors import contract_figures

    cargo = case.contracts.get(offer=iir)
    receptions = Reception.objects.filter(shipment__lot__contract=cargo)
    assert {r.received_on for r in receptions} == {date(2020, 4, 22)}
    assert {r.status for r in receptions} == {"admitted"}
    assert {s.carrier.name for s in cargo.lots.first().shipments.all()} == {"CEVA Logistics"}
    figures = contract_figures(cargo)
    assert (figures.ordered, figures.received, figures.admitted, figures.allocated) == (4_000_000,) * 4
    shares = dict(Allocation.objects.filter(contract=cargo).values_list("beneficiary", "quantity"))
    assert shares == {"carers": 2_800_000, "police": 400_000, "small_towns": 800_000}
    assert all(lot.penalty.is_waived and "2020-319" in lot.penalty.waiver_reference for lot in cargo.lots.all())
    diverted = Incident.objects.get(shipment__lot__contract__case=case, kind="diverted")
    assert diverted.shipment.lot.contract.offer.supplier.name.startswith("Shenzhen Yikang")
    assert Notification.objects.filter(verb="shipment_incident", recipient__username="directeur").exists()
    decisions = set(case.vetting_decisions.values_list("decision", flat=True))
    assert decisions == {"approved", "reserved", "rejected"}

    # The live emergency: every state, some overdue, a contract in legal review; the second organisation.
    live = PurchaseCase.objects.for_organisation(sud.pk).exclude(pk=case.pk)
    assert {"need", "vetting", "norm_check", "negotiation", "contract", "cancelled"} <= set(
        live.values_list("status", flat=True)
    )
    assert live.overdue().exists()
    assert Contract.objects.filter(case__in=live, status="legal_review").exists()
    # The gloves case waits for vetting, with the expired URSSAF certificate, the sanctions hit and the price flag.
    gloves = live.get(title="Gants d'examen nitrile — EHPAD")
    assert gloves.status == "vetting"
    assert sorted(gloves.offers.values_list("supplier__name", flat=True)) == [
        "Atlas Négoce International",
        "Méditerranée Hygiène Distribution",
        "Transit Sud Logistique",
    ]
    assert PurchaseCase.objects.filter(organisation=var).exists()

    for username, role in [("acheteur", "buyer"), ("juriste", "jurist"), ("directeur", "director"), ("admin", "admin")]:
        user = User.objects.get(username=username)
        assert user.has_role(role)
        assert user.check_password("tandem-demo-2020!")
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.filter(organisation=var, groups__name="buyer").exists()
