from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(recipient=user)

    def unread(self):
        return self.filter(read_at__isnull=True)

    def pending_delivery(self):
        return self.filter(email_status=Notification.EmailStatus.PENDING)


class Notification(models.Model):
    """Outbox row: written in the transaction that caused it, e-mailed by a task after commit."""

    class EmailStatus(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        SKIPPED = "skipped", _("no e-mail address")
        FAILED = "failed", _("failed")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    verb = models.CharField(_("verb"), max_length=60)
    text = models.CharField(_("text"), max_length=500)
    url = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    email_status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            models.Index(fields=["email_status", "created_at"]),
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.text
