"""The jurist's journey in chromium: the review queue (contracts in legal review, the one waiting longest first),
changes requested on one contract with a comment the buyers will read, the other approved clause by clause.
Every page visited passes axe."""

import pytest
from playwright.sync_api import expect

from contracts import services as contract_services
from contracts.models import Contract
from procurement.models import CaseEvent
from tests.e2e.conftest import JOURNEY_CONTEXT, screenshot
from tests.factories import make_case

PASSWORD = "un-mot-de-passe-de-test"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # 1280×800 keeps the screenshots small; a French browser shows French date pickers.
    return {**browser_context_args, **JOURNEY_CONTEXT}


def draft(buyer, title: str) -> Contract:
    return make_case(buyer, "contract", title=title).contracts.get()


def submit(buyer, contract: Contract) -> Contract:
    return contract_services.contract_submit_for_review(
        contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
    )


def queue_references(page) -> list[str]:
    return page.locator("main table tbody th[scope=row]").all_inner_texts()


def test_jurist_reviews_the_longest_waiting_first(page, live_server, login, buyer, jurist, axe_check):
    # Drafted in one order, submitted in another: the queue follows the submissions, oldest first, which is
    # neither the creation order nor the list's default (newest first).
    gel = draft(buyer, "Gel hydroalcoolique pour les lycées")
    gowns = draft(buyer, "Blouses pour les EHPAD")
    gloves = draft(buyer, "Gants nitrile pour les urgences")
    waiting, middle, recent = (submit(buyer, contract) for contract in (gowns, gloves, gel))

    page.set_default_timeout(10_000)
    login(page, jurist.username, PASSWORD)
    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Contrats").click()
    page.wait_for_load_state()
    axe_check(page)
    page.get_by_label("Statut").select_option(label="Revue juridique")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_load_state()
    assert "status=legal_review" in page.url
    queue = page.url
    assert queue_references(page) == [waiting.reference, middle.reference, recent.reference]
    axe_check(page)
    screenshot(page, "jurist-review-queue")

    # The longest waiting: the delivery schedule is unclear, back to the buyers.
    page.get_by_role("link", name=waiting.reference).click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_contain_text(waiting.reference)
    axe_check(page)
    screenshot(page, "jurist-contract-review")
    changes = page.locator(".card").filter(has=page.get_by_role("heading", name="Demander des modifications"))
    changes.get_by_label("Commentaire").fill("Préciser le calendrier de livraison par EHPAD.")
    changes.get_by_role("button", name="Renvoyer aux acheteurs").click()
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("Le contrat a été renvoyé aux acheteurs.")
    axe_check(page)
    waiting.refresh_from_db()
    assert waiting.status == "draft"
    event = CaseEvent.objects.get(contract=waiting, verb="request_changes")
    assert event.actor == jurist
    assert event.comment == "Préciser le calendrier de livraison par EHPAD."

    # Back to the queue: it has left it; the next one is approved clause by clause.
    page.goto(queue)
    assert queue_references(page) == [middle.reference, recent.reference]
    page.get_by_role("link", name=middle.reference).click()
    page.wait_for_load_state()
    clauses = page.get_by_role("group", name="Liste de contrôle des clauses")
    for checkbox in clauses.get_by_role("checkbox").all():
        checkbox.check()
    page.get_by_role("button", name="Approuver cette version").click()
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("Le contrat est approuvé.")
    axe_check(page)
    middle.refresh_from_db()
    assert middle.status == "approved"
    assert middle.approved_by == jurist
