"""The jurist's clause checklist, filled in (DOMAIN.md §5): for each clause the contract must state, the data
the contract will print and whether it passes the automatic checks. The jurist still ticks each clause after
reading the version displayed; this only saves them looking the data up. Pure: reads, never writes."""

from datetime import date

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext

from contracts.models import CLAUSES, SignatureDelegation

PAYMENT_DAYS_MAX = 30  # public buyers pay within 30 days (R2192-10)


def _money(value) -> str:
    return number_format(value, decimal_pos=2, force_grouping=True)


def _day(value) -> str:
    return date_format(value, "SHORT_DATE_FORMAT") if value else "—"


def clause_rows(contract, today: date) -> list[dict]:
    """One row per clause of CLAUSES, in order: key, label, the data checked, ok (None: nothing to compute)."""
    case, offer, supplier = contract.case, contract.offer, contract.supplier
    organisation = case.organisation
    terms = offer.current_terms
    justification = getattr(case, "justification", None)
    check = offer.latest_check
    delegations = [
        delegation
        for delegation in SignatureDelegation.objects.filter(organisation_id=organisation.pk).select_related("delegate")
        if delegation.covers(day=today, amount=contract.amount_ht)
    ]
    payment_days = getattr(terms, "payment_days", None)
    data = {
        "parties": (
            f"{organisation.name} (SIRET {organisation.siret or '—'}) — {supplier.name} "
            f"({supplier.get_identifier_type_display()} {supplier.identifier or '—'})",
            bool(organisation.siret and supplier.identifier),
        ),
        "legal_basis": (
            "L2122-1, R2122-1 — " + (justification.triggering_event[:160] if justification else "—"),
            justification is not None and not justification.missing_conditions(),
        ),
        "object": (f"{case.title} — CPV {offer.need_line.cpv_code}", bool(offer.need_line.cpv_code)),
        "quantities_prices": (
            gettext("%(quantity)s × %(price)s € = %(ht)s € excl. VAT, VAT %(vat)s €, %(ttc)s € incl. VAT")
            % {
                "quantity": number_format(contract.quantity, force_grouping=True),
                "price": number_format(contract.unit_price, decimal_pos=4),
                "ht": _money(contract.amount_ht),
                "vat": _money(contract.amount_vat),
                "ttc": _money(contract.amount_ttc),
            },
            contract.quantity <= offer.need_line.quantity,
        ),
        "delivery": (f"{terms.incoterm} {terms.delivery_place}, {_day(terms.delivery_date)}", True),
        "norms": (
            f"{check.standard} — {check.get_verdict_display()}" if check else gettext("No conformity check."),
            offer.is_conform(),
        ),
        "checks": (gettext("Admission, postponement, price reduction or rejection; admitted after 15 days."), None),
        "penalties": (getattr(terms, "penalties", "") or "—", bool(getattr(terms, "penalties", ""))),
        "advance": (f"{number_format(terms.advance_rate * 100, decimal_pos=0)} %", None),
        "payment": (
            gettext("%(days)s days") % {"days": payment_days} if payment_days is not None else "—",
            payment_days is not None and payment_days <= PAYMENT_DAYS_MAX,
        ),
        "termination": (gettext("Termination clause of the template."), None),
        "ccag": ("CCAG-FCS", None),
        "signatory": (
            "; ".join(f"{d.delegate} ({d.reference})" for d in delegations)
            or gettext("No delegation covers this amount today."),
            bool(delegations),
        ),
    }
    return [{"key": key, "label": label, "data": data[key][0], "ok": data[key][1]} for key, label in CLAUSES.items()]
