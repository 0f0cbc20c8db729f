"""The director's daily digest: the morning's figures in the inbox and by e-mail, once a day; the folding of the
figures kept by triggers."""

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext

from accounts import roles
from accounts.models import Organisation
from accounts.selectors import members_with_role
from dashboard import figures, selectors
from dashboard.templatetags.figures import duration
from notifications.models import Notification
from notifications.services import notify

DIGEST_VERB = "director_digest"


def digest_text(figures: dict) -> str:
    total = figures["family_total"]
    overdue_obligations = sum(1 for row in figures["obligations"] if row.state == "overdue")
    return gettext(
        "Dashboard of %(day)s: %(cases)s cases, %(overdue)s past their stage target; "
        "%(committed)s € excl. VAT committed, %(signed)s € signed; "
        "%(deliveries)s deliveries in the next 7 days; %(obligations)s obligations pending (%(late)s overdue); "
        "%(requisition)s cases at risk of requisition; need to signature: median %(median)s."
    ) % {
        "day": formats.date_format(timezone.localdate(figures["now"]), "SHORT_DATE_FORMAT"),
        "cases": figures["cases_total"],
        "overdue": figures["overdue_total"],
        "committed": formats.number_format(total.committed_ht, 2, use_l10n=True, force_grouping=True),
        "signed": formats.number_format(total.signed_ht, 2, use_l10n=True, force_grouping=True),
        "deliveries": figures["deliveries_total"],
        "obligations": figures["obligations_total"],
        "late": overdue_obligations,
        "requisition": figures["requisition_total"],
        "median": duration(figures["time_to_contract"].median),
    }


def digest_send(*, now: datetime | None = None) -> int:
    """One digest per director and per day (a second run the same day sends nothing). Returns how many."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    with translation.override(settings.LANGUAGE_CODE):
        for organisation in Organisation.objects.order_by("pk"):
            directors = [
                user
                for user in members_with_role(organisation.pk, roles.DIRECTOR)
                if not Notification.objects.filter(recipient=user, verb=DIGEST_VERB, created_at__date=today).exists()
            ]
            if not directors:
                continue
            figures = selectors.dashboard_for(user=directors[0], now=now)
            with transaction.atomic():
                sent += len(
                    notify(
                        recipients=directors,
                        verb=DIGEST_VERB,
                        text=digest_text(figures),
                        url=reverse("dashboard:index"),
                        now=now,
                    )
                )
    return sent


def compact_figures() -> bool:
    """Fold the figures kept by triggers into one row per key (every minute, beat), so that the dashboard reads
    as many rows as there are stages, hours, products and suppliers. False where there are no triggers."""
    if connection.vendor != "postgresql":
        return False
    figures.compact()
    return True
