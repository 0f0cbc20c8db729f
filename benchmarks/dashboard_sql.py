"""The dashboard's figures written as plain SQL: the baseline of the dashboard benchmark (DESIGN.md §8: the
dashboard within 1.2× the time of the raw SQL computing the same figures).

Covered: cases per stage (count, past target), overdue cases (the first page and the count), amounts
committed / signed / estimated, and the pending obligations after signature (the first page and the count).
When dashboard_for computes a new figure, add its SQL here and its extraction to `figures_of_dashboard`: the
benchmark reports which of the dashboard's keys the baseline does not cover, and whether the figures agree.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from contracts.models import SIGNED_STATUSES, ContractStatus
from procurement.models import OPEN_STATUSES

COMMITTED = [ContractStatus.APPROVED.value, *(s.value for s in SIGNED_STATUSES)]
SIGNED = [s.value for s in SIGNED_STATUSES]
# The dashboard's keys whose figures the SQL below computes (the others are reported as not covered).
COVERED_KEYS = {"stages", "cases_total", "overdue", "overdue_total", "amounts", "obligations", "obligations_total"}

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


def dashboard_figures(*, organisation_id: int, now) -> dict:
    """The figures, straight from SQL (five queries), as plain values comparable with `figures_of_dashboard`."""
    late, late_params = _late_condition(now)
    limit = settings.DASHBOARD_LIST_SIZE
    params = {
        "org": organisation_id,
        "limit": limit,
        "committed": COMMITTED,
        "signed": SIGNED,
        "open": list(OPEN_STATUSES),
        "tz": settings.TIME_ZONE,
        "today": timezone.localdate(now),
        "horizon": timezone.localdate(now) + timedelta(days=settings.DASHBOARD_OBLIGATION_DAYS),
        **late_params,
    }
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
    return {
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
    return figures


def differences(sql: dict, dashboard: dict) -> list[str]:
    """The figures on which the two disagree (only those both compute)."""
    return sorted(key for key in sql.keys() & dashboard.keys() if sql[key] != dashboard[key])
