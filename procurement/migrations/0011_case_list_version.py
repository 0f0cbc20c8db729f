"""The case list's version: a sequence every change to what the list shows or filters on advances, so a rendered
page can be kept until the data it was rendered from changes (procurement.list_cache).

Two triggers per table advance it: at each statement (so that a transaction sees its own changes), and once more
when the transaction commits (a deferred constraint trigger, once per transaction), so that a page rendered by
another request while the change was not yet committed, kept under the version of the statement, is not served
after the commit.

PostgreSQL only: the demo (SQLite) renders the list on every request. A sequence rather than a counter row:
nextval never waits for another transaction, so concurrent changes are not serialised on it.
"""

from django.db import migrations

SEQUENCE = "procurement_case_list_version"
# The tables the case list reads: its rows, their lead and assigned buyers, need lines (amount, product, search),
# offers and suppliers (supplier filter, search), and the flags (sanctions screenings and lists, vetting decisions).
TABLES = [
    "procurement_purchasecase",
    "procurement_purchasecase_buyers",
    "procurement_needline",
    "procurement_offer",
    "procurement_vettingdecision",
    "suppliers_supplier",
    "suppliers_sanctionsscreening",
    "suppliers_sanctionslist",
    "accounts_user",
    "accounts_user_groups",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION procurement_case_list_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM nextval('{SEQUENCE}');
            RETURN NULL;
        END $$
        """
    )
    # At commit: the deferred row events of a transaction advance the version once.
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION procurement_case_list_committing() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('procurement.case_list_committing', true) IS DISTINCT FROM 'yes' THEN
                PERFORM nextval('{SEQUENCE}');
                PERFORM set_config('procurement.case_list_committing', 'yes', true);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_case_list_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION procurement_case_list_changed()"
        )
        schema_editor.execute(
            f"CREATE CONSTRAINT TRIGGER {table}_case_list_committing AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION procurement_case_list_committing()"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_case_list_changed ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_case_list_committing ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS procurement_case_list_changed()")
    schema_editor.execute("DROP FUNCTION IF EXISTS procurement_case_list_committing()")
    schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [
        ("procurement", "0010_round_delivery_date"),
        ("suppliers", "0003_document_verified_by_screening_superseded"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(create, drop)]
