"""The dashboard's figures read from the tables kept by triggers (dashboard.models), on PostgreSQL.

Each read sums the rows of each key (one row per key once compacted, plus the deltas written since), so its cost
follows the number of stages, hours, products or suppliers, not the number of cases. The selectors call these on
PostgreSQL and compute from the base tables elsewhere; tests/dashboard checks both against the objects.

The lists (overdue page, deliveries, obligations, requisition risk, red flags) are one statement each, reading
what the page shows of each row with it, as model instances (raw querysets): no second query per list.
"""

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import DEFERRED

from accounts.models import User
from contracts.models import Contract
from dashboard.models import (
    ContractDelivery,
    DeliveryDayCount,
    ObligationDayCount,
    PendingObligation,
    ProductFigures,
    SignatureDelayHour,
    SignatureDelayMinute,
    StageCount,
    SupplierFigures,
)
from procurement.models import PurchaseCase
from suppliers.models import Supplier

PRODUCT_FIGURES = (
    "committed_ht",
    "committed_ttc",
    "committed_count",
    "signed_ht",
    "signed_ttc",
    "signed_count",
    "ordered",
    "estimated_ht",
    "needed",
    "lines_without_estimate",
)

AMOUNTS = {"committed_ht", "committed_ttc", "signed_ht", "signed_ttc", "estimated_ht"}


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


STAGES_SQL = f"""
WITH cutoff AS (
    SELECT status, cutoff, date_trunc('hour', cutoff, 'UTC') AS hour
    FROM unnest(%(statuses)s::varchar[], %(cutoffs)s::timestamptz[]) AS t(status, cutoff)
)
SELECT b.status, sum(b.cases)::bigint AS cases,
    coalesce(sum(b.cases) FILTER (WHERE b.hour < cutoff.hour), 0)::bigint AS late_hours,
    (SELECT count(*) FROM procurement_purchasecase c
     WHERE c.organisation_id = %(org)s AND c.status = b.status
       AND c.stage_entered_at >= cutoff.hour AND c.stage_entered_at < cutoff.cutoff) AS late_in_hour,
    (SELECT min(c.stage_entered_at) FROM procurement_purchasecase c
     WHERE c.organisation_id = %(org)s AND c.status = b.status) AS since
FROM {_table(StageCount)} b LEFT JOIN cutoff ON cutoff.status = b.status
WHERE b.organisation_id = %(org)s
GROUP BY b.status, cutoff.hour, cutoff.cutoff
HAVING sum(b.cases) <> 0
"""  # noqa: S608  # nosec B608 (table names from the models, values as parameters)


def stages(*, organisation_id, cutoffs: dict[str, datetime], longest_of: set[str]) -> dict[str, dict]:
    """Per status: cases, cases entered before the status's cutoff (its stage target ago), and the earliest
    entry (for the statuses of `longest_of`). One query: the hours wholly before the cutoff come from the
    counts, the cases of the hour that holds the cutoff and the earliest entry from the cases' index."""
    statuses = list(cutoffs)
    with connection.cursor() as cursor:
        cursor.execute(
            STAGES_SQL,
            {"org": organisation_id, "statuses": statuses, "cutoffs": [cutoffs[s] for s in statuses]},
        )
        rows = cursor.fetchall()
    return {
        status: {
            "n": cases,
            "late": (late_hours + late_in_hour) if status in cutoffs else 0,
            "since": since if status in longest_of else None,
        }
        for status, cases, late_hours, late_in_hour, since in rows
    }


# The first cases of each stage past its cutoff, each read from the (organisation, status, entered) index, then
# the page of those with what the dashboard shows: the work follows the page's size, not the number of overdue
# cases.
OVERDUE_SQL = """
WITH page AS (
    SELECT f.id, f.stage_entered_at
    FROM unnest(%(statuses)s::varchar[], %(cutoffs)s::timestamptz[]) AS t(status, cutoff)
    CROSS JOIN LATERAL (
        SELECT c.id, c.stage_entered_at FROM procurement_purchasecase c
        WHERE c.organisation_id = %(org)s AND c.status = t.status AND c.stage_entered_at < t.cutoff
        ORDER BY c.stage_entered_at, c.id LIMIT %(limit)s
    ) f
    ORDER BY f.stage_entered_at, f.id
    LIMIT %(limit)s
)
SELECT c.id, c.reference, c.title, c.status, c.stage_entered_at, c.owner_id,
       u.username AS owner_username, u.first_name AS owner_first_name, u.last_name AS owner_last_name
FROM page JOIN procurement_purchasecase c ON c.id = page.id JOIN accounts_user u ON u.id = c.owner_id
ORDER BY page.stage_entered_at, page.id
"""


def overdue_page(*, organisation_id, cutoffs: dict[str, datetime], limit: int) -> list[PurchaseCase]:
    """The first `limit` cases entered in their status before its cutoff, longest in stage first, with their
    reference, title, status, entry and lead buyer (loaded: names only)."""
    statuses = list(cutoffs)
    params = {"org": organisation_id, "statuses": statuses, "cutoffs": [cutoffs[s] for s in statuses], "limit": limit}
    cases = list(PurchaseCase.objects.raw(OVERDUE_SQL, params))
    for case in cases:
        case.owner = partial_instance(
            User,
            id=case.owner_id,
            username=case.owner_username,
            first_name=case.owner_first_name,
            last_name=case.owner_last_name,
        )
    return cases


def partial_instance(model, **values):
    """An instance of `model` as loaded from the database with only these fields (the others deferred)."""
    fields = model._meta.concrete_fields
    return model.from_db(
        connection.alias, [field.attname for field in fields], [values.get(field.attname, DEFERRED) for field in fields]
    )


# Masks (products of the décret) awarded in its period, per quarter of the award in local time; the cases with
# such a contract in a quarter above the threshold, first created first, each row with their number.
REQUISITION_SQL = """
WITH masks AS (
    SELECT k.case_id, k.quantity, date_trunc('quarter', k.created_at AT TIME ZONE %(tz)s) AS quarter
    FROM contracts_contract k
    JOIN procurement_purchasecase c ON c.id = k.case_id
    JOIN procurement_offer o ON o.id = k.offer_id
    JOIN procurement_needline n ON n.id = o.need_line_id
    WHERE c.organisation_id = %(org)s AND k.status <> %(withdrawn)s AND n.product = ANY(%(products)s)
      AND k.created_at >= %(start)s AND k.created_at < %(end)s
)
SELECT c.id, c.reference, c.title, c.status, c.created_at, count(*) OVER () AS total
FROM procurement_purchasecase c
WHERE c.id IN (
    SELECT case_id FROM masks
    WHERE quarter IN (SELECT quarter FROM masks GROUP BY quarter HAVING sum(quantity) > %(units)s)
)
ORDER BY c.created_at, c.id
LIMIT %(limit)s
"""


def requisition_cases(*, organisation_id, params: dict, limit: int) -> list:
    """The first `limit` cases at risk of requisition (PurchaseCase with reference, title and status, and
    `total`, their number). `params`: tz, withdrawn, products, start and end (instants), units."""
    return list(PurchaseCase.objects.raw(REQUISITION_SQL, {**params, "org": organisation_id, "limit": limit}))


# procurement.selectors.flagged_suppliers in one statement: the latest screening of each supplier against the
# latest list of each source, awaiting a jurist or confirmed; or the supplier's latest vetting decision is a
# rejection. Then the flagged suppliers answering open cases: the first by name, their number and the cases'.
# tests/dashboard checks it against the selector on every kind of flag.
RED_FLAGS_SQL = """
WITH latest_lists AS (
    SELECT DISTINCT ON (source) id FROM suppliers_sanctionslist
    ORDER BY source, published_at DESC NULLS LAST, imported_at DESC, id DESC
), screenings AS (
    SELECT DISTINCT ON (sc.supplier_id, sc.sanctions_list_id) sc.supplier_id, sc.review
    FROM suppliers_sanctionsscreening sc JOIN suppliers_supplier s ON s.id = sc.supplier_id
    WHERE s.organisation_id = %(org)s AND sc.sanctions_list_id IN (SELECT id FROM latest_lists)
    ORDER BY sc.supplier_id, sc.sanctions_list_id, sc.screened_at DESC, sc.id DESC
), flagged AS (
    SELECT supplier_id FROM screenings WHERE review = ANY(%(reviews)s)
    UNION
    SELECT v.supplier_id FROM procurement_vettingdecision v JOIN procurement_purchasecase c ON c.id = v.case_id
    WHERE c.organisation_id = %(org)s AND v.decision = %(rejected)s
      AND NOT EXISTS (
          SELECT FROM procurement_vettingdecision later
          WHERE later.supplier_id = v.supplier_id AND (later.decided_at, later.id) > (v.decided_at, v.id)
      )
), answering AS (
    SELECT o.supplier_id, o.case_id FROM procurement_offer o JOIN procurement_purchasecase c ON c.id = o.case_id
    WHERE o.supplier_id IN (SELECT supplier_id FROM flagged)
      AND c.organisation_id = %(org)s AND c.status = ANY(%(open)s)
)
SELECT s.id, s.name, (SELECT count(DISTINCT supplier_id) FROM answering) AS total,
       (SELECT count(DISTINCT case_id) FROM answering) AS cases
FROM suppliers_supplier s
WHERE s.id IN (SELECT supplier_id FROM answering)
ORDER BY s.name, s.id
LIMIT %(limit)s
"""


def red_flags(*, organisation_id, params: dict, limit: int) -> list:
    """The first flagged suppliers answering open cases (Supplier with its name, and `total` and `cases`, the
    numbers of such suppliers and cases). `params`: reviews (flagging), rejected, open (statuses)."""
    return list(Supplier.objects.raw(RED_FLAGS_SQL, {**params, "org": organisation_id, "limit": limit}))


def per_product(*, organisation_id) -> dict[str, dict]:
    """Per product: the sums of ProductFigures (amounts excl. and incl. VAT, counts, units)."""
    table = _table(ProductFigures)
    columns = ", ".join(f"sum({name}){'' if name in AMOUNTS else '::bigint'}" for name in PRODUCT_FIGURES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT product, {columns} FROM {table} WHERE organisation_id = %s GROUP BY product",  # noqa: S608  # nosec B608
            [organisation_id],
        )
        return {row[0]: dict(zip(PRODUCT_FIGURES, row[1:], strict=True)) for row in cursor.fetchall()}


SUPPLIERS_SQL = f"""
WITH deltas AS (
    SELECT DISTINCT supplier_id FROM {_table(SupplierFigures)} WHERE organisation_id = %(org)s AND NOT compacted
), largest AS (
    SELECT supplier_id FROM {_table(SupplierFigures)} WHERE organisation_id = %(org)s AND compacted
    ORDER BY committed_ht DESC FETCH FIRST (%(limit)s + (SELECT count(*) FROM deltas)) ROWS WITH TIES
), figures AS (
    -- Each candidate's rows from the (organisation, supplier) index: the planner cannot know how few they are.
    SELECT c.supplier_id, f.amount, f.contracts
    FROM (SELECT supplier_id FROM deltas UNION SELECT supplier_id FROM largest) c
    CROSS JOIN LATERAL (
        SELECT sum(committed_ht) AS amount, sum(contracts)::bigint AS contracts FROM {_table(SupplierFigures)}
        WHERE organisation_id = %(org)s AND supplier_id = c.supplier_id
    ) f
    WHERE f.contracts <> 0
), top AS (
    SELECT supplier_id, amount, contracts FROM figures ORDER BY amount DESC FETCH FIRST (%(limit)s) ROWS WITH TIES
)
SELECT t.supplier_id, s.name, t.amount, t.contracts
FROM top t JOIN suppliers_supplier s ON s.id = t.supplier_id
ORDER BY t.amount DESC, s.name LIMIT %(limit)s
"""  # noqa: S608  # nosec B608
# Why the candidates suffice: a supplier without deltas keeps its folded amount; if it is not among the
# `limit + deltas` largest folded ones, at least `limit` suppliers without deltas are as large (ties included).


def suppliers(*, organisation_id, limit: int) -> list[tuple]:
    """(supplier id, name, amount, contracts) of the suppliers with the largest amounts committed, largest first:
    the largest folded rows from an index, plus the suppliers changed since the last folding."""
    with connection.cursor() as cursor:
        cursor.execute(SUPPLIERS_SQL, {"org": organisation_id, "limit": limit})
        return cursor.fetchall()


def _rank_in(counts: list[tuple[int, int]], rank: int) -> tuple[int, int]:
    """(key, rank within the key) of the `rank`-th (0-based) value of sorted (key, count) pairs."""
    seen = 0
    for key, count in counts:
        if rank < seen + count:
            return key, rank - seen
        seen += count
    raise IndexError(rank)


def signature_delay_percentiles(*, organisation_id, fractions: tuple[float, ...]) -> tuple[int, list]:
    """The number of signed contracts and, for each fraction, the continuous percentile (interpolated as
    PostgreSQL's percentile_cont) of their need-to-signature delays, to the minute. Two queries: the hours, then
    the minutes of the few hours that hold the ranks."""
    hours = _sums(SignatureDelayHour, "hours", organisation_id)
    total = sum(count for _key, count in hours)
    if not total:
        return 0, [None for _ in fractions]
    ranks = {}
    for fraction in fractions:
        position = fraction * (total - 1)
        low = int(position)
        ranks[fraction] = (position, low, min(low + 1, total - 1))
    wanted = {_rank_in(hours, rank)[0] for _p, low, high in ranks.values() for rank in (low, high)}
    minutes = _sums(SignatureDelayMinute, "minutes", organisation_id, hours=wanted)
    before = {}  # contracts in the hours before each wanted hour
    seen = 0
    for key, count in hours:
        before[key] = seen
        seen += count
    per_hour: dict[int, list[tuple[int, int]]] = {}
    for minute, count in minutes:
        per_hour.setdefault(minute // 60, []).append((minute, count))

    def value(rank: int) -> int:
        hour, _ = _rank_in(hours, rank)
        minute, _ = _rank_in(per_hour[hour], rank - before[hour])
        return minute

    results = []
    for fraction in fractions:
        position, low, high = ranks[fraction]
        low_value, high_value = value(low), value(high)
        results.append(timedelta(minutes=low_value + (high_value - low_value) * (position - low)))
    return total, results


def _sums(model, key: str, organisation_id, hours: set[int] | None = None) -> list[tuple[int, int]]:
    """Sorted (key, contracts) of `model` for the organisation; for minutes, only those of `hours`."""
    table, column = _table(model), connection.ops.quote_name(key)
    where, params = "organisation_id = %s", [organisation_id]
    if hours is not None:
        where += " AND (" + " OR ".join(f"({column} >= %s AND {column} < %s)" for _ in hours) + ")"
        for hour in sorted(hours):
            params += [hour * 60, hour * 60 + 60]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column}, sum(contracts) FROM {table} WHERE {where} "  # noqa: S608  # nosec B608
            f"GROUP BY {column} HAVING sum(contracts) <> 0 ORDER BY {column}",
            params,
        )
        return [(key, int(count)) for key, count in cursor.fetchall()]


def compact() -> None:
    """Fold the rows of each key into one (dashboard_compact_figures, in SQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT dashboard_compact_figures()")


def rebuild() -> None:
    """Recompute every table from the base tables (dashboard_rebuild_all, in SQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT dashboard_rebuild_all()")


# The page (an index range) with what the dashboard shows of each contract, and the number (from the counts per
# day), in one statement.
DELIVERIES_SQL = f"""
SELECT k.id, k.reference, k.status, k.quantity, d.delivery_date, d.delivery_place, s.name AS supplier_name,
       (SELECT coalesce(sum(contracts), 0)::bigint FROM {_table(DeliveryDayCount)}
        WHERE organisation_id = %(org)s AND day BETWEEN %(start)s AND %(end)s) AS total
FROM (
    SELECT contract_id, delivery_date, delivery_place FROM {_table(ContractDelivery)}
    WHERE organisation_id = %(org)s AND delivery_date BETWEEN %(start)s AND %(end)s
    ORDER BY delivery_date, contract_id LIMIT %(limit)s
) d
JOIN contracts_contract k ON k.id = d.contract_id
JOIN procurement_offer o ON o.id = k.offer_id
JOIN suppliers_supplier s ON s.id = o.supplier_id
ORDER BY d.delivery_date, d.contract_id
"""  # noqa: S608  # nosec B608


def deliveries(*, organisation_id, start, end, limit: int) -> tuple[list[Contract], int]:
    """The committed contracts delivering between two days, soonest first, each with its reference, status,
    quantity, delivery_date, delivery_place and supplier_name; and their number."""
    params = {"org": organisation_id, "start": start, "end": end, "limit": limit}
    rows = list(Contract.objects.raw(DELIVERIES_SQL, params))
    return rows, (rows[0].total if rows else 0)


# Overdue first then by due date: an earlier due date is the same order, read from the index. Each with the
# contract's reference, and the number (from the counts per day), in one statement.
OBLIGATIONS_SQL = f"""
SELECT k.id, k.reference, k.status, p.code, p.due,
       (SELECT coalesce(sum(obligations), 0)::bigint FROM {_table(ObligationDayCount)}
        WHERE organisation_id = %(org)s AND day <= %(horizon)s) AS total
FROM (
    SELECT contract_id, code, due, contract_created_at, position FROM {_table(PendingObligation)}
    WHERE organisation_id = %(org)s AND due <= %(horizon)s
    ORDER BY due, contract_created_at DESC, contract_id DESC, position LIMIT %(limit)s
) p
JOIN contracts_contract k ON k.id = p.contract_id
ORDER BY p.due, p.contract_created_at DESC, p.contract_id DESC, p.position
"""  # noqa: S608  # nosec B608


def obligations(*, organisation_id, horizon, limit: int) -> tuple[list[Contract], int]:
    """The pending obligations due by `horizon` (overdue ones included), earliest first: one Contract per
    obligation, with its reference and status, and the obligation's `code` and `due`; and their number."""
    rows = list(Contract.objects.raw(OBLIGATIONS_SQL, {"org": organisation_id, "horizon": horizon, "limit": limit}))
    return rows, (rows[0].total if rows else 0)
