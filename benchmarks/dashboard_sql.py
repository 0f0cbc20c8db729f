"""The dashboard's figures written as plain SQL: the baseline of the dashboard benchmark (DESIGN.md §8: the
dashboard within 1.2× the time of the raw SQL computing the same figures).

Covered: every figure — cases per stage (count, past target), overdue cases, amounts committed / signed /
estimated, obligations after signature and red flags (their statements are the dashboard's own: the red flags'
is checked against the ORM rule in tests/dashboard/test_raw_figures.py), need-to-signature percentiles, amounts
and units by product family, deliveries of the next 7 days, suppliers by amount, requisition risk (the cases and
their number), red flags (the flagged suppliers answering open cases, their number, the open cases they answer),
execution quantities per product (ordered to paid); the obligations' horizon and the requisition threshold are
settings, taken as they are. The lists select what the page shows of each row (reference, title, status, lead
buyer; contract reference, quantity, supplier; supplier name), as the dashboard must read it; the comparison is on
their ids.
When dashboard_for computes a new figure, add its SQL here and its extraction to `figures_of_dashboard`: the
benchmark reports which of the dashboard's keys the baseline does not cover, and whether the figures agree.

Two versions: `dashboard_figures` reads the tables the triggers keep (dashboard.models), as the dashboard does,
and is the budget's baseline; `base_table_figures` computes everything from the cases and contracts, to show
what the kept tables save.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from contracts.models import SIGNED_STATUSES, ContractStatus
from dashboard.figures import RED_FLAGS_SQL
from execution.models import ADMITTED
from procurement.catalogue import FAMILY, REQUISITIONABLE, Family
from procurement.models import OPEN_STATUSES, VettingDecision
from suppliers.models import SanctionsScreening

COMMITTED = [ContractStatus.APPROVED.value, *(s.value for s in SIGNED_STATUSES)]
SIGNED = [s.value for s in SIGNED_STATUSES]
# The dashboard's keys whose figures the SQL below computes (the others are reported as not covered).
COVERED_KEYS = {
    "stages",
    "cases_total",
    "overdue",
    "overdue_total",
    "amounts",
    "obligations",
    "obligations_total",
    "time_to_contract",
    "families",
    "family_total",
    "deliveries",
    "deliveries_total",
    "suppliers",
    "committed_total",
    "requisition_cases",
    "requisition_total",
    "flagged_suppliers",
    "flagged_total",
    "flagged_cases",
    "execution",
    # Settings shown with the figures, not computed: compared as they are.
    "obligation_days",
    "requisition_threshold",
}
EXECUTION_FIGURES = ("ordered", "shipped", "received", "admitted", "allocated", "invoiced", "paid")

STAGES_SQL = """
SELECT status, count(*), count(*) FILTER (WHERE {late})
FROM procurement_purchasecase
WHERE organisation_id = %(org)s
GROUP BY status
"""

OVERDUE_SQL = """
WITH late AS (
    SELECT id, stage_entered_at, owner_id FROM procurement_purchasecase
    WHERE organisation_id = %(org)s AND ({late})
)
SELECT late.id, u.username, (SELECT count(*) FROM late)
FROM late JOIN accounts_user u ON u.id = late.owner_id
ORDER BY late.stage_entered_at, late.id
LIMIT %(limit)s
"""

CONTRACT_AMOUNTS_SQL = """
SELECT coalesce(sum(k.quantity * k.unit_price) FILTER (WHERE k.status = ANY(%(committed)s)), 0),
       coalesce(sum(k.quantity * k.unit_price) FILTER (WHERE k.status = ANY(%(signed)s)), 0),
       count(*) FILTER (WHERE k.status = ANY(%(committed)s)),
       count(*) FILTER (WHERE k.status = ANY(%(signed)s))
FROM contracts_contract k JOIN procurement_purchasecase c ON c.id = k.case_id
WHERE c.organisation_id = %(org)s
"""

ESTIMATED_SQL = """
SELECT coalesce(sum(n.quantity * n.estimated_unit_price), 0), count(*) FILTER (WHERE n.estimated_unit_price IS NULL)
FROM procurement_needline n JOIN procurement_purchasecase c ON c.id = n.case_id
WHERE c.organisation_id = %(org)s AND c.status = ANY(%(open)s)
"""

TIME_TO_CONTRACT_SQL = """
SELECT count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY k.signed_at - c.created_at),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY k.signed_at - c.created_at)
FROM contracts_contract k JOIN procurement_purchasecase c ON c.id = k.case_id
WHERE c.organisation_id = %(org)s AND k.status = ANY(%(signed)s) AND k.signed_at IS NOT NULL
"""

# Per product (families are sums of products, done in Python as the dashboard does).
PRODUCT_CONTRACTS_SQL = """
SELECT n.product,
       coalesce(sum(k.quantity * k.unit_price) FILTER (WHERE k.status = ANY(%(committed)s)), 0),
       coalesce(sum(k.quantity * k.unit_price * (1 + k.vat_rate)) FILTER (WHERE k.status = ANY(%(committed)s)), 0),
       coalesce(sum(k.quantity * k.unit_price) FILTER (WHERE k.status = ANY(%(signed)s)), 0),
       coalesce(sum(k.quantity * k.unit_price * (1 + k.vat_rate)) FILTER (WHERE k.status = ANY(%(signed)s)), 0),
       coalesce(sum(k.quantity) FILTER (WHERE k.status = ANY(%(signed)s)), 0),
       count(*) FILTER (WHERE k.status = ANY(%(signed)s))
FROM contracts_contract k
JOIN procurement_purchasecase c ON c.id = k.case_id
JOIN procurement_offer o ON o.id = k.offer_id
JOIN procurement_needline n ON n.id = o.need_line_id
WHERE c.organisation_id = %(org)s
GROUP BY n.product
"""

PRODUCT_NEEDS_SQL = """
SELECT n.product, coalesce(sum(n.quantity * n.estimated_unit_price), 0), coalesce(sum(n.quantity), 0)
FROM procurement_needline n JOIN procurement_purchasecase c ON c.id = n.case_id
WHERE c.organisation_id = %(org)s AND c.status = ANY(%(open)s)
GROUP BY n.product
"""

# Committed contracts whose current terms (final round, else the latest) deliver in the next 7 days.
DELIVERIES_SQL = """
WITH terms AS (
    SELECT DISTINCT ON (r.offer_id) r.offer_id, r.delivery_date
    FROM procurement_negotiationround r
    WHERE r.offer_id IN (
        SELECT offer_id FROM procurement_negotiationround WHERE delivery_date BETWEEN %(today)s AND %(week)s
    )
    ORDER BY r.offer_id, r.is_final DESC, r.number DESC, r.id DESC
)
SELECT k.id, count(*) OVER ()
FROM contracts_contract k
JOIN procurement_purchasecase c ON c.id = k.case_id
JOIN terms t ON t.offer_id = k.offer_id
WHERE c.organisation_id = %(org)s AND k.status = ANY(%(committed)s)
  AND t.delivery_date BETWEEN %(today)s AND %(week)s
ORDER BY t.delivery_date, k.id
LIMIT %(limit)s
"""

SUPPLIERS_SQL = """
SELECT o.supplier_id, sum(k.quantity * k.unit_price) AS amount
FROM contracts_contract k
JOIN procurement_purchasecase c ON c.id = k.case_id
JOIN procurement_offer o ON o.id = k.offer_id
JOIN suppliers_supplier s ON s.id = o.supplier_id
WHERE c.organisation_id = %(org)s AND k.status = ANY(%(committed)s)
GROUP BY o.supplier_id, s.name
ORDER BY amount DESC, s.name
"""

REQUISITION_SQL = """
WITH masks AS (
    SELECT k.case_id, k.quantity, date_trunc('quarter', k.created_at AT TIME ZONE %(tz)s) AS quarter
    FROM contracts_contract k
    JOIN procurement_purchasecase c ON c.id = k.case_id
    JOIN procurement_offer o ON o.id = k.offer_id
    JOIN procurement_needline n ON n.id = o.need_line_id
    WHERE c.organisation_id = %(org)s AND k.status <> 'withdrawn' AND n.product = ANY(%(masks)s)
      AND (k.created_at AT TIME ZONE %(tz)s)::date BETWEEN %(req_start)s AND %(req_end)s
)
SELECT c.id, count(*) OVER (), c.reference, c.title
FROM procurement_purchasecase c
WHERE c.organisation_id = %(org)s AND c.id IN (
    SELECT case_id FROM masks
    WHERE quarter IN (SELECT quarter FROM masks GROUP BY quarter HAVING sum(quantity) > %(req_units)s)
)
ORDER BY c.created_at, c.id
LIMIT %(limit)s
"""

# Per product of the organisation's signed contracts, the units shipped, received, admitted, allocated, invoiced
# and paid (the units ordered are the contracts' own: PRODUCT_CONTRACTS_SQL, or the figures kept per product).
# The execution rows, each with its contract, are joined once to the signed contracts and their products.
EXECUTION_SQL = """
WITH steps (contract_id, shipped, received, admitted, allocated, invoiced, paid) AS (
    SELECT l.contract_id, sh.quantity, 0, 0, 0, 0, 0
    FROM execution_shipment sh JOIN execution_deliverylot l ON l.id = sh.lot_id
    UNION ALL
    SELECT l.contract_id, 0, r.quantity_received,
           CASE WHEN r.status = ANY(%(admitted)s) THEN r.quantity_received ELSE 0 END, 0, 0, 0
    FROM execution_reception r
    JOIN execution_shipment sh ON sh.id = r.shipment_id
    JOIN execution_deliverylot l ON l.id = sh.lot_id
    UNION ALL
    SELECT a.contract_id, 0, 0, 0, a.quantity, 0, 0 FROM execution_allocation a
    UNION ALL
    SELECT i.contract_id, 0, 0, 0, 0, i.quantity, 0 FROM execution_invoice i
    UNION ALL
    SELECT i.contract_id, 0, 0, 0, 0, 0, p.quantity
    FROM execution_payment p JOIN execution_invoice i ON i.id = p.invoice_id
)
SELECT n.product, sum(steps.shipped)::bigint, sum(steps.received)::bigint, sum(steps.admitted)::bigint,
       sum(steps.allocated)::bigint, sum(steps.invoiced)::bigint, sum(steps.paid)::bigint
FROM steps
JOIN contracts_contract k ON k.id = steps.contract_id
JOIN procurement_purchasecase c ON c.id = k.case_id
JOIN procurement_offer o ON o.id = k.offer_id
JOIN procurement_needline n ON n.id = o.need_line_id
WHERE c.organisation_id = %(org)s AND k.status = ANY(%(signed)s)
GROUP BY n.product
"""

# contracts.obligations.contract_obligations for every signed contract, in SQL: prefect transmission and award
# notice from the EU threshold, DECP publication from its threshold once notified, the URSSAF vigilance
# certificate (SIRET suppliers, from its threshold incl. VAT) due at the latest certificate's expiry. The
# threshold in force on a day is the one with the latest start among those valid that day (Threshold.amount_on).
OBLIGATIONS_SQL = """
WITH signed AS (
    SELECT k.id, k.reference, k.created_at,
           (k.signed_at AT TIME ZONE %(tz)s)::date AS signed_on,
           (k.notified_at AT TIME ZONE %(tz)s)::date AS notified_on,
           round(k.quantity * k.unit_price, 2) AS ht,
           round(k.quantity * k.unit_price, 2) + round(round(k.quantity * k.unit_price, 2) * k.vat_rate, 2) AS ttc,
           k.prefect_transmitted_on, k.award_notice_published_on, k.decp_published_on,
           s.identifier_type, urssaf.latest
    FROM contracts_contract k
    JOIN procurement_purchasecase c ON c.id = k.case_id
    JOIN procurement_offer o ON o.id = k.offer_id
    JOIN suppliers_supplier s ON s.id = o.supplier_id
    LEFT JOIN (
        SELECT supplier_id, max(expires_on) AS latest FROM suppliers_supplierdocument
        WHERE kind = 'urssaf' AND expires_on IS NOT NULL GROUP BY supplier_id
    ) urssaf ON urssaf.supplier_id = s.id
    WHERE c.organisation_id = %(org)s AND k.signed_at IS NOT NULL AND k.status <> 'withdrawn'
), day_limits AS (
    -- Per day a contract was signed or notified (a few dozen days), the thresholds in force that day.
    SELECT d.day,
           (array_agg(t.amount ORDER BY t.valid_from DESC) FILTER (WHERE t.kind = 'eu_supplies'))[1] AS eu,
           (array_agg(t.amount ORDER BY t.valid_from DESC) FILTER (WHERE t.kind = 'decp'))[1] AS decp,
           (array_agg(t.amount ORDER BY t.valid_from DESC) FILTER (WHERE t.kind = 'vigilance'))[1] AS vigilance
    FROM (SELECT signed_on AS day FROM signed UNION SELECT notified_on FROM signed WHERE notified_on IS NOT NULL) d
    JOIN procurement_threshold t ON t.valid_from <= d.day AND (t.valid_until IS NULL OR d.day <= t.valid_until)
    GROUP BY d.day
), limits AS (
    SELECT signed.*, at_signature.eu, at_signature.vigilance, at_notification.decp
    FROM signed
    LEFT JOIN day_limits at_signature ON at_signature.day = signed.signed_on
    LEFT JOIN day_limits at_notification ON at_notification.day = signed.notified_on
), obligation AS (
    SELECT id, reference, created_at, 1 AS position, 'prefect' AS code, signed_on + 15 AS due,
           prefect_transmitted_on AS done
    FROM limits WHERE ht >= eu
    UNION ALL
    SELECT id, reference, created_at, 2, 'award_notice', signed_on + 30, award_notice_published_on
    FROM limits WHERE ht >= eu
    UNION ALL
    SELECT id, reference, created_at, 3, 'decp', (notified_on + interval '2 months')::date, decp_published_on
    FROM limits WHERE notified_on IS NOT NULL AND ht >= decp
    UNION ALL
    SELECT id, reference, created_at, 4, 'vigilance',
           CASE WHEN latest > signed_on THEN latest ELSE (signed_on + interval '6 months')::date END, NULL
    FROM limits WHERE identifier_type = 'SIRET' AND ttc >= vigilance
)
SELECT id, reference, code, due, due < %(today)s, count(*) OVER ()
FROM obligation
WHERE done IS NULL AND due <= %(horizon)s
ORDER BY due < %(today)s DESC, due, created_at DESC, id DESC, position
LIMIT %(limit)s
"""


def _late_condition(now) -> tuple[str, dict]:
    """Past the stage target (settings.STAGE_TARGET_HOURS), as a WHERE clause and its parameters."""
    clauses, params = [], {}
    for index, (stage, hours) in enumerate(settings.STAGE_TARGET_HOURS.items()):
        clauses.append(f"(status = %(stage{index})s AND stage_entered_at < %(cutoff{index})s)")
        params |= {f"stage{index}": stage, f"cutoff{index}": now - timedelta(hours=hours)}
    return " OR ".join(clauses) or "false", params


def _params(organisation_id: int, now) -> tuple[str, dict]:
    """The late condition and the parameters shared by the queries of both versions."""
    late, late_params = _late_condition(now)
    stages = list(settings.STAGE_TARGET_HOURS)
    return late, {
        "org": organisation_id,
        "limit": settings.DASHBOARD_LIST_SIZE,
        "committed": COMMITTED,
        "signed": SIGNED,
        "open": list(OPEN_STATUSES),
        "tz": settings.TIME_ZONE,
        "today": timezone.localdate(now),
        "horizon": timezone.localdate(now) + timedelta(days=settings.DASHBOARD_OBLIGATION_DAYS),
        "week": timezone.localdate(now) + timedelta(days=7),
        "masks": [str(product) for product in REQUISITIONABLE],
        "req_start": settings.REQUISITION_PERIOD[0],
        "req_end": settings.REQUISITION_PERIOD[1],
        "req_units": settings.REQUISITION_UNITS_PER_QUARTER,
        "admitted": [str(status) for status in ADMITTED],
        "reviews": [SanctionsScreening.Review.PENDING.value, SanctionsScreening.Review.CONFIRMED.value],
        "rejected": VettingDecision.Decision.REJECTED.value,
        "stages": stages,
        "cutoffs": [now - timedelta(hours=settings.STAGE_TARGET_HOURS[s]) for s in stages],
        **late_params,
    }


def base_table_figures(*, organisation_id: int, now) -> dict:
    """The figures straight from the base tables (one query per figure), as plain values comparable with
    `figures_of_dashboard` (the need-to-signature percentiles to the second, not to the minute)."""
    late, params = _params(organisation_id, now)
    limit = params["limit"]
    with connection.cursor() as cursor:
        cursor.execute(STAGES_SQL.format(late=late), params)
        stages = {status: (count, overdue) for status, count, overdue in cursor.fetchall()}
        cursor.execute(OVERDUE_SQL.format(late=late), params)
        overdue = cursor.fetchall()
        cursor.execute(CONTRACT_AMOUNTS_SQL, params)
        committed, signed, committed_count, signed_count = cursor.fetchone()
        cursor.execute(ESTIMATED_SQL, params)
        estimated, lines_without_estimate = cursor.fetchone()
        cursor.execute(OBLIGATIONS_SQL, params)
        obligations = cursor.fetchall()
        cursor.execute(TIME_TO_CONTRACT_SQL, params)
        signed_count_ttc, median, p90 = cursor.fetchone()
        cursor.execute(PRODUCT_CONTRACTS_SQL, params)
        product_contracts = cursor.fetchall()
        cursor.execute(PRODUCT_NEEDS_SQL, params)
        product_needs = cursor.fetchall()
        cursor.execute(DELIVERIES_SQL, params)
        deliveries = cursor.fetchall()
        cursor.execute(SUPPLIERS_SQL, params)
        suppliers = cursor.fetchall()
        cursor.execute(REQUISITION_SQL, params)
        requisition = cursor.fetchall()
        cursor.execute(RED_FLAGS_SQL, params)
        flagged = cursor.fetchall()
        cursor.execute(EXECUTION_SQL, params)
        steps = cursor.fetchall()
    families = _families([row[:6] for row in product_contracts], product_needs)
    ordered = {row[0]: row[5] for row in product_contracts if row[6]}
    return {
        **_settings_shown(),
        **_requisition(requisition),
        **_red_flags(flagged),
        "execution": _execution(ordered, steps),
        "time_to_contract": (signed_count_ttc, median, p90),
        "families": families,
        "family_total": tuple(sum(row[i] for row in families.values()) for i in range(8)),
        "deliveries": [row[0] for row in deliveries],
        "deliveries_total": deliveries[0][1] if deliveries else 0,
        "suppliers": [(pk, _cents(amount)) for pk, amount in suppliers[:limit]],
        "committed_total": _cents(sum((amount for _pk, amount in suppliers), Decimal(0))),
        "stages": {status: count for status, (count, _late) in stages.items() if count},
        "stages_overdue": {status: late for status, (_count, late) in stages.items() if late},
        "cases_total": sum(count for count, _late in stages.values()),
        "overdue": [row[0] for row in overdue],
        "overdue_total": overdue[0][2] if overdue else 0,
        "amounts": {
            "committed": committed,
            "signed": signed,
            "committed_count": committed_count,
            "signed_count": signed_count,
            "estimated": estimated,
            "lines_without_estimate": lines_without_estimate,
        },
        "obligations": [(row[0], row[2], row[3]) for row in obligations],
        "obligations_total": obligations[0][5] if obligations else 0,
    }


def _cents(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def _settings_shown() -> dict:
    return {
        "obligation_days": settings.DASHBOARD_OBLIGATION_DAYS,
        "requisition_threshold": settings.REQUISITION_UNITS_PER_QUARTER,
    }


def _requisition(rows) -> dict:
    """The page of (case id, number of cases) rows of REQUISITION_SQL / KEPT_REQUISITION_SQL."""
    return {"requisition_cases": [row[0] for row in rows], "requisition_total": rows[0][1] if rows else 0}


def _red_flags(rows) -> dict:
    """The page of (supplier id, name, number of suppliers, number of cases) rows of RED_FLAGS_SQL."""
    return {
        "flagged_suppliers": [row[0] for row in rows],
        "flagged_total": rows[0][2] if rows else 0,
        "flagged_cases": rows[0][3] if rows else 0,
    }


def _execution(ordered: dict, steps) -> dict:
    """product → (ordered, shipped, received, admitted, allocated, invoiced, paid), from the units ordered per
    product and the rows of EXECUTION_SQL; a product is listed if it has signed contracts or execution rows."""
    found = {product: (0, *quantities) for product, *quantities in steps}
    for product, units in ordered.items():
        found[product] = (units, *found.get(product, (0,) * len(EXECUTION_FIGURES))[1:])
    return found


def _families(product_contracts, product_needs) -> dict:
    """family → (estimated HT, estimated TTC, committed HT, committed TTC, signed HT, signed TTC, needed, ordered)."""
    vat = Decimal(str(settings.DEFAULT_VAT_RATE))
    sums: dict[str, list] = {}
    for product, committed, committed_ttc, signed, signed_ttc, ordered in product_contracts:
        row = sums.setdefault(FAMILY.get(product, Family.OTHER), [Decimal(0)] * 6 + [0, 0])
        for index, value in ((2, committed), (3, committed_ttc), (4, signed), (5, signed_ttc)):
            row[index] += value
        row[7] += ordered
    for product, estimated, needed in product_needs:
        row = sums.setdefault(FAMILY.get(product, Family.OTHER), [Decimal(0)] * 6 + [0, 0])
        row[0] += estimated
        row[1] += estimated * (1 + vat)
        row[6] += needed
    return {
        str(family): tuple(_cents(v) for v in row[:6]) + (row[6], row[7])
        for family, row in sums.items()
        if row[6] or row[7] or row[2] or row[0]
    }


def figures_of_dashboard(dashboard: dict) -> dict:
    """The same figures read from dashboard_for's result (keys it does not return are left out)."""
    figures = {}
    if "stages" in dashboard:
        figures["stages"] = {row.status: row.count for row in dashboard["stages"] if row.count}
        if all(hasattr(row, "overdue") for row in dashboard["stages"]):
            figures["stages_overdue"] = {row.status: row.overdue for row in dashboard["stages"] if row.overdue}
    for key in ("cases_total", "overdue_total", "obligations_total"):
        if key in dashboard:
            figures[key] = dashboard[key]
    if "overdue" in dashboard:
        figures["overdue"] = [row.case.pk for row in dashboard["overdue"]]
    if "amounts" in dashboard:
        figures["amounts"] = dict(dashboard["amounts"])
    if "obligations" in dashboard:
        figures["obligations"] = [
            (row.contract.pk, row.obligation.code, row.obligation.due) for row in dashboard["obligations"]
        ]
    if "time_to_contract" in dashboard:
        ttc = dashboard["time_to_contract"]
        figures["time_to_contract"] = (ttc.count, ttc.median, ttc.p90)
    if "families" in dashboard:
        figures["families"] = {row.family: _family_tuple(row) for row in dashboard["families"]}
        figures["family_total"] = _family_tuple(dashboard["family_total"])
    if "deliveries" in dashboard:
        figures["deliveries"] = [contract.pk for contract in dashboard["deliveries"]]
        figures["deliveries_total"] = dashboard["deliveries_total"]
    if "suppliers" in dashboard:
        figures["suppliers"] = [(row.supplier_id, row.amount) for row in dashboard["suppliers"]]
        figures["committed_total"] = dashboard["committed_total"]
    for key in ("requisition_total", "flagged_total", "flagged_cases", "obligation_days", "requisition_threshold"):
        if key in dashboard:
            figures[key] = dashboard[key]
    if "requisition_cases" in dashboard:
        figures["requisition_cases"] = [case.pk for case in dashboard["requisition_cases"]]
    if "flagged_suppliers" in dashboard:
        figures["flagged_suppliers"] = [supplier.pk for supplier in dashboard["flagged_suppliers"]]
    if "execution" in dashboard:
        figures["execution"] = {
            line["product"]: tuple(line[name] for name in EXECUTION_FIGURES) for line in dashboard["execution"]
        }
    return figures


def _family_tuple(row) -> tuple:
    return (
        row.estimated_ht,
        row.estimated_ttc,
        row.committed_ht,
        row.committed_ttc,
        row.signed_ht,
        row.signed_ttc,
        row.needed,
        row.ordered,
    )


def differences(sql: dict, dashboard: dict) -> list[str]:
    """The figures on which the two disagree (only those both compute)."""
    return sorted(key for key in sql.keys() & dashboard.keys() if sql[key] != dashboard[key])


# --- the same figures from the tables kept by triggers (dashboard.models) ---------------------------
KEPT_STAGES_SQL = """
SELECT b.status, sum(b.cases)::bigint,
       (coalesce(sum(b.cases) FILTER (WHERE b.hour < date_trunc('hour', t.cutoff, 'UTC')), 0)
        + (SELECT count(*) FROM procurement_purchasecase c
           WHERE c.organisation_id = %(org)s AND c.status = b.status
             AND c.stage_entered_at >= date_trunc('hour', t.cutoff, 'UTC') AND c.stage_entered_at < t.cutoff))::bigint
FROM dashboard_stagecount b
LEFT JOIN unnest(%(stages)s::varchar[], %(cutoffs)s::timestamptz[]) AS t(status, cutoff) ON t.status = b.status
WHERE b.organisation_id = %(org)s
GROUP BY b.status, t.cutoff
HAVING sum(b.cases) <> 0
"""

# The first overdue cases of each stage from the (organisation, status, entered) index, then the page of those.
KEPT_OVERDUE_SQL = """
WITH firsts AS (
    SELECT f.id, f.stage_entered_at, f.owner_id
    FROM unnest(%(stages)s::varchar[], %(cutoffs)s::timestamptz[]) AS t(status, cutoff)
    CROSS JOIN LATERAL (
        SELECT c.id, c.stage_entered_at, c.owner_id FROM procurement_purchasecase c
        WHERE c.organisation_id = %(org)s AND c.status = t.status AND c.stage_entered_at < t.cutoff
        ORDER BY c.stage_entered_at, c.id LIMIT %(limit)s
    ) f
)
SELECT firsts.id, u.username, c.reference, c.title, c.status, firsts.stage_entered_at, u.first_name, u.last_name
FROM firsts JOIN accounts_user u ON u.id = firsts.owner_id JOIN procurement_purchasecase c ON c.id = firsts.id
ORDER BY firsts.stage_entered_at, firsts.id
LIMIT %(limit)s
"""

# The requisition risk, the period's days as a range of instants (indexed).
KEPT_REQUISITION_SQL = """
WITH masks AS (
    SELECT k.case_id, k.quantity, date_trunc('quarter', k.created_at AT TIME ZONE %(tz)s) AS quarter
    FROM contracts_contract k
    JOIN procurement_purchasecase c ON c.id = k.case_id
    JOIN procurement_offer o ON o.id = k.offer_id
    JOIN procurement_needline n ON n.id = o.need_line_id
    WHERE c.organisation_id = %(org)s AND k.status <> 'withdrawn' AND n.product = ANY(%(masks)s)
      AND k.created_at >= (%(req_start)s::date)::timestamp AT TIME ZONE %(tz)s
      AND k.created_at < (%(req_end)s::date + 1)::timestamp AT TIME ZONE %(tz)s
)
SELECT c.id, count(*) OVER (), c.reference, c.title
FROM procurement_purchasecase c
WHERE c.organisation_id = %(org)s AND c.id IN (
    SELECT case_id FROM masks
    WHERE quarter IN (SELECT quarter FROM masks GROUP BY quarter HAVING sum(quantity) > %(req_units)s)
)
ORDER BY c.created_at, c.id
LIMIT %(limit)s
"""

KEPT_PRODUCTS_SQL = """
SELECT product, sum(committed_ht), sum(committed_ttc), sum(committed_count)::bigint, sum(signed_ht),
       sum(signed_ttc), sum(signed_count)::bigint, sum(ordered)::bigint, sum(estimated_ht), sum(needed)::bigint,
       sum(lines_without_estimate)::bigint
FROM dashboard_productfigures WHERE organisation_id = %(org)s GROUP BY product
"""

# The percentiles found in the hours, then in the minutes of the hours that hold the ranks (as the dashboard).
KEPT_TIME_TO_CONTRACT_SQL = """
WITH h AS (
    SELECT hours, sum(contracts) AS n FROM dashboard_signaturedelayhour
    WHERE organisation_id = %(org)s GROUP BY hours HAVING sum(contracts) <> 0
), hc AS (SELECT hours, n, sum(n) OVER (ORDER BY hours) - n AS before FROM h),
total AS (SELECT coalesce(sum(n), 0)::bigint AS n FROM h),
ranks AS (
    SELECT f, f * (total.n - 1) AS pos, v.r
    FROM total, unnest(ARRAY[0.5, 0.9]) AS f,
         LATERAL (VALUES (floor(f * (total.n - 1))), (ceil(f * (total.n - 1)))) AS v(r)
    WHERE total.n > 0
), located AS (
    SELECT ranks.f, ranks.pos, ranks.r, hc.hours, ranks.r - hc.before AS within
    FROM ranks JOIN hc ON ranks.r >= hc.before AND ranks.r < hc.before + hc.n
), m AS (
    SELECT located.*, (
        SELECT y.minutes FROM (
            SELECT x.minutes, sum(x.n) OVER (ORDER BY x.minutes) AS upto FROM (
                SELECT minutes, sum(contracts) AS n FROM dashboard_signaturedelayminute
                WHERE organisation_id = %(org)s AND minutes >= located.hours * 60 AND minutes < located.hours * 60 + 60
                GROUP BY minutes HAVING sum(contracts) <> 0
            ) x
        ) y WHERE y.upto > located.within ORDER BY y.minutes LIMIT 1
    ) AS minute
    FROM located
)
SELECT (SELECT n FROM total), f, pos,
       min(minute) FILTER (WHERE r = floor(pos)), min(minute) FILTER (WHERE r = ceil(pos))
FROM m GROUP BY f, pos ORDER BY f
"""

KEPT_DELIVERIES_SQL = """
SELECT d.contract_id,
       (SELECT coalesce(sum(contracts), 0) FROM dashboard_deliverydaycount
        WHERE organisation_id = %(org)s AND day BETWEEN %(today)s AND %(week)s),
       k.reference, k.quantity, d.delivery_date, d.delivery_place, s.name
FROM dashboard_contractdelivery d
JOIN contracts_contract k ON k.id = d.contract_id
JOIN procurement_offer o ON o.id = k.offer_id
JOIN suppliers_supplier s ON s.id = o.supplier_id
WHERE d.organisation_id = %(org)s AND d.delivery_date BETWEEN %(today)s AND %(week)s
ORDER BY d.delivery_date, d.contract_id LIMIT %(limit)s
"""

KEPT_OBLIGATIONS_SQL = """
SELECT p.contract_id, k.reference, p.code, p.due, p.due < %(today)s,
       (SELECT coalesce(sum(obligations), 0) FROM dashboard_obligationdaycount
        WHERE organisation_id = %(org)s AND day <= %(horizon)s)
FROM dashboard_pendingobligation p JOIN contracts_contract k ON k.id = p.contract_id
WHERE p.organisation_id = %(org)s AND p.due <= %(horizon)s
ORDER BY p.due, p.contract_created_at DESC, p.contract_id DESC, p.position LIMIT %(limit)s
"""

# The largest suppliers: the largest folded rows (index) and the suppliers with deltas, summed.
KEPT_SUPPLIERS_SQL = """
WITH deltas AS (
    SELECT DISTINCT supplier_id FROM dashboard_supplierfigures WHERE organisation_id = %(org)s AND NOT compacted
), largest AS (
    SELECT supplier_id FROM dashboard_supplierfigures WHERE organisation_id = %(org)s AND compacted
    ORDER BY committed_ht DESC FETCH FIRST (%(limit)s + (SELECT count(*) FROM deltas)) ROWS WITH TIES
), f AS (
    SELECT c.supplier_id, sums.amount
    FROM (SELECT supplier_id FROM deltas UNION SELECT supplier_id FROM largest) c
    CROSS JOIN LATERAL (
        SELECT sum(committed_ht) AS amount, sum(contracts) AS contracts FROM dashboard_supplierfigures
        WHERE organisation_id = %(org)s AND supplier_id = c.supplier_id
    ) sums
    WHERE sums.contracts <> 0
)
SELECT f.supplier_id, f.amount,
       (SELECT sum(committed_ht) FROM dashboard_productfigures WHERE organisation_id = %(org)s), s.name
FROM f JOIN suppliers_supplier s ON s.id = f.supplier_id
ORDER BY f.amount DESC, s.name
LIMIT %(limit)s
"""


def dashboard_figures(*, organisation_id: int, now) -> dict:
    """The figures from the kept tables where the dashboard reads them, and from the base tables for the rest
    (requisition risk, the overdue page, through the same indexes; red flags and execution quantities, which have
    no kept table), one query per figure."""
    _late, params = _params(organisation_id, now)
    with connection.cursor() as cursor:
        cursor.execute(KEPT_STAGES_SQL, params)
        stages = {status: (count, overdue) for status, count, overdue in cursor.fetchall()}
        cursor.execute(KEPT_OVERDUE_SQL, params)
        overdue = cursor.fetchall()
        cursor.execute(KEPT_PRODUCTS_SQL, params)
        products = cursor.fetchall()
        cursor.execute(KEPT_OBLIGATIONS_SQL, params)
        obligations = cursor.fetchall()
        cursor.execute(KEPT_TIME_TO_CONTRACT_SQL, params)
        percentiles = cursor.fetchall()
        cursor.execute(KEPT_DELIVERIES_SQL, params)
        deliveries = cursor.fetchall()
        cursor.execute(KEPT_SUPPLIERS_SQL, params)
        suppliers = cursor.fetchall()
        cursor.execute(KEPT_REQUISITION_SQL, params)
        requisition = cursor.fetchall()
        cursor.execute(RED_FLAGS_SQL, params)
        flagged = cursor.fetchall()
        cursor.execute(EXECUTION_SQL, params)
        steps = cursor.fetchall()
    committed = [row[:8] for row in products]
    families = _families(
        [(p, c_ht, c_ttc, s_ht, s_ttc, ordered) for p, c_ht, c_ttc, _cc, s_ht, s_ttc, _sc, ordered in committed],
        [(row[0], row[8], row[9]) for row in products],
    )
    values = [timedelta(minutes=float(low + (high - low) * (pos - int(pos)))) for _n, _f, pos, low, high in percentiles]
    return {
        **_settings_shown(),
        **_requisition(requisition),
        **_red_flags(flagged),
        # The units ordered of the products with signed contracts, from the figures kept per product (as the
        # dashboard): row[6] is their number of signed contracts, row[7] their units.
        "execution": _execution({row[0]: row[7] for row in products if row[6]}, steps),
        "time_to_contract": (percentiles[0][0], *values) if percentiles else (0, None, None),
        "families": families,
        "family_total": tuple(sum(row[i] for row in families.values()) for i in range(8)),
        "deliveries": [row[0] for row in deliveries],
        "deliveries_total": deliveries[0][1] if deliveries else 0,
        "suppliers": [(pk, _cents(amount)) for pk, amount, _total, _name in suppliers],
        "committed_total": _cents(suppliers[0][2] if suppliers else 0),
        "stages": {status: count for status, (count, _late) in stages.items() if count},
        "stages_overdue": {status: late for status, (_count, late) in stages.items() if late},
        "cases_total": sum(count for count, _late in stages.values()),
        "overdue": [row[0] for row in overdue],
        "overdue_total": sum(late for _count, late in stages.values()),
        "amounts": {
            "committed": sum((row[1] for row in products), Decimal(0)),
            "signed": sum((row[4] for row in products), Decimal(0)),
            "committed_count": sum(row[3] for row in products),
            "signed_count": sum(row[6] for row in products),
            "estimated": sum((row[8] for row in products), Decimal(0)),
            "lines_without_estimate": sum(row[10] for row in products),
        },
        "obligations": [(row[0], row[2], row[3]) for row in obligations],
        "obligations_total": obligations[0][5] if obligations else 0,
    }
