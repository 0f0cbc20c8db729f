"""Backup and restore of a Tandem installation: the PostgreSQL database (pg_dump custom format) and the private
documents folder (PRIVATE_STORAGE_ROOT), in one folder with a SHA-256 manifest checked before any restore.

backups/<UTC timestamp>/
    database.dump        pg_dump --format=custom
    documents.tar.gz     every file under PRIVATE_STORAGE_ROOT, paths relative to it
    MANIFEST.sha256      `sha256sum -c` format, one line per file above
"""

# subprocess runs pg_dump and pg_restore by absolute path with an argument list, never through a shell.
import hashlib
import os
import shutil
import subprocess  # nosec B404
import tarfile
from pathlib import Path

import psycopg
from django.core.management.base import CommandError
from django.utils import timezone
from psycopg import sql

DUMP = "database.dump"
DOCUMENTS = "documents.tar.gz"
MANIFEST = "MANIFEST.sha256"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stamp() -> str:
    return timezone.now().strftime("%Y%m%dT%H%M%SZ")


# --- PostgreSQL ----------------------------------------------------------------------------------
def require_postgres(settings_dict: dict) -> dict:
    if settings_dict["ENGINE"] != "django.db.backends.postgresql":
        raise CommandError(
            "Backup and restore need PostgreSQL (DATABASE_URL=postgres://…). The SQLite demo database is a "
            "single file: copy it while the server is stopped."
        )
    return settings_dict


def postgres_env(settings_dict: dict) -> dict[str, str]:
    """libpq's variables: the password never appears on a command line (visible to every local user)."""
    settings_dict = require_postgres(settings_dict)
    options = settings_dict.get("OPTIONS") or {}
    env = {**os.environ}
    for variable, value in (
        ("PGHOST", settings_dict.get("HOST")),
        ("PGPORT", settings_dict.get("PORT")),
        ("PGUSER", settings_dict.get("USER")),
        ("PGPASSWORD", settings_dict.get("PASSWORD")),
        ("PGSSLMODE", options.get("sslmode")),
    ):
        if value:
            env[variable] = str(value)
    return env


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CommandError(f"{name} not found: install the PostgreSQL client (Debian: postgresql-client).")
    return path


def _run(command: list[str], env: dict[str, str]) -> None:
    # An argument list from our own code (absolute binary path, database name from settings): no shell.
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    if result.returncode != 0:
        raise CommandError(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}")


def dump_database(settings_dict: dict, target: Path) -> None:
    """One consistent snapshot (pg_dump runs in a single repeatable-read transaction)."""
    _run(
        [_binary("pg_dump"), "--format=custom", "--file", str(target), settings_dict["NAME"]],
        postgres_env(settings_dict),
    )


def create_database_if_missing(settings_dict: dict) -> bool:
    settings_dict = require_postgres(settings_dict)
    params = {"dbname": "postgres", "autocommit": True}
    for key, name in (("HOST", "host"), ("PORT", "port"), ("USER", "user"), ("PASSWORD", "password")):
        if settings_dict.get(key):
            params[name] = settings_dict[key]
    with psycopg.connect(**params) as connection:
        name = settings_dict["NAME"]
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def restore_database(settings_dict: dict, dump: Path) -> None:
    """Replace the database's objects by the dump's, in one transaction: a failure leaves it as it was."""
    _run(
        [
            _binary("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--dbname",
            settings_dict["NAME"],
            str(dump),
        ],
        postgres_env(settings_dict),
    )


# --- documents -----------------------------------------------------------------------------------
def archive_documents(root: Path, target: Path) -> int:
    """Every regular file under `root`, stored relative to it (sorted: the same folder gives the same list)."""
    count = 0
    with tarfile.open(target, "w:gz") as archive:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    archive.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)
                    count += 1
    return count


def extract_documents(archive_path: Path, root: Path) -> Path | None:
    """Unpack into a fresh folder beside `root`, then swap it in. The folder it replaces is kept under
    `<root>.before-restore-<timestamp>` (returned), never deleted: a restore must be reversible."""
    root = root.resolve()
    root.parent.mkdir(parents=True, exist_ok=True)
    label = stamp()
    incoming = root.with_name(f".{root.name}.restoring-{label}")
    incoming.mkdir()
    with tarfile.open(archive_path, "r:gz") as archive:
        # The "data" filter refuses absolute paths, "..", links leaving the folder and special files.
        archive.extractall(incoming, filter="data")
    previous = None
    if root.exists():
        if any(root.iterdir()):
            previous = root.with_name(f"{root.name}.before-restore-{label}")
            root.rename(previous)
        else:
            root.rmdir()
    incoming.rename(root)
    return previous


# --- manifest ------------------------------------------------------------------------------------
def write_manifest(folder: Path, names: list[str]) -> None:
    lines = [f"{sha256_file(folder / name)}  {name}\n" for name in names]
    (folder / MANIFEST).write_text("".join(lines), encoding="ascii")


def verify_manifest(folder: Path) -> None:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise CommandError(f"{manifest}: no manifest, not a Tandem backup folder.")
    expected = {}
    for line in manifest.read_text(encoding="ascii").splitlines():
        digest, _sep, name = line.partition("  ")
        expected[name] = digest
    if set(expected) != {DUMP, DOCUMENTS}:
        raise CommandError(f"{manifest}: expected {DUMP} and {DOCUMENTS}, found {sorted(expected)}.")
    for name, digest in expected.items():
        path = folder / name
        if not path.is_file():
            raise CommandError(f"{path} is missing.")
        if sha256_file(path) != digest:
            raise CommandError(f"{path} does not match its SHA-256 in {MANIFEST}: damaged or altered, not restored.")
