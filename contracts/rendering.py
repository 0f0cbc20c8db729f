"""Contract PDF: HTML template → WeasyPrint → PDF/A-3b, with a fetcher that reaches nothing but our static files."""

import hashlib

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation
from weasyprint import HTML, URLFetcher
from weasyprint.urls import URLFetcherResponse

from contracts.models import CLAUSES, Contract
from procurement.catalogue import REQUIRED_STANDARD

STATIC_SCHEME = "tandem-static:"


class StaticOnlyFetcher(URLFetcher):
    """Serves `tandem-static:<path>` from the project's static files; refuses file://, http(s) and the rest."""

    def fetch(self, url, headers=None):
        if not url.startswith(STATIC_SCHEME):
            raise ValueError(f"Refused URL in a contract document: {url[:80]}")
        relative = url.removeprefix(STATIC_SCHEME).lstrip("/")
        if ".." in relative.split("/"):
            raise ValueError("Refused path")
        path = finders.find(relative)
        if not path:
            raise ValueError(f"Unknown static file: {relative}")
        with open(path, "rb") as handle:
            return URLFetcherResponse(url, body=handle.read())


def contract_context(contract: Contract, document=None) -> dict:
    case = contract.case
    offer = contract.offer
    terms = offer.final_round or offer.latest_round
    line = offer.need_line
    return {
        "contract": contract,
        "document": document,
        "case": case,
        "organisation": case.organisation,
        "offer": offer,
        "supplier": offer.supplier,
        "terms": terms,
        "need_line": line,
        "justification": getattr(case, "justification", None),
        "clauses": CLAUSES,
        "required_standard": REQUIRED_STANDARD.get(line.product, ""),
        "static_base": STATIC_SCHEME,
    }


def render_contract_html(contract: Contract, document=None) -> str:
    with translation.override("fr"):
        return render_to_string("pdf/contract.html", contract_context(contract, document))


def render_pdf(html: str) -> bytes:
    return HTML(string=html, base_url=STATIC_SCHEME, url_fetcher=StaticOnlyFetcher()).write_pdf(pdf_variant="pdf/a-3b")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
