"""What a signed contract still owes (DOMAIN.md §2, §5–6), with due dates: transmission to the prefect and award
notice at or above the EU threshold, publication of the essential data (DECP) from 40 000 €, and the URSSAF
vigilance certificate renewed every six months during execution. Pure: reads the contract and the thresholds."""

from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from procurement.models import Threshold
from suppliers.models import Supplier, SupplierDocument

# CGCT L4141-2 (a region's acts; L2131-2 for a commune): transmission before notification, within 15 days of
# the signature.
PREFECT_DAYS = 15
AWARD_NOTICE_DAYS = 30  # R2183-1: award notice within 30 days of signature
DECP_MONTHS = 2  # R2196-1: essential data published within two months of notification
VIGILANCE_MONTHS = 6  # D8222-5

LABELS = {
    "prefect": _("Transmission to the prefect (before notification)"),
    "award_notice": _("Award notice"),
    "decp": _("Publication of the essential data (DECP)"),
    "vigilance": _("URSSAF vigilance certificate renewed (every 6 months)"),
}


@dataclass(frozen=True)
class Obligation:
    code: str
    label: str
    due: date | None
    done_on: date | None = None

    def state(self, today: date) -> str:
        if self.done_on is not None:
            return "done"
        if self.due is not None and self.due < today:
            return "overdue"
        return "due"


def threshold_table():
    """Threshold.amount_on over every threshold read once (for pages listing many contracts)."""
    rows = list(Threshold.objects.order_by("-valid_from"))

    def amount_on(kind: str, day: date):
        for row in rows:
            if row.kind == kind and row.valid_from <= day and (row.valid_until is None or day <= row.valid_until):
                return row.amount
        return None

    return amount_on


def contract_obligations(contract, today: date, amount_on=None) -> list[Obligation]:
    """The obligations of a signed contract, in due-date order; none before signature nor once withdrawn.
    `amount_on`: a threshold lookup (Threshold.amount_on, or threshold_table() for many contracts)."""
    amount_on = amount_on or Threshold.amount_on

    def _on_or_above(kind: str, amount, day: date) -> bool:
        threshold = amount_on(kind, day)
        return threshold is not None and amount >= threshold

    if contract.signed_at is None or contract.status == "withdrawn":
        return []
    signed_on = timezone.localdate(contract.signed_at)
    notified_on = timezone.localdate(contract.notified_at) if contract.notified_at else None
    amount = contract.amount_ht
    obligations = []
    if _on_or_above(Threshold.Kind.EU_SUPPLIES, amount, signed_on):
        obligations.append(
            Obligation(
                "prefect",
                LABELS["prefect"],
                signed_on + timedelta(days=PREFECT_DAYS),
                contract.prefect_transmitted_on,
            )
        )
        obligations.append(
            Obligation(
                "award_notice",
                LABELS["award_notice"],
                signed_on + timedelta(days=AWARD_NOTICE_DAYS),
                contract.award_notice_published_on,
            )
        )
    if notified_on is not None and _on_or_above(Threshold.Kind.DECP, amount, notified_on):
        obligations.append(
            Obligation(
                "decp",
                LABELS["decp"],
                notified_on + relativedelta(months=DECP_MONTHS),
                contract.decp_published_on,
            )
        )
    supplier = contract.supplier
    if supplier.identifier_type == Supplier.IdentifierType.SIRET and _on_or_above(
        Threshold.Kind.VIGILANCE, contract.amount_ttc, signed_on
    ):
        certificates = [d for d in supplier.documents.all() if d.kind == SupplierDocument.Kind.URSSAF and d.expires_on]
        latest = max((d.expires_on for d in certificates), default=None)
        due = latest if latest and latest > signed_on else signed_on + relativedelta(months=VIGILANCE_MONTHS)
        obligations.append(Obligation("vigilance", LABELS["vigilance"], due))
    return sorted(obligations, key=lambda obligation: obligation.due or date.max)
