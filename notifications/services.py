"""The notification outbox: rows first, in the caller's transaction; delivery queued on commit."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, object_id: int) -> None:
    """Publish `task(object_id)` after commit; a broker outage only delays it (the sweep re-queues)."""

    def publish() -> None:
        try:
            task.delay(object_id)
        except Exception:  # broker down: the row stays pending, the periodic sweep will retry
            logger.warning("Could not queue %s(%s); the sweep will retry", task.name, object_id, exc_info=True)

    transaction.on_commit(publish)


def notify(
    *, recipients: Iterable, verb: str, text: str, url: str = "", now: datetime | None = None
) -> list[Notification]:
    from notifications import tasks

    now = now or timezone.now()
    unique = {user.pk: user for user in recipients if user is not None and user.is_active}
    rows = Notification.objects.bulk_create(
        Notification(recipient=user, verb=verb, text=str(text)[:500], url=url, created_at=now)
        for user in unique.values()
    )
    for row in rows:
        enqueue_on_commit(tasks.deliver, row.pk)
    return rows


def notification_deliver(*, notification_id: int) -> Notification | None:
    """Send the e-mail of one notification once. Idempotent: a row already sent is left alone."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .select_related("recipient")
            .filter(pk=notification_id, email_status=Notification.EmailStatus.PENDING)
            .first()
        )
        if notification is None:
            return None
        notification.email_attempts += 1
        if not notification.recipient.email:
            notification.email_status = Notification.EmailStatus.SKIPPED
        else:
            link = f"{settings.SITE_URL}{notification.url}" if notification.url else settings.SITE_URL
            send_mail(
                # One line: a multi-line reason typed in a comment box would make Django refuse the header
                # (BadHeaderError), and the sweep would re-queue the e-mail forever. The body keeps the lines.
                subject=" ".join(f"[Tandem] {notification.text}".split())[:200],
                message=f"{notification.text}\n\n{link}\n",
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[notification.recipient.email],
            )
            notification.email_status = Notification.EmailStatus.SENT
            notification.sent_at = timezone.now()
        notification.save(update_fields=["email_status", "email_attempts", "sent_at"])
        return notification


def notification_mark_read(*, user, notification_id: int | None = None, now: datetime | None = None) -> int:
    qs = Notification.objects.for_user(user).unread()
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=now or timezone.now())
