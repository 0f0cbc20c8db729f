"""`manage.py import_sanctions PATH [--source fr_dgt|eu_fsf]`: import one version of an asset-freeze list."""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext, ngettext

from suppliers import services
from suppliers.models import SanctionsList


class Command(BaseCommand):
    @property
    def help(self) -> str:
        # Translated when shown (argparse needs a plain string, not a lazy one).
        return gettext(
            "Import an asset-freeze list: the JSON export of the French national register (DG Trésor) or the XML "
            "of the EU consolidated list. Importing the same file again changes nothing."
        )

    def add_arguments(self, parser):
        parser.add_argument("path", help=gettext("File of the list (JSON or XML)."))
        parser.add_argument(
            "--source",
            choices=SanctionsList.Source.values,
            help=gettext("Expected source (by default: detected from the file)."),
        )

    def handle(self, *args, path, source=None, **options):
        # The command speaks to the site's administrator in the site's language, whatever the shell's locale.
        with translation.override(settings.LANGUAGE_CODE):
            self._import(Path(path), source)

    def _import(self, file: Path, source: str | None) -> None:
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(
                gettext("Cannot read %(path)s: %(reason)s.") % {"path": file, "reason": error.strerror}
            ) from None
        try:
            sanctions_list = services.sanctions_import(data=data, original_name=file.name, source=source)
        except ValidationError as error:
            raise CommandError(
                gettext("%(file)s refused: %(reasons)s") % {"file": file.name, "reasons": " ".join(error.messages)}
            ) from None
        summary = ngettext(
            "%(list)s, version %(version)s, %(count)d entry",
            "%(list)s, version %(version)s, %(count)d entries",
            sanctions_list.entry_count,
        ) % {
            "list": sanctions_list.get_source_display(),
            "version": sanctions_list.version,
            "count": sanctions_list.entry_count,
        }
        if sanctions_list.newly_imported:
            self.stdout.write(self.style.SUCCESS(gettext("List imported: %(summary)s.") % {"summary": summary}))
        else:
            self.stdout.write(
                self.style.WARNING(
                    gettext("List already imported: %(summary)s (nothing changed).") % {"summary": summary}
                )
            )
