"""The notified-bodies reference as a CSV file: reading and checking it (pure, no database).

One row per body: number, name, country, legislations, aliases, note. The number is the 4-digit
identification number that follows the CE mark; it is empty for the known issuers of "voluntary certificates"
that are not notified at all. Legislations and aliases are semicolon-separated. The administrator refreshes the
file from NANDO (the European Commission's database of notified bodies) and imports it through
`services.notified_bodies_import`, from the admin or `manage.py import_notified_bodies`.
"""

import csv
import io
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from procurement.models import Legislation, NotifiedBody

COLUMNS = ("number", "name", "country", "legislations", "aliases", "note")
# "none" describes a standard (a community mask), never what a body is notified for.
NOTIFIABLE = (Legislation.PPE, Legislation.MEDICAL_DEVICES, Legislation.OTHER)
NUMBER = re.compile(r"\d{4}")
COUNTRY = re.compile(r"[A-Z]{2}")


def _max_length(field: str) -> int:
    return NotifiedBody._meta.get_field(field).max_length


def decode(data: bytes) -> str:
    """The text of an uploaded file: UTF-8, with or without the byte-order mark spreadsheets add."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            gettext("The file is not UTF-8 text: save it from the spreadsheet as “CSV UTF-8”.")
        ) from None


def split(value: str) -> list[str]:
    """A semicolon-separated cell as a list: trimmed, without blanks or repeats, in the file's order."""
    items = []
    for item in value.split(";"):
        item = item.strip()
        if item and item.casefold() not in {seen.casefold() for seen in items}:
            items.append(item)
    return items


def _row(line: int, raw: dict) -> tuple[dict, list[str]]:
    values = {column: (raw.get(column) or "").strip() for column in COLUMNS}
    errors = []
    where = {"line": line}
    number, name = values["number"], values["name"]
    if number and not NUMBER.fullmatch(number):
        errors.append(
            gettext("Line %(line)s: the number “%(number)s” is not the 4 digits that follow the CE mark.")
            % {**where, "number": number}
        )
    if not name:
        errors.append(gettext("Line %(line)s: the name is missing.") % where)
    elif len(name) > _max_length("name"):
        errors.append(
            gettext("Line %(line)s: the name is longer than %(max)s characters.")
            % {**where, "max": _max_length("name")}
        )
    country = values["country"].upper()
    if country and not COUNTRY.fullmatch(country):
        errors.append(
            gettext("Line %(line)s: the country “%(country)s” is not a two-letter code (FR, DE…).")
            % {**where, "country": values["country"]}
        )
    legislations = [value.lower() for value in split(values["legislations"])]
    for value in legislations:
        if value not in NOTIFIABLE:
            errors.append(
                gettext("Line %(line)s: unknown legislation “%(value)s” (expected ppe, md or other).")
                % {**where, "value": value}
            )
    if legislations and not number:
        # A body is notified under a number; without one, it is an issuer of certificates that prove nothing.
        errors.append(gettext("Line %(line)s: a body without a number cannot be notified for a legislation.") % where)
    if len(values["note"]) > _max_length("note"):
        errors.append(
            gettext("Line %(line)s: the note is longer than %(max)s characters.")
            % {**where, "max": _max_length("note")}
        )
    body = {
        "number": number,
        "name": name,
        "country": country,
        "legislations": legislations,
        "aliases": split(values["aliases"]),
        "note": values["note"],
    }
    return body, errors


def parse_csv(text: str) -> list[dict]:
    """The bodies of a CSV file, one dict per row with the model's fields; every bad row is reported at once.

    Raises ValidationError listing each problem with its line number, so a file is either wholly usable or
    refused: nothing is imported from a file with one bad row.
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [(column or "").strip().lower() for column in reader.fieldnames or []]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise ValidationError(
            gettext("The file must start with the header row %(header)s; missing: %(missing)s.")
            % {"header": ",".join(COLUMNS), "missing": ", ".join(missing)}
        )
    reader.fieldnames = header
    bodies, errors = [], []
    first_line = {}  # number, or name of a body without number -> line where it first appears
    try:
        for raw in reader:
            line = reader.line_num
            if not any((value or "").strip() for value in raw.values() if isinstance(value, str)):
                continue
            body, row_errors = _row(line, raw)
            if raw.get(None):
                row_errors.append(
                    gettext("Line %(line)s: more values than columns (put a value that contains a comma in quotes).")
                    % {"line": line}
                )
            errors.extend(row_errors)
            key = body["number"] or body["name"].casefold()
            if key and key in first_line:
                errors.append(
                    gettext("Line %(line)s: “%(body)s” already appears on line %(first)s.")
                    % {"line": line, "body": body["number"] or body["name"], "first": first_line[key]}
                )
            elif key:
                first_line[key] = line
            bodies.append(body)
    except csv.Error as error:
        errors.append(gettext("Line %(line)s: unreadable CSV (%(error)s).") % {"line": reader.line_num, "error": error})
    if errors:
        raise ValidationError(errors)
    if not bodies:
        raise ValidationError(gettext("The file lists no body."))
    return bodies
