"""The director in chromium: opens the dashboard (axe check), sees the overdue cases, clicks through to the list
filtered on them; pauses the automatic refresh."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from procurement.models import PurchaseCase
from tests.factories import make_case

PASSWORD = "un-mot-de-passe-de-test"


def test_the_director_drills_down_from_the_overdue_figure(page, live_server, login, buyer, director, axe_check):
    late = make_case(buyer, "need", title="Blouses pour les EHPAD")
    PurchaseCase.objects.filter(pk=late.pk).update(stage_entered_at=timezone.now() - timedelta(hours=30))
    on_time = make_case(buyer, "need", title="Gel hydroalcoolique pour les lycées")

    login(page, director.username, PASSWORD)
    page.goto(f"{live_server.url}/tableau-de-bord/")
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
    axe_check(page)

    overdue = page.locator("#overdue-heading")
    expect(overdue).to_contain_text("1")
    overdue.get_by_role("link", name="Dossiers en retard").click()
    page.wait_for_load_state()
    assert "overdue=1" in page.url
    table = page.locator("main table")
    expect(table).to_contain_text(late.reference)
    expect(table).not_to_contain_text(on_time.reference)

    page.go_back()
    page.get_by_role("link", name="Suspendre l’actualisation automatique").click()
    expect(page.locator("#figures [role=status]")).to_contain_text("suspendue")
    expect(page.locator("#figures")).not_to_have_attribute("hx-trigger", "every 60s")
