"""Issue 8: each legal step links to the rule it applies, with a short help text (procurement/legal.py).

Unit: the catalogue is complete (title, help, official URL) and every code a template uses exists — an unknown
code fails when the template is compiled. Pages: each legal step, as the role who takes it, shows the help of
the right article and links to it, in a new window announced to screen readers.
"""

import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.template import Context, Template, TemplateSyntaxError
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone, translation

from contracts import services as contract_services
from procurement import legal
from tests import factories
from tests.factories import make_case, make_contract

TEMPLATES = Path(settings.BASE_DIR) / "templates"
TAG = re.compile(r"""{%\s*legal_rule\s+(["'])(.+?)\1\s*%}""")
ARTICLE = re.compile(r"^[LRD]\d{4}-\d+$")


def _templates_using_rules() -> dict[str, set[str]]:
    used = {}
    for path in TEMPLATES.rglob("*.html"):
        codes = {match.group(2) for match in TAG.finditer(path.read_text(encoding="utf-8"))}
        if codes:
            used[str(path.relative_to(TEMPLATES))] = codes
    return used


# --- the catalogue ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", legal.RULES)
def test_every_rule_has_a_title_a_help_text_and_an_official_url(code):
    rule = legal.RULES[code]
    assert rule.code == code
    with translation.override("en"):
        assert str(rule.title).strip()
        assert len(str(rule.help).split()) >= 6, "the help says what the rule requires, in a sentence"
    url = urlparse(rule.url)
    assert url.scheme == "https"
    if rule.site == legal.LEGIFRANCE:
        assert url.netloc == "www.legifrance.gouv.fr"
    else:
        assert (rule.site, url.netloc) == (legal.EUR_LEX, "eur-lex.europa.eu")
    if ARTICLE.match(code):
        # An article of a code: Légifrance's article search for exactly this number, and the title names it.
        assert parse_qs(url.query)["query"] == [code]
        assert parse_qs(url.query)["searchField"] == ["NUM_ARTICLE"]
        with translation.override("en"):
            assert code in str(rule.title)


def test_every_code_used_in_a_template_is_in_the_catalogue():
    used = _templates_using_rules()
    assert len(used) >= 8, used  # the tag is really used across the pages
    unknown = {name: codes - legal.RULES.keys() for name, codes in used.items() if codes - legal.RULES.keys()}
    assert not unknown
    for name in used:
        get_template(name)  # compiles: the tag checked its code


def test_an_unknown_code_fails_when_the_template_is_compiled():
    with pytest.raises(TemplateSyntaxError, match="unknown rule 'R9999-1'"):
        Template('{% load legal %}{% legal_rule "R9999-1" %}')


@pytest.mark.parametrize("source", ["{% legal_rule %}", "{% legal_rule code %}", '{% legal_rule "R2122-1" "x" %}'])
def test_the_tag_takes_exactly_one_quoted_code(source):
    with pytest.raises(TemplateSyntaxError, match="Usage"):
        Template("{% load legal %}" + source)


def test_the_tag_renders_the_help_and_a_link_announced_as_opening_a_new_window():
    with translation.override("en"):
        html = Template('{% load legal %}{% legal_rule "R2122-1" %}').render(Context())
    assert 'data-rule="R2122-1"' in html
    assert "Imperative urgency" in html
    link = re.search(r'<a href="([^"]+)" target="_blank" rel="noopener">(.+?)</a>', html)
    assert unescape(link.group(1)) == legal.RULES["R2122-1"].url
    assert "Article R2122-1 of the Public Procurement Code" in link.group(2)
    assert '<span class="visually-hidden"> (Légifrance, opens in a new window)</span>' in link.group(2)


# --- the pages ------------------------------------------------------------------------------------------------
class World:
    def __init__(self, buyer, jurist, director):
        self.users = {"buyer": buyer, "jurist": jurist, "director": director}
        self.buyer, self.jurist, self.director = buyer, jurist, director

    def contract(self, state, **case_kwargs):
        factories.SignatureDelegationFactory(delegate=self.director)
        return make_contract(self.buyer, state, jurist=self.jurist, signer=self.director, **case_kwargs)

    def big_notified_contract(self):
        """Above the EU threshold: transmitted to the prefect, then notified."""
        contract = self.contract("signed", **BIG)
        contract = contract_services.contract_record_prefect_transmission(
            contract=contract, actor=self.buyer, day=timezone.localdate()
        )
        return contract_services.contract_notify_supplier(contract=contract, actor=self.buyer)


def _vetting_page(world):
    case = make_case(world.buyer, "vetting")
    return reverse("procurement:vetting_create", args=[case.pk]) + f"?supplier={case.offers.get().supplier_id}"


def _conformity_page(world):
    case = make_case(world.buyer, "norm_check")
    return reverse("procurement:conformity_create", args=[case.offers.get().pk])


def _supplier(world):
    return factories.SupplierFactory(organisation=world.buyer.organisation, created_by=world.buyer)


BIG = {"quantity": 1_000_000}  # 850 000 € excl. VAT: above the EU threshold and the DECP one

PAGES = {
    "case-create": ("buyer", lambda w: reverse("procurement:case_create"), ["R2122-1"]),
    "case-edit-need": (
        "buyer",
        lambda w: reverse("procurement:case_edit_need", args=[make_case(w.buyer, "need").pk]),
        ["R2122-1"],
    ),
    "case-page": ("jurist", lambda w: make_case(w.buyer, "need").get_absolute_url(), ["R2122-1", "R2184-12"]),
    "vetting": ("buyer", _vetting_page, ["L2141-1", "L2141-4", "D8222-5"]),
    "supplier-documents": ("buyer", lambda w: _supplier(w).get_absolute_url(), ["D8222-5", "L2141-1"]),
    "supplier-document-add": (
        "buyer",
        lambda w: reverse("suppliers:document_add", args=[_supplier(w).pk]),
        ["D8222-5", "L2141-1"],
    ),
    "norm-check": ("buyer", _conformity_page, ["2016/425"]),
    "award": (
        "buyer",
        lambda w: reverse("contracts:case_award", args=[make_case(w.buyer, "negotiation").pk]),
        ["R2122-1"],
    ),
    "contract-review": ("jurist", lambda w: w.contract("legal_review").get_absolute_url(), ["L2122-1"]),
    "contract-signature": ("director", lambda w: w.contract("approved").get_absolute_url(), ["L4231-3"]),
    "contract-obligations": (
        "buyer",
        lambda w: w.contract("signed", **BIG).get_absolute_url(),
        ["L4141-2", "R2183-1", "D8222-5"],
    ),
    "contract-modification-and-decp": (
        "buyer",
        lambda w: w.big_notified_contract().get_absolute_url(),
        ["R2194-1", "R2194-3", "R2196-1"],
    ),
    "execution": (
        "buyer",
        lambda w: reverse("execution:contract", args=[w.contract("signed").pk]),
        [
            "CCAG-FCS-admission",
            "CCAG-FCS-penalties",
            "ordonnance-2020-319",
            "R2191-3",
            "R2191-7",
            "R2192-10",
            "D2192-35",
            "D8222-5",
        ],
    ),
}


def _rule_links(html: str) -> dict[str, str]:
    """data-rule code → href of its link, for every legal-rule help on the page."""
    found = {}
    for match in re.finditer(r'<p class="legal-rule small" data-rule="([^"]+)">.*?<a href="([^"]+)"', html, re.S):
        found[unescape(match.group(1))] = unescape(match.group(2))
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_each_legal_step_links_to_the_rule_it_applies(client, buyer, jurist, director, name):
    role, build, codes = PAGES[name]
    world = World(buyer, jurist, director)
    url = build(world)
    client.force_login(world.users[role])
    response = client.get(url)
    assert response.status_code == 200, url
    links = _rule_links(response.content.decode())
    for code in codes:
        assert links.get(code) == legal.RULES[code].url, f"{name}: no link to {code} on {url} (found {links})"


@pytest.mark.django_db
def test_the_help_is_in_french_by_default(client, buyer):
    """French-first: the page is served in French, so is the help (once the lead's catalogue has it)."""
    client.force_login(buyer)
    html = client.get(reverse("procurement:case_create")).content.decode()
    assert 'data-rule="R2122-1"' in html
    with translation.override("fr"):
        expected = str(legal.RULES["R2122-1"].title)
    assert expected in unescape(html)
