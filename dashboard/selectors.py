"""The director's figures, each computed in SQL with a constant number of queries whatever the number of rows."""

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection
from django.db.models import Count, DecimalField, F, Min, OuterRef, Q, Subquery, Sum, Window
from django.db.models.functions import Coalesce, TruncQuarter
from django.utils import timezone

from contracts.models import SIGNED_STATUSES, Contract, ContractStatus
from contracts.obligations import LABELS, VIGILANCE_MONTHS, Obligation, contract_obligations, threshold_table
from dashboard import figures
from dashboard.execution import execution_quantities
from procurement.catalogue import FAMILY, REQUISITIONABLE, Family
from procurement.models import (
    OPEN_STATUSES,
    CaseStatus,
    NeedLine,
    NegotiationRound,
    Offer,
    PurchaseCase,
    Threshold,
    VettingDecision,
    overdue_condition,
    stage_cutoffs,
)
from procurement.selectors import flagged_supplier_ids
from suppliers.models import SanctionsScreening, Supplier, SupplierDocument

ZERO = Decimal("0")
# A contract commits the organisation once approved by the legal team.
COMMITTED_STATUSES = [ContractStatus.APPROVED, *SIGNED_STATUSES]


@dataclass(frozen=True)
class StageCount:
    status: str
    label: str
    count: int
    is_open: bool
    overdue: int = 0
    longest: timedelta | None = None  # time in stage of the case waiting longest (open stages)
    target_hours: int | None = None


def cases_per_stage(*, organisation_id, now=None) -> tuple[list[StageCount], int]:
    """Every status in workflow order with its number of cases (zeros included), how many are past the stage
    target, and the longest time in stage; and the total. One query (on PostgreSQL from the counts kept by
    triggers, dashboard.figures)."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        found = figures.stages(
            organisation_id=organisation_id, cutoffs=stage_cutoffs(now), longest_of=set(OPEN_STATUSES)
        )
    else:
        rows = (
            PurchaseCase.objects.for_organisation(organisation_id)
            .order_by()
            .values("status")
            .annotate(n=Count("pk"), late=Count("pk", filter=overdue_condition(now)), since=Min("stage_entered_at"))
        )
        found = {row["status"]: row for row in rows}
    stages = []
    for value, label in CaseStatus.choices:
        row = found.get(value, {"n": 0, "late": 0, "since": None})
        is_open = value in OPEN_STATUSES
        stages.append(
            StageCount(
                status=value,
                label=str(label),
                count=row["n"],
                is_open=is_open,
                overdue=row["late"],
                longest=now - row["since"] if is_open and row["since"] else None,
                target_hours=settings.STAGE_TARGET_HOURS.get(value),
            )
        )
    return stages, sum(row.count for row in stages)


@dataclass(frozen=True)
class OverdueCase:
    case: PurchaseCase
    deadline: datetime
    time_in_stage: timedelta
    late_by: timedelta


def overdue_cases(
    *, organisation_id, now=None, limit: int | None = None, total: int | None = None
) -> tuple[list[OverdueCase], int]:
    """The cases past their stage target, longest in stage first, and their number. The page in one query (on
    PostgreSQL the first cases of each stage from the index, then the page of those, dashboard.figures), plus the
    count unless it is given (the dashboard has it from the stages)."""
    now = now or timezone.now()
    limit = limit or settings.DASHBOARD_LIST_SIZE
    cases = PurchaseCase.objects.for_organisation(organisation_id)
    cutoffs = stage_cutoffs(now)
    if connection.vendor == "postgresql":
        page = figures.overdue_page(organisation_id=organisation_id, cutoffs=cutoffs, limit=limit)
    else:  # the demo's scale: the overdue cases in one query
        page = cases.overdue(now).select_related("owner").order_by("stage_entered_at", "pk")[:limit]
    rows = []
    for case in page:
        deadline = case.stage_deadline()
        rows.append(
            OverdueCase(case=case, deadline=deadline, time_in_stage=now - case.stage_entered_at, late_by=now - deadline)
        )
    return rows, cases.overdue(now).count() if total is None else total


MONEY = DecimalField(max_digits=20, decimal_places=4)


def _sum(expression, condition: Q | None = None) -> Coalesce:
    return Coalesce(Sum(expression, filter=condition, output_field=MONEY), ZERO, output_field=MONEY)


def amounts(*, organisation_id, products: dict | None = None) -> dict[str, Decimal | int]:
    """Amounts excl. VAT, summed in SQL (two aggregate queries).

    committed: contracts approved, signed or notified; signed: signed or notified;
    estimated: need lines of open cases (quantity × estimated unit price), with the lines lacking an estimate."""
    if connection.vendor == "postgresql":
        rows = (products if products is not None else figures.per_product(organisation_id=organisation_id)).values()
        total = {name: sum((row[name] for row in rows), 0) for name in figures.PRODUCT_FIGURES}
        return {
            "committed": total["committed_ht"],
            "signed": total["signed_ht"],
            "committed_count": total["committed_count"],
            "signed_count": total["signed_count"],
            "estimated": total["estimated_ht"],
            "lines_without_estimate": total["lines_without_estimate"],
        }
    value = F("quantity") * F("unit_price")
    found = Contract.objects.for_organisation(organisation_id).aggregate(
        committed=_sum(value, Q(status__in=COMMITTED_STATUSES)),
        signed=_sum(value, Q(status__in=SIGNED_STATUSES)),
        committed_count=Count("pk", filter=Q(status__in=COMMITTED_STATUSES)),
        signed_count=Count("pk", filter=Q(status__in=SIGNED_STATUSES)),
    )
    found.update(
        NeedLine.objects.filter(case__organisation_id=organisation_id, case__status__in=OPEN_STATUSES).aggregate(
            estimated=_sum(F("quantity") * F("estimated_unit_price")),
            lines_without_estimate=Count("pk", filter=Q(estimated_unit_price__isnull=True)),
        )
    )
    return found


@dataclass(frozen=True)
class PendingObligation:
    contract: Contract
    obligation: object
    state: str


def _obligation_candidates(organisation_id, today: date, horizon: date):
    """Signed contracts that may owe something due by `horizon`: a SQL filter wide enough never to miss one
    (the lowest threshold of each kind, any date), narrow enough to skip the contracts with nothing due soon."""
    lowest = dict(Threshold.objects.order_by().values("kind").annotate(low=Min("amount")).values_list("kind", "low"))
    big = Decimal("1e18")
    amount = F("quantity") * F("unit_price")
    latest_urssaf = Subquery(
        SupplierDocument.objects.filter(supplier=OuterRef("offer__supplier"), kind=SupplierDocument.Kind.URSSAF)
        .exclude(expires_on=None)
        .order_by("-expires_on")
        .values("expires_on")[:1]
    )
    soon = Q(prefect_transmitted_on=None) | Q(award_notice_published_on=None)
    condition = Q(value_ht__gte=lowest.get(Threshold.Kind.EU_SUPPLIES, big)) & soon
    condition |= Q(
        notified_at__isnull=False, decp_published_on=None, value_ht__gte=lowest.get(Threshold.Kind.DECP, big)
    )
    # Vigilance is due on the latest certificate's expiry, or six months after signature (whichever applies).
    condition |= Q(
        offer__supplier__identifier_type=Supplier.IdentifierType.SIRET,
        value_ht__gte=lowest.get(Threshold.Kind.VIGILANCE, big) / 2,  # excl. VAT vs a threshold incl. VAT
    ) & (Q(latest_urssaf__lte=horizon) | Q(signed_at__date__lte=horizon - relativedelta(months=VIGILANCE_MONTHS)))
    return (
        Contract.objects.for_organisation(organisation_id)
        .filter(signed_at__isnull=False)
        .exclude(status=ContractStatus.WITHDRAWN)
        .annotate(value_ht=amount, latest_urssaf=latest_urssaf)
        .filter(condition)
    )


def pending_obligations(*, organisation_id, today, limit: int | None = None) -> tuple[list[PendingObligation], int]:
    """Obligations of signed contracts not yet fulfilled and overdue or due within the horizon
    (DASHBOARD_OBLIGATION_DAYS), overdue first then by due date. The contract page lists them all.
    On PostgreSQL one statement: an index read of the obligations kept by triggers with the contracts'
    references (dashboard.figures); elsewhere, in Python."""
    horizon = today + timedelta(days=settings.DASHBOARD_OBLIGATION_DAYS)
    if connection.vendor == "postgresql":
        return _pending_obligations_sql(organisation_id, today, horizon, limit)
    contracts = (
        _obligation_candidates(organisation_id, today, horizon)
        .select_related("case", "offer__supplier")
        .prefetch_related("offer__supplier__documents")
    )
    amount_on = threshold_table()
    rows = [
        PendingObligation(contract, obligation, obligation.state(today))
        for contract in contracts
        for obligation in contract_obligations(contract, today, amount_on)
        if obligation.done_on is None and obligation.due is not None and obligation.due <= horizon
    ]
    rows.sort(key=lambda row: (row.state != "overdue", row.obligation.due))
    return rows[:limit] if limit else rows, len(rows)


def _pending_obligations_sql(organisation_id, today, horizon, limit):
    found, total = figures.obligations(organisation_id=organisation_id, horizon=horizon, limit=limit or 10**9)
    rows = [
        PendingObligation(
            contract,
            Obligation(contract.code, LABELS[contract.code], contract.due),
            "overdue" if contract.due < today else "due",
        )
        for contract in found
    ]
    return rows, total


# --- time to contract ------------------------------------------------------------------------
def percentile(values: list, fraction: float):
    """The continuous percentile (as PostgreSQL's percentile_cont), of values in any order; None when empty."""
    if not values:
        return None
    values = sorted(values)
    position = fraction * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


@dataclass(frozen=True)
class TimeToContract:
    count: int
    median: timedelta | None
    p90: timedelta | None


def time_to_contract(*, organisation_id) -> TimeToContract:
    """From the need (case created) to the signature, over the signed contracts: median and 90th percentile.
    On PostgreSQL, from the delays kept to the minute by triggers (dashboard.figures, two small queries);
    elsewhere the durations are read and computed here."""
    if connection.vendor == "postgresql":
        count, (median, p90) = figures.signature_delay_percentiles(
            organisation_id=organisation_id, fractions=(0.5, 0.9)
        )
        return TimeToContract(count, median, p90)
    signed = Contract.objects.for_organisation(organisation_id).filter(
        status__in=SIGNED_STATUSES, signed_at__isnull=False
    )
    durations = [signed_at - created for signed_at, created in signed.values_list("signed_at", "case__created_at")]
    return TimeToContract(len(durations), percentile(durations, 0.5), percentile(durations, 0.9))


# --- amounts and quantities by product family -----------------------------------------------
@dataclass
class FamilyRow:
    family: str
    label: str
    estimated_ht: Decimal = ZERO
    estimated_ttc: Decimal = ZERO
    committed_ht: Decimal = ZERO
    committed_ttc: Decimal = ZERO
    signed_ht: Decimal = ZERO
    signed_ttc: Decimal = ZERO
    needed: int = 0  # units needed by open cases
    ordered: int = 0  # units of signed contracts

    def add(self, other: "FamilyRow") -> None:
        for name in (
            "estimated_ht",
            "estimated_ttc",
            "committed_ht",
            "committed_ttc",
            "signed_ht",
            "signed_ttc",
            "needed",
            "ordered",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def by_family(*, organisation_id, products: dict | None = None) -> tuple[list[FamilyRow], FamilyRow]:
    """Amounts estimated, committed and signed (excl. and incl. VAT) and units needed and ordered, per product
    family, and the totals: on PostgreSQL one query on the figures kept per product (dashboard.figures), elsewhere
    two, grouped by product in SQL; families are sums of products.

    Estimated incl. VAT applies the default VAT rate (the contract's own rate is known only once awarded)."""
    if connection.vendor == "postgresql":
        if products is None:
            products = figures.per_product(organisation_id=organisation_id)
        contracts = [{"offer__need_line__product": product, **row} for product, row in products.items()]
        needs = [{"product": product, **row} for product, row in products.items()]
    else:
        contracts, needs = _by_product(organisation_id)
    vat = Decimal(str(settings.DEFAULT_VAT_RATE))
    rows = {family.value: FamilyRow(family.value, str(family.label)) for family in Family}
    for row in contracts:
        target = rows[FAMILY.get(row["offer__need_line__product"], Family.OTHER)]
        target.add(
            FamilyRow(
                "",
                "",
                committed_ht=row["committed_ht"],
                committed_ttc=row["committed_ttc"],
                signed_ht=row["signed_ht"],
                signed_ttc=row["signed_ttc"],
                ordered=row["ordered"],
            )
        )
    for row in needs:
        target = rows[FAMILY.get(row["product"], Family.OTHER)]
        target.add(
            FamilyRow(
                "",
                "",
                estimated_ht=row["estimated_ht"],
                estimated_ttc=row["estimated_ht"] * (1 + vat),
                needed=row["needed"] or 0,
            )
        )
    total = FamilyRow("", "")
    used = []
    for row in rows.values():
        for name in ("estimated_ht", "estimated_ttc", "committed_ht", "committed_ttc", "signed_ht", "signed_ttc"):
            setattr(row, name, Decimal(getattr(row, name)).quantize(Decimal("0.01")))
        if row.needed or row.ordered or row.committed_ht or row.estimated_ht:
            used.append(row)
            total.add(row)
    return used, total


def _by_product(organisation_id) -> tuple:
    """Per product, from the base tables: contracts' amounts and units, and open cases' need lines."""
    value = F("quantity") * F("unit_price")
    with_vat = value * (1 + F("vat_rate"))
    contracts = (
        Contract.objects.for_organisation(organisation_id)
        .order_by()
        .values("offer__need_line__product")
        .annotate(
            committed_ht=_sum(value, Q(status__in=COMMITTED_STATUSES)),
            committed_ttc=_sum(with_vat, Q(status__in=COMMITTED_STATUSES)),
            signed_ht=_sum(value, Q(status__in=SIGNED_STATUSES)),
            signed_ttc=_sum(with_vat, Q(status__in=SIGNED_STATUSES)),
            ordered=Coalesce(Sum("quantity", filter=Q(status__in=SIGNED_STATUSES)), 0),
        )
    )
    needs = (
        NeedLine.objects.filter(case__organisation_id=organisation_id, case__status__in=OPEN_STATUSES)
        .order_by()
        .values("product")
        .annotate(estimated_ht=_sum(F("quantity") * F("estimated_unit_price")), needed=Sum("quantity"))
    )
    return contracts, needs


# --- deliveries, suppliers, requisition risk --------------------------------------------------
def _terms(field: str) -> Subquery:
    """A field of the offer's current terms: the final round, else the latest one (Offer.current_terms)."""
    return Subquery(
        NegotiationRound.objects.filter(offer=OuterRef("offer"))
        .order_by("-is_final", "-number", "-pk")
        .values(field)[:1]
    )


def upcoming_deliveries(*, organisation_id, today: date, days: int = 7, limit: int | None = None):
    """Committed contracts whose delivery date falls in the next `days` days (today included), soonest first.
    Returns (contracts annotated with delivery_date, delivery_place and supplier_name, count). Two queries (on
    PostgreSQL one: an index read of the deliveries kept by triggers with the contracts shown, dashboard.figures)."""
    limit = limit or settings.DASHBOARD_LIST_SIZE
    end = today + timedelta(days=days)
    if connection.vendor == "postgresql":
        return figures.deliveries(organisation_id=organisation_id, start=today, end=end, limit=limit)
    # Only offers with a round delivering in the window (indexed) can have current terms delivering then.
    delivering = NegotiationRound.objects.filter(delivery_date__gte=today, delivery_date__lte=end).values("offer_id")
    qs = (
        Contract.objects.for_organisation(organisation_id)
        .filter(status__in=COMMITTED_STATUSES, offer_id__in=delivering)
        .annotate(delivery_date=_terms("delivery_date"), delivery_place=_terms("delivery_place"))
        .filter(delivery_date__gte=today, delivery_date__lte=end)
    )
    rows = list(qs.annotate(supplier_name=F("offer__supplier__name")).order_by("delivery_date", "pk")[:limit])
    return rows, qs.count()


@dataclass(frozen=True)
class SupplierShare:
    supplier_id: int
    name: str
    amount: Decimal
    contracts: int
    share: float  # of all committed amounts, 0..1


def supplier_concentration(
    *, organisation_id, limit: int | None = None, products: dict | None = None
) -> tuple[list[SupplierShare], Decimal]:
    """Suppliers by amount committed (approved, signed or notified contracts), largest first, with their
    share of the total. One query."""
    limit = limit or settings.DASHBOARD_LIST_SIZE
    if connection.vendor == "postgresql":
        found = figures.suppliers(organisation_id=organisation_id, limit=limit)
        if products is None:
            products = figures.per_product(organisation_id=organisation_id)
        total = sum((row["committed_ht"] for row in products.values()), ZERO)
        rows = [
            {"offer__supplier_id": pk, "offer__supplier__name": name, "amount": amount, "contracts": contracts}
            for pk, name, amount, contracts in found
        ]
    else:
        rows = list(
            Contract.objects.for_organisation(organisation_id)
            .filter(status__in=COMMITTED_STATUSES)
            .order_by()
            .values("offer__supplier_id", "offer__supplier__name")
            .annotate(amount=_sum(F("quantity") * F("unit_price")), contracts=Count("pk"))
            .order_by("-amount", "offer__supplier__name")
        )
        total = sum((row["amount"] for row in rows), ZERO)
    shares = [
        SupplierShare(
            supplier_id=row["offer__supplier_id"],
            name=row["offer__supplier__name"],
            amount=Decimal(row["amount"]).quantize(Decimal("0.01")),
            contracts=row["contracts"],
            share=float(row["amount"] / total) if total else 0.0,
        )
        for row in rows[:limit]
    ]
    return shares, Decimal(total).quantize(Decimal("0.01"))


def red_flags(*, organisation_id, limit: int | None = None):
    """Open cases answered by a supplier with an open red flag (procurement.selectors.flagged_suppliers), and
    those suppliers. Returns (suppliers, number of suppliers, number of cases). On PostgreSQL one statement
    (dashboard.figures.red_flags); elsewhere four queries: the flagged suppliers' ids (few), then the suppliers
    answering open cases, their number and the cases' number."""
    limit = limit or settings.DASHBOARD_LIST_SIZE
    if connection.vendor == "postgresql":
        params = {
            "reviews": [SanctionsScreening.Review.PENDING.value, SanctionsScreening.Review.CONFIRMED.value],
            "rejected": VettingDecision.Decision.REJECTED.value,
            "open": [str(status) for status in OPEN_STATUSES],
        }
        suppliers = figures.red_flags(organisation_id=organisation_id, params=params, limit=limit)
        return suppliers, (suppliers[0].total if suppliers else 0), (suppliers[0].cases if suppliers else 0)
    flagged = flagged_supplier_ids(organisation_id=organisation_id)
    suppliers = Supplier.objects.filter(
        pk__in=flagged, offers__case__status__in=OPEN_STATUSES, offers__case__organisation_id=organisation_id
    ).distinct()
    cases = PurchaseCase.objects.for_organisation(organisation_id).filter(
        status__in=OPEN_STATUSES, pk__in=Offer.objects.filter(supplier_id__in=flagged).values("case_id")
    )
    return list(suppliers.order_by("name", "pk")[:limit]), suppliers.count(), cases.count()


def _requisition_instants() -> tuple[datetime, datetime]:
    """The décret's period, its days in local time, as a range of instants [start, end) (indexed)."""
    start, end = settings.REQUISITION_PERIOD
    zone = timezone.get_current_timezone()
    return datetime.combine(start, time.min, tzinfo=zone), datetime.combine(
        end + timedelta(days=1), time.min, tzinfo=zone
    )


def requisition_risk_cases(*, organisation_id):
    """Cases whose masks count towards a quarter above the requisition threshold of décret 2020-281.

    Respirators and medical masks awarded (contracts not withdrawn) in the décret's period are summed per
    calendar quarter of the award; every case with such a contract in a quarter above the threshold is at risk."""
    start, end = _requisition_instants()
    masks = (
        Contract.objects.for_organisation(organisation_id)
        .exclude(status=ContractStatus.WITHDRAWN)
        .filter(offer__need_line__product__in=REQUISITIONABLE, created_at__gte=start, created_at__lt=end)
        .annotate(quarter=TruncQuarter("created_at"))
    )
    over = (
        masks.order_by()
        .values("quarter")
        .annotate(units=Sum("quantity"))
        .filter(units__gt=settings.REQUISITION_UNITS_PER_QUARTER)
        .values("quarter")
    )
    return PurchaseCase.objects.for_organisation(organisation_id).filter(
        pk__in=masks.filter(quarter__in=over).values("case_id")
    )


def first_requisition_risk_cases(*, organisation_id, limit: int | None = None) -> list[PurchaseCase]:
    """The first cases at risk of requisition (requisition_risk_cases), first created first, each carrying
    `total`, their number. One query."""
    limit = limit or settings.DASHBOARD_LIST_SIZE
    if connection.vendor != "postgresql":
        return list(
            requisition_risk_cases(organisation_id=organisation_id)
            .annotate(total=Window(Count("pk")))
            .order_by("created_at", "pk")[:limit]
        )
    start, end = _requisition_instants()
    params = {
        "tz": timezone.get_current_timezone_name(),  # as TruncQuarter
        "withdrawn": ContractStatus.WITHDRAWN.value,
        "products": [str(product) for product in REQUISITIONABLE],
        "start": start,
        "end": end,
        "units": settings.REQUISITION_UNITS_PER_QUARTER,
    }
    return figures.requisition_cases(organisation_id=organisation_id, params=params, limit=limit)


def dashboard_for(*, user, now=None) -> dict:
    """Everything the dashboard shows, for the user's organisation (a constant number of queries)."""
    organisation_id = user.organisation_id
    now = now or timezone.now()
    today = timezone.localdate(now)
    # The figures kept per product serve the amounts, the families, the suppliers' total and the execution.
    products = figures.per_product(organisation_id=organisation_id) if connection.vendor == "postgresql" else None
    stages, total = cases_per_stage(organisation_id=organisation_id, now=now)
    overdue, overdue_total = overdue_cases(
        organisation_id=organisation_id, now=now, total=sum(stage.overdue for stage in stages)
    )
    families, family_total = by_family(organisation_id=organisation_id, products=products)
    deliveries, deliveries_total = upcoming_deliveries(organisation_id=organisation_id, today=today)
    suppliers, committed_total = supplier_concentration(organisation_id=organisation_id, products=products)
    obligations, obligations_total = pending_obligations(
        organisation_id=organisation_id, today=today, limit=settings.DASHBOARD_LIST_SIZE
    )
    requisition_cases = first_requisition_risk_cases(organisation_id=organisation_id)
    flagged, flagged_total, flagged_cases = red_flags(organisation_id=organisation_id)

    return {
        "now": now,
        "stages": stages,
        "cases_total": total,
        "overdue": overdue,
        "overdue_total": overdue_total,
        "amounts": amounts(organisation_id=organisation_id, products=products),
        "time_to_contract": time_to_contract(organisation_id=organisation_id),
        "families": families,
        "family_total": family_total,
        "deliveries": deliveries,
        "deliveries_total": deliveries_total,
        "suppliers": suppliers,
        "committed_total": committed_total,
        "obligations": obligations,
        "obligations_total": obligations_total,
        "obligation_days": settings.DASHBOARD_OBLIGATION_DAYS,
        "requisition_cases": requisition_cases,
        "requisition_total": requisition_cases[0].total if requisition_cases else 0,
        "requisition_threshold": settings.REQUISITION_UNITS_PER_QUARTER,
        "flagged_suppliers": flagged,
        "flagged_total": flagged_total,
        "flagged_cases": flagged_cases,
        "execution": execution_quantities(organisation_id=organisation_id, products=products),
    }
