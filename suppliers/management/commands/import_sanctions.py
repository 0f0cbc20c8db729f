"""`manage.py import_sanctions PATH [--source fr_dgt|eu_fsf]`: import one version of an asset-freeze list."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from suppliers import services
from suppliers.models import SanctionsList

# The command speaks to a French administrator, whatever the active language.
SOURCE_NAMES = {
    SanctionsList.Source.FR: "registre national des gels (DG Trésor)",
    SanctionsList.Source.EU: "liste consolidée des sanctions financières de l'UE",
}


class Command(BaseCommand):
    help = (
        "Importe une liste de gel des avoirs : export JSON du registre national des gels (DG Trésor) ou XML de "
        "la liste consolidée de l'UE. Réimporter le même fichier ne change rien."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="Fichier de la liste (JSON ou XML).")
        parser.add_argument(
            "--source",
            choices=SanctionsList.Source.values,
            help="Source attendue (par défaut : détectée d'après le fichier).",
        )

    def handle(self, *args, path, source=None, **options):
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Impossible de lire {file} : {error.strerror}.") from None
        try:
            sanctions_list = services.sanctions_import(data=data, original_name=file.name, source=source)
        except ValidationError as error:
            raise CommandError(f"{file.name} refusé : {' '.join(error.messages)}") from None
        name = SOURCE_NAMES.get(sanctions_list.source, sanctions_list.source)
        summary = f"{name}, version {sanctions_list.version}, {sanctions_list.entry_count} entrées"
        if sanctions_list.newly_imported:
            self.stdout.write(self.style.SUCCESS(f"Liste importée : {summary}."))
        else:
            self.stdout.write(self.style.WARNING(f"Liste déjà importée : {summary} (aucun changement)."))
