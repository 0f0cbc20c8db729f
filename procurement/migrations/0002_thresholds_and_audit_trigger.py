from datetime import date
from decimal import Decimal

from django.db import migrations

# DOMAIN.md §2 — effective-dated, editable by the admin afterwards. 2026–27 EU figure: to confirm.
THRESHOLDS = [
    ("no_procedure", "40000", date(2020, 1, 1), None, "R2122-8"),
    ("decp", "40000", date(2019, 1, 1), None, "Arrêté du 22 décembre 2022"),
    ("vigilance", "5000", date(2012, 1, 1), None, "Code du travail D8222-5"),
    ("eu_supplies", "214000", date(2020, 1, 1), date(2021, 12, 31), "Règlement délégué (UE) 2019/1829"),
    ("eu_supplies", "215000", date(2022, 1, 1), date(2023, 12, 31), "Règlement délégué (UE) 2021/1952"),
    ("eu_supplies", "221000", date(2024, 1, 1), date(2025, 12, 31), "Règlement délégué (UE) 2023/2497"),
    ("eu_supplies", "216000", date(2026, 1, 1), date(2027, 12, 31), "À confirmer"),
    ("advance", "50000", date(2019, 4, 1), None, "R2191-3 (et durée > 2 mois)"),
]

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION tandem_caseevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'procurement_caseevent is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS caseevent_append_only ON procurement_caseevent;
CREATE TRIGGER caseevent_append_only BEFORE UPDATE OR DELETE ON procurement_caseevent
    FOR EACH ROW EXECUTE FUNCTION tandem_caseevent_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS caseevent_append_only ON procurement_caseevent;
DROP FUNCTION IF EXISTS tandem_caseevent_append_only();
"""


def seed_thresholds(apps, schema_editor):
    Threshold = apps.get_model("procurement", "Threshold")
    for kind, amount, valid_from, valid_until, note in THRESHOLDS:
        Threshold.objects.get_or_create(
            kind=kind,
            valid_from=valid_from,
            defaults={"amount": Decimal(amount), "valid_until": valid_until, "note": note},
        )


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("procurement", "0001_initial")]
    operations = [
        migrations.RunPython(seed_thresholds, migrations.RunPython.noop),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
