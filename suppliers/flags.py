"""Red flags about a company itself (DOMAIN.md §3), each with its reason in words a buyer understands.

Pure: reads the supplier, its documents, its offers' dates and its latest screenings; writes nothing.
Offer-level flags (price, prepayment, chain, activity unrelated to the goods) live in procurement.flags.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.utils.formats import date_format
from django.utils.translation import gettext

from suppliers.models import SanctionsScreening, Supplier, SupplierDocument

# Free webmail domains: a company answering a public buyer from one of them is a classic fraud sign.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "hotmail.fr",
        "outlook.com",
        "outlook.fr",
        "live.com",
        "live.fr",
        "msn.com",
        "yahoo.com",
        "yahoo.fr",
        "aol.com",
        "gmx.com",
        "gmx.fr",
        "gmx.de",
        "icloud.com",
        "laposte.net",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "sfr.fr",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "yandex.ru",
        "mail.ru",
        "proton.me",
        "protonmail.com",
    }
)
# Second-level labels under which companies register (example.co.uk, example.com.cn).
COMPOUND_SUFFIXES = frozenset({"co", "com", "net", "org", "gov", "ac", "gouv"})


@dataclass(frozen=True)
class RedFlag:
    code: str
    reason: str
    # "danger" blocks or needs a jurist; "warning" asks for attention.
    level: str = "warning"

    def as_dict(self) -> dict:
        return {"code": self.code, "reason": self.reason, "level": self.level}


def _ascii_words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", plain)


def registrable_domain(host: str) -> str:
    """example.com for www.sales.example.com; example.co.uk for shop.example.co.uk (no public-suffix list)."""
    labels = [label for label in (host or "").lower().strip(".").split(".") if label]
    if len(labels) >= 3 and labels[-2] in COMPOUND_SUFFIXES and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _domain_stem(domain: str) -> str:
    return domain.split(".")[0] if domain else ""


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def email_domain_flag(supplier: Supplier) -> RedFlag | None:
    if "@" not in (supplier.email or ""):
        return None
    mail_domain = registrable_domain(supplier.email.rsplit("@", 1)[1])
    if mail_domain in FREE_MAIL_DOMAINS:
        return RedFlag(
            "email_domain",
            gettext("The contact e-mail uses a free mail service (%(domain)s), not the company's own domain.")
            % {"domain": mail_domain},
        )
    if supplier.website:
        site_domain = registrable_domain(urlsplit(supplier.website).hostname or "")
        if site_domain and mail_domain != site_domain:
            if _edit_distance(_domain_stem(mail_domain), _domain_stem(site_domain)) <= 2:
                return RedFlag(
                    "email_domain",
                    gettext(
                        "The e-mail domain %(mail)s looks like the website's %(site)s but differs: a look-alike domain?"
                    )
                    % {"mail": mail_domain, "site": site_domain},
                    "danger",
                )
            return RedFlag(
                "email_domain",
                gettext("The e-mail domain %(mail)s differs from the website's (%(site)s).")
                % {"mail": mail_domain, "site": site_domain},
            )
        return None
    stem = _domain_stem(mail_domain).replace("-", "")
    words = [word for word in _ascii_words(supplier.name) if len(word) >= 4]
    if words and not any(word in stem for word in words):
        return RedFlag(
            "email_domain",
            gettext("The e-mail domain %(mail)s bears no relation to the company name.") % {"mail": mail_domain},
        )
    return None


def recent_company_flag(supplier: Supplier, today: date) -> RedFlag | None:
    months = settings.RED_FLAG_RECENT_COMPANY_MONTHS
    if supplier.founded_on and supplier.founded_on > today - relativedelta(months=months):
        return RedFlag(
            "recent_company",
            gettext("Company founded on %(date)s, less than %(months)d months ago.")
            % {"date": date_format(supplier.founded_on, "SHORT_DATE_FORMAT"), "months": months},
        )
    return None


def mandatory_kinds(supplier: Supplier) -> tuple:
    french = supplier.identifier_type == Supplier.IdentifierType.SIRET
    return SupplierDocument.MANDATORY_FR if french else SupplierDocument.MANDATORY_FOREIGN


def document_flags(supplier: Supplier, today: date) -> list[RedFlag]:
    """Each mandatory kind without a document valid today: missing, or expired (with its date)."""
    by_kind: dict[str, list[SupplierDocument]] = {}
    for document in supplier.documents.all():
        by_kind.setdefault(document.kind, []).append(document)
    flags = []
    for kind in mandatory_kinds(supplier):
        label = SupplierDocument.Kind(kind).label
        documents = by_kind.get(kind, [])
        if any(document.is_valid_on(today) for document in documents):
            continue
        if documents:
            latest = max(documents, key=lambda document: document.expires_on or date.max)
            flags.append(
                RedFlag(
                    "document_expired",
                    gettext("%(kind)s expired on %(date)s.")
                    % {"kind": label, "date": date_format(latest.expires_on, "SHORT_DATE_FORMAT")},
                )
            )
        else:
            flags.append(RedFlag("document_missing", gettext("%(kind)s missing.") % {"kind": label}))
    return flags


def bank_details_flag(supplier: Supplier) -> RedFlag | None:
    """Bank details (RIB) received after the supplier's first offer, replacing earlier ones or arriving late."""
    first_offer = min((offer.received_at for offer in supplier.offers.all()), default=None)
    ribs = sorted(
        (document for document in supplier.documents.all() if document.kind == SupplierDocument.Kind.RIB),
        key=lambda document: document.uploaded_at,
    )
    if first_offer is None or len(ribs) < 2:
        return None
    late = [document for document in ribs[1:] if document.uploaded_at > first_offer]
    if not late:
        return None
    return RedFlag(
        "bank_details_changed",
        gettext("Bank details changed on %(date)s, after the first offer of %(offer)s.")
        % {
            "date": date_format(late[-1].uploaded_at, "SHORT_DATE_FORMAT"),
            "offer": date_format(first_offer, "SHORT_DATE_FORMAT"),
        },
        "danger",
    )


def screening_flags(supplier: Supplier, screenings: list[SanctionsScreening]) -> list[RedFlag]:
    flags = []
    for screening in screenings:
        names = ", ".join(f"« {match['name']} »" for match in screening.matches)
        if screening.review == SanctionsScreening.Review.CONFIRMED:
            flags.append(
                RedFlag(
                    "sanctions_confirmed",
                    gettext("%(party)s is on the asset-freeze list (%(list)s): %(names)s.")
                    % {"party": supplier.name, "list": screening.sanctions_list, "names": names},
                    "danger",
                )
            )
        elif screening.review == SanctionsScreening.Review.PENDING:
            flags.append(
                RedFlag(
                    "sanctions_match",
                    gettext(
                        "%(party)s possibly matches the asset-freeze list (%(list)s): %(names)s. "
                        "A jurist must clear or confirm it."
                    )
                    % {"party": supplier.name, "list": screening.sanctions_list, "names": names},
                    "danger",
                )
            )
    return flags


def supplier_flags(supplier: Supplier, today: date, screenings: list[SanctionsScreening]) -> list[RedFlag]:
    """Every red flag about the company, independent of any offer. `screenings`: its current screenings."""
    flags = [
        recent_company_flag(supplier, today),
        email_domain_flag(supplier),
        bank_details_flag(supplier),
    ]
    return [flag for flag in flags if flag] + document_flags(supplier, today) + screening_flags(supplier, screenings)
