"""The whole emergency purchase through the HTTP views, as three people: a buyer, a jurist, the director."""

import io
import re
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from contracts.models import CLAUSES, Contract
from notifications.models import Notification
from procurement.models import CaseEvent, PurchaseCase
from suppliers.models import Supplier
from tests.factories import conformity_form_data, make_siret

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _post(client, url, data, *, expect=302, **extra):
    response = client.post(url, data, **extra)
    assert response.status_code == expect, (url, response.status_code, _errors(response))
    return response


def _errors(response) -> str:
    text = response.content.decode(errors="replace")
    return " | ".join(re.findall(r'class="[^"]*(?:invalid-feedback|alert-danger)[^"]*"[^>]*>(.*?)<', text, re.S))[:800]


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.mark.django_db
def test_need_to_signed_contract_through_the_pages(
    client, buyer, jurist, director, delegation, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    today = timezone.localdate()
    soon = (today + timedelta(days=7)).isoformat()
    siret = make_siret(4242)

    # --- the buyer declares the need and the urgency ----------------------------------------
    client.force_login(buyer)
    response = _post(
        client,
        reverse("procurement:case_create"),
        {
            "case-title": "Masques FFP2 pour les soignants",
            "line-product": "ffp2",
            "line-description": "FFP2 ou équivalent",
            "line-quantity": "1000000",
            "line-unit": "unités",
            "line-cpv_code": "18143000-3",
            "line-required_date": soon,
            "line-delivery_place": "Marseille",
            "line-delivery_postal_code": "13002",
            "line-estimated_unit_price": "0.90",
            "justification-triggering_event": "Épidémie de COVID-19",
            "justification-event_date": (today - timedelta(days=2)).isoformat(),
            "justification-triggering_text": "Décret n° 2020-281",
            "justification-time_limits_impossible": "Même une procédure accélérée prendrait 15 jours.",
            "justification-causal_link": "La pénurie résulte directement de l'épidémie.",
            "justification-strictly_necessary_scope": "Un mois de consommation des soignants.",
        },
    )
    case = PurchaseCase.objects.get()
    assert response["Location"] == case.get_absolute_url()
    need_line = case.need_lines.get()
    _post(client, reverse("procurement:case_transition", args=[case.pk, "submit"]), {})

    # --- supplier, document, offer, vetting ---------------------------------------------------
    _post(
        client,
        reverse("suppliers:create"),
        {"name": "Transit Sud", "country": "FR", "siret": siret, "email": "contact@transit-sud.fr"},
    )
    supplier = Supplier.objects.get(siret=siret)
    _post(
        client,
        reverse("suppliers:document_add", args=[supplier.pk]),
        {
            "kind": "urssaf",
            "issued_on": (today - timedelta(days=10)).isoformat(),
            "file": SimpleUploadedFile("attestation.pdf", PDF_BYTES, content_type="application/pdf"),
        },
    )
    urssaf = supplier.documents.get()
    assert urssaf.expires_on == urssaf.issued_on + relativedelta(months=6)  # D8222-5
    _post(
        client,
        reverse("procurement:offer_create", args=[case.pk]),
        {
            "need_line": need_line.pk,
            "supplier": supplier.pk,
            "product_description": "KN95 modèle X",
            "unit_price": "0.95",
            "quantity": "1000000",
            "delivery_date": soon,
            "incoterm": "DAP",
            "delivery_place": "Marseille",
            "advance_rate": "0.30",
        },
    )
    offer = case.offers.get()
    _post(
        client,
        reverse("procurement:vetting_create", args=[case.pk]),
        {"supplier": supplier.pk, "decision": "approved", "findings": "URSSAF valide ; Kbis demandé."},
    )
    # Only the URSSAF certificate is on file: the approval carries red flags and waits for a jurist.
    decision = case.vetting_decisions.get()
    assert decision.awaiting_countersign
    assert {flag["code"] for flag in decision.red_flags} == {"document_missing"}
    refused = client.post(reverse("procurement:case_transition", args=[case.pk, "start_norm_check"]), follow=True)
    assert PurchaseCase.objects.get(pk=case.pk).status == "vetting"
    assert any("contreseing" in message for message in _messages(refused))
    client.force_login(jurist)
    _post(
        client,
        reverse("procurement:vetting_countersign", args=[decision.pk]),
        {"approve": "1", "comment": "Pièces manquantes demandées ; risque accepté vu l'urgence."},
    )
    client.force_login(buyer)
    _post(client, reverse("procurement:case_transition", args=[case.pk, "start_norm_check"]), {})
    _post(client, reverse("procurement:conformity_create", args=[offer.pk]), conformity_form_data(offer))
    check = offer.conformity_checks.get()
    assert check.verdict == "conform", check.reasons
    assert check.evidence.count() == 4
    _post(client, reverse("procurement:case_transition", args=[case.pk, "start_negotiation"]), {})
    _post(
        client,
        reverse("procurement:round_create", args=[offer.pk]),
        {
            "unit_price": "0.88",
            "quantity": "1000000",
            "delivery_date": soon,
            "incoterm": "DAP",
            "delivery_place": "Marseille",
            "advance_rate": "0.30",
            "payment_days": "30",
            "penalties": "P = V × R / 1000",
            "proposed_by": "Transit Sud",
            "note": "Baisse de prix contre acompte.",
            "is_final": "on",
        },
    )
    with pytest.raises(AssertionError):  # over the need: refused, strictly necessary
        _post(
            client,
            reverse("contracts:case_award", args=[case.pk]),
            {f"offer_{offer.pk}": "1000001", "reason": "Trop"},
        )
    case.refresh_from_db()
    assert case.status == "negotiation"

    with django_capture_on_commit_callbacks(execute=True):
        _post(
            client,
            reverse("contracts:case_award", args=[case.pk]),
            {f"offer_{offer.pk}": "1000000", "reason": "Seule offre conforme livrable à temps."},
        )
    contract = Contract.objects.get(case=case)
    document = contract.documents.get()
    assert document.status == "rendered", "the eager worker renders the PDF after commit"
    with django_capture_on_commit_callbacks(execute=True):
        _post(
            client,
            reverse("contracts:transition", args=[contract.pk, "submit_for_review"]),
            {"submit_for_review-rendered_sha256": document.sha256, "submit_for_review-confirm": "on"},
        )

    # --- the jurist: notified, checks the clauses, approves the version displayed --------------
    assert Notification.objects.filter(recipient=jurist, verb="contract_to_review").exists()
    assert any(jurist.email in m.to for m in mail.outbox)
    client.force_login(jurist)
    page = client.get(contract.get_absolute_url())
    assert page.status_code == 200
    assert document.sha256 in page.content.decode()
    _post(
        client,
        reverse("contracts:transition", args=[contract.pk, "approve"]),
        {"approve-rendered_sha256": document.sha256, "approve-clauses": list(CLAUSES)},
    )
    contract.refresh_from_db()
    assert contract.status == "approved"
    assert Notification.objects.filter(recipient=buyer, verb="contract_approved").exists()

    # --- the director signs under delegation -------------------------------------------------
    client.force_login(director)
    _post(client, reverse("contracts:transition", args=[contract.pk, "sign"]), {"sign-confirm": "on"})
    contract.refresh_from_db()
    assert contract.status == "signed"
    assert contract.signed_by == director
    assert contract.signed_sha256 == document.sha256
    assert Notification.objects.filter(recipient=buyer, verb="contract_signed").exists()

    # --- the PDF: valid, with the supplier's SIRET, the quantity, the legal basis --------------
    response = client.get(reverse("contracts:document_download", args=[document.pk]))
    assert response.status_code == 200
    pdf = b"".join(response.streaming_content)
    assert pdf.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s", "", text)
    assert siret in flat
    assert "1000000" in flat
    assert "R2122-1" in text

    # --- the audit log: one event per transition, with the right actor -------------------------
    transitions = {
        "submit": buyer,
        "start_norm_check": buyer,
        "start_negotiation": buyer,
        "award": buyer,
        "submit_for_review": buyer,
        "approve": jurist,
        "sign": director,
    }
    for verb, actor in transitions.items():
        events = list(CaseEvent.objects.filter(case=case, verb=verb))
        assert len(events) == 1, verb
        assert events[0].actor == actor, verb
        assert events[0].ip == "127.0.0.1"
