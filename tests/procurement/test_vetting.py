"""Vetting a supplier for a case: red flags with their reasons, the supply chain, sanctions blocking approval,
the jurist's countersignature, and the case that cannot leave vetting without an approved supplier."""

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from contracts import services as contract_services
from notifications.models import Notification
from procurement import flags, services, workflow
from procurement.models import CaseEvent, ReferencePrice, SupplyChainParty, VettingDecision
from suppliers import flags as company_flags
from suppliers import services as supplier_services
from suppliers.models import SanctionsScreening, Supplier, SupplierDocument
from suppliers.selectors import current_screenings_by_supplier
from tests.factories import SupplierFactory, add_offer, make_case, vet

FIXTURES = Path(__file__).resolve().parents[2] / "suppliers" / "fixtures" / "sanctions"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(name="piece.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def in_good_standing(supplier, actor, today=None):
    """Every mandatory document, valid today."""
    today = today or timezone.localdate()
    for kind in SupplierDocument.MANDATORY_FR:
        supplier_services.supplier_document_add(
            supplier=supplier, actor=actor, kind=kind, issued_on=today - timedelta(days=10), uploaded=upload()
        )
    return supplier


def clean_supplier(org, actor, name="Protections Provence SAS", **fields):
    supplier = SupplierFactory(
        organisation=org,
        created_by=actor,
        name=name,
        email=fields.pop("email", "contact@protections-provence.example"),
        website=fields.pop("website", ""),
        **fields,
    )
    return in_good_standing(supplier, actor)


@pytest.fixture
def french_list(db):
    return supplier_services.sanctions_import(
        data=(FIXTURES / "registre-national-gels-echantillon.json").read_bytes(),
        original_name="registre-national-gels-echantillon.json",
    )


@pytest.fixture
def vetting_case(buyer):
    return make_case(buyer, "vetting", suppliers=0)


@pytest.fixture(autouse=True)
def english():
    """Reasons are read in the source language here; the pages' French is checked by the HTTP tests."""
    with translation.override("en"):
        yield


def codes(flag_list):
    return {flag.code for flag in flag_list}


# --- red flags, each with its reason -----------------------------------------------------------------
@pytest.mark.django_db
class TestSupplierRedFlags:
    def test_clean_supplier_raises_none(self, org, buyer, vetting_case):
        supplier = clean_supplier(org, buyer)
        offer = add_offer(vetting_case, buyer, supplier=supplier)
        assert flags.offer_all_flags(offer, timezone.localdate(), {}) == []

    def test_recently_founded_company(self, org, buyer):
        today = timezone.localdate()
        young = clean_supplier(org, buyer, founded_on=today - timedelta(days=200))
        old = clean_supplier(
            org, buyer, name="Ancienne Maison SA", email="a@ancienne-maison.example", founded_on=date(1990, 1, 1)
        )
        [flag] = [f for f in company_flags.supplier_flags(young, today, []) if f.code == "recent_company"]
        assert "12" in flag.reason
        assert "recent_company" not in codes(company_flags.supplier_flags(old, today, []))

    @pytest.mark.parametrize(
        ("email", "website", "expected"),
        [
            ("masques.provence@gmail.com", "", "free mail service (gmail.com)"),
            ("ventes@protections-provence.example", "https://www.protections-provence.example", None),
            ("ventes@protectlons-provence.example", "https://www.protections-provence.example", "look-alike"),
            ("ventes@cheap-deals.example", "https://www.protections-provence.example", "differs"),
            ("ventes@cheap-deals.example", "", "no relation to the company name"),
        ],
    )
    def test_email_domain(self, org, buyer, email, website, expected):
        supplier = clean_supplier(org, buyer, email=email, website=website)
        found = [
            f for f in company_flags.supplier_flags(supplier, timezone.localdate(), []) if f.code == "email_domain"
        ]
        if expected is None:
            assert found == []
        else:
            assert len(found) == 1
            assert expected in found[0].reason

    def test_missing_and_expired_documents_are_named(self, org, buyer):
        today = timezone.localdate()
        supplier = SupplierFactory(organisation=org, created_by=buyer)
        supplier_services.supplier_document_add(
            supplier=supplier,
            actor=buyer,
            kind=SupplierDocument.Kind.URSSAF,
            issued_on=today - timedelta(days=200),
            uploaded=upload(),
        )
        found = {f.code: f.reason for f in company_flags.document_flags(supplier, today)}
        assert any(
            "URSSAF" in f.reason and "expired" in f.reason for f in company_flags.document_flags(supplier, today)
        )
        missing = [f.reason for f in company_flags.document_flags(supplier, today) if f.code == "document_missing"]
        assert len(missing) == 3  # Kbis, tax certificate, sworn statement
        assert "document_expired" in found

    def test_foreign_supplier_needs_foreign_equivalent_not_urssaf(self, org, buyer):
        supplier = SupplierFactory(
            organisation=org,
            created_by=buyer,
            country="CN",
            identifier_type=Supplier.IdentifierType.HORS_UE,
            siret="",
            siren="",
            registration_number="91440300MA5FXK2Q7B",
        )
        reasons = " ".join(f.reason for f in company_flags.document_flags(supplier, timezone.localdate()))
        assert "URSSAF" not in reasons
        assert str(SupplierDocument.Kind.FOREIGN.label) in reasons

    def test_bank_details_changed_after_the_first_offer(self, org, buyer, vetting_case):
        supplier = clean_supplier(org, buyer)
        supplier_services.supplier_document_add(
            supplier=supplier,
            actor=buyer,
            kind=SupplierDocument.Kind.RIB,
            issued_on=date(2020, 1, 1),
            uploaded=upload(),
        )
        add_offer(vetting_case, buyer, supplier=supplier, now=timezone.now() - timedelta(hours=2))
        assert "bank_details_changed" not in codes(company_flags.supplier_flags(supplier, timezone.localdate(), []))
        supplier_services.supplier_document_add(
            supplier=supplier,
            actor=buyer,
            kind=SupplierDocument.Kind.RIB,
            issued_on=date(2020, 1, 2),
            uploaded=upload(),
        )
        supplier = Supplier.objects.get(pk=supplier.pk)
        [flag] = [
            f
            for f in company_flags.supplier_flags(supplier, timezone.localdate(), [])
            if f.code == "bank_details_changed"
        ]
        assert flag.level == "danger"


@pytest.mark.django_db
class TestOfferRedFlags:
    def reference(self, product="ffp2"):
        return ReferencePrice.on(product, timezone.localdate()).unit_price

    def test_reference_prices_are_seeded_for_every_mask(self):
        for product in ("ffp2", "med_iir", "med_ii"):
            assert ReferencePrice.on(product, date(2020, 3, 20)) is not None

    @pytest.mark.parametrize(("multiple", "flagged"), [("3", False), ("3.01", True), ("2.5", False), ("4", True)])
    def test_price_more_than_three_times_the_reference(self, org, buyer, vetting_case, multiple, flagged):
        price = (self.reference() * Decimal(multiple)).quantize(Decimal("0.0001"))
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer), unit_price=price)
        found = [f for f in flags.offer_flags(offer, {}) if f.code == "price_above_reference"]
        assert bool(found) is flagged
        if flagged:
            assert "reference price" in found[0].reason

    def test_reference_price_is_effective_dated(self, org, buyer, vetting_case):
        ReferencePrice.objects.create(
            product="ffp2", unit_price=Decimal("5"), valid_from=timezone.localdate() - timedelta(days=1), source="x"
        )
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer), unit_price=Decimal("6"))
        assert "price_above_reference" not in codes(flags.offer_flags(offer, {}))

    def test_full_prepayment(self, org, buyer, vetting_case):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        assert "full_prepayment" not in codes(flags.offer_flags(offer, {}))
        offer.advance_rate = Decimal("1.00")
        assert "full_prepayment" in codes(flags.offer_flags(offer, {}))

    def test_several_intermediaries_and_unrelated_activity(self, org, buyer, vetting_case):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer, activity_code="46.46Z"))
        first = SupplierFactory(organisation=org, created_by=buyer, name="Négoce Un", activity_code="46.19B")
        second = SupplierFactory(organisation=org, created_by=buyer, name="Conseil Deux", activity_code="70.22Z")
        forwarder = SupplierFactory(organisation=org, created_by=buyer, name="Transit Trois", activity_code="52.29B")
        services.chain_party_add(offer=offer, actor=buyer, supplier=first, role="intermediary")
        assert "several_intermediaries" not in codes(flags.offer_flags(offer, {}))
        services.chain_party_add(offer=offer, actor=buyer, supplier=second, role="intermediary")
        services.chain_party_add(offer=offer, actor=buyer, supplier=forwarder, role="forwarder")
        found = {f.code: f.reason for f in flags.offer_flags(offer, {})}
        assert "2 intermediaries" in found["several_intermediaries"]
        unrelated = [f.reason for f in flags.offer_flags(offer, {}) if f.code == "activity_unrelated"]
        assert unrelated == [f.reason for f in flags.offer_flags(offer, {}) if "70.22Z" in f.reason]
        assert len(unrelated) == 1  # the forwarder's 52.29B fits its role; the seller's 46.46Z fits too

    def test_forwarder_selling_goods_is_flagged_unless_the_chain_says_forwarder(self, org, buyer, vetting_case):
        supplier = clean_supplier(org, buyer, activity_code="52.29B")
        offer = add_offer(vetting_case, buyer, supplier=supplier)
        assert "activity_unrelated" in codes(flags.offer_flags(offer, {}))
        services.chain_party_add(offer=offer, actor=buyer, supplier=supplier, role="forwarder")
        assert "activity_unrelated" not in codes(flags.offer_flags(offer, {}))


# --- the supply chain --------------------------------------------------------------------------------
@pytest.mark.django_db
class TestSupplyChain:
    def test_parties_are_ordered_from_factory_to_delivery(self, org, buyer, vetting_case):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        carrier = SupplierFactory(organisation=org, created_by=buyer, name="Air Cargo")
        maker = SupplierFactory(organisation=org, created_by=buyer, name="Usine")
        forwarder = SupplierFactory(organisation=org, created_by=buyer, name="Transitaire")
        for company, role in [(carrier, "carrier"), (maker, "manufacturer"), (forwarder, "forwarder")]:
            services.chain_party_add(offer=offer, actor=buyer, supplier=company, role=role)
        assert [p.supplier.name for p in offer.chain.all()] == ["Usine", "Transitaire", "Air Cargo"]
        rows = flags.chain_view(offer, {})
        assert [row["company"].name for row in rows][-1] == offer.supplier.name
        assert CaseEvent.objects.filter(case=vetting_case, verb="chain_party_added").count() == 3

    def test_same_party_same_role_twice_is_refused(self, org, buyer, vetting_case):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        maker = SupplierFactory(organisation=org, created_by=buyer)
        services.chain_party_add(offer=offer, actor=buyer, supplier=maker, role="manufacturer")
        with pytest.raises(ValidationError, match="already in this chain"):
            services.chain_party_add(offer=offer, actor=buyer, supplier=maker, role="manufacturer")
        assert offer.chain.count() == 1

    def test_only_the_case_buyers_change_the_chain(self, org, buyer, jurist, vetting_case):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        maker = SupplierFactory(organisation=org, created_by=buyer)
        with pytest.raises(PermissionDenied):
            services.chain_party_add(offer=offer, actor=jurist, supplier=maker, role="manufacturer")

    def test_removal_asks_confirmation_then_is_audited(self, client, org, buyer, vetting_case):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        maker = SupplierFactory(organisation=org, created_by=buyer, name="Usine Lointaine")
        party = services.chain_party_add(offer=offer, actor=buyer, supplier=maker, role="manufacturer")
        client.force_login(buyer)
        url = reverse("procurement:chain_party_remove", args=[party.pk])
        page = client.get(url)
        assert page.status_code == 200
        assert "Usine Lointaine" in page.content.decode()
        assert SupplyChainParty.objects.filter(pk=party.pk).exists()
        client.post(url)
        assert not SupplyChainParty.objects.filter(pk=party.pk).exists()
        assert CaseEvent.objects.filter(case=vetting_case, verb="chain_party_removed").count() == 1

    def test_offer_page_shows_the_chain_and_flags(self, client, org, buyer, vetting_case):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer), unit_price=Decimal("9"))
        maker = SupplierFactory(organisation=org, created_by=buyer, name="Usine de Wuhan")
        services.chain_party_add(offer=offer, actor=buyer, supplier=maker, role="manufacturer")
        client.force_login(buyer)
        body = client.get(reverse("procurement:offer_detail", args=[offer.pk])).content.decode()
        assert body.index("Usine de Wuhan") < body.index(offer.supplier.name, body.index("Usine de Wuhan"))
        assert "reference price" in body or "prix de référence" in body


# --- decisions, countersignature and sanctions ---------------------------------------------------------
@pytest.mark.django_db
class TestVettingDecision:
    def test_approval_without_red_flags_counts_at_once(self, org, buyer, vetting_case):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        decision = vet(vetting_case, offer, buyer, countersign=False)
        assert decision.red_flags == []
        assert not decision.awaiting_countersign
        assert offer.is_vetted()
        services.case_start_norm_check(case=vetting_case, actor=buyer)

    def test_approval_with_red_flags_waits_for_a_jurist(self, org, buyer, jurist, vetting_case):
        offer = add_offer(vetting_case, buyer, unit_price=Decimal("99"))  # no documents, price 66× reference
        decision = vet(vetting_case, offer, buyer, countersign=False)
        assert decision.awaiting_countersign
        assert {"price_above_reference", "document_missing"} <= {flag["code"] for flag in decision.red_flags}
        assert Notification.objects.filter(recipient=jurist, verb="vetting_countersign").count() == 1
        with pytest.raises(workflow.TransitionBlocked) as blocked:
            services.case_start_norm_check(case=vetting_case, actor=buyer)
        assert any("countersignature" in reason for reason in blocked.value.reasons)
        with pytest.raises(PermissionDenied):
            services.vetting_countersign(decision=decision, actor=buyer, approve=True, comment="ok")
        with pytest.raises(ValidationError):
            services.vetting_countersign(decision=decision, actor=jurist, approve=True, comment=" ")
        services.vetting_countersign(decision=decision, actor=jurist, approve=True, comment="Risque accepté.")
        decision.refresh_from_db()
        assert decision.countersigned_by == jurist
        with pytest.raises(workflow.Conflict):
            services.vetting_countersign(decision=decision, actor=jurist, approve=True, comment="encore")
        services.case_start_norm_check(case=vetting_case, actor=buyer)

    def test_jurist_refusal_rejects_the_supplier(self, org, buyer, jurist, vetting_case):
        offer = add_offer(vetting_case, buyer)
        decision = vet(vetting_case, offer, buyer, countersign=False)
        rejection = services.vetting_countersign(
            decision=decision, actor=jurist, approve=False, comment="Aucun document."
        )
        assert rejection.decision == VettingDecision.Decision.REJECTED
        assert rejection.decided_by == jurist
        assert not offer.is_vetted()
        assert CaseEvent.objects.filter(case=vetting_case, verb="vetting_countersign_refused").exists()

    def test_prefill_suggests_reservations_and_lists_the_reasons(self, client, org, buyer, vetting_case):
        offer = add_offer(vetting_case, buyer, unit_price=Decimal("99"))
        client.force_login(buyer)
        page = client.get(
            reverse("procurement:vetting_create", args=[vetting_case.pk]), {"supplier": offer.supplier_id}
        )
        form = page.context["form"]
        assert form.initial["decision"] == VettingDecision.Decision.RESERVED
        assert "reference price" in form.initial["findings"] or "prix de référence" in form.initial["findings"]

    def test_clean_file_prefills_approval(self, client, org, buyer, vetting_case, french_list):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        client.force_login(buyer)
        page = client.get(
            reverse("procurement:vetting_create", args=[vetting_case.pk]), {"supplier": offer.supplier_id}
        )
        assert page.context["form"].initial["decision"] == VettingDecision.Decision.APPROVED
        # Opening the file screened the supplier against the imported list, and kept the negative result.
        screening = SanctionsScreening.objects.get(supplier=offer.supplier)
        assert screening.result == SanctionsScreening.Result.CLEAR
        assert screening.sanctions_list == french_list


@pytest.mark.django_db
class TestSanctionsOnTheChain:
    def listed_party(self, org, buyer):
        return SupplierFactory(organisation=org, created_by=buyer, name="Comptoir Méditerranéen d'Import-Export")

    def test_a_match_anywhere_in_the_chain_blocks_approval(self, org, buyer, jurist, vetting_case, french_list):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        services.chain_party_add(offer=offer, actor=buyer, supplier=self.listed_party(org, buyer), role="intermediary")
        with pytest.raises(ValidationError, match="Comptoir"):
            vet(vetting_case, offer, buyer)
        assert not VettingDecision.objects.filter(case=vetting_case).exists()
        # Rejecting stays possible.
        vet(vetting_case, offer, buyer, decision="rejected")
        # Once a jurist clears the false positive, approval goes through.
        screening = SanctionsScreening.objects.get(supplier__name__startswith="Comptoir", review="pending")
        supplier_services.screening_review(
            screening=screening, actor=jurist, review="cleared", reason="Homonyme : autre SIREN, autre pays."
        )
        vet(vetting_case, offer, buyer)
        assert offer.is_vetted()

    def test_a_match_found_after_approval_blocks_the_next_step(self, org, buyer, vetting_case, french_list):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        vet(vetting_case, offer, buyer)
        party = self.listed_party(org, buyer)
        services.chain_party_add(offer=offer, actor=buyer, supplier=party, role="forwarder")
        with pytest.raises(workflow.TransitionBlocked) as blocked:
            services.case_start_norm_check(case=vetting_case, actor=buyer)
        assert any("Comptoir" in reason for reason in blocked.value.reasons)

    def test_stale_screenings_are_rerun_before_deciding(self, org, buyer, vetting_case, french_list):
        supplier = clean_supplier(org, buyer)
        offer = add_offer(vetting_case, buyer, supplier=supplier)
        now = timezone.now()
        supplier_services.supplier_screen(supplier=supplier, now=now - timedelta(days=8))
        services.vetting_decide(case=vetting_case, supplier=supplier, actor=buyer, decision="approved", findings="ok")
        assert SanctionsScreening.objects.filter(supplier=supplier).count() == 2
        services.vetting_decide(case=vetting_case, supplier=supplier, actor=buyer, decision="approved", findings="ok")
        assert SanctionsScreening.objects.filter(supplier=supplier).count() == 2  # the fresh one is reused
        assert offer.is_vetted()

    def test_case_page_lists_flags_on_the_checklist(self, client, org, buyer, vetting_case, french_list):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        party = self.listed_party(org, buyer)
        services.chain_party_add(offer=offer, actor=buyer, supplier=party, role="intermediary")
        client.force_login(buyer)
        page = client.get(vetting_case.get_absolute_url())
        assert [row["offer"] for row in page.context["flagged_offers"]] == [offer]
        screenings = current_screenings_by_supplier({party.pk})
        assert screenings[party.pk][0].blocks_approval
        assert "COMPTOIR MEDITERRANEEN" in page.content.decode()


@pytest.mark.django_db
def test_case_page_queries_do_not_grow_with_offers_and_chains(client, org, buyer, french_list):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(buyer)

    def case_with(offers: int):
        case = make_case(buyer, "vetting", suppliers=0)
        for _ in range(offers):
            offer = add_offer(case, buyer, supplier=clean_supplier(org, buyer), unit_price=Decimal("9"))
            carrier = SupplierFactory(organisation=org, created_by=buyer, activity_code="70.22Z")
            services.chain_party_add(offer=offer, actor=buyer, supplier=carrier, role="carrier")
        return case

    def queries(case) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(case.get_absolute_url()).status_code == 200
        return len(captured)

    small, large = case_with(1), case_with(4)
    queries(small)  # warm the per-process caches
    assert queries(large) == queries(small)


def newer_version_of(path: Path) -> bytes:
    """The same register published a day later (a new list version, the same entries)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["Publications"]["DatePublication"] = "2026-11-28T17:42:08.117"
    return json.dumps(data, ensure_ascii=False).encode()


@pytest.mark.django_db
class TestSanctionsAtEachStep:
    def test_a_pending_match_still_blocks_after_a_new_list_version(self, org, buyer, vetting_case, french_list):
        offer = add_offer(vetting_case, buyer, supplier=clean_supplier(org, buyer))
        vet(vetting_case, offer, buyer)
        listed = SupplierFactory(organisation=org, created_by=buyer, name="Comptoir Méditerranéen d'Import-Export")
        services.chain_party_add(offer=offer, actor=buyer, supplier=listed, role="forwarder")
        newer = supplier_services.sanctions_import(
            data=newer_version_of(FIXTURES / "registre-national-gels-echantillon.json"), original_name="v2.json"
        )
        assert newer != french_list
        with pytest.raises(workflow.TransitionBlocked) as blocked:
            services.case_start_norm_check(case=vetting_case, actor=buyer)
        assert any("Comptoir" in reason for reason in blocked.value.reasons)
        # The step re-screened the party against the new version, and that screening was kept.
        assert SanctionsScreening.objects.filter(supplier=listed, sanctions_list=newer, review="pending").exists()

    def test_the_award_rescreens_and_refuses_a_party_listed_since(self, org, buyer, french_list):
        case = make_case(buyer, "negotiation")
        offer = case.offers.get()
        listed = SupplierFactory(organisation=org, created_by=buyer, name="Atlas Négoce International")
        SupplyChainParty.objects.create(
            offer=offer, supplier=listed, role="intermediary", position=20, added_by=buyer, added_at=timezone.now()
        )  # in the chain without a screening, as if it was added before any list was imported
        with pytest.raises(workflow.TransitionBlocked) as blocked:
            contract_services.case_award(case=case, actor=buyer, awards={offer.pk: offer.quantity}, reason="Seul.")
        assert any("Atlas" in reason for reason in blocked.value.reasons)
        assert SanctionsScreening.objects.filter(supplier=listed, review="pending").count() == 1
        case.refresh_from_db()
        assert case.status == "negotiation"

    def test_nobody_countersigns_their_own_approval(self, org, buyer, vetting_case):
        offer = add_offer(vetting_case, buyer)
        buyer.groups.add(Group.objects.get(name="jurist"))  # a buyer who is also a jurist
        decision = vet(vetting_case, offer, buyer, countersign=False)
        assert decision.awaiting_countersign
        with pytest.raises(PermissionDenied):
            services.vetting_countersign(decision=decision, actor=buyer, approve=True, comment="Vu.")
        decision.refresh_from_db()
        assert decision.countersigned_at is None


def test_a_refused_countersignature_keeps_the_typed_comment(client, buyer, jurist, vetting_case):
    """A colleague countersigned first: the page says so and still holds what this jurist typed (409)."""
    offer = add_offer(vetting_case, buyer, unit_price=Decimal("99"))
    decision = vet(vetting_case, offer, buyer, countersign=False)
    url = reverse("procurement:vetting_countersign", args=[decision.pk])
    client.force_login(jurist)
    assert client.get(url).status_code == 200  # the form, as the jurist opened it
    services.vetting_countersign(decision=decision, actor=jurist, approve=True, comment="Premier contreseing.")

    typed = "Risque examiné : certificat CE vérifié auprès de l'organisme notifié 2163."
    response = client.post(url, {"approve": "1", "comment": typed})
    assert response.status_code == 409
    page = response.content.decode()
    assert "certificat CE vérifié auprès de l&#x27;organisme notifié 2163" in page
    assert str(workflow.CONFLICT_MESSAGE) in page
    assert decision.case.vetting_decisions.count() == 1  # nothing recorded twice
