"""CSV and XLSX exports of the case list (and `neutralise`, for every export of the project).

CSV is written for French Excel: UTF-8 with a BOM (else Excel reads it as Windows-1252), `;` separator, decimal
comma, dates as dd/mm/yyyy hh:mm in Europe/Paris. XLSX keeps numbers and dates typed.
"""

import csv
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from itertools import islice

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from procurement.catalogue import Product
from procurement.models import CaseStatus, NeedLine, Offer

# Beyond this, the export stops and says so in its last row: narrow the filters.
EXPORT_MAX_ROWS = 100_000
CHUNK_SIZE = 2000
CSV_ROWS_PER_CHUNK = 500

# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(…) exfiltrating data, DDE…):
# OWASP "CSV injection". Tab and CR are included because some readers drop them and then see the formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell a spreadsheet would run as a formula is prefixed with a single quote; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def headers() -> list[str]:
    return [
        gettext("Reference"),
        gettext("Object of the purchase"),
        gettext("Stage"),
        gettext("Lead buyer"),
        gettext("Created at"),
        gettext("In this stage since"),
        gettext("Overdue"),
        gettext("Estimated amount excl. VAT (€)"),
        gettext("Products"),
        gettext("Suppliers"),
    ]


def _local(moment: datetime) -> datetime:
    return timezone.localtime(moment).replace(tzinfo=None)


def _batches(iterable, size: int):
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def _labels(pairs) -> dict[int, list[str]]:
    by_case: dict[int, list[str]] = {}
    for case_id, label in pairs:
        labels = by_case.setdefault(case_id, [])
        if label not in labels:
            labels.append(label)
    return by_case


def case_rows(qs, *, now=None, limit: int | None = None) -> Iterator[list]:
    """One list of typed values per case of `qs` (already filtered and ordered), read in chunks; per chunk, one
    query for the products and one for the suppliers (three queries per CHUNK_SIZE cases, whatever the total).
    After `limit` rows (EXPORT_MAX_ROWS by default) one last row says the export was cut.

    Labels are looked up in dicts built once: `get_FOO_display()` rebuilds its choices dict on every call, which
    dominated the time of a 100 000-row export."""
    now = now or timezone.now()
    limit = EXPORT_MAX_ROWS if limit is None else limit
    yes, no = gettext("yes"), gettext("no")
    statuses = {value: str(label) for value, label in CaseStatus.choices}
    products = {value: str(label) for value, label in Product.choices}
    rows = qs.select_related("owner")[: limit + 1].iterator(chunk_size=CHUNK_SIZE)
    count = 0
    for batch in _batches(rows, CHUNK_SIZE):
        ids = [case.pk for case in batch]
        lines = NeedLine.objects.filter(case_id__in=ids).order_by("case_id", "pk").values_list("case_id", "product")
        product_labels = _labels((case_id, products.get(code, code)) for case_id, code in lines)
        offers = Offer.objects.filter(case_id__in=ids).order_by("case_id", "supplier__name")
        supplier_names = _labels(offers.values_list("case_id", "supplier__name"))
        for case in batch:
            if count == limit:
                message = gettext("Export stopped at %(count)s rows: narrow the filters to get the others.")
                yield [message % {"count": limit}]
                return
            count += 1
            yield [
                case.reference,
                case.title,
                statuses.get(case.status, case.status),
                str(case.owner),
                _local(case.created_at),
                _local(case.stage_entered_at),
                yes if case.is_overdue(now) else no,
                case.estimated_amount,
                ", ".join(product_labels.get(case.pk, [])),
                ", ".join(supplier_names.get(case.pk, [])),
            ]


# --- CSV -----------------------------------------------------------------------------------------
class _Echo:
    """A file-like object whose write returns the line: csv.writer then produces strings to stream."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    return neutralise(str(value))


def csv_lines(rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow([neutralise(h) for h in headers()])
    batch = []
    for row in rows:
        batch.append(writer.writerow([csv_cell(value) for value in row]))
        if len(batch) >= CSV_ROWS_PER_CHUNK:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def csv_response(qs, *, filename: str, now=None) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(case_rows(qs, now=now)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


# --- XLSX ----------------------------------------------------------------------------------------
def _xlsx_cell(sheet, value):
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "dd/mm/yyyy hh:mm"
        return cell
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "#,##0.00"
        return cell
    if isinstance(value, str):
        return xlsx_text(value)
    return value


def xlsx_text(value: str) -> str:
    """A text cell for XLSX: control characters removed (openpyxl would refuse the whole export), then
    neutralised — in that order, so that "\x01=cmd" is caught too."""
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))


def xlsx_response(qs, *, filename: str, now=None) -> FileResponse:
    """A write-only workbook (rows go to disk as they come, not to memory), then streamed from a temporary file."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(gettext("Cases"))
    sheet.append([neutralise(h) for h in headers()])
    for row in case_rows(qs, now=now):
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    output = tempfile.TemporaryFile()
    workbook.save(output)
    output.seek(0)
    return FileResponse(
        output,
        as_attachment=True,
        filename=f"{filename}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
