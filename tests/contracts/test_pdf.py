"""Contract PDF: content, PDF/A, idempotent rendering, versions, and a fetcher that reaches nothing outside."""

import io
import re
from decimal import Decimal

import pypdf
import pytest
from django.core.files.storage import default_storage

from contracts import documents, rendering
from contracts.models import ContractDocument
from contracts.services import contract_amend
from tests.factories import make_case


def _text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u202f", " "))


def _read(document: ContractDocument) -> bytes:
    with default_storage.open(document.file.name, "rb") as handle:
        return handle.read()


def _files(root):
    """The contract PDFs stored (the evidence of the case's norm check lies beside them)."""
    return sorted(p.relative_to(root).as_posix() for p in (root / "contracts").rglob("*.pdf"))


@pytest.fixture
def contract(buyer):
    return make_case(buyer, "contract", quantity=120_000, unit_price=Decimal("0.8500"), render=False).contracts.get()


@pytest.mark.django_db
def test_rendered_pdf_states_the_terms(contract, private_storage):
    document = documents.document_render(document_id=contract.documents.get().pk)

    assert document.status == "rendered"
    data = _read(document)
    assert data.startswith(b"%PDF-")
    assert (document.size, document.sha256) == (len(data), rendering.sha256_hex(data))
    assert document.file.name.endswith(f"{contract.pk}/{contract.reference}-v1.pdf")
    assert (private_storage / document.file.name).is_file()
    text = _text(data)
    supplier = contract.offer.supplier
    assert supplier.siret in text
    assert contract.case.organisation.siret in text
    assert "R2122-1" in text
    assert "120 000" in text  # quantity, French grouping
    assert "0,8500" in text  # unit price excl. VAT
    assert contract.reference in text


@pytest.mark.django_db
def test_rendered_pdf_is_pdf_a(contract):
    document = documents.document_render(document_id=contract.documents.get().pk)
    data = _read(document)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert reader.xmp_metadata is not None
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"pdfaid" in xmp
    assert re.search(rb"pdfaid:part(>|=\")3", xmp)
    assert re.search(rb"pdfaid:conformance(>|=\")B", xmp)


@pytest.mark.django_db
def test_rendering_twice_keeps_one_file_and_the_same_digest(contract, private_storage):
    pk = contract.documents.get().pk
    first = documents.document_render(document_id=pk)
    digest, name = first.sha256, first.file.name

    # A redelivered task finds the row rendered and does nothing.
    assert documents.document_render(document_id=pk) is None
    # A render that crashed after writing the file (row still pending) overwrites the same file.
    ContractDocument.objects.filter(pk=pk).update(status=ContractDocument.Status.PENDING, sha256="")
    again = documents.document_render(document_id=pk)

    assert (again.file.name, again.sha256) == (name, digest)
    assert _files(private_storage) == [name]
    assert name == f"contracts/{contract.pk}/{contract.reference}-v1.pdf"
    assert again.attempts == 2
    assert contract.events.filter(verb="document_rendered").count() == 2


@pytest.mark.django_db
def test_amend_renders_a_new_version_and_keeps_the_old_one(contract, buyer, private_storage):
    v1 = documents.document_render(document_id=contract.documents.get().pk)
    contract_amend(
        contract=contract,
        actor=buyer,
        quantity=90_000,
        unit_price=Decimal("0.7900"),
        comment="Prix renégocié.",
        terms_version=1,
    )
    v2 = documents.document_render(document_id=contract.documents.get(version=2).pk)

    assert v2.sha256 != v1.sha256
    assert _files(private_storage) == sorted([v1.file.name, v2.file.name])
    text = _text(_read(v2))
    assert "90 000" in text
    assert "0,7900" in text
    assert "120 000" in _text(_read(v1))


@pytest.mark.django_db
def test_missing_document_is_ignored():
    assert documents.document_render(document_id=987654) is None


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "https://example.org/logo.png",
        "ftp://example.org/x",
        "data:text/plain,hello",
        "tandem-static:../../config/settings/base.py",
        "tandem-static:/css/../../../etc/passwd",
        "tandem-static:does-not-exist.css",
    ],
)
def test_fetcher_refuses_everything_but_project_static_files(url):
    with pytest.raises(ValueError, match="Refused|Unknown"):
        rendering.StaticOnlyFetcher().fetch(url)


@pytest.mark.django_db
def test_user_text_is_escaped_in_the_contract_html(buyer):
    hostile = '<img src="file:///etc/passwd">'
    case = make_case(buyer, "contract", title=f"Masques {hostile}", render=False)
    contract = case.contracts.get()

    html = rendering.render_contract_html(contract, contract.current_document)

    assert hostile not in html
    assert "&lt;img src=&quot;file:///etc/passwd&quot;&gt;" in html
    pdf = rendering.render_pdf(html)
    assert "<img" in _text(pdf)  # shown as text, never fetched
