"""A buyer records a conformity check in chromium with two uploaded documents; the verdict and its reasons
replace the form without a full page reload (htmx), and the class's thresholds follow the class chosen."""

from playwright.sync_api import expect

from procurement.models import ConformityCheck, EvidenceKind, NormClass
from tests.factories import PDF_EVIDENCE, make_case, ppe_body

PASSWORD = "un-mot-de-passe-de-test"


def test_verdict_and_reasons_without_a_reload(page, live_server, buyer, login, axe_check, tmp_path):
    case = make_case(buyer, "norm_check")
    offer = case.offers.get()
    body = ppe_body()
    declaration, certificate = tmp_path / "declaration.pdf", tmp_path / "attestation-ue-de-type.pdf"
    declaration.write_bytes(PDF_EVIDENCE)
    certificate.write_bytes(PDF_EVIDENCE)

    login(page, buyer.username, PASSWORD)
    page.goto(f"{live_server.url}/dossiers/offres/{offer.pk}/conformite/")
    page.evaluate("() => { window.tandemMarker = 'same page'; }")
    thresholds = page.locator("#class-thresholds")
    assert "≥ 94 %" in thresholds.inner_text()  # EN 149 FFP2, the need's standard, is preselected
    axe_check(page)

    kn95 = NormClass.objects.get(label="KN95")
    page.locator("#id_claim-norm_class").select_option(str(kn95.pk))
    expect(thresholds).to_contain_text("dérogation")  # KN95: accepted under the 2020 derogation
    expect(thresholds).to_contain_text("≥ 95 %")
    ffp2 = NormClass.objects.get(norm__code="EN 149:2001+A1:2009", label="FFP2")
    page.locator("#id_claim-norm_class").select_option(str(ffp2.pk))
    expect(thresholds).to_contain_text("≥ 94 %")

    page.locator("#id_claim-model_reference").fill("X-100")
    page.locator("#id_claim-ce_number").fill("2797")
    page.locator("#id_claim-filtration").fill("93.9")
    page.locator("#id_claim-inward_leakage").fill("6")
    page.locator("#id_evidence-0-kind").select_option(EvidenceKind.DECLARATION)
    page.locator("#id_evidence-0-issuer").fill("Fabricant X")
    page.locator("#id_evidence-0-uploaded").set_input_files(str(declaration))
    page.locator("#id_evidence-1-kind").select_option(EvidenceKind.TYPE_EXAMINATION)
    page.locator("#id_evidence-1-issuer").fill(body.name)
    page.locator("#id_evidence-1-notified_body").select_option(str(body.pk))
    page.locator("#id_evidence-1-model_reference").fill("X-100")
    page.locator("#id_evidence-1-uploaded").set_input_files(str(certificate))
    page.get_by_role("button", name="Enregistrer le contrôle").click()

    verdict = page.locator(".verdict")
    verdict.wait_for()
    assert page.evaluate("() => window.tandemMarker") == "same page"  # no full reload
    text = verdict.inner_text()
    assert "Non conforme" in text
    assert "93,9" in text  # the filtration below the 94 % FFP2 requires
    assert "Rapport d'essai" in text  # and what is missing
    axe_check(page)

    check = ConformityCheck.objects.filter(offer=offer).last()
    assert check.verdict == ConformityCheck.Verdict.NON_CONFORM
    assert sorted(check.evidence.values_list("kind", flat=True)) == ["declaration", "type_exam"]
