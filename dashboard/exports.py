"""The dashboard's figures as rows (section, figure, value), written to CSV or XLSX for the director's files."""

import csv
import io
from decimal import Decimal

from django.http import HttpResponse
from django.utils.translation import gettext
from openpyxl import Workbook

from dashboard.templatetags.figures import duration
from procurement.exports import csv_cell, xlsx_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def figure_rows(figures: dict) -> list[tuple[str, str, object]]:
    """Every figure of the dashboard as (section, figure, value); amounts in euros, durations in words."""
    rows: list[tuple[str, str, object]] = []
    total = figures["family_total"]
    key = gettext("Key figures")
    rows += [
        (key, gettext("Committed excl. VAT (€)"), total.committed_ht),
        (key, gettext("Committed incl. VAT (€)"), total.committed_ttc),
        (key, gettext("Signed excl. VAT (€)"), total.signed_ht),
        (key, gettext("Signed incl. VAT (€)"), total.signed_ttc),
        (key, gettext("Estimated excl. VAT, open cases (€)"), total.estimated_ht),
        (key, gettext("Estimated incl. VAT, open cases (€)"), total.estimated_ttc),
        (key, gettext("Cases"), figures["cases_total"]),
        (key, gettext("Overdue cases"), figures["overdue_total"]),
        (key, gettext("Need to signature, median"), duration(figures["time_to_contract"].median)),
        (key, gettext("Need to signature, 90th percentile"), duration(figures["time_to_contract"].p90)),
        (key, gettext("Deliveries in the next 7 days"), figures["deliveries_total"]),
        (key, gettext("Obligations pending"), figures["obligations_total"]),
        (key, gettext("Cases at risk of requisition"), figures["requisition_total"]),
        (key, gettext("Suppliers with a red flag, open cases"), figures["flagged_total"]),
        (key, gettext("Open cases with a flagged supplier"), figures["flagged_cases"]),
    ]
    stages = gettext("Cases per stage")
    for stage in figures["stages"]:
        rows.append((stages, stage.label, stage.count))
        if stage.is_open:
            rows.append((stages, gettext("%(stage)s: past the target") % {"stage": stage.label}, stage.overdue))
    families = gettext("By product family")
    for row in figures["families"]:
        rows += [
            (families, f"{row.label} — " + gettext("estimated excl. VAT (€)"), row.estimated_ht),
            (families, f"{row.label} — " + gettext("committed excl. VAT (€)"), row.committed_ht),
            (families, f"{row.label} — " + gettext("committed incl. VAT (€)"), row.committed_ttc),
            (families, f"{row.label} — " + gettext("signed excl. VAT (€)"), row.signed_ht),
            (families, f"{row.label} — " + gettext("signed incl. VAT (€)"), row.signed_ttc),
            (families, f"{row.label} — " + gettext("units needed"), row.needed),
            (families, f"{row.label} — " + gettext("units ordered"), row.ordered),
        ]
    suppliers = gettext("Suppliers by amount committed")
    for row in figures["suppliers"]:
        rows.append((suppliers, row.name, row.amount))
    return rows


def csv_response(rows, name: str) -> HttpResponse:
    """UTF-8 with a BOM and ';' separators: what a French spreadsheet opens without an import wizard."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow([gettext("Section"), gettext("Figure"), gettext("Value")])
    for section, label, value in rows:
        writer.writerow([csv_cell(section), csv_cell(label), csv_cell(value)])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _xlsx_value(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return xlsx_text(value)  # a supplier name pasted from a PDF may hold control characters
    return value


def xlsx_response(rows, name: str) -> HttpResponse:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(gettext("Dashboard"))
    sheet.append([gettext("Section"), gettext("Figure"), gettext("Value")])
    for section, label, value in rows:
        sheet.append([_xlsx_value(section), _xlsx_value(label), _xlsx_value(value)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


FORMATS = {"csv": csv_response, "xlsx": xlsx_response}
