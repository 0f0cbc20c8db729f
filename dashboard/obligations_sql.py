"""The obligations after signature still pending (contracts.obligations.contract_obligations) computed in one
PostgreSQL query for the dashboard: the first rows and the total, whatever the number of signed contracts; and the
deliveries of the coming days likewise.

Other databases (the SQLite demo) compute them in Python (dashboard.selectors.pending_obligations); the tests compare
both on the same contracts.
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


# The committed contracts whose current terms (the final round, else the latest: Offer.current_terms) deliver
# between two days, soonest first, with their number: the current terms of the offers with a round delivering
# then (indexed), each found once (DISTINCT ON) rather than once per contract and per column.
DELIVERIES_SQL = """
WITH terms AS (
    SELECT DISTINCT ON (r.offer_id) r.offer_id, r.delivery_date, r.delivery_place
    FROM procurement_negotiationround r
    WHERE r.offer_id IN (
        SELECT offer_id FROM procurement_negotiationround WHERE delivery_date BETWEEN %(start)s AND %(end)s
    )
    ORDER BY r.offer_id, r.is_final DESC, r.number DESC, r.id DESC
)
SELECT k.id, t.delivery_date, t.delivery_place, count(*) OVER ()
FROM contracts_contract k
JOIN procurement_purchasecase c ON c.id = k.case_id
JOIN terms t ON t.offer_id = k.offer_id
WHERE c.organisation_id = %(org)s AND k.status = ANY(%(committed)s)
  AND t.delivery_date BETWEEN %(start)s AND %(end)s
ORDER BY t.delivery_date, k.id
LIMIT %(limit)s
"""
