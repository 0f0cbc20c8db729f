"""The case file for auditors: a ZIP with the dossier PDF, every evidence file and a manifest of SHA-256."""

import csv
import hashlib
import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from contracts import audit
from procurement import services as case_services
from procurement.models import ConformityEvidence
from suppliers import services as supplier_services
from suppliers.models import SupplierDocument
from tests.factories import PDF_EVIDENCE, SupplierFactory, make_case

SANCTIONS_SAMPLE = (
    Path(__file__).resolve().parents[2] / "suppliers/fixtures/sanctions/registre-national-gels-echantillon.json"
)
SAFE_PATH = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


def _text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u202f", " "))


def _manifest(archive: zipfile.ZipFile) -> dict[str, dict]:
    content = archive.read(audit.MANIFEST_NAME).decode("utf-8-sig")
    return {row["chemin"]: row for row in csv.DictReader(io.StringIO(content), delimiter=";")}


@pytest.fixture
def case(buyer):
    """A closed case (one supplier vetted, conform, negotiated, contract signed) whose supplier also holds two
    documents — one uploaded under a hostile name — and was screened against the sample asset-freeze list."""
    case = make_case(buyer, "closed")
    supplier = case.offers.get().supplier
    issued = timezone.localdate() - timedelta(days=10)
    for kind, name in (("urssaf", "attestation URSSAF.pdf"), ("kbis", "kbis.pdf")):
        supplier_services.supplier_document_add(
            supplier=supplier,
            actor=buyer,
            kind=kind,
            issued_on=issued,
            uploaded=SimpleUploadedFile(name, PDF_EVIDENCE + kind.encode(), content_type="application/pdf"),
        )
    # A name that did not come through an upload form (an import, an old row): it must not leak into the archive.
    SupplierDocument.objects.filter(supplier=supplier, kind="kbis").update(original_name="../../etc/passwd\\..\\x.pdf")
    supplier_services.sanctions_import(data=SANCTIONS_SAMPLE.read_bytes(), original_name=SANCTIONS_SAMPLE.name)
    supplier_services.supplier_screen(supplier=supplier, actor=buyer)
    return case


@pytest.mark.django_db
def test_zip_holds_the_dossier_the_manifest_and_every_file_with_its_sha256(case):
    archive = zipfile.ZipFile(io.BytesIO(audit.case_file_zip(case)))
    names = set(archive.namelist())
    contract = case.contracts.get()
    supplier = contract.offer.supplier

    dossier = f"dossier-{case.reference.lower()}.pdf"
    assert dossier in names
    assert audit.MANIFEST_NAME in names
    supplier_files = {n for n in names if n.startswith("justificatifs-fournisseurs/")}
    conformity_files = {n for n in names if n.startswith("conformite/")}
    contract_files = {n for n in names if n.startswith("contrats/")}
    assert len(supplier_files) == SupplierDocument.objects.filter(supplier=supplier).count() == 2
    assert all(f"-{supplier.pk}/" in n for n in supplier_files)
    assert len(conformity_files) == ConformityEvidence.objects.filter(conformity_check__offer__case=case).count() == 4
    assert contract_files == {f"contrats/{contract.reference.lower()}-v1.pdf"}
    assert names == {dossier, audit.MANIFEST_NAME} | supplier_files | conformity_files | contract_files

    manifest = _manifest(archive)
    assert set(manifest) == names - {audit.MANIFEST_NAME}
    for name, row in manifest.items():
        data = archive.read(name)
        assert row["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert row["taille_octets"] == str(len(data)), name
        assert row["statut"] == audit.PRESENT, name
    # The stored fingerprints are those recorded when the files were uploaded or rendered.
    recorded = {
        *SupplierDocument.objects.filter(supplier=supplier).values_list("sha256", flat=True),
        *ConformityEvidence.objects.filter(conformity_check__offer__case=case).values_list("sha256", flat=True),
        contract.documents.get().sha256,
    }
    assert {row["sha256"] for name, row in manifest.items() if name != dossier} == recorded
    assert archive.read(f"contrats/{contract.reference.lower()}-v1.pdf").startswith(b"%PDF-")


@pytest.mark.django_db
def test_archive_names_are_safe_whatever_the_original_names(case):
    archive = zipfile.ZipFile(io.BytesIO(audit.case_file_zip(case)))
    for name in archive.namelist():
        assert SAFE_PATH.match(name), name
        assert ".." not in name.split("/"), name
    assert not any("passwd" in name and "etc" in name.split("/") for name in archive.namelist())
    kbis = SupplierDocument.objects.get(kind="kbis")
    assert any(name.endswith(f"/kbis-{kbis.pk}-x.pdf") for name in archive.namelist())


@pytest.mark.django_db
def test_the_same_case_gives_the_same_names(case):
    now = timezone.now()
    first = zipfile.ZipFile(io.BytesIO(audit.case_file_zip(case, now=now))).namelist()
    second = zipfile.ZipFile(io.BytesIO(audit.case_file_zip(case, now=now))).namelist()
    assert first == second


@pytest.mark.django_db
def test_dossier_pdf_states_justification_vetting_screenings_verdicts_contract_and_audit_log(case):
    archive = zipfile.ZipFile(io.BytesIO(audit.case_file_zip(case)))
    text = _text(archive.read(f"dossier-{case.reference.lower()}.pdf"))
    justification = case.justification
    contract = case.contracts.get()
    decision = case.vetting_decisions.get()
    check = contract.offer.conformity_checks.get()
    screening = contract.offer.supplier.screenings.get()

    assert "Dossier de l'urgence impérieuse" in text
    assert case.reference in text
    for condition in (
        justification.triggering_event,
        justification.time_limits_impossible,
        justification.causal_link,
        justification.strictly_necessary_scope,
    ):
        assert condition in text
    with translation.override("fr"):
        assert str(decision.get_decision_display()) in text
        assert str(check.get_verdict_display()) in text
        assert str(screening.get_result_display()) in text
        assert screening.sanctions_list.version_label in text
        for event in case.events.all():
            assert event.verb_label in text, event.verb
    # The red flags the buyer saw, and the jurist's countersignature.
    assert decision.red_flags
    assert decision.countersigned_by is not None
    assert decision.red_flags[0]["reason"] in text
    assert "Contreseing." in text
    assert "Meilleur délai de livraison." in text  # the reason for the award
    # The contract's versions, and who signed under which delegation.
    assert contract.documents.get().sha256 in text.replace(" ", "")
    assert contract.delegation.reference in text
    assert contract.signed_by.last_name in text
    assert contract.offer.supplier.name in text


@pytest.mark.django_db
def test_missing_file_is_listed_as_missing_not_a_crash(case):
    evidence = ConformityEvidence.objects.filter(conformity_check__offer__case=case).first()
    default_storage.delete(evidence.file.name)

    archive = zipfile.ZipFile(io.BytesIO(audit.case_file_zip(case)))
    missing = {name: row for name, row in _manifest(archive).items() if row["statut"] == audit.MISSING}

    assert len(missing) == 1
    [(name, row)] = missing.items()
    assert f"-{evidence.pk}-" in name
    assert name not in archive.namelist()
    assert row["sha256"] == ""
    assert row["sha256_enregistre"] == evidence.sha256
    assert "manquant" in _text(archive.read(f"dossier-{case.reference.lower()}.pdf"))


@pytest.mark.django_db
def test_altered_file_is_flagged(case):
    document = SupplierDocument.objects.get(kind="urssaf")
    with default_storage.open(document.file.name, "wb") as handle:
        handle.write(b"%PDF-1.4 altered")

    manifest = _manifest(zipfile.ZipFile(io.BytesIO(audit.case_file_zip(case))))
    [row] = [row for name, row in manifest.items() if f"/urssaf-{document.pk}-" in name]
    assert row["statut"] == audit.ALTERED
    assert row["sha256"] == hashlib.sha256(b"%PDF-1.4 altered").hexdigest()


@pytest.mark.django_db
def test_every_company_of_the_supply_chain_has_its_documents_and_screenings(buyer):
    supplier_services.sanctions_import(data=SANCTIONS_SAMPLE.read_bytes(), original_name=SANCTIONS_SAMPLE.name)
    case = make_case(buyer, "negotiation")
    forwarder = SupplierFactory(organisation=case.organisation, created_by=buyer, name="Transit ../Évasion")
    document = supplier_services.supplier_document_add(
        supplier=forwarder,
        actor=buyer,
        kind="urssaf",
        issued_on=timezone.localdate() - timedelta(days=5),
        uploaded=SimpleUploadedFile("urssaf.pdf", PDF_EVIDENCE, content_type="application/pdf"),
    )
    case_services.chain_party_add(offer=case.offers.get(), actor=buyer, supplier=forwarder, role="forwarder")

    archive = zipfile.ZipFile(io.BytesIO(audit.case_file_zip(case)))
    path = f"justificatifs-fournisseurs/transit-evasion-{forwarder.pk}/urssaf-{document.pk}-urssaf.pdf"
    assert _manifest(archive)[path]["sha256"] == document.sha256
    text = _text(archive.read(f"dossier-{case.reference.lower()}.pdf"))
    assert "Transit ../Évasion" in text
    with translation.override("fr"):
        screening = forwarder.screenings.get()
        assert f"{screening.sanctions_list.short_name} — {screening.sanctions_list.version_label}" in text


# --- the download -----------------------------------------------------------------------------------
def _download(client, user, case):
    client.force_login(user)
    response = client.get(reverse("contracts:case_audit_zip", args=[case.pk]))
    if not response.streaming:
        return response, response.content
    # Consuming the stream closes the response (the test client's wrapper), hence the temporary file.
    return response, b"".join(response.streaming_content)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["buyer", "buyer2", "jurist", "director"])
def test_members_of_the_organisation_download_the_zip(client, case, request, role):
    response, body = _download(client, request.getfixturevalue(role), case)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="dossier-{case.reference.lower()}.zip"'
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert f"dossier-{case.reference.lower()}.pdf" in names


@pytest.mark.django_db
def test_the_download_is_recorded_in_the_audit_log_with_the_dossier_fingerprint(client, case, jurist):
    response, body = _download(client, jurist, case)

    archive = zipfile.ZipFile(io.BytesIO(body))
    dossier = f"dossier-{case.reference.lower()}.pdf"
    event = case.events.get(verb="case_file_exported")
    assert event.actor == jurist
    assert event.ip == "127.0.0.1"
    assert hashlib.sha256(archive.read(dossier)).hexdigest() in event.comment
    # The next export lists this one in its audit log.
    text = _text(zipfile.ZipFile(io.BytesIO(audit.case_file_zip(case))).read(dossier))
    assert f"{dossier} SHA-256 {event.comment.split()[-1]}".replace(" ", "") in text.replace(" ", "")


@pytest.mark.django_db
def test_another_organisation_gets_404_and_a_user_without_role_403(client, case, outsider, norole):
    assert _download(client, outsider, case)[0].status_code == 404
    client.logout()
    assert _download(client, norole, case)[0].status_code == 403
    assert not case.events.filter(verb="case_file_exported").exists()


@pytest.mark.django_db
def test_case_page_links_to_the_case_file(client, buyer):
    case = make_case(buyer, "need")
    client.force_login(buyer)
    response = client.get(case.get_absolute_url())
    assert reverse("contracts:case_audit_zip", args=[case.pk]) in response.content.decode()
