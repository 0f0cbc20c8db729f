"""PostgreSQL triggers keeping each committed contract's delivery and each signed contract's pending obligations
(dashboard.ContractDelivery, dashboard.PendingObligation), and the rebuild function extended to them.

The obligations follow contracts.obligations.contract_obligations, as dashboard/obligations_sql.py does for the
whole organisation: prefect transmission and award notice from the EU threshold in force at signature, DECP from its
threshold at notification, the URSSAF vigilance certificate (SIRET suppliers, threshold incl. VAT) due at the latest
certificate's expiry or six months after signature. Dates are days in TIME_ZONE (Europe/Paris), written here as when
this migration was made; tests/dashboard/test_figures_kept.py checks they still match the settings.
"""

from django.db import migrations

TIME_ZONE = "Europe/Paris"
COMMITTED = "('approved', 'signed', 'notified')"

# The pending obligations of the contracts chosen by {where} (a condition on k, the contract).
OBLIGATIONS = f"""
WITH signed AS (
    SELECT k.id, k.created_at, c.organisation_id,
           (k.signed_at AT TIME ZONE '{TIME_ZONE}')::date AS signed_on,
           (k.notified_at AT TIME ZONE '{TIME_ZONE}')::date AS notified_on,
           round(k.quantity * k.unit_price, 2) AS ht,
           round(k.quantity * k.unit_price, 2) + round(round(k.quantity * k.unit_price, 2) * k.vat_rate, 2) AS ttc,
           k.prefect_transmitted_on, k.award_notice_published_on, k.decp_published_on,
           s.identifier_type,
           (SELECT max(d.expires_on) FROM suppliers_supplierdocument d
            WHERE d.supplier_id = s.id AND d.kind = 'urssaf' AND d.expires_on IS NOT NULL) AS latest
    FROM contracts_contract k
    JOIN procurement_purchasecase c ON c.id = k.case_id
    JOIN procurement_offer o ON o.id = k.offer_id
    JOIN suppliers_supplier s ON s.id = o.supplier_id
    WHERE {{where}} AND k.signed_at IS NOT NULL AND k.status <> 'withdrawn'
), day_limits AS (
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
    SELECT id, organisation_id, created_at, 1 AS position, 'prefect' AS code, signed_on + 15 AS due,
           prefect_transmitted_on AS done
    FROM limits WHERE ht >= eu
    UNION ALL
    SELECT id, organisation_id, created_at, 2, 'award_notice', signed_on + 30, award_notice_published_on
    FROM limits WHERE ht >= eu
    UNION ALL
    SELECT id, organisation_id, created_at, 3, 'decp', (notified_on + interval '2 months')::date, decp_published_on
    FROM limits WHERE notified_on IS NOT NULL AND ht >= decp
    UNION ALL
    SELECT id, organisation_id, created_at, 4, 'vigilance',
           CASE WHEN latest > signed_on THEN latest ELSE (signed_on + interval '6 months')::date END, NULL
    FROM limits WHERE identifier_type = 'SIRET' AND ttc >= vigilance
)
SELECT id, code, position, organisation_id, due, created_at FROM obligation WHERE done IS NULL
"""  # noqa: S608  # nosec B608 (constants, no input)

# The current terms of the committed contracts chosen by {where}.
DELIVERIES = f"""
SELECT k.id, c.organisation_id, t.delivery_date, t.delivery_place
FROM contracts_contract k
JOIN procurement_purchasecase c ON c.id = k.case_id
JOIN LATERAL (
    SELECT r.delivery_date, r.delivery_place FROM procurement_negotiationround r
    WHERE r.offer_id = k.offer_id ORDER BY r.is_final DESC, r.number DESC, r.id DESC LIMIT 1
) t ON true
WHERE {{where}} AND k.status IN {COMMITTED}
"""  # noqa: S608  # nosec B608 (constants, no input)

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION dashboard_refresh_contract(p_contract bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dashboard_contractdelivery (contract_id, organisation_id, delivery_date, delivery_place)
    {DELIVERIES.format(where="k.id = p_contract")}
    ON CONFLICT (contract_id) DO UPDATE SET organisation_id = EXCLUDED.organisation_id,
        delivery_date = EXCLUDED.delivery_date, delivery_place = EXCLUDED.delivery_place;
    IF NOT FOUND THEN
        DELETE FROM dashboard_contractdelivery WHERE contract_id = p_contract;
    END IF;
    WITH fresh AS ({OBLIGATIONS.format(where="k.id = p_contract")}),
    gone AS (
        DELETE FROM dashboard_pendingobligation p
        WHERE p.contract_id = p_contract AND p.code NOT IN (SELECT code FROM fresh)
    )
    INSERT INTO dashboard_pendingobligation (contract_id, code, position, organisation_id, due, contract_created_at)
    SELECT * FROM fresh
    ON CONFLICT (contract_id, code) DO UPDATE SET position = EXCLUDED.position,
        organisation_id = EXCLUDED.organisation_id, due = EXCLUDED.due,
        contract_created_at = EXCLUDED.contract_created_at;
END $$;

CREATE OR REPLACE FUNCTION dashboard_contract_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM dashboard_contractdelivery WHERE contract_id = OLD.id;
        DELETE FROM dashboard_pendingobligation WHERE contract_id = OLD.id;
    ELSE
        PERFORM dashboard_refresh_contract(NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION dashboard_round_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM dashboard_refresh_contract(k.id) FROM contracts_contract k WHERE k.offer_id = OLD.offer_id;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.offer_id IS DISTINCT FROM OLD.offer_id) THEN
        PERFORM dashboard_refresh_contract(k.id) FROM contracts_contract k WHERE k.offer_id = NEW.offer_id;
    END IF;
    RETURN NULL;
END $$;

-- A case moving to another organisation, a supplier's identifier or URSSAF certificates: their contracts.
CREATE OR REPLACE FUNCTION dashboard_case_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_refresh_contract(k.id) FROM contracts_contract k WHERE k.case_id = NEW.id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION dashboard_refresh_supplier(p_supplier bigint) RETURNS void LANGUAGE sql AS $$
    SELECT dashboard_refresh_contract(k.id) FROM contracts_contract k
    JOIN procurement_offer o ON o.id = k.offer_id
    WHERE o.supplier_id = p_supplier AND k.signed_at IS NOT NULL;
$$;

CREATE OR REPLACE FUNCTION dashboard_supplier_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_refresh_supplier(NEW.id);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION dashboard_supplierdocument_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.kind = 'urssaf' THEN
        PERFORM dashboard_refresh_supplier(OLD.supplier_id);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.kind = 'urssaf'
       AND (TG_OP = 'INSERT' OR OLD.kind <> 'urssaf' OR NEW.supplier_id <> OLD.supplier_id) THEN
        PERFORM dashboard_refresh_supplier(NEW.supplier_id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION dashboard_rebuild_kept() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE dashboard_contractdelivery, dashboard_pendingobligation IN EXCLUSIVE MODE;
    DELETE FROM dashboard_contractdelivery;
    DELETE FROM dashboard_pendingobligation;
    INSERT INTO dashboard_contractdelivery (contract_id, organisation_id, delivery_date, delivery_place)
    {DELIVERIES.format(where="true")};
    INSERT INTO dashboard_pendingobligation (contract_id, code, position, organisation_id, due, contract_created_at)
    {OBLIGATIONS.format(where="true")};
END $$;

-- The thresholds change the obligations of every contract (rarely: once a year or two).
CREATE OR REPLACE FUNCTION dashboard_threshold_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_rebuild_kept();
    RETURN NULL;
END $$;

-- The rebuild of every figure now includes the deliveries and obligations.
CREATE OR REPLACE FUNCTION dashboard_rebuild_all() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_rebuild_figures();
    PERFORM dashboard_rebuild_kept();
END $$;

CREATE TRIGGER dashboard_contract_kept_insert_delete AFTER INSERT OR DELETE ON contracts_contract
    FOR EACH ROW EXECUTE FUNCTION dashboard_contract_kept();
CREATE TRIGGER dashboard_contract_kept_update AFTER UPDATE ON contracts_contract
    FOR EACH ROW WHEN ((OLD.case_id, OLD.offer_id, OLD.status, OLD.quantity, OLD.unit_price, OLD.vat_rate,
        OLD.signed_at, OLD.notified_at, OLD.prefect_transmitted_on, OLD.award_notice_published_on,
        OLD.decp_published_on, OLD.created_at)
        IS DISTINCT FROM (NEW.case_id, NEW.offer_id, NEW.status, NEW.quantity, NEW.unit_price, NEW.vat_rate,
        NEW.signed_at, NEW.notified_at, NEW.prefect_transmitted_on, NEW.award_notice_published_on,
        NEW.decp_published_on, NEW.created_at))
    EXECUTE FUNCTION dashboard_contract_kept();
CREATE TRIGGER dashboard_round_kept AFTER INSERT OR UPDATE OR DELETE ON procurement_negotiationround
    FOR EACH ROW EXECUTE FUNCTION dashboard_round_kept();
CREATE TRIGGER dashboard_case_kept AFTER UPDATE ON procurement_purchasecase
    FOR EACH ROW WHEN (OLD.organisation_id IS DISTINCT FROM NEW.organisation_id)
    EXECUTE FUNCTION dashboard_case_kept();
CREATE TRIGGER dashboard_supplier_kept AFTER UPDATE ON suppliers_supplier
    FOR EACH ROW WHEN (OLD.identifier_type IS DISTINCT FROM NEW.identifier_type)
    EXECUTE FUNCTION dashboard_supplier_kept();
CREATE TRIGGER dashboard_supplierdocument_kept AFTER INSERT OR UPDATE OR DELETE ON suppliers_supplierdocument
    FOR EACH ROW EXECUTE FUNCTION dashboard_supplierdocument_kept();
CREATE TRIGGER dashboard_threshold_kept AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON procurement_threshold
    FOR EACH STATEMENT EXECUTE FUNCTION dashboard_threshold_kept();

SELECT dashboard_rebuild_kept();
"""  # noqa: S608  # nosec B608 (constants, no input)

REVERSE = """
DROP TRIGGER IF EXISTS dashboard_contract_kept_insert_delete ON contracts_contract;
DROP TRIGGER IF EXISTS dashboard_contract_kept_update ON contracts_contract;
DROP TRIGGER IF EXISTS dashboard_round_kept ON procurement_negotiationround;
DROP TRIGGER IF EXISTS dashboard_case_kept ON procurement_purchasecase;
DROP TRIGGER IF EXISTS dashboard_supplier_kept ON suppliers_supplier;
DROP TRIGGER IF EXISTS dashboard_supplierdocument_kept ON suppliers_supplierdocument;
DROP TRIGGER IF EXISTS dashboard_threshold_kept ON procurement_threshold;
DROP FUNCTION IF EXISTS dashboard_rebuild_all();
DROP FUNCTION IF EXISTS dashboard_threshold_kept();
DROP FUNCTION IF EXISTS dashboard_rebuild_kept();
DROP FUNCTION IF EXISTS dashboard_supplierdocument_kept();
DROP FUNCTION IF EXISTS dashboard_supplier_kept();
DROP FUNCTION IF EXISTS dashboard_refresh_supplier(bigint);
DROP FUNCTION IF EXISTS dashboard_case_kept();
DROP FUNCTION IF EXISTS dashboard_round_kept();
DROP FUNCTION IF EXISTS dashboard_contract_kept();
DROP FUNCTION IF EXISTS dashboard_refresh_contract(bigint);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE)


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0003_deliveries_obligations"),
        ("suppliers", "0003_document_verified_by_screening_superseded"),
        ("procurement", "0010_round_delivery_date"),
        ("contracts", "0005_contract_created_at"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
