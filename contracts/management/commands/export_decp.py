"""Export the DECP (données essentielles) of an organisation's contracts notified in a period.

    manage.py export_decp --organisation <SIRET or pk> --du 2026-01-01 --au 2026-12-31 [--output decp.json]

Prints the JSON document (arrêté of 22 December 2022, schema v2.0.3), or writes it to `--output`. Only the
contracts notified to the supplier with an amount of at least 40 000 € HT are exported (see contracts.decp).
"""

import json
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organisation
from contracts import decp
from contracts.models import Contract


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Invalid date {value!r}: expected YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Export the DECP (JSON) of an organisation's contracts notified in a period."

    def add_arguments(self, parser):
        parser.add_argument("--organisation", required=True, help="SIRET or primary key of the organisation.")
        parser.add_argument("--du", required=True, help="First day of the period (YYYY-MM-DD), included.")
        parser.add_argument("--au", required=True, help="Last day of the period (YYYY-MM-DD), included.")
        parser.add_argument("--output", help="File to write; the JSON is printed when omitted.")

    def handle(self, *args, organisation, du, au, output=None, **options):
        start, end = _day(du), _day(au)
        if start > end:
            raise CommandError("The start of the period must not be after its end.")
        found = Organisation.objects.filter(siret=organisation).first()
        if found is None and organisation.isdigit() and len(organisation) != 14:
            found = Organisation.objects.filter(pk=int(organisation)).first()
        if found is None:
            raise CommandError(f"No organisation with SIRET or id {organisation!r}.")
        contracts = decp.notified_between(Contract.objects.for_organisation(found.pk), start=start, end=end)
        document = decp.export(contracts)
        text = json.dumps(document, ensure_ascii=False, indent=2)
        if output:
            Path(output).write_text(text + "\n", encoding="utf-8")
            count = len(document["marches"]["marche"])
            self.stderr.write(f"{count} contract(s) written to {output}.")
        else:
            self.stdout.write(text)
