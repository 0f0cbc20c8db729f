"""An htmx action in chromium: marking a notification read swaps the inbox in place, its message appears in the
page's live region (the same element, so a screen reader announces it) and the focus stays on the notification."""

from django.conf import settings
from django.utils import translation
from playwright.sync_api import expect

from notifications.services import notify

PASSWORD = "un-mot-de-passe-de-test"


def test_marking_read_is_announced_in_the_live_region(page, live_server, login, jurist, axe_check):
    for reference in ("C1", "C2"):
        notify(recipients=[jurist], verb="contract_to_review", text=f"Le contrat {reference} attend votre revue.")
    page.set_default_timeout(10_000)
    login(page, jurist.username, PASSWORD)
    page.goto(f"{live_server.url}/notifications/")
    live = page.locator("#messages")
    expect(live).to_have_attribute("role", "status")
    expect(live).to_have_text("")
    live.evaluate("region => { region.dataset.marker = 'kept'; }")  # the region must not be replaced

    page.get_by_role("button", name="C1 attend votre revue").focus()
    page.keyboard.press("Enter")

    with translation.override(settings.LANGUAGE_CODE):
        expect(live).to_have_text(translation.gettext("Notification marked as read."))
    assert live.evaluate("region => region.dataset.marker") == "kept"
    expect(page.locator("#unread-count")).to_have_text("1")
    expect(page.get_by_role("listitem").filter(has_text="C1")).to_be_focused()
    expect(page.get_by_role("button", name="C2 attend votre revue")).to_be_visible()
    axe_check(page)
