"""Deliveries and pending obligations counted per day as signed deltas (dashboard.DeliveryDayCount,
ObligationDayCount), so that their totals read a few days' rows; supplier figures folded only where they changed,
marked `compacted` so that the largest suppliers come from an index.

dashboard_refresh_contract takes a transaction lock per contract before reading the contract's kept rows, so that
two transactions refreshing the same contract count its old and new rows once each.
"""

import importlib

from django.db import migrations

FIGURES = importlib.import_module("dashboard.migrations.0002_figures_triggers")
KEPT = importlib.import_module("dashboard.migrations.0004_deliveries_obligations_triggers")
LOCK_SPACE = 0x7A4D  # the advisory lock space of the dashboard's kept rows (any constant of ours)

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION dashboard_refresh_contract(p_contract bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_SPACE}, p_contract::integer);
    INSERT INTO dashboard_deliverydaycount (organisation_id, day, contracts)
    SELECT organisation_id, delivery_date, -1 FROM dashboard_contractdelivery WHERE contract_id = p_contract;
    INSERT INTO dashboard_obligationdaycount (organisation_id, day, obligations)
    SELECT organisation_id, due, -count(*) FROM dashboard_pendingobligation WHERE contract_id = p_contract
    GROUP BY 1, 2;

    INSERT INTO dashboard_contractdelivery (contract_id, organisation_id, delivery_date, delivery_place)
    {KEPT.DELIVERIES.format(where="k.id = p_contract")}
    ON CONFLICT (contract_id) DO UPDATE SET organisation_id = EXCLUDED.organisation_id,
        delivery_date = EXCLUDED.delivery_date, delivery_place = EXCLUDED.delivery_place;
    IF NOT FOUND THEN
        DELETE FROM dashboard_contractdelivery WHERE contract_id = p_contract;
    END IF;
    WITH fresh AS ({KEPT.OBLIGATIONS.format(where="k.id = p_contract")}),
    gone AS (
        DELETE FROM dashboard_pendingobligation p
        WHERE p.contract_id = p_contract AND p.code NOT IN (SELECT code FROM fresh)
    )
    INSERT INTO dashboard_pendingobligation (contract_id, code, position, organisation_id, due, contract_created_at)
    SELECT * FROM fresh
    ON CONFLICT (contract_id, code) DO UPDATE SET position = EXCLUDED.position,
        organisation_id = EXCLUDED.organisation_id, due = EXCLUDED.due,
        contract_created_at = EXCLUDED.contract_created_at;

    INSERT INTO dashboard_deliverydaycount (organisation_id, day, contracts)
    SELECT organisation_id, delivery_date, 1 FROM dashboard_contractdelivery WHERE contract_id = p_contract;
    INSERT INTO dashboard_obligationdaycount (organisation_id, day, obligations)
    SELECT organisation_id, due, count(*) FROM dashboard_pendingobligation WHERE contract_id = p_contract
    GROUP BY 1, 2;
END $$;

CREATE OR REPLACE FUNCTION dashboard_contract_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM dashboard_forget_contract(OLD.id);
    ELSE
        PERFORM dashboard_refresh_contract(NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION dashboard_forget_contract(p_contract bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_SPACE}, p_contract::integer);
    INSERT INTO dashboard_deliverydaycount (organisation_id, day, contracts)
    SELECT organisation_id, delivery_date, -1 FROM dashboard_contractdelivery WHERE contract_id = p_contract;
    INSERT INTO dashboard_obligationdaycount (organisation_id, day, obligations)
    SELECT organisation_id, due, -count(*) FROM dashboard_pendingobligation WHERE contract_id = p_contract
    GROUP BY 1, 2;
    DELETE FROM dashboard_contractdelivery WHERE contract_id = p_contract;
    DELETE FROM dashboard_pendingobligation WHERE contract_id = p_contract;
END $$;

CREATE OR REPLACE FUNCTION dashboard_rebuild_kept() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE dashboard_contractdelivery, dashboard_pendingobligation, dashboard_deliverydaycount,
        dashboard_obligationdaycount IN EXCLUSIVE MODE;
    DELETE FROM dashboard_contractdelivery;
    DELETE FROM dashboard_pendingobligation;
    DELETE FROM dashboard_deliverydaycount;
    DELETE FROM dashboard_obligationdaycount;
    INSERT INTO dashboard_contractdelivery (contract_id, organisation_id, delivery_date, delivery_place)
    {KEPT.DELIVERIES.format(where="true")};
    INSERT INTO dashboard_pendingobligation (contract_id, code, position, organisation_id, due, contract_created_at)
    {KEPT.OBLIGATIONS.format(where="true")};
    INSERT INTO dashboard_deliverydaycount (organisation_id, day, contracts)
    SELECT organisation_id, delivery_date, count(*) FROM dashboard_contractdelivery GROUP BY 1, 2;
    INSERT INTO dashboard_obligationdaycount (organisation_id, day, obligations)
    SELECT organisation_id, due, count(*) FROM dashboard_pendingobligation GROUP BY 1, 2;
END $$;

-- Fold the rows of each key into one (rows written meanwhile by other transactions stay as they are); the
-- supplier figures only where deltas were written, the folded rows marked.
CREATE OR REPLACE FUNCTION dashboard_compact_figures() RETURNS void LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM dashboard_stagecount RETURNING *)
    INSERT INTO dashboard_stagecount (organisation_id, status, hour, cases)
    SELECT organisation_id, status, hour, sum(cases) FROM gone GROUP BY 1, 2, 3 HAVING sum(cases) <> 0;
    WITH gone AS (DELETE FROM dashboard_productfigures RETURNING *)
    INSERT INTO dashboard_productfigures (organisation_id, product, committed_ht, committed_ttc, committed_count,
        signed_ht, signed_ttc, signed_count, ordered, estimated_ht, needed, lines_without_estimate)
    SELECT organisation_id, product, sum(committed_ht), sum(committed_ttc), sum(committed_count), sum(signed_ht),
        sum(signed_ttc), sum(signed_count), sum(ordered), sum(estimated_ht), sum(needed),
        sum(lines_without_estimate)
    FROM gone GROUP BY 1, 2
    HAVING sum(committed_count) <> 0 OR sum(needed) <> 0 OR sum(lines_without_estimate) <> 0;
    WITH touched AS (
        SELECT DISTINCT organisation_id, supplier_id FROM dashboard_supplierfigures WHERE NOT compacted
    ), gone AS (
        DELETE FROM dashboard_supplierfigures f USING touched t
        WHERE f.organisation_id = t.organisation_id AND f.supplier_id = t.supplier_id RETURNING f.*
    )
    INSERT INTO dashboard_supplierfigures (organisation_id, supplier_id, committed_ht, contracts, compacted)
    SELECT organisation_id, supplier_id, sum(committed_ht), sum(contracts), true FROM gone GROUP BY 1, 2
    HAVING sum(contracts) <> 0;
    WITH gone AS (DELETE FROM dashboard_signaturedelayhour RETURNING *)
    INSERT INTO dashboard_signaturedelayhour (organisation_id, hours, contracts)
    SELECT organisation_id, hours, sum(contracts) FROM gone GROUP BY 1, 2 HAVING sum(contracts) <> 0;
    WITH gone AS (DELETE FROM dashboard_signaturedelayminute RETURNING *)
    INSERT INTO dashboard_signaturedelayminute (organisation_id, minutes, contracts)
    SELECT organisation_id, minutes, sum(contracts) FROM gone GROUP BY 1, 2 HAVING sum(contracts) <> 0;
    WITH gone AS (DELETE FROM dashboard_deliverydaycount RETURNING *)
    INSERT INTO dashboard_deliverydaycount (organisation_id, day, contracts)
    SELECT organisation_id, day, sum(contracts) FROM gone GROUP BY 1, 2 HAVING sum(contracts) <> 0;
    WITH gone AS (DELETE FROM dashboard_obligationdaycount RETURNING *)
    INSERT INTO dashboard_obligationdaycount (organisation_id, day, obligations)
    SELECT organisation_id, day, sum(obligations) FROM gone GROUP BY 1, 2 HAVING sum(obligations) <> 0;
$$;

CREATE OR REPLACE FUNCTION dashboard_rebuild_all() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_rebuild_figures();
    PERFORM dashboard_rebuild_kept();
    PERFORM dashboard_compact_figures();
END $$;

SELECT dashboard_rebuild_kept();
SELECT dashboard_compact_figures();
"""  # noqa: S608  # nosec B608 (constants, no input)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(KEPT.FUNCTIONS.split("CREATE TRIGGER")[0])
        compact = FIGURES.FUNCTIONS.index("CREATE OR REPLACE FUNCTION dashboard_compact_figures")
        schema_editor.execute(FIGURES.FUNCTIONS[compact : FIGURES.FUNCTIONS.index("CREATE TRIGGER", compact)])
        schema_editor.execute("DROP FUNCTION IF EXISTS dashboard_forget_contract(bigint)")


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0005_day_counts")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
