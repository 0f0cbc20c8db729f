"""Rendering of a pending ContractDocument into its stored PDF — idempotent, safe to run twice or in parallel."""

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from contracts import rendering
from contracts.models import ContractDocument
from procurement.models import CaseEvent

logger = logging.getLogger(__name__)


def _claim(document_id: int) -> ContractDocument | None:
    with transaction.atomic():
        document = ContractDocument.objects.select_for_update().filter(pk=document_id).first()
        if document is None or document.status == ContractDocument.Status.RENDERED:
            return None
        document.attempts += 1
        document.save(update_fields=["attempts"])
    return document


def document_render(*, document_id: int, now=None) -> ContractDocument | None:
    """Render and store version n of a contract. A rendered row is never rendered again."""
    document = _claim(document_id)
    if document is None:
        return None
    contract = (
        type(document.contract)
        .objects.select_related("case__organisation", "case__justification", "offer__supplier", "offer__need_line")
        .prefetch_related("offer__rounds")
        .get(pk=document.contract_id)
    )
    pdf = rendering.render_pdf(rendering.render_contract_html(contract, document))
    digest = rendering.sha256_hex(pdf)
    # Deterministic name: a second render of the same version (redelivered task) overwrites the same file.
    relative = f"{contract.pk}/{contract.reference}-v{document.version}.pdf"
    stored_name = document.file.field.generate_filename(document, relative)
    with transaction.atomic():
        document = ContractDocument.objects.select_for_update().get(pk=document_id)
        if document.status == ContractDocument.Status.RENDERED:
            return document
        if default_storage.exists(stored_name):
            default_storage.delete(stored_name)
        document.file.save(relative, ContentFile(pdf), save=False)
        document.sha256 = digest
        document.size = len(pdf)
        document.status = ContractDocument.Status.RENDERED
        document.rendered_at = now or timezone.now()
        document.error = ""
        document.save()
        CaseEvent.record(
            case=contract.case,
            contract=contract,
            verb="document_rendered",
            comment=f"v{document.version} SHA-256 {digest}",
            now=now,
        )
    logger.info("Rendered %s (%d bytes)", document, len(pdf))
    return document
