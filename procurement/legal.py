"""The legal rules the pages apply, in one place: a short help text and a link to the official text.

Each legal step of the UI shows `{% legal_rule "R2122-1" %}` (procurement/templatetags/legal.py). Only rules
that DOMAIN.md or the code already cite are listed; no article number is added here that the project does not
apply elsewhere. Articles of a code link to Légifrance's article search (no LEGIARTI identifier is kept in the
repository); texts outside the codes link to Légifrance's full-text search, the EU regulation to EUR-Lex.
"""

from dataclasses import dataclass
from urllib.parse import quote_plus

from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

LEGIFRANCE = "Légifrance"
EUR_LEX = "EUR-Lex"
LEGIFRANCE_ARTICLE_URL = (
    "https://www.legifrance.gouv.fr/search/code?tab_selection=code&searchField=NUM_ARTICLE"
    "&query={number}&typeRecherche=date&dateVersion=&nomCode="
)
LEGIFRANCE_TEXT_URL = "https://www.legifrance.gouv.fr/search/all?tab_selection=all&searchField=ALL&query={query}"

CODES = {
    "CCP": _("Public Procurement Code"),
    "CT": _("Labour Code"),
    "CGCT": _("General Code of Local Authorities"),
}


def _article_title(number: str, code: str) -> str:
    return gettext("Article %(number)s of the %(code)s") % {"number": number, "code": CODES[code]}


_article_title_lazy = lazy(_article_title, str)


@dataclass(frozen=True)
class LegalRule:
    code: str  # the key templates use: an article number, or a short name for a text outside the codes
    title: str  # the link text
    help: str  # one or two sentences: what the rule requires, in a buyer's words
    url: str
    site: str = LEGIFRANCE


def _article(number: str, code: str, help_text) -> LegalRule:
    return LegalRule(
        code=number,
        title=_article_title_lazy(number, code),
        help=help_text,
        url=LEGIFRANCE_ARTICLE_URL.format(number=quote_plus(number)),
    )


def _text(key: str, title, query: str, help_text) -> LegalRule:
    return LegalRule(code=key, title=title, help=help_text, url=LEGIFRANCE_TEXT_URL.format(query=quote_plus(query)))


_CCAG_FCS = _("General administrative conditions for supplies and services (CCAG-FCS)")
_CCAG_FCS_QUERY = "cahier des clauses administratives générales fournitures courantes et services"

RULES: dict[str, LegalRule] = {
    rule.code: rule
    for rule in (
        # --- the legal route: imperative urgency --------------------------------------------------------
        _article(
            "L2122-1",
            "CCP",
            _(
                "A contract may be awarded without publicity nor competition only in the cases the code lists: "
                "the contract states this legal basis."
            ),
        ),
        _article(
            "R2122-1",
            "CCP",
            _(
                "Imperative urgency: an unforeseeable event, external to the buyer, makes the time limits of the "
                "formal procedures impossible to meet. Argue each condition; the contract is limited to what is "
                "strictly necessary to face the emergency."
            ),
        ),
        # --- supplier vetting ----------------------------------------------------------------------------
        _article(
            "L2141-1",
            "CCP",
            _(
                "Excluded for 5 years: a supplier convicted of fraud, corruption, forgery, money laundering or tax "
                "fraud. The supplier declares it is not concerned (sworn statement, DC1 or DUME)."
            ),
        ),
        _article(
            "L2141-4",
            "CCP",
            _("Excluded for 3 years: a supplier sanctioned for undeclared work or similar offences."),
        ),
        _article(
            "D8222-5",
            "CT",
            _(
                "From 5 000 € excl. VAT, obtain the supplier's URSSAF vigilance certificate, less than 6 months "
                "old, at the signature and then every 6 months until the contract ends."
            ),
        ),
        # --- norm check ----------------------------------------------------------------------------------
        LegalRule(
            code="2016/425",
            title=_("Regulation (EU) 2016/425 on personal protective equipment"),
            help=_(
                "An FFP respirator is category III protective equipment: EU type-examination certificate "
                "(module B) from a body notified for this regulation, then module C2 or D; the body's 4-digit "
                "number follows the CE mark."
            ),
            url="https://eur-lex.europa.eu/eli/reg/2016/425/oj",
            site=EUR_LEX,
        ),
        # --- contract and signature -----------------------------------------------------------------------
        _article(
            "L4231-3",
            "CGCT",
            _(
                "The president of the regional council delegates the signature by an arrêté: the signatory "
                "holds a delegation valid on the day and covering the amount."
            ),
        ),
        _article(
            "L4141-2",
            "CGCT",
            _(
                "Above the EU threshold, the contract is transmitted to the prefect within 15 days of the "
                "signature and before it is notified to the supplier."
            ),
        ),
        _article(
            "R2183-1",
            "CCP",
            _("Above the EU threshold, an award notice is published within 30 days of the signature."),
        ),
        _article(
            "R2196-1",
            "CCP",
            _(
                "From 40 000 € excl. VAT, the essential data of the contract (DECP) are published within two "
                "months of its notification; published data are never edited, changes are appended."
            ),
        ),
        _article(
            "R2184-12",
            "CCP",
            _(
                "The documents of the procurement are kept at least 5 years from the signature: nothing of the "
                "case file is ever deleted."
            ),
        ),
        _article(
            "R2194-1",
            "CCP",
            _(
                "A notified contract is changed only by a modification (avenant) in the cases the code lists "
                "from this article on."
            ),
        ),
        _article(
            "R2194-3",
            "CCP",
            _("A modification may not raise the amount by more than 50 % of the initial amount."),
        ),
        # --- execution -------------------------------------------------------------------------------------
        _article(
            "R2191-3",
            "CCP",
            _(
                "An advance is compulsory when the contract exceeds 50 000 € excl. VAT and its execution lasts "
                "more than two months."
            ),
        ),
        _article(
            "R2191-7",
            "CCP",
            _("The advance may not exceed 60 % of the amount; above 30 %, it needs a first-demand guarantee."),
        ),
        _text(
            "ordonnance-2020-319",
            _("Ordonnance no. 2020-319 of 25 March 2020"),
            "ordonnance 2020-319",
            _(
                "Contracts concluded from 12 March to 23 July 2020: no late penalties when the epidemic causes the "
                "delay (article 6); the advance may exceed 60 %, with no guarantee above 30 % (article 5)."
            ),
        ),
        _text(
            "CCAG-FCS-penalties",
            _CCAG_FCS,
            _CCAG_FCS_QUERY,
            _("Late penalties: P = V × R / 1000, V the value excl. VAT of the late part, R the number of days late."),
        ),
        _text(
            "CCAG-FCS-admission",
            _CCAG_FCS,
            _CCAG_FCS_QUERY,
            _(
                "At delivery the buyer admits the goods, postpones, reduces the price or rejects them; without a "
                "decision within 15 days, the goods are deemed admitted."
            ),
        ),
        _article(
            "R2192-10",
            "CCP",
            _("Public buyers pay within a global period of 30 days from the receipt of the invoice."),
        ),
        _article(
            "D2192-35",
            "CCP",
            _("A payment made late owes the supplier the late interest and a fixed recovery fee of 40 €."),
        ),
    )
}


class UnknownLegalRule(KeyError):
    pass


def rule(code: str) -> LegalRule:
    try:
        return RULES[code]
    except KeyError:
        raise UnknownLegalRule(code) from None
