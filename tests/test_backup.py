"""Issue 7 §9 — `make backup` / `make restore`: a backup restored into a fresh database and documents folder gives
back every case, audit event and contract, every row of every table, and every document with the same bytes
(SHA-256) — and the audit table is still append-only there."""

import hashlib
import os
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import quote
from uuid import uuid4

import psycopg
import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models
from django.utils import timezone
from psycopg import sql

from accounts import backups
from contracts import services as contract_services
from contracts.models import Contract, SignedDocument
from procurement.models import CaseEvent, PurchaseCase
from suppliers import services as supplier_services
from suppliers.models import SupplierDocument
from tests import factories

BASE_DIR = Path(__file__).resolve().parents[1]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# Production settings with dummy secrets: the shape `make backup` runs in.
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "dummy-secret-for-the-backup-test-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DJANGO_ALLOWED_HOSTS": "tandem.example",
}


def _url(name: str) -> str:
    settings_dict = connection.settings_dict
    auth = quote(settings_dict["USER"] or "")
    if settings_dict.get("PASSWORD"):
        auth += ":" + quote(settings_dict["PASSWORD"])
    host = settings_dict.get("HOST") or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{auth}@/{name}?host={host}"
    return f"postgres://{auth}@{host}:{settings_dict.get('PORT') or 5432}/{name}"


def _connect(name: str, **kwargs) -> psycopg.Connection:
    settings_dict = connection.settings_dict
    params = {key.lower(): settings_dict[key] for key in ("HOST", "PORT", "USER", "PASSWORD") if settings_dict[key]}
    return psycopg.connect(dbname=name, **params, **kwargs)


def _make(target: str, **env) -> str:
    """Run a Makefile target as an operator would (-o: never reinstall the virtualenv from a test)."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed-stamp", target],
        cwd=BASE_DIR,
        env={**os.environ, **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def fresh_database():
    name = f"tandem_restore_{uuid4().hex[:10]}"
    yield name
    with _connect("postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _build_cases(buyer, jurist, director):
    """Cases at every depth: one through the signed contract (offer, evidence uploaded, PDF rendered, sealed
    copy), one cancelled, one just opened; and a supplier's uploaded certificate."""
    contract = factories.make_contract(buyer, "notified", jurist=jurist, signer=director)
    signed = SignedDocument.objects.create(
        contract=contract,
        source=contract.current_document,
        status=SignedDocument.Status.SIGNED,
        created_at=timezone.now(),
    )
    signed.file.save("signe.pdf", ContentFile(PDF + b"% sealed\n"))
    contract_services.case_cancel(
        case=factories.make_case(buyer, "vetting"), actor=jurist, comment="Besoin couvert par l'État."
    )
    factories.make_case(buyer, "need", title="Gants nitrile")
    supplier = contract.offer.supplier
    supplier_services.supplier_document_add(
        supplier=supplier,
        actor=buyer,
        kind=SupplierDocument.Kind.KBIS,
        issued_on=timezone.localdate(),
        uploaded=SimpleUploadedFile("kbis.pdf", PDF + b"% kbis\n", content_type="application/pdf"),
    )


def _rows(cursor, model) -> list[tuple]:
    table = sql.Identifier(model._meta.db_table)
    return cursor.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(table)).fetchall()


def _file_models():
    return [m for m in apps.get_models() if any(isinstance(f, models.FileField) for f in m._meta.concrete_fields)]


def _documents(cursor, root: Path) -> dict[tuple, tuple[str, str]]:
    """(model, pk, field) → (SHA-256 recorded in the row, or "" ; SHA-256 of the file's bytes)."""
    found = {}
    for model in _file_models():
        for field in (f for f in model._meta.concrete_fields if isinstance(f, models.FileField)):
            columns = [model._meta.pk.column, field.column]
            recorded = "sha256" in {f.column for f in model._meta.concrete_fields}
            if recorded:
                columns.append("sha256")
            query = sql.SQL("SELECT {} FROM {} WHERE {} <> ''").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(model._meta.db_table),
                sql.Identifier(field.column),
            )
            for pk, name, *digest in cursor.execute(query).fetchall():
                data = (root / name).read_bytes()
                found[(model._meta.label, pk, field.name)] = (digest[0] if recorded else "", _sha(data))
    return found


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): _sha(p.read_bytes()) for p in root.rglob("*") if p.is_file()}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_backup_restored_into_a_fresh_database_is_identical(
    buyer, jurist, director, delegation, private_storage, tmp_path, fresh_database
):
    _build_cases(buyer, jurist, director)
    source_name = connection.settings_dict["NAME"]
    assert PurchaseCase.objects.count() == 3
    assert Contract.objects.filter(status="notified").exists()

    # make backup
    out = _make(
        "backup",
        DATABASE_URL=_url(source_name),
        PRIVATE_STORAGE_ROOT=str(private_storage),
        BACKUP_DIR=str(tmp_path / "backups"),
    )
    [folder] = (tmp_path / "backups").iterdir()
    assert str(folder) in out
    assert {p.name for p in folder.iterdir()} == {backups.DUMP, backups.MANIFEST, backups.DOCUMENTS}
    check = subprocess.run(["sha256sum", "-c", backups.MANIFEST], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    # make restore into a database that does not exist yet, over a documents folder that already holds a file
    restored_root = tmp_path / "restored" / "private"
    restored_root.mkdir(parents=True)
    (restored_root / "stray.txt").write_text("left by a previous installation")
    _make(
        "restore",
        BACKUP=str(folder),
        RESTORE_ARGS="--noinput",
        DATABASE_URL=_url(fresh_database),
        PRIVATE_STORAGE_ROOT=str(restored_root),
    )

    with _connect(source_name) as source, _connect(fresh_database) as restored:
        source_cursor, restored_cursor = source.cursor(), restored.cursor()
        for model in (PurchaseCase, CaseEvent, Contract):
            rows = _rows(source_cursor, model)
            assert rows, model
            assert _rows(restored_cursor, model) == rows, f"{model._meta.label} differs after the restore"
        for model in apps.get_models():
            table = sql.Identifier(model._meta.db_table)
            count = sql.SQL("SELECT count(*) FROM {}").format(table)
            assert restored_cursor.execute(count).fetchone() == source_cursor.execute(count).fetchone(), model

        documents = _documents(source_cursor, private_storage)
        kinds = {label for label, _pk, _field in documents}
        assert {
            "suppliers.SupplierDocument",
            "procurement.ConformityEvidence",
            "contracts.ContractDocument",
            "contracts.SignedDocument",
        } <= kinds
        for key, (recorded, actual) in documents.items():
            assert recorded in ("", actual), f"{key}: the source file does not match its recorded SHA-256"
        assert _documents(restored_cursor, restored_root) == documents

        # The audit trail is still append-only in the restored database.
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            restored_cursor.execute("UPDATE procurement_caseevent SET comment = 'rewritten'")

    assert _tree(restored_root) == _tree(private_storage)
    [kept] = (tmp_path / "restored").glob("private.before-restore-*")
    assert (kept / "stray.txt").read_text() == "left by a previous installation"


def _fake_backup(folder: Path) -> Path:
    folder.mkdir()
    (folder / backups.DUMP).write_bytes(b"PGDMP not really")
    with tarfile.open(folder / backups.DOCUMENTS, "w:gz"):
        pass
    backups.write_manifest(folder, [backups.DUMP, backups.DOCUMENTS])
    return folder


def test_a_damaged_backup_is_refused_before_anything_is_touched(tmp_path, private_storage):
    folder = _fake_backup(tmp_path / "20260301T020000Z")
    (private_storage / "kept.pdf").write_bytes(PDF)
    with (folder / backups.DUMP).open("ab") as dump:
        dump.write(b"one flipped byte")
    with pytest.raises(CommandError, match="does not match its SHA-256"):
        call_command("restore", str(folder), interactive=False)
    assert [p.name for p in private_storage.iterdir()] == ["kept.pdf"]


def test_a_folder_without_manifest_is_not_a_backup(tmp_path):
    folder = _fake_backup(tmp_path / "backup")
    (folder / backups.MANIFEST).unlink()
    with pytest.raises(CommandError, match="no manifest"):
        call_command("restore", str(folder), interactive=False)


def test_a_documents_archive_cannot_write_outside_the_folder(tmp_path):
    """A crafted archive (../ paths) is refused by the extraction filter: nothing lands outside the root."""
    archive = tmp_path / "documents.tar.gz"
    payload = tmp_path / "payload.txt"
    payload.write_text("escape")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(payload, arcname="../escaped.txt")
    root = tmp_path / "deploy" / "private"
    with pytest.raises(tarfile.FilterError):
        backups.extract_documents(archive, root)
    assert not (tmp_path / "deploy" / "escaped.txt").exists()
    assert not root.exists()
