from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from contracts import documents, signing
from contracts.models import ContractDocument, SignedDocument


@shared_task(
    autoretry_for=(Exception,), max_retries=5, retry_backoff=5, acks_late=True, time_limit=120, soft_time_limit=90
)
def render_contract_document(document_id: int) -> None:
    documents.document_render(document_id=document_id)


@shared_task(
    autoretry_for=(Exception,), max_retries=5, retry_backoff=5, acks_late=True, time_limit=120, soft_time_limit=90
)
def sign_contract_document(signed_document_id: int) -> None:
    signing.signed_document_sign(signed_document_id=signed_document_id)


@shared_task
def sweep_pending_documents() -> int:
    """Re-queue contract documents and signed PDFs still pending (queued while the broker was down, or a lost
    worker)."""
    cutoff = timezone.now() - timedelta(seconds=60)
    ids = list(
        ContractDocument.objects.filter(
            status=ContractDocument.Status.PENDING, created_at__lt=cutoff, attempts__lt=10
        ).values_list("pk", flat=True)[:200]
    )
    for pk in ids:
        render_contract_document.delay(pk)
    signed_ids = list(
        SignedDocument.objects.filter(
            status=SignedDocument.Status.PENDING, created_at__lt=cutoff, attempts__lt=10
        ).values_list("pk", flat=True)[:200]
    )
    for pk in signed_ids:
        sign_contract_document.delay(pk)
    return len(ids) + len(signed_ids)
