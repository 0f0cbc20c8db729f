"""PAdES seal of a signed contract's approved version — idempotent, safe to run twice or in parallel.

The seal is an incremental update appended to the approved PDF/A file: the bytes the signatory approved stay
byte for byte at the start of the signed file, and any later change to them breaks the signature.
"""

import io
import logging

from cryptography.hazmat.primitives.serialization import pkcs12
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from contracts import rendering
from contracts.models import Contract, SignedDocument
from procurement.models import CaseEvent

logger = logging.getLogger(__name__)

NOT_CONFIGURED = "No signing certificate configured (TANDEM_SIGNING_PKCS12)."


class SigningCertificateError(Exception):
    """The configured PKCS#12 file cannot be read or opened with the configured passphrase."""


def signing_configured() -> bool:
    return bool(settings.TANDEM_SIGNING_PKCS12)


def load_signer() -> signers.SimpleSigner:
    """The deployment's signer, read from its PKCS#12 file. Raises SigningCertificateError with the reason."""
    path = settings.TANDEM_SIGNING_PKCS12
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SigningCertificateError(f"Cannot read the PKCS#12 file {path}: {error.strerror or error}") from error
    passphrase = settings.TANDEM_SIGNING_PASSPHRASE.encode() or None
    # Opened with cryptography first: pyHanko fails with an AttributeError on a file without a private key.
    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError as error:
        raise SigningCertificateError(
            f"Cannot open the PKCS#12 file {path}: wrong passphrase, or not a PKCS#12 file."
        ) from error
    if key is None or certificate is None:
        raise SigningCertificateError(f"The PKCS#12 file {path} holds no private key with its certificate.")
    return signers.SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=passphrase)


def seal_pdf(pdf: bytes, *, reason: str, location: str, field_name: str = "Signature1") -> tuple[bytes, str]:
    """Sign `pdf` (PAdES baseline B-B, SHA-256) with the configured certificate, as an incremental update.

    Returns the signed bytes and the common name of the signer's certificate."""
    signer = load_signer()
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    output = signers.PdfSigner(metadata, signer=signer).sign_pdf(writer)
    common_name = signer.signing_cert.subject.native.get("common_name", "")
    return output.getvalue(), common_name


def _claim(signed_document_id: int) -> SignedDocument | None:
    with transaction.atomic():
        signed = SignedDocument.objects.select_for_update().filter(pk=signed_document_id).first()
        if signed is None or signed.status == SignedDocument.Status.SIGNED:
            return None
        signed.attempts += 1
        signed.save(update_fields=["attempts"])
    return signed


def _fail(signed_document_id: int, error: str) -> None:
    with transaction.atomic():
        signed = SignedDocument.objects.select_for_update().get(pk=signed_document_id)
        if signed.status == SignedDocument.Status.SIGNED:
            return
        signed.status = SignedDocument.Status.FAILED
        signed.error = error
        signed.save(update_fields=["status", "error"])
    logger.error("Signed PDF %s failed: %s", signed_document_id, error)


def _seal_reason(contract: Contract) -> str:
    # Part of the signed document, in the contract's language (French, like templates/pdf/contract.html),
    # whatever the language of whoever triggered the signature.
    day = timezone.localdate(contract.signed_at).strftime("%d/%m/%Y")
    who = contract.signed_by.get_full_name() or contract.signed_by.username
    return f"Contrat {contract.reference} signé par {who} le {day}"


def signed_document_sign(*, signed_document_id: int, now=None) -> SignedDocument | None:
    """Seal the approved version of a signed contract and store the signed file. A signed row is never sealed
    again; a row that cannot be sealed (no certificate, source file altered) is marked failed with the reason."""
    signed = _claim(signed_document_id)
    if signed is None:
        return None
    if not signing_configured():
        _fail(signed_document_id, NOT_CONFIGURED)
        return None
    contract = Contract.objects.select_related("case__organisation", "signed_by").get(pk=signed.contract_id)
    source = signed.source
    if contract.signed_by_id is None or contract.signed_at is None:
        _fail(signed_document_id, f"Contract {contract.reference} is not signed.")
        return None
    if not source.file:
        _fail(signed_document_id, f"Version {source.version} of {contract.reference} has no stored file.")
        return None
    # Seal only the exact bytes the jurist approved and the signatory signed: another version, or a file
    # changed on disk since rendering, must not receive the organisation's seal.
    if source.sha256 != contract.signed_sha256:
        _fail(
            signed_document_id,
            f"Version {source.version} (SHA-256 {source.sha256}) is not the version signed "
            f"(SHA-256 {contract.signed_sha256}); not sealed.",
        )
        return None
    with default_storage.open(source.file.name, "rb") as handle:
        pdf = handle.read()
    digest = rendering.sha256_hex(pdf)
    if digest != source.sha256:
        _fail(
            signed_document_id,
            f"The stored file of version {source.version} (SHA-256 {digest}) does not match the signed version "
            f"(SHA-256 {source.sha256}): it was altered after rendering; not sealed.",
        )
        return None
    try:
        sealed, signer_name = seal_pdf(pdf, reason=_seal_reason(contract), location=contract.case.organisation.name)
    except SigningCertificateError as error:
        _fail(signed_document_id, str(error))
        return None
    sealed_digest = rendering.sha256_hex(sealed)
    # Deterministic name: a second seal of the same version (redelivered task) overwrites the same file.
    relative = f"{contract.pk}/{contract.reference}-v{source.version}-signe.pdf"
    stored_name = signed.file.field.generate_filename(signed, relative)
    with transaction.atomic():
        signed = SignedDocument.objects.select_for_update().get(pk=signed_document_id)
        if signed.status == SignedDocument.Status.SIGNED:
            return signed
        if default_storage.exists(stored_name):
            default_storage.delete(stored_name)
        signed.file.save(relative, ContentFile(sealed), save=False)
        signed.sha256 = sealed_digest
        signed.size = len(sealed)
        signed.signer_name = signer_name
        signed.status = SignedDocument.Status.SIGNED
        signed.signed_at = now or timezone.now()
        signed.error = ""
        signed.save()
        CaseEvent.record(
            case=contract.case,
            contract=contract,
            verb="document_signed",
            comment=f"v{source.version} PAdES SHA-256 {sealed_digest}",
            now=now,
        )
    logger.info("Sealed %s (%d bytes, %s)", signed, len(sealed), signer_name)
    return signed
