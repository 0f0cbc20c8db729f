"""`manage.py import_notified_bodies PATH`: create or update the notified-bodies reference from a CSV file."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext

from procurement import notified_bodies, services


class Command(BaseCommand):
    help = (
        "Create or update the notified bodies from a CSV file (columns number, name, country, legislations, "
        "aliases, note). Importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file, UTF-8, with a header row.")

    def handle(self, *args, path, **options):
        file = Path(path)
        try:
            text = notified_bodies.decode(file.read_bytes())
            created, updated = services.notified_bodies_import(text=text)
        except OSError as error:
            raise CommandError(
                gettext("Cannot read %(file)s: %(error)s.") % {"file": file, "error": error.strerror}
            ) from None
        except ValidationError as error:
            raise CommandError(
                gettext("%(file)s refused, nothing imported: %(errors)s")
                % {"file": file.name, "errors": " ".join(error.messages)}
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                gettext("Notified bodies: %(created)s created, %(updated)s updated.")
                % {"created": created, "updated": updated}
            )
        )
