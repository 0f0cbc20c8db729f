"""A buyer vets the demo suppliers of the live gloves case in chromium: the expired URSSAF certificate, the
sanctions hit and the price red flag are explained in French before any decision; a clean supplier is
approved at once, and the page passes axe's WCAG 2.1 A/AA checks."""

import pytest
from django.core.management import call_command

from contracts.management.commands.seed_demo import DEMO_PASSWORD
from procurement.models import PurchaseCase, VettingDecision

GLOVES = "Gants d'examen nitrile — EHPAD"


@pytest.fixture
def demo(transactional_db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    call_command("seed_demo", verbosity=0)
    return PurchaseCase.objects.get(title=GLOVES)


def open_file(page, supplier_name: str):
    page.locator("#choose_supplier").select_option(label=supplier_name)
    page.get_by_role("button", name="Ouvrir le dossier du fournisseur").click()
    page.wait_for_load_state()
    return page.locator("#file-heading").locator("xpath=..")


def test_buyer_sees_the_red_flags_explained_in_french(page, live_server, demo, login, axe_check):
    case = demo
    login(page, "acheteur", DEMO_PASSWORD)
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    checklist = page.locator("#checklist-heading").locator("xpath=..")
    assert "Signaux d'alerte à examiner" in checklist.inner_text()
    axe_check(page)

    page.get_by_role("link", name="Enregistrer une décision de vérification").click()
    page.wait_for_load_state()

    trader = open_file(page, "Atlas Négoce International").inner_text()
    assert "liste des gels" in trader  # the confirmed sanctions hit
    assert "prix de référence" in trader  # 0,29 € for gloves referenced at 0,05 €
    assert "5,8×" in trader
    assert "messagerie gratuite (gmail.com)" in trader
    # A sanctions hit makes the decision proposed a rejection.
    assert page.locator("input[name=decision][value=rejected]").is_checked()
    axe_check(page)

    distributor = open_file(page, "Méditerranée Hygiène Distribution").inner_text()
    assert "Attestation de vigilance URSSAF : validité expirée le" in distributor
    assert page.locator("input[name=decision][value=reserved]").is_checked()

    open_file(page, "Transit Sud Logistique")
    assert page.locator("input[name=decision][value=approved]").is_checked()
    page.get_by_role("button", name="Enregistrer la décision").click()
    page.wait_for_load_state()
    assert page.url.endswith(case.get_absolute_url())
    decision = VettingDecision.objects.get(case=case, supplier__name="Transit Sud Logistique")
    assert decision.is_effective_approval
    assert decision.decided_by.username == "acheteur"
