"""Reads scoped to what the user may see (their organisation), with the joins done once."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import DecimalField, Exists, F, OuterRef, Prefetch, Q, Subquery, Sum
from django.db.models.functions import Round
from django.utils import timezone

from procurement.models import (
    CaseEvent,
    ConformityCheck,
    ConformityEvidence,
    NeedLine,
    NegotiationRound,
    Offer,
    PurchaseCase,
    SupplyChainParty,
    VettingDecision,
)
from suppliers.models import SanctionsList, SanctionsScreening, Supplier
from suppliers.selectors import LATEST_LIST_ORDER


def cases_for(*, user):
    if not user.is_authenticated or user.organisation_id is None:
        return PurchaseCase.objects.none()
    return PurchaseCase.objects.for_organisation(user.organisation_id).select_related("owner")


# --- the case list -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SortKey:
    """One sort of the case list: the column the keyset runs on, its direction, and whether it can be NULL
    (NULLs always come last, in both directions). Ties are broken by the pk, in the same direction."""

    field: str
    descending: bool = False
    nullable: bool = False


# `tri` values of the case list (a contract with the dashboard's links: do not rename).
SORTS = {
    "-cree": SortKey("created_at", descending=True),
    "cree": SortKey("created_at"),
    "montant": SortKey("estimated_amount", nullable=True),
    "-montant": SortKey("estimated_amount", descending=True, nullable=True),
    "etape": SortKey("stage_entered_at"),
    "reference": SortKey("reference"),
}
DEFAULT_SORT = "-cree"
AMOUNT_FIELD = DecimalField(max_digits=30, decimal_places=2)
SEARCH_CONFIG = "french"
SEARCH_MAX_WORDS = 8


def estimated_amount(*, aggregate: bool = False):
    """The case's estimated amount excl. VAT (euros, to the cent); NULL when no line has an estimated price.
    Rounded to the cent so that keyset equality is exact on SQLite too (floats there).

    Two forms, the same value. By default a correlated subquery: computed only for the rows a page shows when
    the list is read in another order, no GROUP BY. `aggregate=True`: a join on the need lines and a SUM per
    case, for sorting on the amount itself: every case's amount is needed then, and PostgreSQL computes it once
    per case in one hashed pass (measured at 100 000 cases: ~200 ms for the first or a deep page, against
    ~400 ms and ~1 s with the subquery, evaluated again for the keyset condition)."""
    if aggregate:
        total = Sum(F("need_lines__quantity") * F("need_lines__estimated_unit_price"))
        return Round(total, 2, output_field=AMOUNT_FIELD)
    line_total = (
        NeedLine.objects.filter(case=OuterRef("pk"))
        .order_by()
        .values("case")
        .annotate(total=Sum(F("quantity") * F("estimated_unit_price")))
        .values("total")
    )
    return Round(Subquery(line_total, output_field=AMOUNT_FIELD), 2, output_field=AMOUNT_FIELD)


def _latest(model, *, group: tuple[str, ...], order: str):
    """NOT EXISTS a later row of `model` in the same group (by `order`, then pk): keeps the latest row of each."""
    outer = {name: OuterRef(name) for name in group}
    later = model.objects.filter(**outer).filter(
        Q(**{f"{order}__gt": OuterRef(order)}) | Q(**{order: OuterRef(order), "pk__gt": OuterRef("pk")})
    )
    return ~Exists(later)


def flagged_suppliers(*, organisation_id):
    """Suppliers of the organisation with an open red flag that SQL can tell cheaply (DOMAIN.md §3):
    - a current sanctions screening (the supplier's latest against the latest version of a list, as
      suppliers.selectors.current_screenings_by_supplier) awaiting a jurist ("pending") or confirmed;
    - or its latest vetting decision, in any case of the organisation, is a rejection (vetting judges the
      company, so a rejection in one case is a warning for every case it answers; a later approval closes it).
    The other company flags (documents, e-mail domain, bank details…) are computed in Python per page and are
    not part of this filter."""
    screened, rejected = _flag_sources(organisation_id)
    return Supplier.objects.filter(Q(pk__in=screened) | Q(pk__in=rejected))


def flagged_supplier_ids(*, organisation_id) -> list[int]:
    """The ids of flagged_suppliers, in one query that reads the screenings and decisions only (the filter
    above, an OR of two subqueries, makes PostgreSQL test every supplier: fine for a page of cases, not for
    counting among tens of thousands of suppliers)."""
    screened, rejected = _flag_sources(organisation_id)
    # No ORDER BY inside the union (the models' default ordering): SQLite refuses it.
    return sorted(set(screened.order_by().union(rejected.order_by()).values_list("supplier_id", flat=True)))


def _flag_sources(organisation_id):
    """The supplier ids of the current sanctions screenings pending or confirmed, and of the latest vetting
    decisions that are rejections (two subqueries)."""
    latest_list = (
        SanctionsList.objects.filter(source=OuterRef("sanctions_list__source"))
        .order_by(*LATEST_LIST_ORDER)
        .values("pk")
    )[:1]
    screened = (
        SanctionsScreening.objects.filter(
            supplier__organisation_id=organisation_id,
            review__in=[SanctionsScreening.Review.PENDING, SanctionsScreening.Review.CONFIRMED],
            sanctions_list_id=Subquery(latest_list),
        )
        .filter(_latest(SanctionsScreening, group=("supplier_id", "sanctions_list_id"), order="screened_at"))
        .values("supplier_id")
    )
    rejected = (
        VettingDecision.objects.filter(
            case__organisation_id=organisation_id, decision=VettingDecision.Decision.REJECTED
        )
        .filter(_latest(VettingDecision, group=("supplier_id",), order="decided_at"))
        .values("supplier_id")
    )
    return screened, rejected


def _search_words(text: str) -> list[str]:
    # Letters and digits only: the words go into a raw tsquery, whose operators must never reach it.
    return re.findall(r"[^\W_]+", text)[:SEARCH_MAX_WORDS]


def search_condition(text: str, *, organisation_id) -> Q:
    """Reference (substring), object of the purchase, need-line descriptions and the names of the case's
    offering suppliers.

    PostgreSQL: French full-text search, every word matched as a prefix ("masq gant" finds "Masques… gants"),
    on GIN expression indexes (migration 0009). Titles, need lines and suppliers are uncorrelated `pk IN (…)`
    subqueries: each is evaluated once from its index and hashed, so the outer scan stays a keyset scan with a
    hash probe per row (no to_tsvector per row), and a row is never duplicated. SQLite (the demo): every word
    found as a substring (case-insensitive, ASCII only) in one of the same fields."""
    text = text.strip()
    condition = Q(reference__icontains=text)
    words = _search_words(text)
    if connection.vendor != "postgresql":
        every_word = Q()
        for word in words:
            lines = NeedLine.objects.filter(description__icontains=word)
            suppliers = Supplier.objects.filter(organisation_id=organisation_id, name__icontains=word)
            every_word &= (
                Q(reference__icontains=word)
                | Q(title__icontains=word)
                | Q(pk__in=lines.values("case_id"))
                | Q(pk__in=Offer.objects.filter(supplier__in=suppliers).values("case_id"))
            )
        return condition | every_word if words else condition
    if not words:
        return condition
    query = SearchQuery(" & ".join(f"{word}:*" for word in words), search_type="raw", config=SEARCH_CONFIG)
    lines = NeedLine.objects.alias(document=SearchVector("description", config=SEARCH_CONFIG)).filter(document=query)
    suppliers = Supplier.objects.alias(document=SearchVector("name", config=SEARCH_CONFIG)).filter(
        organisation_id=organisation_id, document=query
    )
    titles = PurchaseCase.objects.alias(document=SearchVector("title", config=SEARCH_CONFIG)).filter(
        organisation_id=organisation_id, document=query
    )
    return (
        condition
        | Q(pk__in=titles.values("pk"))
        | Q(pk__in=lines.values("case_id"))
        | Q(pk__in=Offer.objects.filter(supplier__in=suppliers).values("case_id"))
    )


def case_list(
    *,
    user,
    status: str | None = None,
    buyer=None,
    product: str | None = None,
    supplier=None,
    overdue: bool = False,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    search: str = "",
    flagged: bool = False,
    now=None,
    sort: str | None = None,
):
    """The organisation's cases matching every given criterion, with `estimated_amount` and the lead buyer.
    `buyer` and `supplier` are users/suppliers (or pks); `created_from`/`created_to` are local dates, inclusive.
    Every criterion on another table is a `pk IN (…)` subquery: no row is ever duplicated. `sort` (a key of
    SORTS) only chooses how the amount is computed; order the rows with `sorted_cases`."""
    by_amount = sort is not None and SORTS[sort].field == "estimated_amount"
    qs = cases_for(user=user).annotate(estimated_amount=estimated_amount(aggregate=by_amount))
    if status:
        qs = qs.filter(status=status)
    if buyer is not None:
        buyer_id = getattr(buyer, "pk", buyer)
        assigned = PurchaseCase.buyers.through.objects.filter(user_id=buyer_id).values("purchasecase_id")
        qs = qs.filter(Q(owner_id=buyer_id) | Q(pk__in=assigned))
    if product:
        qs = qs.filter(pk__in=NeedLine.objects.filter(product=product).values("case_id"))
    if supplier is not None:
        qs = qs.filter(pk__in=Offer.objects.filter(supplier_id=getattr(supplier, "pk", supplier)).values("case_id"))
    if overdue:
        qs = qs.overdue(now)
    if amount_min is not None:
        qs = qs.filter(estimated_amount__gte=amount_min)
    if amount_max is not None:
        qs = qs.filter(estimated_amount__lte=amount_max)
    if created_from is not None:
        qs = qs.filter(created_at__gte=_local_midnight(created_from))
    if created_to is not None:
        qs = qs.filter(created_at__lt=_local_midnight(created_to + timedelta(days=1)))
    if search and search.strip():
        qs = qs.filter(search_condition(search, organisation_id=user.organisation_id))
    if flagged:
        suppliers = flagged_suppliers(organisation_id=user.organisation_id)
        qs = qs.filter(pk__in=Offer.objects.filter(supplier__in=suppliers).values("case_id"))
    return qs


def _local_midnight(day: date) -> datetime:
    """The start of `day` in the current time zone (Europe/Paris): a range on the indexed column itself,
    rather than a `__date` lookup the database would compute for every row."""
    return timezone.make_aware(datetime.combine(day, time.min))


def sorted_cases(qs, sort: str = DEFAULT_SORT):
    key = SORTS[sort]
    column = F(key.field)
    if key.nullable:
        column = column.desc(nulls_last=True) if key.descending else column.asc(nulls_last=True)
    else:
        # No NULLS LAST on a NOT NULL column: PostgreSQL would then not read its index backwards.
        column = column.desc() if key.descending else column.asc()
    return qs.order_by(column, "-pk" if key.descending else "pk")


def _beyond(key: SortKey, value, pk: int) -> Q:
    """Rows strictly after (value, pk) in the order of `key`, NULLs last. The redundant `>= value` bounds the
    index range scan; the OR alone would make the database read every row from the start of the list."""
    op = "lt" if key.descending else "gt"
    if value is None:
        return Q(**{f"{key.field}__isnull": True, f"pk__{op}": pk})
    bound = Q(**{f"{key.field}__{op}e": value})
    condition = bound & (Q(**{f"{key.field}__{op}": value}) | Q(**{key.field: value, f"pk__{op}": pk}))
    if key.nullable:
        condition |= Q(**{f"{key.field}__isnull": True})
    return condition


def case_list_page(*, user, sort: str = DEFAULT_SORT, after: tuple | None = None, size: int = 50, **criteria):
    """One page of the case list by keyset on (sort key, pk), so a deep page costs what the first one does
    (DESIGN.md §8). `after` is the (sort key, pk) of the previous page's last row. Returns (cases, cursor of the
    next page or None); the cursor is a (sort key value, pk) pair."""
    key = SORTS[sort]
    qs = case_list(user=user, sort=sort, **criteria)
    if after is not None:
        qs = qs.filter(_beyond(key, *after))
    rows = list(sorted_cases(qs, sort)[: size + 1])
    if len(rows) > size:
        last = rows[size - 1]
        return rows[:size], (getattr(last, key.field), last.pk)
    return rows, None


def case_detail_queryset(*, user):
    offers = Offer.objects.select_related("supplier", "need_line", "awarded_by").prefetch_related(
        Prefetch("rounds", queryset=NegotiationRound.objects.select_related("recorded_by")),
        Prefetch("conformity_checks", queryset=ConformityCheck.objects.select_related("checked_by")),
        Prefetch("chain", queryset=SupplyChainParty.objects.select_related("supplier")),
        "supplier__documents",
        "supplier__offers",
    )
    return (
        cases_for(user=user)
        .select_related("organisation", "justification")
        .prefetch_related(
            "need_lines",
            "buyers",
            Prefetch("offers", queryset=offers),
            "vetting_decisions__supplier",
            "vetting_decisions__decided_by",
            "vetting_decisions__countersigned_by",
            Prefetch("events", queryset=CaseEvent.objects.select_related("actor", "contract")),
            "contracts__offer__supplier",
        )
    )


def offers_for(*, user):
    return Offer.objects.filter(case__in=cases_for(user=user)).select_related("case", "supplier", "need_line")


def offer_detail_queryset(*, user):
    return offers_for(user=user).prefetch_related(
        Prefetch("rounds", queryset=NegotiationRound.objects.select_related("recorded_by")),
        Prefetch(
            "conformity_checks",
            queryset=ConformityCheck.objects.select_related("checked_by", "overridden_by").prefetch_related("evidence"),
        ),
        Prefetch("chain", queryset=SupplyChainParty.objects.select_related("supplier", "added_by")),
        "supplier__documents",
        "supplier__offers",
        "case__vetting_decisions",
    )


def case_parties(case) -> set[int]:
    """Every company of the case's offers (suppliers and chain parties); offers and chains prefetched."""
    return {pk for offer in case.offers.all() for pk in offer_parties(offer)}


def offer_parties(offer) -> set[int]:
    return {offer.supplier_id, *(party.supplier_id for party in offer.chain.all())}


def vetting_decisions_for(*, user):
    return VettingDecision.objects.filter(case__in=cases_for(user=user)).select_related(
        "case", "supplier", "decided_by"
    )


def chain_parties_for(*, user):
    return SupplyChainParty.objects.filter(offer__case__in=cases_for(user=user)).select_related(
        "offer__case", "supplier"
    )


def conformity_checks_for(*, user):
    return ConformityCheck.objects.filter(offer__case__in=cases_for(user=user)).select_related(
        "offer__case", "offer__supplier", "offer__need_line", "norm_class__norm", "checked_by"
    )


def evidence_for(*, user):
    return ConformityEvidence.objects.filter(conformity_check__offer__case__in=cases_for(user=user))
