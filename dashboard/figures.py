"""The dashboard's figures read from the tables kept by triggers (dashboard.models), on PostgreSQL.

Each read sums the rows of each key (one row per key once compacted, plus the deltas written since), so its cost
follows the number of stages, hours, products or suppliers, not the number of cases. The selectors call these on
PostgreSQL and compute from the base tables elsewhere; tests/dashboard checks both against the objects.
"""

from datetime import datetime, timedelta

from django.db import connection

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
    SELECT supplier_id, sum(committed_ht) AS amount, sum(contracts)::bigint AS contracts
    FROM {_table(SupplierFigures)}
    WHERE organisation_id = %(org)s
      AND supplier_id IN (SELECT supplier_id FROM deltas UNION SELECT supplier_id FROM largest)
    GROUP BY supplier_id HAVING sum(contracts) <> 0
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


DELIVERIES_SQL = f"""
SELECT contract_id, delivery_date, delivery_place FROM {_table(ContractDelivery)}
WHERE organisation_id = %(org)s AND delivery_date BETWEEN %(start)s AND %(end)s
ORDER BY delivery_date, contract_id LIMIT %(limit)s
"""  # noqa: S608  # nosec B608
DELIVERIES_COUNT_SQL = f"""
SELECT coalesce(sum(contracts), 0)::bigint FROM {_table(DeliveryDayCount)}
WHERE organisation_id = %(org)s AND day BETWEEN %(start)s AND %(end)s
"""  # noqa: S608  # nosec B608


def deliveries(*, organisation_id, start, end, limit: int) -> tuple[list[tuple], int]:
    """(contract id, delivery date, place) of the committed contracts delivering between two days, soonest
    first (an index range), and their number (from the counts per day)."""
    params = {"org": organisation_id, "start": start, "end": end, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(DELIVERIES_SQL, params)
        rows = cursor.fetchall()
        cursor.execute(DELIVERIES_COUNT_SQL, params)
        return rows, cursor.fetchone()[0]


# Overdue first then by due date: an earlier due date is the same order, read from the index.
OBLIGATIONS_SQL = f"""
SELECT contract_id, code, due FROM {_table(PendingObligation)}
WHERE organisation_id = %(org)s AND due <= %(horizon)s
ORDER BY due, contract_created_at DESC, contract_id DESC, position LIMIT %(limit)s
"""  # noqa: S608  # nosec B608
OBLIGATIONS_COUNT_SQL = f"""
SELECT coalesce(sum(obligations), 0)::bigint FROM {_table(ObligationDayCount)}
WHERE organisation_id = %(org)s AND day <= %(horizon)s
"""  # noqa: S608  # nosec B608


def obligations(*, organisation_id, horizon, limit: int) -> tuple[list[tuple], int]:
    """(contract id, code, due) of the pending obligations due by `horizon` (overdue ones included), earliest
    first (an index range), and their number (from the counts per day)."""
    params = {"org": organisation_id, "horizon": horizon, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(OBLIGATIONS_SQL, params)
        rows = cursor.fetchall()
        cursor.execute(OBLIGATIONS_COUNT_SQL, params)
        return rows, cursor.fetchone()[0]
