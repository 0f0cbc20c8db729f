"""Adding a supplier document from the supplier page: by htmx the documents section is swapped in place with its
message in the live region (#messages); without JavaScript, the plain POST and redirect still work."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from suppliers.models import SupplierDocument
from tests import factories

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTMX = {"HX-Request": "true"}
Kind = SupplierDocument.Kind


def french(source: str) -> str:
    with translation.override("fr"):
        return gettext(source)


@pytest.fixture
def supplier(buyer):
    return factories.SupplierFactory(organisation=buyer.organisation, created_by=buyer, name="Transit Sud SAS")


def upload(client, supplier, *, headers=None, **overrides):
    data = {
        "kind": Kind.URSSAF,
        "issued_on": (timezone.localdate() - timedelta(days=10)).isoformat(),
        "file": SimpleUploadedFile("urssaf.pdf", PDF_BYTES, content_type="application/pdf"),
        **overrides,
    }
    return client.post(reverse("suppliers:document_add", args=[supplier.pk]), data, headers=headers or {})


def test_the_supplier_page_carries_the_upload_form_posted_by_htmx(client, buyer, supplier):
    client.force_login(buyer)
    body = client.get(supplier.get_absolute_url()).content.decode()
    url = reverse("suppliers:document_add", args=[supplier.pk])
    assert f'hx-post="{url}"' in body
    assert 'hx-encoding="multipart/form-data"' in body
    assert 'id="documents"' in body  # the section the answer replaces


def test_htmx_upload_answers_the_documents_section_and_the_message_out_of_band(client, buyer, supplier):
    client.force_login(buyer)
    response = upload(client, supplier, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert supplier.documents.count() == 1
    # The message replaces the content of the page's live region, which stays in place.
    assert '<div id="messages" hx-swap-oob="innerHTML">' in body
    assert french("Document added.") in body
    # The new list: the document's row and its download link, in the section that replaces the old one.
    assert '<section aria-labelledby="documents-heading" class="mb-4" id="documents">' in body
    assert supplier.documents.get().get_download_url() in body
    # The red flags (a missing URSSAF certificate is one) are refreshed too.
    assert '<div id="supplier-flags" hx-swap-oob="innerHTML">' in body
    # A page showing a case's next steps refreshes them.
    assert "checklist-changed" in json.loads(response["HX-Trigger"])


def test_plain_upload_still_redirects_to_the_supplier(client, buyer, supplier):
    client.force_login(buyer)
    response = upload(client, supplier)
    assert response.status_code == 302
    assert response["Location"] == supplier.get_absolute_url()
    assert "HX-Trigger" not in response
    assert supplier.documents.count() == 1


def test_an_invalid_htmx_upload_comes_back_as_the_form_with_errors_and_typed_values(client, buyer, supplier):
    client.force_login(buyer)
    issued = timezone.localdate() - timedelta(days=10)
    response = upload(
        client,
        supplier,
        headers=HTMX,
        kind=Kind.KBIS,
        issued_on=issued.isoformat(),
        expires_on=(issued - timedelta(days=1)).isoformat(),  # before the issue date: refused
        verified_on="",
    )
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#document-upload"
    assert response["HX-Reswap"] == "outerHTML"
    body = response.content.decode()
    assert "<html" not in body
    assert body.count('id="document-upload"') == 1
    assert not SupplierDocument.objects.exists()
    # The error next to its field, tied to it for a screen reader; what the user typed is still there.
    assert 'id="id_expires_on_error"' in body
    assert 'aria-invalid="true"' in body
    assert "id_expires_on_helptext id_expires_on_error" in body
    assert f'value="{issued.isoformat()}"' in body
    assert f'<option value="{Kind.KBIS}" selected>' in body
    assert " open>" in body  # the disclosure stays open on the form


def test_an_invalid_plain_upload_shows_the_upload_page(client, buyer, supplier):
    client.force_login(buyer)
    response = upload(client, supplier, file="")
    assert response.status_code == 422
    assert "HX-Retarget" not in response
    assert response.templates[0].name == "suppliers/document_form.html"
