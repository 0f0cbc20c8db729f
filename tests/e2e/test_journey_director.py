"""The director's journey in chromium: the dashboard, a stage's count opened as the filtered case list, the
figures exported as CSV; the dashboard fits a 360 px phone without horizontal scrolling and fills a wall
screen. Every page visited passes axe."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import JOURNEY_CONTEXT, screenshot
from tests.factories import make_case

PASSWORD = "un-mot-de-passe-de-test"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # 1280×800 keeps the screenshots small; a French browser shows French date pickers.
    return {**browser_context_args, **JOURNEY_CONTEXT}


@pytest.fixture
def cases(buyer):
    return {
        "need": [
            make_case(buyer, "need", title="Blouses pour les EHPAD"),
            make_case(buyer, "need", title="Sur-blouses"),
        ],
        "vetting": [make_case(buyer, "vetting", title="Gel hydroalcoolique pour les lycées")],
    }


def test_director_drills_down_and_exports(page, live_server, login, director, cases, axe_check):
    page.set_default_timeout(10_000)
    login(page, director.username, PASSWORD)
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Tableau de bord").click()
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/tableau-de-bord/"
    expect(page.get_by_role("heading", name="Tableau de bord", level=1)).to_be_visible()
    axe_check(page)
    screenshot(page, "director-dashboard")

    # Drill-down: the count of cases at the "need" stage opens the list of exactly those cases.
    stages = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Étape"))
    need_row = stages.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Besoin"))
    # Its accessible name says what the number counts, not "2" alone.
    need_row.get_by_role("link", name="2 dossiers à l’étape « Besoin »", exact=True).click()
    page.wait_for_load_state()
    assert "status=need" in page.url
    listed = page.locator("main table tbody")
    for case in cases["need"]:
        expect(listed).to_contain_text(case.reference)
    expect(listed).not_to_contain_text(cases["vetting"][0].reference)
    axe_check(page)

    # Export: a CSV file whose figures match the page.
    page.go_back()
    page.wait_for_load_state()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Exporter (CSV)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("tableau-de-bord-")
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))  # what a French spreadsheet opens as is
    assert ["Dossiers par étape", "Besoin", "2"] in rows
    assert ["Dossiers par étape", "Vérification des fournisseurs", "1"] in rows


def test_dashboard_from_a_phone_to_a_wall_screen(page, live_server, login, director, cases, axe_check):
    page.set_default_timeout(10_000)
    login(page, director.username, PASSWORD)

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server.url}/tableau-de-bord/")
    expect(page.get_by_role("heading", name="Dossiers par étape")).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    # The navigation folds behind its toggle button, which opens it from the keyboard.
    toggle = page.get_by_role("button", name="Afficher ou masquer la navigation")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(
        page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Contrats")
    ).to_be_visible()
    axe_check(page)
    screenshot(page, "director-dashboard-360")

    page.set_viewport_size({"width": 2560, "height": 1440})
    page.reload()
    expect(page.get_by_role("heading", name="Dossiers par étape")).to_be_visible()
    expect(page.get_by_role("heading", name="Dossiers en retard")).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 2560
    # On a wall screen the key figures sit side by side, not stacked in one column.
    tops = page.locator("#amounts-heading + .row .card").evaluate_all(
        "cards => cards.map(card => Math.round(card.getBoundingClientRect().top))"
    )
    assert len(tops) == 4
    assert len(set(tops)) == 1
    axe_check(page)
