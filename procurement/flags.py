"""Red flags of an offer (DOMAIN.md §3): price against the reference, prepayment, the supply chain, the
activity of each party, and the company flags of everyone in the chain. Pure: reads, never writes.

`screenings` is a mapping supplier pk → that supplier's current sanctions screenings (one query for a
whole case: `suppliers.selectors.current_screenings_by_supplier`).
"""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext

from procurement.models import Offer, ReferencePrice, SupplyChainParty
from suppliers.flags import RedFlag, screening_flags, supplier_flags

Role = SupplyChainParty.Role

# NAF/APE prefixes of activities consistent with protective equipment, by role in the chain.
GOODS_ACTIVITIES = ("13.9", "14.1", "17.2", "20.", "21.", "22.", "32.5", "32.9")
TRADE_ACTIVITIES = ("46.", "47.7", "47.9")
LOGISTICS_ACTIVITIES = ("49.4", "50.2", "50.4", "51.2", "52.1", "52.2", "53.2")
ACTIVITIES_BY_ROLE = {
    Role.MANUFACTURER: GOODS_ACTIVITIES,
    Role.INTERMEDIARY: GOODS_ACTIVITIES + TRADE_ACTIVITIES,
    Role.FORWARDER: LOGISTICS_ACTIVITIES,
    Role.CUSTOMS_BROKER: LOGISTICS_ACTIVITIES + ("69.", "70.2"),
    Role.CARRIER: LOGISTICS_ACTIVITIES,
}
# The offer's supplier sells goods unless the chain gives it another role.
SELLER_ACTIVITIES = GOODS_ACTIVITIES + TRADE_ACTIVITIES
SEVERAL_INTERMEDIARIES = 2


def _money(value: Decimal) -> str:
    return number_format(value, decimal_pos=2, force_grouping=True)


def reference_prices() -> dict[str, list[ReferencePrice]]:
    """Every reference price by product, newest first (a small table, read once per page)."""
    table: dict[str, list[ReferencePrice]] = {}
    for row in ReferencePrice.objects.order_by("product", "-valid_from"):
        table.setdefault(row.product, []).append(row)
    return table


def price_flag(offer: Offer, references: dict[str, list[ReferencePrice]]) -> RedFlag | None:
    day = timezone.localdate(offer.received_at)
    reference = next((row for row in references.get(offer.need_line.product, []) if row.valid_from <= day), None)
    if reference is None:
        return None
    price = offer.agreed_unit_price
    ratio = price / reference.unit_price
    if ratio <= settings.RED_FLAG_PRICE_RATIO:
        return None
    return RedFlag(
        "price_above_reference",
        gettext(
            "Unit price %(price)s € excl. VAT is %(ratio)s× the reference price for %(product)s "
            "(%(reference)s €, %(source)s)."
        )
        % {
            "price": _money(price),
            "ratio": number_format(ratio, decimal_pos=1),
            "product": offer.need_line.get_product_display(),
            "reference": _money(reference.unit_price),
            "source": reference.source,
        },
        "danger",
    )


def prepayment_flag(offer: Offer) -> RedFlag | None:
    if offer.current_terms.advance_rate >= 1:
        return RedFlag(
            "full_prepayment",
            gettext("The supplier demands 100 % prepayment: public money would leave before any delivery."),
            "danger",
        )
    return None


def intermediaries_flag(offer: Offer) -> RedFlag | None:
    intermediaries = [party for party in offer.chain.all() if party.role == Role.INTERMEDIARY]
    if len(intermediaries) < SEVERAL_INTERMEDIARIES:
        return None
    return RedFlag(
        "several_intermediaries",
        gettext("The goods reach us through %(count)d intermediaries (%(names)s).")
        % {"count": len(intermediaries), "names": ", ".join(party.supplier.name for party in intermediaries)},
    )


def _activity_flag(company, roles: list[str]) -> RedFlag | None:
    code = company.activity_code
    if not code:
        return None
    allowed = SELLER_ACTIVITIES if not roles else tuple(p for role in roles for p in ACTIVITIES_BY_ROLE[role])
    if code.startswith(allowed):
        return None
    return RedFlag(
        "activity_unrelated",
        gettext("%(company)s: activity code %(code)s is unrelated to its role (%(roles)s).")
        % {
            "company": company.name,
            "code": code,
            "roles": ", ".join(str(Role(role).label) for role in roles) if roles else gettext("seller of the goods"),
        },
    )


def activity_flags(offer: Offer) -> list[RedFlag]:
    roles_by_company: dict[int, list[str]] = {offer.supplier_id: []}
    companies = {offer.supplier_id: offer.supplier}
    for party in offer.chain.all():
        roles_by_company.setdefault(party.supplier_id, []).append(party.role)
        companies[party.supplier_id] = party.supplier
    flags = (_activity_flag(companies[pk], roles) for pk, roles in roles_by_company.items())
    return [flag for flag in flags if flag]


def offer_flags(offer: Offer, screenings: dict[int, list], references=None) -> list[RedFlag]:
    """The flags of the offer itself and of every chain party other than its supplier. `references`:
    `reference_prices()`, read once by callers that flag several offers."""
    references = reference_prices() if references is None else references
    flags = [price_flag(offer, references), prepayment_flag(offer), intermediaries_flag(offer)]
    result = [flag for flag in flags if flag] + activity_flags(offer)
    seen = {offer.supplier_id}
    for party in offer.chain.all():
        if party.supplier_id in seen:
            continue
        seen.add(party.supplier_id)
        result += screening_flags(party.supplier, screenings.get(party.supplier_id, []))
    return result


def dedupe(flags: list[RedFlag]) -> list[RedFlag]:
    seen, unique = set(), []
    for flag in flags:
        if (flag.code, flag.reason) not in seen:
            seen.add((flag.code, flag.reason))
            unique.append(flag)
    return unique


def vetting_flags(supplier, offers: list[Offer], today: date, screenings: dict[int, list]) -> list[RedFlag]:
    """What a vetting decision about `supplier` must weigh: the company's flags and those of its offers."""
    flags = supplier_flags(supplier, today, screenings.get(supplier.pk, []))
    references = reference_prices()
    for offer in offers:
        flags += offer_flags(offer, screenings, references)
    return dedupe(flags)


def chain_blocking_parties(offer: Offer, screenings: dict[int, list]) -> list:
    """Companies of the offer (its supplier and chain) with a pending or confirmed sanctions match."""
    companies = {offer.supplier_id: offer.supplier}
    companies.update({party.supplier_id: party.supplier for party in offer.chain.all()})
    return [
        company
        for pk, company in companies.items()
        if any(screening.blocks_approval for screening in screenings.get(pk, []))
    ]


def offer_all_flags(offer: Offer, today: date, screenings: dict[int, list], references=None) -> list[RedFlag]:
    """Everything to show on an offer: its supplier's flags and the offer's own."""
    company = supplier_flags(offer.supplier, today, screenings.get(offer.supplier_id, []))
    return dedupe(company + offer_flags(offer, screenings, references))


def chain_view(offer: Offer, screenings: dict[int, list]) -> list[dict]:
    """The chain from the factory to the delivery point, the offer's supplier included (at its chain place, or
    last as the contracting party when the chain does not name it), each with its screening state."""
    rows = []
    for party in offer.chain.all():
        rows.append({"party": party, "company": party.supplier, "role": party.get_role_display()})
    if not any(party.supplier_id == offer.supplier_id for party in offer.chain.all()):
        rows.append({"party": None, "company": offer.supplier, "role": gettext("Contracting supplier")})
    for row in rows:
        current = screenings.get(row["company"].pk, [])
        row["screenings"] = current
        row["blocked"] = any(screening.blocks_approval for screening in current)
        row["is_supplier"] = row["company"].pk == offer.supplier_id
    return rows
