"""Pure rules of the execution (DOMAIN.md §5, §2): penalties, payment deadline, late interest, sample inspection.

No database access: tested directly, used by the services and the pages."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.translation import gettext

CENT = Decimal("0.01")

# Ordonnance 2020-319 (art. 6): no late penalties when the epidemic causes the delay, for contracts
# concluded or running between 12 March and 23 July 2020 (DOMAIN.md §1).
COVID_ORDINANCE_PERIOD = (date(2020, 3, 12), date(2020, 7, 23))
COVID_WAIVER_REFERENCE = "Ordonnance n° 2020-319 du 25 mars 2020, article 6"


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, ROUND_HALF_UP)


def late_penalty(value: Decimal, days_late: int) -> Decimal:
    """P = V × R / 1000 (CCAG-FCS): V the value excl. VAT of the late part, R the number of days late."""
    if days_late <= 0 or value <= 0:
        return Decimal("0.00")
    return money(Decimal(value) * days_late / 1000)


def days_late(due: date, delivered: date) -> int:
    return max(0, (delivered - due).days)


def covid_ordinance_applies(signed_on: date | None) -> bool:
    start, end = COVID_ORDINANCE_PERIOD
    return signed_on is not None and start <= signed_on <= end


def payment_due_on(received_on: date) -> date:
    """The global payment period of local authorities: 30 days from the receipt of the invoice (R2192-10)."""
    return received_on + timedelta(days=settings.PAYMENT_PERIOD_DAYS)


@dataclass(frozen=True)
class LatePayment:
    days: int
    interest: Decimal
    fee: Decimal

    @property
    def total(self) -> Decimal:
        return self.interest + self.fee


def late_payment(amount: Decimal, due: date, paid: date) -> LatePayment:
    """Paid after the due date: interest at LATE_PAYMENT_RATE (a year rate, per day over 365) on the amount
    paid late, plus the fixed recovery fee (40 €, D2192-35). Paid on time: nothing."""
    days = (paid - due).days
    if days <= 0:
        return LatePayment(0, Decimal("0.00"), Decimal("0.00"))
    interest = money(Decimal(amount) * settings.LATE_PAYMENT_RATE * days / 365)
    return LatePayment(days, interest, money(settings.LATE_PAYMENT_FIXED_FEE))


# --- qualitative check by sample inspection --------------------------------------------------------------
# The measured value on a SampleInspection → the threshold of the norms catalogue (NormClass), and how they
# compare (procurement.conformity uses the same table for the offers' test reports).
SAMPLE_MEASURES = (
    ("filtration", "filtration_min", "min"),
    ("inward_leakage", "inward_leakage_max", "max"),
    ("bacterial_filtration", "bacterial_filtration_min", "min"),
    ("breathing_resistance", "breathing_resistance_max", "below"),
    ("splash_resistance", "splash_resistance_min", "min"),
)


def within(comparison: str, value: Decimal, limit: Decimal) -> bool:
    if comparison == "min":
        return value >= limit
    if comparison == "max":
        return value <= limit
    return value < limit


def sample_findings(norm_class, measured: dict) -> list[str]:
    """What fails in the sample: every measured value outside its threshold, every threshold not measured."""
    findings = []
    symbols = {"min": "≥", "max": "≤", "below": "<"}
    for measure, limit_name, comparison in SAMPLE_MEASURES:
        limit = getattr(norm_class, limit_name)
        if limit is None:
            continue
        label = norm_class._meta.get_field(limit_name).verbose_name
        value = measured.get(measure)
        if value is None:
            findings.append(gettext("Not measured: %(label)s.") % {"label": label})
        elif not within(comparison, Decimal(value), limit):
            findings.append(
                gettext("%(label)s: measured %(value)s, required %(symbol)s %(limit)s.")
                % {"label": label, "value": value, "symbol": symbols[comparison], "limit": limit}
            )
    return findings
