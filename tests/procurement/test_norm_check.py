"""The norm-check step through its service and pages: a computed verdict with its reasons and evidence, the
jurist's override, the case checklist and the award that refuses an offer that does not pass."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from contracts import services as contract_services
from procurement import services, workflow
from procurement.models import CaseEvent, ConformityCheck, ConformityEvidence, EvidenceKind, NormClass
from tests.factories import PDF_EVIDENCE, check_conformity, conformity_form_data, make_case

Verdict = ConformityCheck.Verdict


def pdf(name="piece.pdf"):
    return SimpleUploadedFile(name, PDF_EVIDENCE, content_type="application/pdf")


@pytest.fixture
def norm_case(buyer):
    return make_case(buyer, "norm_check")


@pytest.mark.django_db
class TestRecording:
    @pytest.mark.parametrize("verdict", [Verdict.CONFORM, Verdict.DEROGATION, Verdict.NON_CONFORM, Verdict.INCOMPLETE])
    def test_the_verdict_is_computed_and_explained(self, buyer, norm_case, verdict):
        check = check_conformity(norm_case.offers.get(), buyer, verdict=verdict)
        assert check.verdict == check.computed_verdict == verdict
        if verdict in (Verdict.NON_CONFORM, Verdict.INCOMPLETE):
            assert any(reason["level"] in ("danger", "missing") for reason in check.reasons)
        if verdict == Verdict.DEROGATION:
            assert check.derogation_reference == "Dérogation d'essai"

    def test_evidence_is_stored_privately_with_its_digest(self, buyer, norm_case, settings):
        check = check_conformity(norm_case.offers.get(), buyer)
        evidence = check.evidence.get(kind=EvidenceKind.TYPE_EXAMINATION)
        assert evidence.sha256
        assert evidence.size == len(PDF_EVIDENCE)
        assert evidence.file.name.startswith("conformity-evidence/")
        assert not evidence.file.name.endswith("type_exam.pdf")  # a generated name, never the user's
        assert evidence.file.path.startswith(str(settings.PRIVATE_STORAGE_ROOT))

    def test_an_executable_renamed_pdf_stores_nothing(self, buyer, norm_case):
        offer = norm_case.offers.get()
        claim = {"norm_class": NormClass.objects.get(norm__code="EN 149:2001+A1:2009", label="FFP2")}
        fake = SimpleUploadedFile("rapport.pdf", b"MZ\x90\x00" + b"\x00" * 200, content_type="application/pdf")
        checks, documents = ConformityCheck.objects.count(), ConformityEvidence.objects.count()
        with pytest.raises(ValidationError):
            services.conformity_record(
                offer=offer, actor=buyer, claim=claim, evidence=[{"kind": EvidenceKind.TEST_REPORT, "uploaded": fake}]
            )
        assert (ConformityCheck.objects.count(), ConformityEvidence.objects.count()) == (checks, documents)

    def test_the_audit_event_names_the_verdict_and_reasons(self, buyer, norm_case):
        check_conformity(norm_case.offers.get(), buyer, verdict=Verdict.NON_CONFORM)
        event = CaseEvent.objects.filter(case=norm_case, verb="conformity_check").last()
        assert "90" in event.comment

    def test_only_the_case_buyers_record(self, jurist, norm_case):
        with pytest.raises(PermissionDenied):
            check_conformity(norm_case.offers.get(), jurist)


@pytest.mark.django_db
class TestOverride:
    def test_a_jurist_overrides_with_a_reason_and_it_is_audited(self, buyer, jurist, norm_case):
        check = check_conformity(norm_case.offers.get(), buyer, verdict=Verdict.NON_CONFORM)
        with pytest.raises(ValidationError):
            services.conformity_override(check=check, actor=jurist, verdict=Verdict.CONFORM, reason="  ")
        with pytest.raises(PermissionDenied):
            services.conformity_override(check=check, actor=buyer, verdict=Verdict.CONFORM, reason="Moi.")
        services.conformity_override(
            check=check, actor=jurist, verdict=Verdict.CONFORM, reason="Essai contradictoire à 95 % reçu."
        )
        check.refresh_from_db()
        assert (check.verdict, check.computed_verdict, check.overridden_by) == (
            Verdict.CONFORM,
            Verdict.NON_CONFORM,
            jurist,
        )
        event = CaseEvent.objects.get(case=norm_case, verb="conformity_override")
        assert "Essai contradictoire" in event.comment
        assert event.actor == jurist
        services.case_start_negotiation(case=norm_case, actor=buyer)
        with pytest.raises(workflow.Conflict):
            services.conformity_override(check=check, actor=jurist, verdict=Verdict.NON_CONFORM, reason="Encore.")


@pytest.mark.django_db
class TestCaseSteps:
    @pytest.fixture(autouse=True)
    def english(self):
        with translation.override("en"):
            yield

    def test_negotiation_names_each_offer_that_does_not_pass(self, buyer, norm_case):
        # make_case recorded a conform check; a later check replaces it.
        check_conformity(norm_case.offers.get(), buyer, verdict=Verdict.INCOMPLETE)
        with pytest.raises(workflow.TransitionBlocked) as blocked:
            services.case_start_negotiation(case=norm_case, actor=buyer)
        assert any("Incomplete" in reason for reason in blocked.value.reasons)

    def test_the_award_is_impossible_for_an_offer_no_longer_conform(self, buyer):
        case = make_case(buyer, "negotiation")
        offer = case.offers.get()
        check_conformity(offer, buyer, verdict=Verdict.NON_CONFORM)
        with pytest.raises(workflow.TransitionBlocked) as blocked:
            contract_services.case_award(case=case, actor=buyer, awards={offer.pk: offer.quantity}, reason="Seul.")
        assert any("not conform" in reason for reason in blocked.value.reasons)

    def test_the_checklist_shows_which_offers_pass(self, client, buyer, norm_case):
        client.force_login(buyer)
        page = client.get(norm_case.get_absolute_url())
        [row] = page.context["norm_results"]
        assert row["conform"] is True
        check_conformity(norm_case.offers.get(), buyer, verdict=Verdict.NON_CONFORM)
        [row] = client.get(norm_case.get_absolute_url()).context["norm_results"]
        assert row["conform"] is False


@pytest.mark.django_db
class TestPages:
    def form_data(self, offer, *, filtration="98"):
        # Two documents only: the declaration and the type-examination certificate.
        return conformity_form_data(
            offer, filtration=filtration, kinds=[EvidenceKind.DECLARATION, EvidenceKind.TYPE_EXAMINATION]
        )

    def test_htmx_post_answers_the_verdict_panel_only(self, client, buyer, norm_case):
        offer = norm_case.offers.get()
        client.force_login(buyer)
        response = client.post(
            reverse("procurement:conformity_create", args=[offer.pk]),
            self.form_data(offer, filtration="93.9"),
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert "<html" not in body
        check = ConformityCheck.objects.filter(offer=offer).last()
        assert check.evidence.count() == 2
        assert check.verdict == Verdict.NON_CONFORM  # 93.9 % and no production certificate, no test report
        assert "93,9" in body or "93.9" in body

    def test_plain_post_redirects_to_the_case(self, client, buyer, norm_case):
        offer = norm_case.offers.get()
        client.force_login(buyer)
        response = client.post(reverse("procurement:conformity_create", args=[offer.pk]), self.form_data(offer))
        assert response.status_code == 302
        assert response["Location"] == norm_case.get_absolute_url()

    def test_an_invalid_htmx_post_comes_back_with_its_errors(self, client, buyer, norm_case):
        offer = norm_case.offers.get()
        client.force_login(buyer)
        data = self.form_data(offer)
        data["claim-norm_class"] = ""
        response = client.post(
            reverse("procurement:conformity_create", args=[offer.pk]), data, headers={"HX-Request": "true"}
        )
        assert response.status_code == 200
        assert "is-invalid" in response.content.decode()
        assert ConformityCheck.objects.filter(offer=offer).count() == 1  # only make_case's

    @pytest.mark.parametrize("norm_class", ["9" * 5_000, "99999999999999999999", "1e3"])
    def test_a_class_key_of_any_shape_is_refused_on_the_form(self, client, buyer, norm_case, norm_class):
        """Found by the fuzzing: a key of thousands of digits made the thresholds lookup fail (500)."""
        offer = norm_case.offers.get()
        client.force_login(buyer)
        data = self.form_data(offer)
        data["claim-norm_class"] = norm_class
        response = client.post(reverse("procurement:conformity_create", args=[offer.pk]), data)
        assert response.status_code == 422
        assert "is-invalid" in response.content.decode()
        assert ConformityCheck.objects.filter(offer=offer).count() == 1  # only make_case's
        assert (
            client.get(
                reverse("procurement:conformity_create", args=[offer.pk]), {"claim-norm_class": norm_class}
            ).status_code
            == 200
        )

    def test_evidence_download_is_scoped_to_the_organisation(self, client, buyer, outsider, norm_case):
        evidence = check_conformity(norm_case.offers.get(), buyer).evidence.first()
        client.force_login(outsider)
        assert client.get(evidence.get_download_url()).status_code == 404
        client.force_login(buyer)
        response = client.get(evidence.get_download_url())
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF_EVIDENCE


def test_decimal_values_of_the_catalogue_are_exact(db):
    ffp2 = NormClass.objects.get(norm__code="EN 149:2001+A1:2009", label="FFP2")
    assert (ffp2.filtration_min, ffp2.inward_leakage_max) == (Decimal("94"), Decimal("11"))


@pytest.mark.django_db
class TestReviewFixes:
    def test_the_page_offers_one_document_per_required_kind(self, client, buyer, norm_case):
        offer = norm_case.offers.get()
        client.force_login(buyer)
        page = client.get(reverse("procurement:conformity_create", args=[offer.pk]))
        formset = page.context["evidence_formset"]
        kinds = [form.fields["kind"].initial for form in formset.forms]
        ffp2 = NormClass.objects.get(norm__code="EN 149:2001+A1:2009", label="FFP2")
        required = sorted(ffp2.requirements.values_list("kind", flat=True))
        assert sorted(kind for kind in kinds if kind) == required
        assert len(formset.forms) == len(required) + 2

    def test_a_bad_class_in_the_address_is_ignored(self, client, buyer, norm_case):
        offer = norm_case.offers.get()
        client.force_login(buyer)
        url = reverse("procurement:conformity_create", args=[offer.pk])
        assert client.get(url, {"claim-norm_class": "abc"}).status_code == 200

    def test_an_htmx_post_refused_at_this_stage_redirects_the_browser(self, client, buyer):
        case = make_case(buyer, "contract")
        offer = case.offers.get()
        client.force_login(buyer)
        response = client.post(
            reverse("procurement:conformity_create", args=[offer.pk]),
            conformity_form_data(offer),
            headers={"HX-Request": "true"},
        )
        assert response["HX-Redirect"] == case.get_absolute_url()

    def test_an_override_cannot_waive_missing_evidence_or_invent_a_derogation(self, buyer, jurist, norm_case):
        incomplete = check_conformity(norm_case.offers.get(), buyer, verdict=Verdict.INCOMPLETE)
        with pytest.raises(ValidationError):
            services.conformity_override(check=incomplete, actor=jurist, verdict=Verdict.CONFORM, reason="Vu.")
        non_conform = check_conformity(norm_case.offers.get(), buyer, verdict=Verdict.NON_CONFORM)
        with pytest.raises(ValidationError):
            services.conformity_override(check=non_conform, actor=jurist, verdict=Verdict.DEROGATION, reason="Vu.")
        non_conform.refresh_from_db()
        assert not non_conform.is_overridden

    def test_a_jurist_buying_on_the_case_cannot_override(self, buyer, jurist, norm_case):
        check = check_conformity(norm_case.offers.get(), buyer, verdict=Verdict.NON_CONFORM)
        jurist.groups.add(Group.objects.get(name="buyer"))
        services.case_assign_buyer(case=norm_case, actor=buyer, buyer=jurist)
        with pytest.raises(PermissionDenied):
            services.conformity_override(check=check, actor=jurist, verdict=Verdict.CONFORM, reason="Vu.")
