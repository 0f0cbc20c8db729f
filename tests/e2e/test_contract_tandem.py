"""The tandem in chromium: the buyer submits the contract, the jurist asks for changes, the buyer amends and
submits again, the jurist approves, the director signs — each finds what concerns them in their inbox."""

from decimal import Decimal

from playwright.sync_api import expect

from contracts.models import Contract
from tests.factories import make_contract

PASSWORD = "un-mot-de-passe-de-test"


def step(page, contract, action):
    return page.locator(f"form[action$='/contrats/{contract.pk}/{action}/'] [type=submit]")


def inbox_has(page, live_server, text):
    page.goto(f"{live_server.url}/notifications/")
    expect(page.locator("main")).to_contain_text(text)


def test_buyer_jurist_director_in_turn(browser, live_server, login, buyer, jurist, director, delegation, axe_check):
    contract = make_contract(buyer, "draft", jurist=jurist)
    url = f"{live_server.url}{contract.get_absolute_url()}"
    pages = {}
    for user in (buyer, jurist, director):
        pages[user.username] = browser.new_context().new_page()
        login(pages[user.username], user.username, PASSWORD)
    buyer_page, jurist_page, director_page = (pages[u.username] for u in (buyer, jurist, director))

    buyer_page.goto(url)
    preview = buyer_page.get_by_role("link", name="Aperçu de la version 1")
    expect(preview).to_have_attribute("href", f"{contract.current_document.get_download_url()}?apercu=1")
    buyer_page.locator("#id_submit_for_review-confirm").check()
    step(buyer_page, contract, "submit_for_review").click()
    buyer_page.wait_for_load_state()

    inbox_has(jurist_page, live_server, f"{contract.reference} attend votre revue juridique")
    jurist_page.goto(url)
    axe_check(jurist_page)
    jurist_page.locator("#id_request_changes-comment").fill("Préciser le calendrier de livraison.")
    step(jurist_page, contract, "request_changes").click()
    jurist_page.wait_for_load_state()

    inbox_has(buyer_page, live_server, "Préciser le calendrier de livraison.")
    buyer_page.goto(url)
    buyer_page.locator("#id_amend-unit_price").fill("0.8000")
    buyer_page.locator("#id_amend-comment").fill("Prix revu, livraison en deux lots.")
    step(buyer_page, contract, "amend").click()
    buyer_page.wait_for_load_state()
    buyer_page.goto(url)  # the new version is rendered (tasks run in-process here)
    expect(buyer_page.get_by_role("link", name="Aperçu de la version 2")).to_be_visible()
    buyer_page.locator("#id_submit_for_review-confirm").check()
    step(buyer_page, contract, "submit_for_review").click()
    buyer_page.wait_for_load_state()

    jurist_page.goto(url)
    for checkbox in jurist_page.locator("input[name='approve-clauses']").all():
        checkbox.check()
    step(jurist_page, contract, "approve").click()
    jurist_page.wait_for_load_state()

    inbox_has(director_page, live_server, f"{contract.reference} est approuvé et attend votre signature")
    director_page.goto(url)
    director_page.locator("#id_sign-confirm").check()
    step(director_page, contract, "sign").click()
    director_page.wait_for_load_state()

    inbox_has(buyer_page, live_server, f"{contract.reference} signé par")
    contract = Contract.objects.get(pk=contract.pk)
    assert contract.status == "signed"
    assert contract.unit_price == Decimal("0.8000")
    assert contract.signed_by == director
    assert contract.approved_by == jurist
    assert contract.documents.count() == 2  # the first version and the amended one
