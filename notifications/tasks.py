from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from notifications import services
from notifications.models import Notification


@shared_task(bind=True, max_retries=5, default_retry_delay=30, acks_late=True)
def deliver(self, notification_id: int) -> None:
    try:
        services.notification_deliver(notification_id=notification_id)
    except OSError as exc:  # SMTP unreachable: retry later, the row stays pending
        raise self.retry(exc=exc) from exc


@shared_task
def sweep_pending() -> int:
    """Re-queue notifications still pending (e.g. queued while the broker was down)."""
    cutoff = timezone.now() - timedelta(seconds=30)
    ids = list(
        Notification.objects.pending_delivery()
        .filter(created_at__lt=cutoff, email_attempts__lt=10)
        .values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        deliver.delay(pk)
    return len(ids)
