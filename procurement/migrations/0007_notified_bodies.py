"""The notified-bodies reference, seeded with the sample in procurement/fixtures/notified_bodies.csv: bodies
notified for PPE, bodies notified only under other legislation, and the known issuers of "voluntary
certificates" (no number). Administrators refresh it from NANDO through the admin's CSV import.

Self-contained on purpose (a migration must not depend on code that will change): the fixture is trusted and
read with the csv module; bodies already present are left as they are."""

import csv
from pathlib import Path

from django.db import migrations

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "notified_bodies.csv"


def _split(value: str) -> list[str]:
    return [item.strip() for item in (value or "").split(";") if item.strip()]


def seed(apps, schema_editor):
    NotifiedBody = apps.get_model("procurement", "NotifiedBody")
    with FIXTURE.open(encoding="utf-8-sig", newline="") as file:
        for row in csv.DictReader(file):
            number, name = row["number"].strip(), row["name"].strip()
            if not name:
                continue
            lookup = {"number": number} if number else {"number": "", "name": name}
            NotifiedBody.objects.get_or_create(
                **lookup,
                defaults={
                    "name": name,
                    "country": row["country"].strip().upper(),
                    "legislations": [value.lower() for value in _split(row["legislations"])],
                    "aliases": _split(row["aliases"]),
                    "note": row["note"].strip(),
                },
            )


class Migration(migrations.Migration):
    dependencies = [("procurement", "0006_norms_catalogue_data")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
