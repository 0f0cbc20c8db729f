"""A buyer logs in with Debian's chromium, opens a new emergency case, and sees it in the list."""

from datetime import timedelta

import pytest
from django.utils import timezone

from procurement.models import PurchaseCase

PASSWORD = "un-mot-de-passe-de-test"


@pytest.mark.django_db(transaction=True)
def test_buyer_logs_in_and_creates_a_case(page, live_server, buyer, login, axe_check):
    login(page, buyer.username, PASSWORD)
    page.goto(f"{live_server.url}/dossiers/")
    assert page.locator("html").get_attribute("lang") == "fr"
    axe_check(page)

    page.goto(f"{live_server.url}/dossiers/nouveau/")
    axe_check(page)
    today = timezone.localdate()
    page.locator("#id_case-title").fill("Masques chirurgicaux IIR pour les EHPAD")
    page.locator("#id_line-product").select_option("med_iir")
    page.locator("#id_line-quantity").fill("4000000")
    page.locator("#id_line-cpv_code").select_option("33140000-3")
    page.locator("#id_line-required_date").fill((today + timedelta(days=5)).isoformat())
    page.locator("#id_line-delivery_place").fill("Marseille")
    page.locator("#id_justification-triggering_event").fill("Épidémie de COVID-19 déclarée par l'OMS")
    page.locator("#id_justification-event_date").fill((today - timedelta(days=3)).isoformat())
    page.locator("#id_justification-time_limits_impossible").fill("Aucune procédure formelle ne tient en 72 h.")
    page.locator("#id_justification-causal_link").fill("La rupture de stock résulte de l'épidémie.")
    page.locator("#id_justification-strictly_necessary_scope").fill("Trois semaines de besoins des EHPAD.")
    page.locator("main form [type=submit]").last.click()
    page.wait_for_load_state()

    case = PurchaseCase.objects.get()
    assert case.owner == buyer
    assert case.need_lines.get().quantity == 4_000_000
    assert page.url.endswith(case.get_absolute_url())
    assert case.reference in page.content()
    axe_check(page)

    page.goto(f"{live_server.url}/dossiers/")
    assert page.get_by_text("Masques chirurgicaux IIR pour les EHPAD").is_visible()
