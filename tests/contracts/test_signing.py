"""Signed PDF (PAdES) of a signed contract: a valid seal over the approved version, kept intact; idempotent;
refused on an altered source or without a certificate; a system check for a seal that cannot be opened."""

import io
import re
from datetime import timedelta

import pypdf
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core import checks
from django.core.files.storage import default_storage
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from contracts import rendering, services, signing, tasks
from contracts.checks import signing_certificate_check
from contracts.models import SignedDocument
from tests.factories import make_contract

SEAL_CN = "Région Test — cachet"
PASSPHRASE = "phrase de passe du cachet"


@pytest.fixture(scope="module")
def seal_identity():
    """A self-signed seal certificate, as a deployment's PKCS#12 file would hold it (the key is slow to make)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SEAL_CN)])
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture
def seal(settings, tmp_path, seal_identity):
    """The deployment's seal configured: a PKCS#12 file protected by a passphrase."""
    key, cert = seal_identity
    path = tmp_path / "cachet.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"cachet", key, cert, None, serialization.BestAvailableEncryption(PASSPHRASE.encode())
        )
    )
    settings.TANDEM_SIGNING_PKCS12 = str(path)
    settings.TANDEM_SIGNING_PASSPHRASE = PASSPHRASE
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@pytest.fixture
def contract(buyer, jurist, director, delegation):
    """A signed contract whose approved version is rendered."""
    return make_contract(buyer, "signed", jurist=jurist, signer=director)


@pytest.fixture
def pending(contract):
    """The outbox row contract_sign leaves for the worker (made here: `contract` was signed before `seal`)."""
    return SignedDocument.objects.create(
        contract=contract, source=contract.approved_document, created_at=timezone.now()
    )


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def _text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u202f", " "))


def _signed_files(root):
    return sorted(p.relative_to(root).as_posix() for p in (root / "contracts").rglob("*-signe.pdf"))


@pytest.mark.django_db
def test_the_seal_is_valid_trusted_and_covers_the_whole_file(contract, pending, seal, director, private_storage):
    signed = signing.signed_document_sign(signed_document_id=pending.pk)

    assert signed.status == SignedDocument.Status.SIGNED
    assert signed.signer_name == SEAL_CN
    assert signed.file.name == f"contracts/{contract.pk}/{contract.reference}-v1-signe.pdf"
    data = _read(signed.file.name)
    assert (signed.sha256, signed.size) == (rendering.sha256_hex(data), len(data))
    # Incremental update: the approved version is untouched at the start of the signed file.
    source = _read(contract.approved_document.file.name)
    assert rendering.sha256_hex(source) == contract.signed_sha256
    assert data.startswith(source)
    assert len(data) > len(source)

    [embedded] = PdfFileReader(io.BytesIO(data)).embedded_signatures
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[seal]))
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.modification_level == ModificationLevel.NONE
    assert status.signing_cert.subject.native["common_name"] == SEAL_CN
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES, not adbe.pkcs7
    day = timezone.localdate(contract.signed_at).strftime("%d/%m/%Y")
    assert (
        embedded.sig_object["/Reason"] == f"Contrat {contract.reference} signé par {director.get_full_name()} le {day}"
    )
    assert embedded.sig_object["/Location"] == contract.case.organisation.name


@pytest.mark.django_db
def test_the_signed_file_keeps_the_text_and_the_pdf_a_metadata(contract, pending, seal):
    data = _read(signing.signed_document_sign(signed_document_id=pending.pk).file.name)

    text = _text(data)
    assert contract.reference in text
    assert contract.offer.supplier.siret in text
    assert contract.case.organisation.siret in text
    xmp = pypdf.PdfReader(io.BytesIO(data)).trailer["/Root"]["/Metadata"].get_object().get_data()
    assert re.search(rb"pdfaid:part(>|=\")3", xmp)
    assert re.search(rb"pdfaid:conformance(>|=\")B", xmp)


@pytest.mark.django_db
def test_signing_twice_keeps_one_file_and_one_event(contract, pending, seal, private_storage):
    first = signing.signed_document_sign(signed_document_id=pending.pk)

    # A redelivered task finds the row signed and does nothing.
    assert signing.signed_document_sign(signed_document_id=pending.pk) is None
    again = SignedDocument.objects.get(pk=pending.pk)
    assert (again.file.name, again.sha256, again.attempts) == (first.file.name, first.sha256, 1)
    assert rendering.sha256_hex(_read(again.file.name)) == first.sha256
    assert _signed_files(private_storage) == [first.file.name]
    [event] = contract.events.filter(verb="document_signed")
    assert event.comment == f"v1 PAdES SHA-256 {first.sha256}"


@pytest.mark.django_db
def test_a_source_altered_after_rendering_is_not_sealed(contract, pending, seal, private_storage):
    path = private_storage / contract.approved_document.file.name
    path.write_bytes(path.read_bytes().replace(b"%%EOF", b"%%EOF\n% altered", 1))

    assert signing.signed_document_sign(signed_document_id=pending.pk) is None

    failed = SignedDocument.objects.get(pk=pending.pk)
    assert failed.status == SignedDocument.Status.FAILED
    assert "altered after rendering" in failed.error
    assert contract.signed_sha256 in failed.error
    assert (failed.file.name, failed.sha256) == ("", "")
    assert _signed_files(private_storage) == []
    assert not contract.events.filter(verb="document_signed").exists()


@pytest.mark.django_db
def test_without_a_certificate_the_signed_pdf_fails_with_the_reason(contract, pending, settings, private_storage):
    settings.TANDEM_SIGNING_PKCS12 = ""

    assert signing.signing_configured() is False
    assert signing.signed_document_sign(signed_document_id=pending.pk) is None

    failed = SignedDocument.objects.get(pk=pending.pk)
    assert failed.status == SignedDocument.Status.FAILED
    assert "No signing certificate configured" in failed.error
    assert _signed_files(private_storage) == []


@pytest.mark.django_db
def test_a_wrong_passphrase_fails_the_signed_pdf(contract, pending, seal, settings, private_storage):
    settings.TANDEM_SIGNING_PASSPHRASE = "pas la bonne"

    assert signing.signed_document_sign(signed_document_id=pending.pk) is None

    failed = SignedDocument.objects.get(pk=pending.pk)
    assert failed.status == SignedDocument.Status.FAILED
    assert "wrong passphrase" in failed.error
    assert _signed_files(private_storage) == []


def _w002():
    return [message for message in checks.run_checks() if message.id == "contracts.W002"]


def test_the_check_is_silent_without_a_seal_and_with_a_seal_that_opens(settings, seal):
    assert _w002() == []
    settings.TANDEM_SIGNING_PKCS12 = ""
    assert signing_certificate_check(None) == []


def test_the_check_warns_when_the_passphrase_does_not_open_the_seal(settings, seal):
    settings.TANDEM_SIGNING_PASSPHRASE = "pas la bonne"

    [warning] = _w002()

    assert warning.level == checks.WARNING
    assert "wrong passphrase" in warning.msg
    assert "TANDEM_SIGNING_PASSPHRASE" in warning.hint


def test_the_check_warns_when_the_seal_file_is_unreadable(settings, tmp_path):
    settings.TANDEM_SIGNING_PKCS12 = str(tmp_path / "absent.p12")

    [warning] = signing_certificate_check(None)

    assert "Cannot read the PKCS#12 file" in warning.msg


def test_the_check_warns_when_the_seal_file_has_the_certificate_but_no_key(settings, tmp_path, seal_identity):
    _, cert = seal_identity
    path = tmp_path / "certificat-seul.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"cachet", None, None, [cert], serialization.NoEncryption()))
    settings.TANDEM_SIGNING_PKCS12 = str(path)
    settings.TANDEM_SIGNING_PASSPHRASE = ""

    [warning] = signing_certificate_check(None)

    assert "no private key" in warning.msg


@pytest.mark.django_db
def test_the_task_seals_the_contract(contract, pending, seal):
    tasks.sign_contract_document.delay(pending.pk)

    signed = SignedDocument.objects.get(pk=pending.pk)
    assert signed.status == SignedDocument.Status.SIGNED
    assert rendering.sha256_hex(_read(signed.file.name)) == signed.sha256
    assert contract.events.filter(verb="document_signed").count() == 1


@pytest.mark.django_db
def test_signing_a_contract_with_a_seal_configured_produces_the_signed_pdf(
    buyer, jurist, director, delegation, seal, django_capture_on_commit_callbacks
):
    approved = make_contract(buyer, "approved", jurist=jurist)

    with django_capture_on_commit_callbacks(execute=True):
        contract = services.contract_sign(contract=approved, actor=director)

    signed = SignedDocument.objects.get(contract=contract)
    assert signed.source == contract.approved_document
    assert signed.status == SignedDocument.Status.SIGNED
    assert rendering.sha256_hex(_read(signed.file.name)) == signed.sha256


@pytest.mark.django_db
def test_the_sweep_requeues_a_signed_pdf_left_pending(contract, pending, seal):
    # Too recent: its task may still be on its way.
    assert tasks.sweep_pending_documents() == 0
    assert SignedDocument.objects.get(pk=pending.pk).status == SignedDocument.Status.PENDING

    SignedDocument.objects.filter(pk=pending.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert tasks.sweep_pending_documents() == 1

    assert SignedDocument.objects.get(pk=pending.pk).status == SignedDocument.Status.SIGNED
