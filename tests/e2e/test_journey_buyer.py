"""The buyer's journey in chromium, from the need to the award: each step is taken in the browser, the case page
explains in French why a step is not open yet, an award tried too early is refused with its reason (and the
reason typed is kept), and every page visited passes axe. The case page prints without navigation nor actions.

Factories prepare what the browser tests elsewhere already drive (supplier, vetting, conformity evidence)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contracts.models import Contract
from procurement import services
from procurement.models import PurchaseCase
from tests.e2e.conftest import JOURNEY_CONTEXT, screenshot
from tests.factories import SupplierFactory, add_offer, check_conformity, round_data, vet

PASSWORD = "un-mot-de-passe-de-test"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # 1280×800 keeps the screenshots small; a French browser shows French date pickers.
    return {**browser_context_args, **JOURNEY_CONTEXT}


def checklist_card(page, step: str):
    """The card of one step in the case page's "Next steps" checklist."""
    checklist = page.locator("section[aria-labelledby=checklist-heading]")
    return checklist.locator(".card").filter(has=page.get_by_role("heading", name=step, exact=True))


def take_step(page, step: str) -> None:
    checklist_card(page, step).get_by_role("button", name=step, exact=True).click()
    page.wait_for_load_state()


def test_buyer_from_the_need_to_the_award(page, live_server, login, buyer, axe_check):
    page.set_default_timeout(10_000)
    login(page, buyer.username, PASSWORD)
    page.goto(f"{live_server.url}/dossiers/")
    axe_check(page)

    # The need, typed in the browser.
    page.get_by_role("link", name="Nouveau dossier").click()
    page.wait_for_load_state()
    axe_check(page)
    today = timezone.localdate()
    page.get_by_label("Objet de l'achat").fill("Masques FFP2 pour les soignants des EHPAD")
    page.get_by_role("combobox", name="Produit", exact=True).select_option("ffp2")
    page.get_by_role("spinbutton", name="Quantité", exact=True).fill("100000")
    page.get_by_label("Code CPV").select_option("18143000-3")
    page.get_by_label("Date de livraison souhaitée").fill((today + timedelta(days=10)).isoformat())
    page.get_by_role("textbox", name="Lieu de livraison", exact=True).fill("Entrepôt régional, Marseille")
    page.get_by_label("Événement extérieur et imprévisible").fill("Épidémie de COVID-19 déclarée par l'OMS.")
    page.get_by_label("Date de l'événement déclencheur").fill((today - timedelta(days=2)).isoformat())
    page.get_by_label("Pourquoi les délais des procédures").fill("Aucune procédure formalisée ne tient en 72 h.")
    page.get_by_label("Lien de causalité").fill("La pénurie de masques résulte directement de l'épidémie.")
    page.get_by_label("Pourquoi cette quantité").fill("Quatre semaines de besoins des soignants.")
    page.get_by_role("button", name="Créer le dossier").click()
    page.wait_for_load_state()
    case = PurchaseCase.objects.get(owner=buyer)
    assert page.url.endswith(case.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text(case.reference)
    axe_check(page)

    take_step(page, "Soumettre le besoin")
    expect(page.locator("#messages")).to_contain_text("soumis")
    assert PurchaseCase.objects.get(pk=case.pk).status == "vetting"

    # Blocked: the checklist says what is missing instead of offering a greyed-out button.
    norm_check = checklist_card(page, "Commencer le contrôle des normes")
    expect(norm_check).to_contain_text("Manquant :")
    expect(norm_check).to_contain_text("Enregistrez au moins une offre.")
    expect(norm_check.get_by_role("button")).to_have_count(0)
    axe_check(page)

    supplier = SupplierFactory(organisation=buyer.organisation, created_by=buyer, name="Transit Sud Logistique")
    offer = add_offer(case, buyer, supplier=supplier)
    page.reload()
    norm_check = checklist_card(page, "Commencer le contrôle des normes")
    expect(norm_check).to_contain_text(
        "Aucune offre ne provient d'un fournisseur approuvé par une décision de vérification pour ce dossier."
    )
    expect(norm_check.get_by_role("button")).to_have_count(0)
    screenshot(page, "buyer-case-blocked-checklist")

    vet(case, offer, buyer)  # approved, and countersigned by a jurist (a new supplier has red flags)
    page.reload()
    take_step(page, "Commencer le contrôle des normes")
    assert PurchaseCase.objects.get(pk=case.pk).status == "norm_check"

    check_conformity(offer, buyer)
    page.reload()
    take_step(page, "Commencer la négociation")
    assert PurchaseCase.objects.get(pk=case.pk).status == "negotiation"
    axe_check(page)

    # Tried too early (no final terms yet): refused with the reason, and the reason typed is kept.
    checklist_card(page, "Attribuer").get_by_role("link", name="Attribuer").click()
    page.wait_for_load_state()
    axe_check(page)
    page.get_by_label("Quantité attribuée à Transit Sud Logistique").fill("100000")
    reason = "Seul fournisseur conforme, livraison sous dix jours."
    page.get_by_label("Motif du choix").fill(reason)
    page.get_by_role("button", name="Attribuer et créer les projets de contrat").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("L'attribution n'est pas encore possible")
    expect(alert).to_contain_text("enregistrez les conditions finales (un tour de négociation marqué comme final)")
    expect(page.get_by_label("Motif du choix")).to_have_value(reason)
    expect(page.get_by_label("Quantité attribuée à Transit Sud Logistique")).to_have_value("100000")
    assert PurchaseCase.objects.get(pk=case.pk).status == "negotiation"
    axe_check(page)

    services.negotiation_round_add(offer=offer, actor=buyer, **round_data(offer))
    page.get_by_role("button", name="Attribuer et créer les projets de contrat").click()
    page.wait_for_load_state()
    assert page.url.endswith(case.get_absolute_url())
    expect(page.locator("#messages")).to_contain_text("Offres attribuées")
    case.refresh_from_db()
    assert case.status == "contract"
    contract = Contract.objects.get(case=case)
    assert contract.quantity == 100_000
    contracts = page.locator("section[aria-labelledby=contracts-heading]")
    expect(contracts).to_contain_text(contract.reference)
    axe_check(page)
    # The history lists the contract's SHA-256: it wraps instead of widening the page.
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1280
    screenshot(page, "buyer-case-awarded")

    # On paper: the case without the navigation, the forms and the buttons.
    page.emulate_media(media="print")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("#need-heading")).to_be_visible()
    expect(page.locator("#timeline-heading")).to_be_visible()
    expect(contracts.get_by_role("link", name=contract.reference)).to_be_visible()
    expect(page.locator("header")).to_be_hidden()
    expect(page.locator("footer")).to_be_hidden()
    expect(page.locator("main .breadcrumb")).to_be_hidden()
    for action in page.locator("main form, main .btn").all():
        expect(action).to_be_hidden()
