"""In-process benchmarks on the generated data: dashboard, scale, case list pages, contract PDF.

Each calls the application through its public entry points (dashboard_for, the case list URL through Django's
test Client, contracts.documents.document_render), so the figures follow the code as it grows.
"""

import html
import re
import statistics
from dataclasses import dataclass
from urllib.parse import urljoin

import weasyprint
from django.conf import settings
from django.db.models import Max
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import User
from benchmarks import dashboard_sql
from benchmarks.report import Measure, Result, interleave, number
from contracts import documents, rendering
from contracts.models import Contract, ContractDocument, ContractStatus
from dashboard.selectors import dashboard_for

# DESIGN.md §8
DASHBOARD_VS_SQL = 1.2
SCALE = 1.5
DEEP_VS_FIRST = 1.5
PDF_VS_BARE = 1.2
LIST_VS_TRIVIAL = 0.5  # the case list at least half as fast as the trivial view
DEEP_PAGES = 50
BASE_TABLE_REPEAT = 3

PAGINATION = re.compile(r'<ul class="pagination.*?</ul>', re.S)
LINK = re.compile(r'<a[^>]*href="([^"]*)"[^>]*>(.*?)</a>', re.S)


@dataclass
class Subjects:
    """Who and what the benchmarks use, from the generated organisations."""

    cases: int
    small_cases: int
    director: object
    small_director: object | None
    buyer: object
    contract: object


def subjects_of(organisation, small) -> Subjects:
    """`organisation`, `small`: generate_cases's GeneratedOrganisation of the big and the small organisation."""
    users = User.objects.select_related("organisation")
    contract = (
        Contract.objects.filter(case__organisation_id=organisation.organisation_id, status=ContractStatus.APPROVED)
        .order_by("pk")
        .first()
    ) or Contract.objects.filter(case__organisation_id=organisation.organisation_id).order_by("pk").first()
    return Subjects(
        cases=organisation.cases,
        small_cases=small.cases if small else 0,
        director=users.get(pk=organisation.director_id),
        small_director=users.get(pk=small.director_id) if small else None,
        buyer=users.get(pk=organisation.buyer_ids[0]),
        contract=contract,
    )


# --- dashboard -----------------------------------------------------------------------------------
def dashboard(subjects: Subjects, *, repeat: int, max_seconds: float | None = None) -> Result:
    user = subjects.director
    now = timezone.now()
    computed = dashboard_for(user=user, now=now)
    orm = dashboard_sql.figures_of_dashboard(computed)
    sql = dashboard_sql.dashboard_figures(organisation_id=user.organisation_id, now=now)
    differ = dashboard_sql.differences(sql, orm)
    uncovered = sorted(set(computed) - dashboard_sql.COVERED_KEYS - {"now"})

    subject, baseline = interleave(
        lambda: dashboard_for(user=user),
        lambda: dashboard_sql.dashboard_figures(organisation_id=user.organisation_id, now=timezone.now()),
        repeat=repeat,
        max_seconds=max_seconds,
    )
    # What the kept tables save: the same figures from the base tables (a few runs: seconds each at 1 000 000).
    base_tables, _ = interleave(
        lambda: dashboard_sql.base_table_figures(organisation_id=user.organisation_id, now=timezone.now()),
        lambda: None,
        repeat=BASE_TABLE_REPEAT,
        warmup=0,
    )
    result = Result(
        "dashboard",
        f"Dashboard vs raw SQL ({number(subjects.cases)} cases)",
        Measure.of("dashboard_for(director)", subject),
        Measure.of("raw SQL of the same figures (same kept tables)", baseline),
        extra={
            "figures_match": not differ,
            "figures_differ": differ,
            "not_in_baseline": uncovered,
            "raw_sql_from_base_tables_median_ms": statistics.median(base_tables) * 1000,
        },
    )
    result.notes.append(
        f"the same figures in raw SQL from the base tables, without the kept tables: "
        f"{statistics.median(base_tables) * 1000:.1f} ms"
    )
    result.judge(result.subject.median_ms / result.baseline.median_ms, at_most=DASHBOARD_VS_SQL)
    result.target_text += " (judged at 100 000)"
    if differ:
        result.notes.append(f"the raw SQL and dashboard_for disagree on: {', '.join(differ)}")
    if uncovered:
        result.notes.append(
            "dashboard_for also computes figures the raw SQL does not (benchmarks/dashboard_sql.py to extend): "
            + ", ".join(uncovered)
        )
    return result


def scale(subjects: Subjects, *, repeat: int, max_seconds: float | None = None) -> Result:
    if subjects.small_director is None:
        raise RuntimeError("no small organisation (--small-org-ratio 0)")
    big, small = subjects.director, subjects.small_director
    subject, baseline = interleave(
        lambda: dashboard_for(user=big), lambda: dashboard_for(user=small), repeat=repeat, max_seconds=max_seconds
    )
    n, tenth = number(subjects.cases), number(subjects.small_cases)
    result = Result(
        "scale",
        f"Dashboard at {n} ÷ at {tenth} cases",
        Measure.of(f"dashboard, {n} cases", subject),
        Measure.of(f"dashboard, {tenth} cases (same database)", baseline),
    )
    result.judge(result.subject.median_ms / result.baseline.median_ms, at_most=SCALE)
    result.target_text += " (judged 1 000 000 ÷ 100 000)"
    return result


# --- case list -----------------------------------------------------------------------------------
def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _get(client: Client, url: str):
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return response


def _next_page(url: str, response) -> str | None:
    """The URL of the case list's "next" link: in the pagination, the link labelled "Next" in the page's language,
    else the last one (the cursor's parameter and format are the view's business)."""
    nav = PAGINATION.search(response.content.decode())
    if nav is None:
        return None
    links = [
        (html.unescape(href), re.sub(r"<[^>]+>|\s+", " ", text).strip()) for href, text in LINK.findall(nav.group(0))
    ]
    with translation.override(response.get("Content-Language") or settings.LANGUAGE_CODE):
        label = gettext("Next")
    chosen = [href for href, text in links if text == label] or [href for href, _text in links[-1:]]
    if not chosen or chosen[0] in ("", "?"):
        return None
    return urljoin(url, chosen[0])


def deep_page_url(client: Client, *, pages: int = DEEP_PAGES) -> tuple[str, int]:
    """Follow the case list's "next" link (the keyset cursor) up to `pages` pages deep, stopping one page before
    the last so the deep page is full. Returns (URL, depth reached)."""
    url, depth, chain = reverse("procurement:case_list"), 0, []
    while depth < pages:
        following = _next_page(url, _get(client, url))
        if following is None:
            break
        chain.append(url)
        url, depth = following, depth + 1
    if depth and _next_page(url, _get(client, url)) is None:
        url, depth = chain[-1], depth - 1  # the last page may be short: take the one before
    return url, depth


def case_list_pages(subjects: Subjects, *, repeat: int, max_seconds: float | None = None) -> Result:
    """The keyset pagination's own cost: pages rendered on every request (kept pages would hide it)."""
    client = _client(subjects.buyer)
    first = reverse("procurement:case_list")
    with override_settings(CASE_LIST_CACHE_SECONDS=0):
        deep, depth = deep_page_url(client)
        subject, baseline = interleave(
            lambda: _get(client, deep), lambda: _get(client, first), repeat=repeat, max_seconds=max_seconds
        )
    result = Result(
        "deep_page",
        f"Case list: page {depth + 1} ÷ first page",
        Measure.of(f"page {depth + 1} (keyset cursor)", subject),
        Measure.of("first page", baseline),
        extra={"depth": depth, "url": deep},
    )
    result.judge(result.subject.median_ms / result.baseline.median_ms, at_most=DEEP_VS_FIRST)
    if depth < DEEP_PAGES:
        result.notes.append(f"page {depth + 1} is the deepest full page at this size (aimed at page {DEEP_PAGES + 1})")
    return result


def case_list_vs_trivial(subjects: Subjects, *, repeat: int, max_seconds: float | None = None) -> Result:
    """The same logged-in client (same session and middleware work) on the case list and on /sante/: the speed
    of the case list as a fraction of the trivial view's, request by request (the throughput line does it under
    load). The list as served (its page kept until the cases change), and rendered on every request."""
    client = _client(subjects.buyer)
    subject, baseline = interleave(
        lambda: _get(client, reverse("procurement:case_list")),
        lambda: _get(client, reverse("health")),
        repeat=repeat,
        max_seconds=max_seconds,
    )
    with override_settings(CASE_LIST_CACHE_SECONDS=0):
        rendered, trivial = interleave(
            lambda: _get(client, reverse("procurement:case_list")),
            lambda: _get(client, reverse("health")),
            repeat=repeat,
            max_seconds=max_seconds,
        )
    every_time = statistics.median(trivial) / statistics.median(rendered)
    result = Result(
        "case_list",
        "Case list vs trivial view (test Client)",
        Measure.of("case list, first page (kept page)", subject),
        Measure.of("/sante/, same session", baseline),
        extra={
            "rendered_every_time_median_ms": statistics.median(rendered) * 1000,
            "rendered_every_time_ratio": every_time,
        },
    )
    result.judge(result.baseline.median_ms / result.subject.median_ms, at_least=LIST_VS_TRIVIAL)
    result.notes.append("Result: trivial view time ÷ case list time (the case list's relative speed)")
    result.notes.append(
        f"the case list rendered on every request (CASE_LIST_CACHE_SECONDS=0): median "
        f"{statistics.median(rendered) * 1000:.1f} ms, {every_time:.2f}× the trivial view's speed"
    )
    return result


# --- contract PDF --------------------------------------------------------------------------------
def pdf(subjects: Subjects, *, repeat: int, max_seconds: float | None = None) -> Result:
    """A pending ContractDocument rendered and stored by document_render (what the worker runs) vs WeasyPrint
    alone on the same HTML, with the same URL fetcher and PDF/A variant."""
    contract = subjects.contract
    if contract is None:
        raise RuntimeError("no generated contract")
    contract = Contract.objects.select_related("case__organisation", "offer__supplier").get(pk=contract.pk)

    def pending() -> ContractDocument:
        # What contracts.services.contract_queue_document writes; rendered here in-process, not by a worker.
        last = ContractDocument.objects.filter(contract=contract).aggregate(v=Max("version"))["v"] or 0
        return ContractDocument.objects.create(contract=contract, version=last + 1, created_at=timezone.now())

    rendered = []

    def end_to_end(document: ContractDocument) -> None:
        rendered.append(documents.document_render(document_id=document.pk))

    def html_of_last_version() -> str:
        return rendering.render_contract_html(contract, ContractDocument.objects.filter(contract=contract).last())

    def bare(markup: str) -> None:
        weasyprint.HTML(
            string=markup, base_url=rendering.STATIC_SCHEME, url_fetcher=rendering.StaticOnlyFetcher()
        ).write_pdf(pdf_variant="pdf/a-3b")

    subject, baseline = interleave(
        end_to_end,
        bare,
        repeat=repeat,
        max_seconds=max_seconds,
        subject_setup=pending,
        baseline_setup=html_of_last_version,
    )
    last = rendered[-1]
    if last is None or last.status != ContractDocument.Status.RENDERED or len(last.sha256) != 64:
        raise RuntimeError(f"the document was not rendered: {last!r}")
    result = Result(
        "pdf",
        "Contract PDF end to end vs bare WeasyPrint",
        Measure.of("pending row → PDF/A stored + SHA-256", subject, bytes=last.size),
        Measure.of("weasyprint write_pdf, same HTML", baseline),
        extra={"contract": contract.reference},
    )
    result.judge(result.subject.median_ms / result.baseline.median_ms, at_most=PDF_VS_BARE)
    return result
