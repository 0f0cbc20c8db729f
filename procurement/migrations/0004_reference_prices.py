"""Reference unit prices for the "more than 3× the reference" red flag (DOMAIN.md §3).

Indicative prices excl. VAT seen in public purchases at the start of 2020; administrators adjust them
(and add newer ones, effective-dated) in the admin.
"""

from datetime import date
from decimal import Decimal

from django.db import migrations

SOURCE = "Prix moyens constatés dans les achats publics début 2020 (valeur indicative, à ajuster)"
PRICES = {
    "ffp1": "1.0000",
    "ffp2": "1.5000",
    "ffp3": "3.0000",
    "med_i": "0.1500",
    "med_ii": "0.2000",
    "med_iir": "0.2500",
    "community": "1.0000",
    "exam_gloves": "0.0500",
    "prot_gloves": "1.5000",
    "gowns": "2.0000",
    "sanitiser": "8.0000",
}


def seed(apps, schema_editor):
    ReferencePrice = apps.get_model("procurement", "ReferencePrice")
    for product, price in PRICES.items():
        ReferencePrice.objects.get_or_create(
            product=product,
            valid_from=date(2020, 1, 1),
            defaults={"unit_price": Decimal(price), "source": SOURCE},
        )


def unseed(apps, schema_editor):
    apps.get_model("procurement", "ReferencePrice").objects.filter(valid_from=date(2020, 1, 1), source=SOURCE).delete()


class Migration(migrations.Migration):
    dependencies = [("procurement", "0003_vetting")]

    operations = [migrations.RunPython(seed, unseed)]
