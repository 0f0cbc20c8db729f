"""Periodic work on suppliers (CELERY_BEAT_SCHEDULE "expiring-supplier-documents"): thin, the service decides."""

from celery import shared_task

from suppliers import services


@shared_task
def remind_expiring_documents() -> int:
    """Daily: notify the purchasing teams of documents expiring soon; idempotent (each document once)."""
    return services.documents_remind_expiring()
