"""Side-by-side comparison of a case's offers on their latest terms (DOMAIN.md §5): pure, reads only."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from procurement import flags

# Rows of the comparison: (label, how to read the value from an offer's column).
TERMS = [
    ("unit_price", _("Unit price excl. VAT (€)")),
    ("quantity", _("Quantity")),
    ("total", _("Total excl. VAT (€)")),
    ("delivery_date", _("Delivery date")),
    ("incoterm", _("Incoterm and place")),
    ("advance_rate", _("Advance")),
    ("payment_days", _("Payment period (days)")),
    ("penalties", _("Late penalties")),
    ("valid_until", _("Offer valid until")),
]


def offer_columns(case, today, screenings) -> list[dict]:
    """One column per offer of the case, grouped by need line, with its terms, verdict and red flags."""
    references = flags.reference_prices()
    columns = []
    for offer in case.offers.all():
        terms = offer.current_terms
        check = offer.latest_check
        columns.append(
            {
                "offer": offer,
                "terms": terms,
                "total": (terms.unit_price * terms.quantity).quantize(Decimal("0.01")),
                "round": terms.number if terms is not offer else None,
                "incoterm": f"{terms.incoterm} {terms.delivery_place}",
                "payment_days": getattr(terms, "payment_days", None),
                "penalties": getattr(terms, "penalties", ""),
                "valid_until": getattr(terms, "valid_until", None),
                "check": check,
                "conform": offer.is_conform(),
                "vetted": offer.is_vetted(),
                "red_flags": flags.offer_all_flags(offer, today, screenings, references),
            }
        )
    by_line = {}
    for column in columns:
        by_line.setdefault(column["offer"].need_line_id, []).append(column)
    for line_columns in by_line.values():
        best = min(column["terms"].unit_price for column in line_columns)
        for column in line_columns:
            column["lowest_price"] = column["terms"].unit_price == best and len(line_columns) > 1
    return columns
