"""The director's dashboard: every figure recomputed here, independently, from the objects the fixtures built;
the page, its self-refresh and pause, its exports (CSV, Excel, PDF) and the daily digest."""

import csv
import io
import statistics
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from openpyxl import load_workbook
from pypdf import PdfReader

from contracts import obligations
from contracts.models import Contract
from dashboard import selectors, services
from notifications.models import Notification
from procurement.catalogue import Product
from procurement.models import NeedLine, NegotiationRound, PurchaseCase
from suppliers.models import Supplier
from tests import factories
from tests.factories import SignatureDelegationFactory, make_case, make_contract

NOW = timezone.now().replace(microsecond=0)
COMMITTED = {"approved", "signed", "notified"}
SIGNED = {"signed", "notified"}
CENT = Decimal("0.01")


@pytest.fixture
def world(buyer, jurist, director, delegation):
    """Cases in several stages, contracts in several states, two products, varied need-to-signature times."""
    contracts = [
        make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=200_000),
        make_contract(buyer, "notified", jurist=jurist, signer=director, quantity=100_000),
        make_contract(buyer, "approved", jurist=jurist, signer=director, quantity=50_000),
        make_contract(buyer, "draft", jurist=jurist, quantity=30_000),
        make_contract(buyer, "withdrawn", jurist=jurist, quantity=10_000),
    ]
    # Need → signature: 1, 3 days (the two signed contracts).
    for contract, days in zip(contracts[:2], (1, 3), strict=True):
        PurchaseCase.objects.filter(pk=contract.case_id).update(created_at=contract.signed_at - timedelta(days=days))
    # The signed contract's final terms deliver in three days.
    NegotiationRound.objects.filter(offer=contracts[0].offer).update(
        delivery_date=timezone.localdate(NOW) + timedelta(days=3)
    )
    gloves = make_case(buyer, "vetting")
    NeedLine.objects.filter(case=gloves).update(product=Product.EXAM_GLOVES, estimated_unit_price=Decimal("0.05"))
    late = make_case(buyer, "need")
    PurchaseCase.objects.filter(pk=late.pk).update(stage_entered_at=NOW - timedelta(hours=30))
    return contracts


def figures(director):
    return selectors.dashboard_for(user=director, now=NOW)


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT)


# --- each figure, recomputed from the objects ------------------------------------------------------
def test_cases_per_stage_and_overdue(world, director):
    got = figures(director)
    cases = list(PurchaseCase.objects.filter(organisation=director.organisation))
    expected = {status: sum(1 for c in cases if c.status == status) for status, _ in PurchaseCase.status.field.choices}
    assert {row.status: row.count for row in got["stages"]} == expected
    assert got["cases_total"] == len(cases)
    late = [c for c in cases if c.stage_deadline() and c.stage_deadline() < NOW]
    assert got["overdue_total"] == len(late) >= 1
    assert {row.status: row.overdue for row in got["stages"] if row.overdue} == {
        status: sum(1 for c in late if c.status == status) for status in {c.status for c in late}
    }
    need = next(row for row in got["stages"] if row.status == "need")
    assert need.longest == NOW - min(c.stage_entered_at for c in cases if c.status == "need")


def test_amounts_excl_and_incl_vat(world, director):
    total = figures(director)["family_total"]
    contracts = list(Contract.objects.filter(case__organisation=director.organisation))
    assert total.committed_ht == money(sum(c.quantity * c.unit_price for c in contracts if c.status in COMMITTED))
    assert total.signed_ht == money(sum(c.quantity * c.unit_price for c in contracts if c.status in SIGNED))
    assert total.committed_ttc == money(
        sum(c.quantity * c.unit_price * (1 + c.vat_rate) for c in contracts if c.status in COMMITTED)
    )
    assert total.signed_ttc == money(
        sum(c.quantity * c.unit_price * (1 + c.vat_rate) for c in contracts if c.status in SIGNED)
    )
    lines = NeedLine.objects.filter(
        case__organisation=director.organisation,
        case__status__in=["need", "vetting", "norm_check", "negotiation", "contract"],
    )
    estimated = sum(line.quantity * line.estimated_unit_price for line in lines)
    assert total.estimated_ht == money(estimated)
    assert total.estimated_ttc == money(estimated * (1 + settings.DEFAULT_VAT_RATE))


def test_amounts_and_units_by_product_family(world, director):
    rows = {row.family: row for row in figures(director)["families"]}
    assert set(rows) == {"respirators", "gloves"}
    contracts = Contract.objects.filter(case__organisation=director.organisation)
    assert rows["respirators"].ordered == sum(c.quantity for c in contracts if c.status in SIGNED) == 300_000
    assert rows["respirators"].committed_ht == money(
        sum(c.quantity * c.unit_price for c in contracts if c.status in COMMITTED)
    )
    gloves = NeedLine.objects.get(product=Product.EXAM_GLOVES)
    assert rows["gloves"].needed == gloves.quantity
    assert rows["gloves"].estimated_ht == money(gloves.quantity * gloves.estimated_unit_price)
    assert rows["gloves"].committed_ht == 0


def test_time_from_need_to_signature(world, director):
    got = figures(director)["time_to_contract"]
    durations = sorted(
        (c.signed_at - c.case.created_at).total_seconds()
        for c in Contract.objects.filter(case__organisation=director.organisation, status__in=SIGNED)
    )
    assert got.count == len(durations) == 2
    assert got.median.total_seconds() == pytest.approx(statistics.median(durations))
    p90 = statistics.quantiles(durations, n=10, method="inclusive")[8]
    assert got.p90.total_seconds() == pytest.approx(p90)
    assert got.median == timedelta(days=2)


def test_the_percentile_of_other_databases_matches_postgresql():
    values = [timedelta(hours=h) for h in (5, 1, 9, 3)]
    assert selectors.percentile(values, 0.5) == timedelta(hours=4)
    # Sorted 1, 3, 5, 9 h: the 90th percentile lies 70 % of the way from 5 h to 9 h (percentile_cont).
    assert selectors.percentile(values, 0.9) == timedelta(hours=7.8)
    assert selectors.percentile([], 0.5) is None


def test_deliveries_in_the_next_seven_days(world, director):
    got = figures(director)
    today = timezone.localdate(NOW)
    expected = [
        c
        for c in Contract.objects.filter(case__organisation=director.organisation, status__in=COMMITTED)
        if today <= c.offer.current_terms.delivery_date <= today + timedelta(days=7)
    ]
    assert got["deliveries_total"] == len(expected) >= 1
    assert {c.pk for c in got["deliveries"]} == {c.pk for c in expected}
    assert all(c.delivery_date == c.offer.current_terms.delivery_date for c in got["deliveries"])


def test_the_page_lists_each_delivery_with_its_supplier_and_place(client, world, director):
    client.force_login(director)
    body = client.get(reverse("dashboard:index")).content.decode()
    table = body[body.index('class="table table-sm align-middle deliveries"') :]
    table = table[: table.index("</table>")]
    today = timezone.localdate(NOW)
    shown = [
        c
        for c in Contract.objects.filter(case__organisation=director.organisation, status__in=COMMITTED)
        if today <= c.offer.current_terms.delivery_date <= today + timedelta(days=7)
    ]
    assert shown
    for contract in shown:
        assert contract.reference in table
        assert escape(contract.offer.supplier.name) in table
        assert escape(contract.offer.current_terms.delivery_place) in table


def test_suppliers_by_amount_committed(world, director):
    rows, total = selectors.supplier_concentration(organisation_id=director.organisation_id)
    committed = [c for c in Contract.objects.filter(case__organisation=director.organisation) if c.status in COMMITTED]
    assert total == money(sum(c.amount_ht for c in committed))
    by_supplier = {}
    for contract in committed:
        by_supplier[contract.offer.supplier_id] = by_supplier.get(contract.offer.supplier_id, 0) + contract.amount_ht
    assert {row.supplier_id: row.amount for row in rows} == by_supplier
    assert [row.amount for row in rows] == sorted(by_supplier.values(), reverse=True)
    assert sum(row.share for row in rows) == pytest.approx(1.0)


def test_requisition_risk_above_five_million_masks_a_quarter_in_2020(buyer, jurist, director, delegation):
    SignatureDelegationFactory(delegate=director, valid_from=date(2020, 1, 1))
    march = timezone.make_aware(datetime(2020, 3, 25, 10))
    below = make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=4_000_000, now=march)
    assert selectors.requisition_risk_cases(organisation_id=director.organisation_id).count() == 0
    above = make_contract(buyer, "draft", jurist=jurist, quantity=1_500_000, now=march + timedelta(days=2))
    at_risk = set(selectors.requisition_risk_cases(organisation_id=director.organisation_id))
    assert at_risk == {below.case, above.case}, "4 M + 1.5 M masks in Q1 2020 cross 5 M"
    # The same masks today are outside the décret's period.
    make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=6_000_000)
    assert set(selectors.requisition_risk_cases(organisation_id=director.organisation_id)) == at_risk


def test_another_organisation_sees_none_of_these_figures(world, outsider):
    got = selectors.dashboard_for(user=outsider, now=NOW)
    assert got["cases_total"] == 0
    assert got["family_total"].committed_ht == 0
    assert got["suppliers"] == []
    assert got["deliveries_total"] == 0


# --- the page ----------------------------------------------------------------------------------------
def test_the_page_drills_down_to_the_filtered_case_list(client, world, director):
    client.force_login(director)
    body = client.get(reverse("dashboard:index")).content.decode()
    case_list = reverse("procurement:case_list")
    assert f'href="{case_list}?overdue=1"' in body
    assert f'href="{case_list}?status=need&amp;overdue=1"' in body
    assert f'href="{case_list}?status=contract"' in body
    supplier = world[0].offer.supplier
    assert f'href="{case_list}?supplier={supplier.pk}"' in body


def test_the_figures_refresh_themselves_and_can_be_paused(client, world, director):
    client.force_login(director)
    page = client.get(reverse("dashboard:index")).content.decode()
    assert f'hx-trigger="every {settings.DASHBOARD_REFRESH_SECONDS}s"' in page
    part = client.get(reverse("dashboard:index"), {"part": "figures"}, HTTP_HX_REQUEST="true")
    body = part.content.decode()
    assert body.lstrip().startswith('<div id="figures"'), "htmx gets the figures only, not the whole page"
    assert "hx-trigger" in body
    paused = client.get(reverse("dashboard:index"), {"part": "figures", "pause": "1"}, HTTP_HX_REQUEST="true")
    assert "hx-trigger" not in paused.content.decode(), "paused: no more polling"
    assert 'role="status"' in paused.content.decode()


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("dashboard:index")).status_code == 200
    return len(captured)


def test_the_dashboard_costs_the_same_queries_for_10_and_500_cases(client, buyer, jurist, director, delegation):
    make_contract(buyer, "signed", jurist=jurist, signer=director)
    template = PurchaseCase.objects.get()
    line = template.need_lines.get()

    def add_cases(n, start):
        cases = PurchaseCase.objects.bulk_create(
            PurchaseCase(
                organisation=template.organisation,
                reference=f"URG-2026-{start + i:05d}",
                title=f"Dossier {start + i}",
                owner=buyer,
                status=("need", "vetting", "negotiation", "closed")[i % 4],
                created_at=NOW - timedelta(hours=i),
                stage_entered_at=NOW - timedelta(hours=i),
            )
            for i in range(n)
        )
        NeedLine.objects.bulk_create(
            NeedLine(
                **{
                    **{
                        f.attname: getattr(line, f.attname) for f in NeedLine._meta.concrete_fields if not f.primary_key
                    },
                    "case_id": case.pk,
                }
            )
            for case in cases
        )

    client.force_login(director)
    add_cases(9, 1000)
    ten = _queries(client)
    add_cases(490, 2000)
    assert PurchaseCase.objects.count() == 500
    assert _queries(client) == ten


# --- exports --------------------------------------------------------------------------------------
def test_the_csv_export_holds_the_figures_and_neutralises_formulas(client, world, director):
    Supplier.objects.filter(pk=world[0].offer.supplier_id).update(name='=HYPERLINK("http://evil.example","x")')
    client.force_login(director)
    response = client.get(reverse("dashboard:export", args=["csv"]))
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    values = {row[1]: row[2] for row in rows[1:]}
    total = figures(director)["family_total"]
    assert any(value == f"{total.committed_ht:.2f}".replace(".", ",") for value in values.values())
    assert '\'=HYPERLINK("http://evil.example","x")' in values
    assert not any(label.startswith("=") for label in values)


def test_the_excel_export_holds_the_same_figures(client, world, director):
    Supplier.objects.filter(pk=world[0].offer.supplier_id).update(name="@SUM(A1:A2)")
    client.force_login(director)
    response = client.get(reverse("dashboard:export", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    labels = [row[1] for row in rows[1:]]
    assert "'@SUM(A1:A2)" in labels
    amounts = [row[2] for row in rows[1:] if isinstance(row[2], int | float)]
    assert float(figures(director)["family_total"].committed_ht) in amounts


def test_an_unknown_export_format_is_not_found(client, director):
    client.force_login(director)
    assert client.get(reverse("dashboard:export", args=["ods"])).status_code == 404


def test_the_printable_dashboard_is_a_pdf_with_the_figures(client, world, director):
    client.force_login(director)
    response = client.get(reverse("dashboard:pdf"))
    assert response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert director.organisation.name in text
    assert world[0].offer.supplier.name in text


# --- the daily digest ----------------------------------------------------------------------------------
def test_each_director_gets_one_digest_a_day(world, director, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert services.digest_send(now=NOW) == 1
        assert services.digest_send(now=NOW + timedelta(hours=1)) == 0
    (digest,) = Notification.objects.filter(recipient=director, verb=services.DIGEST_VERB)
    got = figures(director)
    assert f"{got['cases_total']} " in digest.text
    assert digest.url == reverse("dashboard:index")
    assert digest.email_status == Notification.EmailStatus.SENT
    assert any(director.email in message.to for message in mail.outbox)
    assert services.digest_send(now=NOW + timedelta(days=1)) == 1


def test_the_digest_is_scheduled_every_morning():
    entry = settings.CELERY_BEAT_SCHEDULE["director-digest"]
    assert entry["task"] == "dashboard.tasks.send_director_digest"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({7}, {30})


def test_red_flags_count_the_open_cases_of_flagged_suppliers(world, buyer, director):
    assert figures(director)["flagged_total"] == 0
    case = make_case(buyer, "vetting")
    offer = case.offers.get()
    factories.vet(case, offer, buyer, decision="rejected")
    got = figures(director)
    assert [s.pk for s in got["flagged_suppliers"]] == [offer.supplier_id]
    assert (got["flagged_total"], got["flagged_cases"]) == (1, 1)


def test_the_dashboard_lists_obligations_overdue_or_due_within_the_horizon(buyer, jurist, director, delegation):
    recent = make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=1_000_000)
    today = timezone.localdate(NOW)
    rows, total = selectors.pending_obligations(organisation_id=director.organisation_id, today=today)
    expected = [
        (recent.pk, o.code)
        for o in obligations.contract_obligations(recent, today)
        if o.done_on is None and o.due <= today + timedelta(days=settings.DASHBOARD_OBLIGATION_DAYS)
    ]
    assert sorted((row.contract.pk, row.obligation.code) for row in rows) == sorted(expected)
    assert {code for _, code in expected} == {"prefect", "award_notice"}, "vigilance is due in six months"
    # Seven months later the vigilance renewal is overdue and listed first.
    later = today + timedelta(days=215)
    rows, total = selectors.pending_obligations(organisation_id=director.organisation_id, today=later)
    assert total == 3
    assert all(row.state == "overdue" for row in rows)


def test_the_dashboard_shows_the_execution_per_product(client, world, director):
    client.force_login(director)
    page = client.get(reverse("dashboard:index"))
    (line,) = page.context["execution"]
    signed = [c for c in Contract.objects.filter(case__organisation=director.organisation) if c.status in SIGNED]
    assert line["ordered"] == sum(c.quantity for c in signed)
    assert f"?product={line['product']}" in page.content.decode()
