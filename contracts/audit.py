"""The case file for auditors (issue 5, point 7): one ZIP holding the dossier PDF and every evidence file.

Layout of the archive (every name is built from slugs and primary keys, never from an uploaded file's name):

    dossier-<reference>.pdf                                   "Dossier de l'urgence impérieuse"
    manifeste.csv                                             every other file with its SHA-256
    justificatifs-fournisseurs/<company>-<pk>/<kind>-<pk>-<name>.<ext>
    conformite/<supplier>-offre-<pk>/<kind>-<pk>-<name>.<ext>
    contrats/<reference>-v<version>.pdf

A file missing from the storage is listed in the manifest (and in the dossier) as missing; it never stops the
export. A stored file whose SHA-256 differs from the one recorded at upload is flagged too.
"""

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import BinaryIO

from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.text import slugify

from contracts import rendering
from contracts.models import Contract, ContractDocument, ContractStatus
from procurement.models import (
    CaseEvent,
    CaseStatus,
    ConformityCheck,
    ConformityEvidence,
    NegotiationRound,
    Offer,
    PurchaseCase,
    SupplyChainParty,
    VettingDecision,
)
from suppliers.models import SanctionsScreening, Supplier, SupplierDocument

MANIFEST_NAME = "manifeste.csv"
SUPPLIER_FOLDER = "justificatifs-fournisseurs"
CONFORMITY_FOLDER = "conformite"
CONTRACT_FOLDER = "contrats"
CHUNK = 1024 * 1024

# Manifest states (French: the file is for French auditors).
PRESENT = "présent"
MISSING = "manquant"
ALTERED = "empreinte différente de celle enregistrée"

# Case and contract status codes do not overlap: one table labels both in the audit log.
STATUS_LABELS = {**dict(CaseStatus.choices), **dict(ContractStatus.choices)}
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


@dataclass
class ArchivedFile:
    """One evidence file of the archive: where it goes, what it is, and what was found on disk."""

    path: str
    description: str
    field_file: object = None
    recorded_sha256: str = ""
    sha256: str = ""
    size: int | None = None
    state: str = MISSING


def safe_part(text: str, *, fallback: str = "fichier", max_length: int = 60) -> str:
    """An ASCII slug usable as one path component: no separator, no dot-dot, never empty."""
    slug = slugify(str(text or ""))[:max_length].strip("-_")
    return slug or fallback


def _extension(content_type: str, stored_name: str) -> str:
    if content_type in EXTENSIONS:
        return EXTENSIONS[content_type]
    suffix = PurePosixPath(stored_name or "").suffix.lstrip(".").lower()
    return suffix if suffix.isalnum() and len(suffix) <= 5 else "bin"


def _file_name(kind: str, pk: int, original_name: str, content_type: str, stored_name: str) -> str:
    stem = safe_part(PurePosixPath((original_name or "").replace("\\", "/")).stem, fallback="piece", max_length=40)
    return f"{safe_part(kind)}-{pk}-{stem}.{_extension(content_type, stored_name)}"


# --- what the case holds ---------------------------------------------------------------------------
def case_file_queryset():
    """The case with everything the dossier reads, fetched once."""
    checks = ConformityCheck.objects.select_related("checked_by", "overridden_by", "norm_class__norm").prefetch_related(
        Prefetch("evidence", queryset=ConformityEvidence.objects.select_related("notified_body"))
    )
    offers = Offer.objects.select_related("supplier", "need_line", "awarded_by", "created_by").prefetch_related(
        Prefetch("rounds", queryset=NegotiationRound.objects.select_related("recorded_by").order_by("number", "pk")),
        Prefetch("conformity_checks", queryset=checks),
        Prefetch("chain", queryset=SupplyChainParty.objects.select_related("supplier").order_by("position", "pk")),
    )
    contracts = Contract.objects.select_related(
        "offer__supplier", "approved_by", "approved_document", "signed_by", "delegation"
    ).prefetch_related(Prefetch("documents", queryset=ContractDocument.objects.order_by("version")))
    return PurchaseCase.objects.select_related("organisation", "owner", "justification").prefetch_related(
        "need_lines",
        "buyers",
        Prefetch("offers", queryset=offers),
        Prefetch(
            "vetting_decisions",
            queryset=VettingDecision.objects.select_related("supplier", "decided_by", "countersigned_by"),
        ),
        Prefetch("contracts", queryset=contracts.order_by("reference", "pk")),
        Prefetch("events", queryset=CaseEvent.objects.select_related("actor", "contract").order_by("created_at", "pk")),
    )


def _companies(case) -> list[Supplier]:
    """Every company of the case: the offers' suppliers and every party of their supply chains."""
    ids = {offer.supplier_id for offer in case.offers.all()}
    ids |= {party.supplier_id for offer in case.offers.all() for party in offer.chain.all()}
    return list(
        Supplier.objects.filter(pk__in=ids)
        .order_by("name", "pk")
        .prefetch_related(
            Prefetch("documents", queryset=SupplierDocument.objects.order_by("kind", "issued_on", "pk")),
            Prefetch(
                "screenings",
                queryset=SanctionsScreening.objects.select_related(
                    "sanctions_list", "screened_by", "reviewed_by"
                ).order_by("screened_at", "pk"),
            ),
        )
    )


def _evidence_files(case, companies) -> list[ArchivedFile]:
    files = []
    for company in companies:
        folder = f"{SUPPLIER_FOLDER}/{safe_part(company.name, fallback='societe')}-{company.pk}"
        for document in company.documents.all():
            name = _file_name(
                document.kind, document.pk, document.original_name, document.content_type, document.file.name
            )
            files.append(
                ArchivedFile(
                    path=f"{folder}/{name}",
                    description=f"{document.get_kind_display()} — {company.name}",
                    field_file=document.file,
                    recorded_sha256=document.sha256,
                )
            )
    for offer in case.offers.all():
        folder = f"{CONFORMITY_FOLDER}/{safe_part(offer.supplier.name, fallback='offre')}-offre-{offer.pk}"
        for check in offer.conformity_checks.all():
            for evidence in check.evidence.all():
                if not evidence.file:
                    continue
                name = _file_name(
                    evidence.kind, evidence.pk, evidence.original_name, evidence.content_type, evidence.file.name
                )
                files.append(
                    ArchivedFile(
                        path=f"{folder}/{name}",
                        description=f"{evidence.get_kind_display()} — {offer.supplier.name}",
                        field_file=evidence.file,
                        recorded_sha256=evidence.sha256,
                    )
                )
    for contract in case.contracts.all():
        for document in contract.documents.all():
            if document.status != ContractDocument.Status.RENDERED:
                continue
            files.append(
                ArchivedFile(
                    path=f"{CONTRACT_FOLDER}/{safe_part(contract.reference)}-v{document.version}.pdf",
                    description=f"Marché {contract.reference}, version {document.version}",
                    field_file=document.file,
                    recorded_sha256=document.sha256,
                )
            )
    return files


def _copy_into(archive: zipfile.ZipFile, item: ArchivedFile, date_time) -> None:
    """Stream one stored file into the archive, hashing it on the way; a missing file is only recorded."""
    if not item.field_file:
        return
    try:
        source = item.field_file.storage.open(item.field_file.name, "rb")
    except (FileNotFoundError, OSError):
        return
    digest = hashlib.sha256()
    size = 0
    info = zipfile.ZipInfo(item.path, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    with source, archive.open(info, "w") as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
    item.sha256 = digest.hexdigest()
    item.size = size
    item.state = PRESENT if not item.recorded_sha256 or item.recorded_sha256 == item.sha256 else ALTERED


def _manifest(rows: list[ArchivedFile]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["chemin", "sha256", "taille_octets", "statut", "sha256_enregistre", "description"])
    for row in rows:
        writer.writerow(
            [
                row.path,
                row.sha256,
                "" if row.size is None else row.size,
                row.state,
                row.recorded_sha256,
                row.description,
            ]
        )
    # UTF-8 with a BOM: spreadsheet software then shows the accents right.
    return buffer.getvalue().encode("utf-8-sig")


def dossier_context(case, *, companies, files, now) -> dict:
    offers = list(case.offers.all())
    return {
        "case": case,
        "organisation": case.organisation,
        "justification": getattr(case, "justification", None),
        "need_lines": list(case.need_lines.all()),
        "buyers": list(case.buyers.all()),
        "companies": companies,
        "vetting_decisions": list(case.vetting_decisions.all()),
        "offers": offers,
        "checks": [(offer, check) for offer in offers for check in offer.conformity_checks.all()],
        "contracts": list(case.contracts.all()),
        "events": [
            (event, STATUS_LABELS.get(event.source, event.source), STATUS_LABELS.get(event.target, event.target))
            for event in case.events.all()
        ],
        "files": files,
        "generated_at": now,
        "static_base": rendering.STATIC_SCHEME,
    }


def render_dossier_pdf(case, *, companies, files, now) -> bytes:
    with translation.override("fr"), timezone.override(timezone.get_default_timezone()):
        html = render_to_string("pdf/dossier.html", dossier_context(case, companies=companies, files=files, now=now))
    return rendering.render_pdf(html)


# --- the archive -------------------------------------------------------------------------------------
def dossier_name(case) -> str:
    return f"dossier-{safe_part(case.reference, fallback=str(case.pk))}"


def write_case_file(case, output: BinaryIO, *, now: datetime | None = None) -> list[ArchivedFile]:
    """Write the auditors' ZIP of `case` into `output` (a writable, seekable binary file); returns the manifest
    rows (the dossier PDF first, then every evidence and contract file)."""
    now = now or timezone.now()
    with translation.override("fr"):
        return _write(case_file_queryset().get(pk=case.pk), output, now=now)


def _write(case, output: BinaryIO, *, now: datetime) -> list[ArchivedFile]:
    companies = _companies(case)
    files = _evidence_files(case, companies)
    date_time = timezone.localtime(now).timetuple()[:6]
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in files:
            _copy_into(archive, item, date_time)
        # The dossier lists the evidence with its fingerprints, so it is rendered once they are known.
        pdf = render_dossier_pdf(case, companies=companies, files=files, now=now)
        dossier = ArchivedFile(
            path=f"{dossier_name(case)}.pdf",
            description="Dossier de l'urgence impérieuse",
            sha256=rendering.sha256_hex(pdf),
            size=len(pdf),
            state=PRESENT,
        )
        archive.writestr(zipfile.ZipInfo(dossier.path, date_time=date_time), pdf, zipfile.ZIP_DEFLATED)
        rows = [dossier, *files]
        archive.writestr(zipfile.ZipInfo(MANIFEST_NAME, date_time=date_time), _manifest(rows), zipfile.ZIP_DEFLATED)
    return rows


def case_file_zip(case, *, now: datetime | None = None) -> bytes:
    """The auditors' ZIP of `case`, in memory (see write_case_file to stream it to a file)."""
    buffer = io.BytesIO()
    write_case_file(case, buffer, now=now)
    return buffer.getvalue()
