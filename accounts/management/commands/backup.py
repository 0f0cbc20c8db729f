"""`make backup`: the database (pg_dump -Fc) and the documents folder into backups/<UTC timestamp>/, with a
SHA-256 manifest. README: "Backup and restore"."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from accounts import backups


class Command(BaseCommand):
    help = "Back up the PostgreSQL database and the private documents folder, with a SHA-256 manifest."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output-dir",
            default=str(settings.BASE_DIR / "backups"),
            help="Folder receiving one sub-folder per backup (default: backups/).",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, output_dir, database, **options):
        settings_dict = backups.require_postgres(connections[database].settings_dict)
        target = Path(output_dir).resolve() / backups.stamp()
        try:
            target.mkdir(parents=True)
        except FileExistsError:
            raise CommandError(f"{target} already exists: wait a second and run it again.") from None
        # The database first, then the files: a row in the dump is committed, so its file (written before the
        # commit, never deleted afterwards) is already on disk when the folder is archived.
        backups.dump_database(settings_dict, target / backups.DUMP)
        count = backups.archive_documents(Path(settings.PRIVATE_STORAGE_ROOT), target / backups.DOCUMENTS)
        backups.write_manifest(target, [backups.DUMP, backups.DOCUMENTS])
        self.stdout.write(f"Database {settings_dict['NAME']} and {count} document(s) backed up in {target}")
        return None
