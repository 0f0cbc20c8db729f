"""PostgreSQL triggers keeping the dashboard's figures (dashboard.models), the function rebuilding them from the
base tables, and their first filling. Nothing on other databases (the selectors then read the base tables).

The status lists are written here as they were when this migration was made; tests/dashboard/test_figures_kept.py
checks that they still match the models' constants.
"""

from django.db import migrations

OPEN_CASE = "('need', 'vetting', 'norm_check', 'negotiation', 'contract')"
COMMITTED = "('approved', 'signed', 'notified')"
SIGNED = "('signed', 'notified')"

FUNCTIONS = f"""
-- A case: -1 at the stage it leaves, +1 at the one it enters; its need lines leave or join the open estimate.
CREATE OR REPLACE FUNCTION dashboard_needlines_delta(p_case bigint, p_organisation bigint, p_sign integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO dashboard_productfigures (organisation_id, product, estimated_ht, needed, lines_without_estimate,
        committed_ht, committed_ttc, committed_count, signed_ht, signed_ttc, signed_count, ordered)
    SELECT p_organisation, n.product, p_sign * coalesce(sum(n.quantity * n.estimated_unit_price), 0),
        p_sign * sum(n.quantity), p_sign * count(*) FILTER (WHERE n.estimated_unit_price IS NULL), 0, 0, 0, 0, 0, 0, 0
    FROM procurement_needline n WHERE n.case_id = p_case GROUP BY n.product
$$;

CREATE OR REPLACE FUNCTION dashboard_case_figures() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_was_open boolean := TG_OP <> 'INSERT' AND OLD.status IN {OPEN_CASE};
    v_is_open boolean := TG_OP <> 'DELETE' AND NEW.status IN {OPEN_CASE};
    v_same_case boolean := TG_OP = 'UPDATE' AND OLD.organisation_id = NEW.organisation_id;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO dashboard_stagecount (organisation_id, status, hour, cases)
        VALUES (OLD.organisation_id, OLD.status, date_trunc('hour', OLD.stage_entered_at, 'UTC'), -1);
        IF TG_OP = 'UPDATE' AND v_was_open AND NOT (v_is_open AND v_same_case) THEN
            PERFORM dashboard_needlines_delta(OLD.id, OLD.organisation_id, -1);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO dashboard_stagecount (organisation_id, status, hour, cases)
        VALUES (NEW.organisation_id, NEW.status, date_trunc('hour', NEW.stage_entered_at, 'UTC'), 1);
        IF TG_OP = 'UPDATE' AND v_is_open AND NOT (v_was_open AND v_same_case) THEN
            PERFORM dashboard_needlines_delta(NEW.id, NEW.organisation_id, 1);
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND (OLD.organisation_id, OLD.created_at) IS DISTINCT FROM (NEW.organisation_id, NEW.created_at)
    THEN
        PERFORM dashboard_contract_delta(k, -1, OLD.organisation_id, OLD.created_at),
            dashboard_contract_delta(k, 1, NEW.organisation_id, NEW.created_at)
        FROM contracts_contract k WHERE k.case_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;

-- A need line counts in the estimate while its case is open.
CREATE OR REPLACE FUNCTION dashboard_needline_delta(line procurement_needline, p_sign integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO dashboard_productfigures (organisation_id, product, estimated_ht, needed, lines_without_estimate,
        committed_ht, committed_ttc, committed_count, signed_ht, signed_ttc, signed_count, ordered)
    SELECT c.organisation_id, line.product, p_sign * coalesce(line.quantity * line.estimated_unit_price, 0),
        p_sign * line.quantity, CASE WHEN line.estimated_unit_price IS NULL THEN p_sign ELSE 0 END, 0, 0, 0, 0, 0, 0, 0
    FROM procurement_purchasecase c WHERE c.id = line.case_id AND c.status IN {OPEN_CASE}
$$;

CREATE OR REPLACE FUNCTION dashboard_needline_figures() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM dashboard_needline_delta(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM dashboard_needline_delta(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

-- A contract counts for its product and supplier once committed, and in the signature delays once signed.
CREATE OR REPLACE FUNCTION dashboard_contract_delta(
    p_contract contracts_contract, p_sign integer, p_organisation bigint, p_opened timestamptz
)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_organisation bigint := p_organisation;
    v_opened timestamptz := p_opened;
    v_product varchar;
    v_supplier bigint;
    v_signed boolean := p_contract.status IN {SIGNED};
    v_ht numeric := p_contract.quantity * p_contract.unit_price;
    v_ttc numeric := p_contract.quantity * p_contract.unit_price * (1 + p_contract.vat_rate);
    v_minutes integer;
BEGIN
    IF p_contract.status NOT IN {COMMITTED} THEN
        RETURN;
    END IF;
    SELECT n.product, o.supplier_id INTO v_product, v_supplier
    FROM procurement_offer o JOIN procurement_needline n ON n.id = o.need_line_id WHERE o.id = p_contract.offer_id;
    INSERT INTO dashboard_productfigures (organisation_id, product, committed_ht, committed_ttc, committed_count,
        signed_ht, signed_ttc, signed_count, ordered, estimated_ht, needed, lines_without_estimate)
    VALUES (v_organisation, v_product, p_sign * v_ht, p_sign * v_ttc, p_sign,
        CASE WHEN v_signed THEN p_sign * v_ht ELSE 0 END, CASE WHEN v_signed THEN p_sign * v_ttc ELSE 0 END,
        CASE WHEN v_signed THEN p_sign ELSE 0 END, CASE WHEN v_signed THEN p_sign * p_contract.quantity ELSE 0 END,
        0, 0, 0);
    INSERT INTO dashboard_supplierfigures (organisation_id, supplier_id, committed_ht, contracts)
    VALUES (v_organisation, v_supplier, p_sign * v_ht, p_sign);
    IF v_signed AND p_contract.signed_at IS NOT NULL THEN
        v_minutes := floor(extract(epoch FROM p_contract.signed_at - v_opened) / 60);
        INSERT INTO dashboard_signaturedelayminute (organisation_id, minutes, contracts)
        VALUES (v_organisation, v_minutes, p_sign);
        INSERT INTO dashboard_signaturedelayhour (organisation_id, hours, contracts)
        VALUES (v_organisation, floor(v_minutes / 60.0), p_sign);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION dashboard_contract_figures() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_organisation bigint;
    v_opened timestamptz;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT c.organisation_id, c.created_at INTO v_organisation, v_opened
        FROM procurement_purchasecase c WHERE c.id = OLD.case_id;
        PERFORM dashboard_contract_delta(OLD, -1, v_organisation, v_opened);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT c.organisation_id, c.created_at INTO v_organisation, v_opened
        FROM procurement_purchasecase c WHERE c.id = NEW.case_id;
        PERFORM dashboard_contract_delta(NEW, 1, v_organisation, v_opened);
    END IF;
    RETURN NULL;
END $$;

-- Every figure from the base tables (the first filling, and the tests' proof of the triggers).
CREATE OR REPLACE FUNCTION dashboard_rebuild_figures() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE dashboard_stagecount, dashboard_productfigures, dashboard_supplierfigures,
        dashboard_signaturedelayhour, dashboard_signaturedelayminute IN EXCLUSIVE MODE;
    DELETE FROM dashboard_stagecount;
    DELETE FROM dashboard_productfigures;
    DELETE FROM dashboard_supplierfigures;
    DELETE FROM dashboard_signaturedelayhour;
    DELETE FROM dashboard_signaturedelayminute;
    INSERT INTO dashboard_stagecount (organisation_id, status, hour, cases)
    SELECT organisation_id, status, date_trunc('hour', stage_entered_at, 'UTC'), count(*)
    FROM procurement_purchasecase GROUP BY 1, 2, 3;
    INSERT INTO dashboard_productfigures (organisation_id, product, estimated_ht, needed, lines_without_estimate,
        committed_ht, committed_ttc, committed_count, signed_ht, signed_ttc, signed_count, ordered)
    SELECT c.organisation_id, n.product, coalesce(sum(n.quantity * n.estimated_unit_price), 0), sum(n.quantity),
        count(*) FILTER (WHERE n.estimated_unit_price IS NULL), 0, 0, 0, 0, 0, 0, 0
    FROM procurement_needline n JOIN procurement_purchasecase c ON c.id = n.case_id
    WHERE c.status IN {OPEN_CASE} GROUP BY 1, 2;
    INSERT INTO dashboard_productfigures (organisation_id, product, committed_ht, committed_ttc, committed_count,
        signed_ht, signed_ttc, signed_count, ordered, estimated_ht, needed, lines_without_estimate)
    SELECT c.organisation_id, n.product, sum(k.quantity * k.unit_price),
        sum(k.quantity * k.unit_price * (1 + k.vat_rate)), count(*),
        coalesce(sum(k.quantity * k.unit_price) FILTER (WHERE k.status IN {SIGNED}), 0),
        coalesce(sum(k.quantity * k.unit_price * (1 + k.vat_rate)) FILTER (WHERE k.status IN {SIGNED}), 0),
        count(*) FILTER (WHERE k.status IN {SIGNED}),
        coalesce(sum(k.quantity) FILTER (WHERE k.status IN {SIGNED}), 0), 0, 0, 0
    FROM contracts_contract k JOIN procurement_purchasecase c ON c.id = k.case_id
    JOIN procurement_offer o ON o.id = k.offer_id JOIN procurement_needline n ON n.id = o.need_line_id
    WHERE k.status IN {COMMITTED} GROUP BY 1, 2;
    INSERT INTO dashboard_supplierfigures (organisation_id, supplier_id, committed_ht, contracts)
    SELECT c.organisation_id, o.supplier_id, sum(k.quantity * k.unit_price), count(*)
    FROM contracts_contract k JOIN procurement_purchasecase c ON c.id = k.case_id
    JOIN procurement_offer o ON o.id = k.offer_id
    WHERE k.status IN {COMMITTED} GROUP BY 1, 2;
    INSERT INTO dashboard_signaturedelayminute (organisation_id, minutes, contracts)
    SELECT c.organisation_id, floor(extract(epoch FROM k.signed_at - c.created_at) / 60), count(*)
    FROM contracts_contract k JOIN procurement_purchasecase c ON c.id = k.case_id
    WHERE k.status IN {SIGNED} AND k.signed_at IS NOT NULL GROUP BY 1, 2;
    INSERT INTO dashboard_signaturedelayhour (organisation_id, hours, contracts)
    SELECT organisation_id, floor(minutes / 60.0), sum(contracts)
    FROM dashboard_signaturedelayminute GROUP BY 1, 2;
END $$;

-- Fold the rows of each key into one (rows written meanwhile by other transactions stay as they are).
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
    WITH gone AS (DELETE FROM dashboard_supplierfigures RETURNING *)
    INSERT INTO dashboard_supplierfigures (organisation_id, supplier_id, committed_ht, contracts)
    SELECT organisation_id, supplier_id, sum(committed_ht), sum(contracts) FROM gone GROUP BY 1, 2
    HAVING sum(contracts) <> 0;
    WITH gone AS (DELETE FROM dashboard_signaturedelayhour RETURNING *)
    INSERT INTO dashboard_signaturedelayhour (organisation_id, hours, contracts)
    SELECT organisation_id, hours, sum(contracts) FROM gone GROUP BY 1, 2 HAVING sum(contracts) <> 0;
    WITH gone AS (DELETE FROM dashboard_signaturedelayminute RETURNING *)
    INSERT INTO dashboard_signaturedelayminute (organisation_id, minutes, contracts)
    SELECT organisation_id, minutes, sum(contracts) FROM gone GROUP BY 1, 2 HAVING sum(contracts) <> 0;
$$;

CREATE TRIGGER dashboard_case_figures_insert_delete AFTER INSERT OR DELETE ON procurement_purchasecase
    FOR EACH ROW EXECUTE FUNCTION dashboard_case_figures();
CREATE TRIGGER dashboard_case_figures_update AFTER UPDATE ON procurement_purchasecase
    FOR EACH ROW WHEN ((OLD.organisation_id, OLD.status, OLD.stage_entered_at, OLD.created_at)
        IS DISTINCT FROM (NEW.organisation_id, NEW.status, NEW.stage_entered_at, NEW.created_at))
    EXECUTE FUNCTION dashboard_case_figures();
CREATE TRIGGER dashboard_needline_figures_insert_delete AFTER INSERT OR DELETE ON procurement_needline
    FOR EACH ROW EXECUTE FUNCTION dashboard_needline_figures();
CREATE TRIGGER dashboard_needline_figures_update AFTER UPDATE ON procurement_needline
    FOR EACH ROW WHEN ((OLD.case_id, OLD.product, OLD.quantity, OLD.estimated_unit_price)
        IS DISTINCT FROM (NEW.case_id, NEW.product, NEW.quantity, NEW.estimated_unit_price))
    EXECUTE FUNCTION dashboard_needline_figures();
CREATE TRIGGER dashboard_contract_figures_insert_delete AFTER INSERT OR DELETE ON contracts_contract
    FOR EACH ROW EXECUTE FUNCTION dashboard_contract_figures();
CREATE TRIGGER dashboard_contract_figures_update AFTER UPDATE ON contracts_contract
    FOR EACH ROW WHEN ((OLD.case_id, OLD.offer_id, OLD.status, OLD.quantity, OLD.unit_price, OLD.vat_rate,
        OLD.signed_at) IS DISTINCT FROM (NEW.case_id, NEW.offer_id, NEW.status, NEW.quantity, NEW.unit_price,
        NEW.vat_rate, NEW.signed_at))
    EXECUTE FUNCTION dashboard_contract_figures();

SELECT dashboard_rebuild_figures();
"""  # noqa: S608  # nosec B608 (constant status lists, no input)

REVERSE = """
DROP TRIGGER IF EXISTS dashboard_case_figures_insert_delete ON procurement_purchasecase;
DROP TRIGGER IF EXISTS dashboard_case_figures_update ON procurement_purchasecase;
DROP TRIGGER IF EXISTS dashboard_needline_figures_insert_delete ON procurement_needline;
DROP TRIGGER IF EXISTS dashboard_needline_figures_update ON procurement_needline;
DROP TRIGGER IF EXISTS dashboard_contract_figures_insert_delete ON contracts_contract;
DROP TRIGGER IF EXISTS dashboard_contract_figures_update ON contracts_contract;
DROP FUNCTION IF EXISTS dashboard_compact_figures();
DROP FUNCTION IF EXISTS dashboard_rebuild_figures();
DROP FUNCTION IF EXISTS dashboard_contract_figures();
DROP FUNCTION IF EXISTS dashboard_contract_delta(contracts_contract, integer, bigint, timestamptz);
DROP FUNCTION IF EXISTS dashboard_needline_figures();
DROP FUNCTION IF EXISTS dashboard_needline_delta(procurement_needline, integer);
DROP FUNCTION IF EXISTS dashboard_case_figures();
DROP FUNCTION IF EXISTS dashboard_needlines_delta(bigint, bigint, integer);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE)


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_figures"),
        ("procurement", "0010_round_delivery_date"),
        ("contracts", "0004_modifications_signed_pdf"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
