"""A supplier document uploaded from the supplier page in chromium: htmx swaps the documents list in place and the
message appears in the page's live region, without a page load."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone, translation
from playwright.sync_api import expect

from tests import factories

PASSWORD = "un-mot-de-passe-de-test"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_uploading_a_document_updates_the_list_without_reloading(page, live_server, login, buyer, axe_check):
    supplier = factories.SupplierFactory(organisation=buyer.organisation, created_by=buyer, name="Transit Sud SAS")
    page.set_default_timeout(10_000)
    login(page, buyer.username, PASSWORD)
    page.goto(f"{live_server.url}{supplier.get_absolute_url()}")
    live = page.locator("#messages")
    expect(live).to_have_text("")
    page.evaluate("() => { window.tandemMarker = 'same page'; }")  # lost if the page were loaded again
    expect(page.locator("#documents table")).to_have_count(0)

    page.locator("#document-upload summary").click()
    page.locator("#id_issued_on").fill((timezone.localdate() - timedelta(days=10)).isoformat())
    page.locator("#id_file").set_input_files(
        files=[{"name": "urssaf.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}]
    )
    page.locator("#document-upload-submit").click()

    with translation.override(settings.LANGUAGE_CODE):
        expect(live).to_have_text(translation.gettext("Document added."))
    expect(page.locator("#documents table tbody tr")).to_have_count(1)
    assert page.evaluate("() => window.tandemMarker") == "same page"
    expect(page.locator("#documents-heading")).to_be_focused()
    axe_check(page)
