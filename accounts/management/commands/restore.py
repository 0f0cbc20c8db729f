"""`make restore BACKUP=backups/<timestamp>`: check the manifest, replace the database's content by the dump
(pg_restore --clean, one transaction; the database is created if missing), then put the documents folder back
(the folder it replaces is kept aside). README: "Backup and restore"."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from accounts import backups


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` into DATABASE_URL and PRIVATE_STORAGE_ROOT."

    def add_arguments(self, parser):
        parser.add_argument("backup", help="The backup folder, e.g. backups/20260301T020000Z.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive", help="Do not ask for confirmation."
        )

    def handle(self, *args, backup, database, interactive, **options):
        folder = Path(backup).resolve()
        backups.verify_manifest(folder)
        settings_dict = backups.require_postgres(connections[database].settings_dict)
        name = settings_dict["NAME"]
        root = Path(settings.PRIVATE_STORAGE_ROOT)
        if interactive:
            self.stdout.write(
                f"This replaces the content of the database {name} and the documents folder {root} by the "
                f"backup {folder}.\nType the database name to go on: ",
                ending="",
            )
            if input().strip() != name:
                raise CommandError("Restore cancelled.")
        connections[database].close()  # pg_restore --clean drops tables: no connection of ours should hold them
        if backups.create_database_if_missing(settings_dict):
            self.stdout.write(f"Database {name} created.")
        backups.restore_database(settings_dict, folder / backups.DUMP)
        previous = backups.extract_documents(folder / backups.DOCUMENTS, root)
        self.stdout.write(f"Database {name} restored from {folder}; documents restored in {root}.")
        if previous is not None:
            self.stdout.write(f"The documents folder it replaced was kept in {previous}.")
