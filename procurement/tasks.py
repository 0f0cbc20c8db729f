from celery import shared_task

from procurement import services


@shared_task
def notify_overdue_cases() -> int:
    return services.notify_overdue()


@shared_task
def remind_expiring_documents() -> int:
    """Daily (beat "expiring-supplier-documents"): remind the purchasing teams of supplier documents expiring
    soon; idempotent (each document once)."""
    return services.documents_remind_expiring()
