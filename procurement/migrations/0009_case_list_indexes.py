"""Indexes of the case list (DESIGN.md §8: a deep page costs what the first one does).

Created with RunPython rather than in the models' Meta.indexes: the GIN full-text indexes are PostgreSQL-only
(the demo runs on SQLite), and keeping all of the list's indexes in one place avoids a Meta the SQLite demo
could not honour. The expressions are built by Django's own SearchVector so that they match, character for
character, the ones procurement.selectors.search_condition queries with (else PostgreSQL would not use them).
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations, models

SEARCH_CONFIG = "french"  # procurement.selectors.SEARCH_CONFIG


def _indexes(vendor):
    indexes = [
        # Keyset scans of the default sort (newest first, and oldest first backwards) and of the time in stage.
        (
            "procurement",
            "PurchaseCase",
            models.Index(fields=["organisation", "created_at", "id"], name="case_list_created"),
        ),
        (
            "procurement",
            "PurchaseCase",
            models.Index(fields=["organisation", "stage_entered_at", "id"], name="case_list_stage"),
        ),
        # The product filter: cases having a need line of that product.
        ("procurement", "NeedLine", models.Index(fields=["product", "case"], name="needline_product_case")),
    ]
    if vendor == "postgresql":
        indexes += [
            (
                "procurement",
                "PurchaseCase",
                GinIndex(SearchVector("title", config=SEARCH_CONFIG), name="case_title_fts"),
            ),
            (
                "procurement",
                "NeedLine",
                GinIndex(SearchVector("description", config=SEARCH_CONFIG), name="needline_description_fts"),
            ),
            ("suppliers", "Supplier", GinIndex(SearchVector("name", config=SEARCH_CONFIG), name="supplier_name_fts")),
        ]
    return indexes


def create(apps, schema_editor):
    for app_label, model_name, index in _indexes(schema_editor.connection.vendor):
        schema_editor.add_index(apps.get_model(app_label, model_name), index)


def drop(apps, schema_editor):
    for app_label, model_name, index in _indexes(schema_editor.connection.vendor):
        schema_editor.remove_index(apps.get_model(app_label, model_name), index)


class Migration(migrations.Migration):
    dependencies = [
        ("procurement", "0008_notified_until"),
        ("suppliers", "0003_document_verified_by_screening_superseded"),
    ]

    operations = [migrations.RunPython(create, drop)]
