"""Bad input through the pages: a clear French message, status 422, and nothing written.

Requests carry no Accept-Language, so pages render in the default language (fr). Expected messages are
the project's msgids rendered through the French catalogue; when the compiled catalogue exists the
message must actually be translated (not fall back to the English source).
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.validators import MinValueValidator
from django.forms import FileField
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext
from stdnum.eu import vat as eu_vat
from stdnum.fr import siret as fr_siret

from procurement.models import CaseEvent, NeedLine, Offer, PurchaseCase, UrgencyJustification
from procurement.workflow import CONFLICT_MESSAGE
from suppliers.models import Supplier, SupplierDocument
from tests import factories
from tests.factories import make_case

FRENCH_CATALOGUE = Path(settings.BASE_DIR, "locale", "fr", "LC_MESSAGES", "django.mo").exists()
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def french(message, **params) -> str:
    """The message as a French page shows it (HTML-escaped); it must be translated when the catalogue exists."""
    with translation.override(None):
        source = str(message)  # the msgid, also for a lazy message
    with translation.override("fr"):
        text = gettext(source)
    if FRENCH_CATALOGUE:
        assert text != source, f"not translated into French: {source!r}"
    return escape(text % params if params else text)


def assert_refused(response, message: str) -> None:
    assert response.status_code == 422, response.status_code
    content = response.content.decode()
    assert message in content, f"{message!r} not in the page"


def counts() -> dict[str, int]:
    models = [PurchaseCase, NeedLine, UrgencyJustification, CaseEvent, Offer, Supplier, SupplierDocument]
    return {model.__name__: model.objects.count() for model in models}


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.fixture
def as_buyer(client, buyer):
    client.force_login(buyer)
    return client


# --- suppliers: identifiers ----------------------------------------------------------------------
def _bad_luhn(siret: str) -> str:
    return siret[:-1] + str((int(siret[-1]) + 1) % 10)


def test_invalid_siret_is_refused(as_buyer):
    siret = _bad_luhn(factories.make_siret(4242, prefix="5"))
    assert not fr_siret.is_valid(siret)
    before = counts()
    response = as_buyer.post(
        reverse("suppliers:create"), {"name": "Textiles du Sud SARL", "country": "FR", "siret": siret}
    )
    assert_refused(response, french("This SIRET is not valid (its check digit is wrong)."))
    assert counts() == before


@pytest.mark.parametrize("vat_number", ["DE136695977", "136695977", "XX123456789"])
def test_invalid_vat_is_refused(as_buyer, vat_number):
    assert not eu_vat.is_valid(vat_number if vat_number[:2].isalpha() else "DE" + vat_number)
    before = counts()
    response = as_buyer.post(
        reverse("suppliers:create"), {"name": "Schutzmasken GmbH", "country": "DE", "vat_number": vat_number}
    )
    assert_refused(response, french("This VAT number is not valid."))
    assert counts() == before


# --- the case: need line ----------------------------------------------------------------------------
def case_create_data(**line_overrides) -> dict:
    data = {"case-title": "Blouses de protection"}
    for name, value in factories.need_line_data(**line_overrides).items():
        data[f"line-{name}"] = value.isoformat() if hasattr(value, "isoformat") else value
    for name, value in factories.justification_data().items():
        data[f"justification-{name}"] = value.isoformat() if hasattr(value, "isoformat") else value
    return data


def test_valid_case_creation_goes_through(as_buyer):
    """The payload the refusals below alter is accepted as is."""
    before = counts()
    response = as_buyer.post(reverse("procurement:case_create"), case_create_data())
    assert response.status_code == 302
    assert counts()["PurchaseCase"] == before["PurchaseCase"] + 1


@pytest.mark.parametrize("quantity", [0, -5])
def test_zero_or_negative_quantity_is_refused(as_buyer, quantity):
    before = counts()
    response = as_buyer.post(reverse("procurement:case_create"), case_create_data(quantity=quantity))
    assert_refused(response, french(MinValueValidator.message, limit_value=1 if quantity == 0 else 0))
    assert counts() == before


def test_required_date_in_the_past_is_refused(as_buyer):
    yesterday = timezone.localdate() - timedelta(days=1)
    before = counts()
    response = as_buyer.post(reverse("procurement:case_create"), case_create_data(required_date=yesterday))
    assert_refused(response, french("The required delivery date cannot be in the past."))
    assert counts() == before


def test_offer_delivery_date_in_the_past_is_refused(client, buyer):
    case = make_case(buyer, "vetting")
    line = case.need_lines.get()
    supplier = factories.SupplierFactory(organisation=buyer.organisation, created_by=buyer)
    client.force_login(buyer)
    before = counts()
    response = client.post(
        reverse("procurement:offer_create", args=[case.pk]),
        {
            "need_line": line.pk,
            "supplier": supplier.pk,
            "product_description": "Masque FFP2 modèle Z-9",
            "unit_price": "0.8000",
            "quantity": 50_000,
            "delivery_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "incoterm": "DAP",
            "delivery_place": line.delivery_place,
            "advance_rate": "0",
        },
    )
    assert_refused(response, french("The delivery date cannot be in the past."))
    assert counts() == before


# --- supplier documents ----------------------------------------------------------------------------
@pytest.fixture
def supplier(buyer):
    return factories.SupplierFactory(organisation=buyer.organisation, created_by=buyer)


def document_data(upload) -> dict:
    return {
        "kind": SupplierDocument.Kind.URSSAF,
        "issued_on": (timezone.localdate() - timedelta(days=3)).isoformat(),
        "expires_on": "",
        "file": upload,
    }


BAD_TYPE = "Only PDF, PNG or JPEG files are accepted; this file's content is not one of them."


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200, id="elf"),
        pytest.param(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200, id="exe"),
        pytest.param(b"Ceci n'est pas un certificat, juste du texte.\n" * 5, id="text"),
    ],
)
def test_non_pdf_named_pdf_is_refused(as_buyer, supplier, private_storage, content):
    before = counts()
    upload = SimpleUploadedFile("certificate.pdf", content, content_type="application/pdf")
    response = as_buyer.post(reverse("suppliers:document_add", args=[supplier.pk]), document_data(upload))
    assert_refused(response, french(BAD_TYPE))
    assert counts() == before
    assert stored_files(private_storage) == []


def test_empty_file_is_refused(as_buyer, supplier, private_storage):
    before = counts()
    upload = SimpleUploadedFile("certificate.pdf", b"", content_type="application/pdf")
    response = as_buyer.post(reverse("suppliers:document_add", args=[supplier.pk]), document_data(upload))
    # Django's FileField refuses an empty upload before the project's own check ("The file is empty.").
    assert response.status_code == 422
    content = response.content.decode()
    messages = [french(FileField.default_error_messages["empty"]), french("The file is empty.")]
    assert any(message in content for message in messages), messages
    assert counts() == before
    assert stored_files(private_storage) == []


def test_file_over_the_size_limit_is_refused(as_buyer, supplier, private_storage, settings):
    settings.UPLOAD_MAX_BYTES = 1024
    content = PDF_BYTES + b"%" + b"x" * 2048 + b"\n"
    before = counts()
    upload = SimpleUploadedFile("certificate.pdf", content, content_type="application/pdf")
    response = as_buyer.post(reverse("suppliers:document_add", args=[supplier.pk]), document_data(upload))
    with translation.override("fr"):
        size, limit = filesizeformat(len(content)), filesizeformat(1024)
    assert_refused(
        response, french("The file is too large (%(size)s); the limit is %(limit)s.", size=size, limit=limit)
    )
    assert counts() == before
    assert stored_files(private_storage) == []


def _multipart(fields: dict, *, file_field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body with the file name exactly as given (the test client would strip the directories)."""
    boundary = "tandem-boundary-7f3a"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_path_traversal_file_name_is_stored_under_a_generated_name(as_buyer, supplier, private_storage):
    fields = {key: value for key, value in document_data(None).items() if key != "file"}
    body, content_type = _multipart(fields, file_field="file", filename="../../etc/passwd.pdf", content=PDF_BYTES)
    response = as_buyer.post(reverse("suppliers:document_add", args=[supplier.pk]), body, content_type=content_type)
    assert response.status_code == 302, response.status_code
    document = SupplierDocument.objects.get()
    stored = document.file.name
    assert ".." not in stored
    assert "passwd" not in stored
    assert stored.startswith("supplier-documents/")
    path = Path(document.file.path).resolve()
    assert path.is_relative_to(private_storage.resolve())
    assert path.read_bytes() == PDF_BYTES
    # The name the user gave is kept as metadata only, without its directories.
    assert document.original_name.endswith("passwd.pdf")
    assert "/" not in document.original_name
    assert ".." not in document.original_name
    assert stored_files(private_storage) == [path]


# --- a step posted twice ------------------------------------------------------------------------
def test_transition_posted_twice_is_taken_once(client, buyer):
    case = make_case(buyer, "need")
    client.force_login(buyer)
    url = reverse("procurement:case_transition", args=[case.pk, "submit"])
    first = client.post(url)
    assert first.status_code == 302
    second = client.post(url)
    assert second.status_code == 302
    assert second["Location"] == case.get_absolute_url()
    page = client.get(second["Location"])
    assert page.status_code == 200
    assert french(CONFLICT_MESSAGE) in page.content.decode()
    assert CaseEvent.objects.filter(case=case, verb="submit").count() == 1
    case.refresh_from_db()
    assert case.status == "vetting"
