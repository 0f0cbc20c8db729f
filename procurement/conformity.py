"""The conformity verdict of an offer's product (DOMAIN.md §4): the claimed standard and class, the evidence, the
measured values and the marking, checked against the norms catalogue and the notified bodies reference.

Pure: no database access, no writes. The caller loads what the rules read and passes it in:

    assess(
        check=ConformityCheck(...),          # possibly unsaved; its norm_class with the norm (select_related)
        evidence=[ConformityEvidence(...)],  # possibly unsaved; the file is irrelevant
        requirements=["declaration", ...],   # EvidenceRequirement kinds of the claimed class
        product=need_line.product,           # procurement.catalogue.Product value
        day=date(2020, 3, 21),               # the date of the check
        bodies=BodyIndex(NotifiedBody.objects.all()),
    )

Each rule is a small function returning its findings: "danger" makes the verdict non-conform, "missing" makes it
incomplete, "info" only informs. The verdict is non-conform if any finding is a danger, else incomplete if any
is missing, else conform under derogation when the class is a derogation accepted on that day, else conform.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from procurement.catalogue import Product
from procurement.models import (
    ConformityCheck,
    ConformityEvidence,
    EvidenceKind,
    Legislation,
    NormClass,
    NotifiedBody,
)

Verdict = ConformityCheck.Verdict

DANGER, MISSING, INFO = "danger", "missing", "info"

# Regulation (EU) 2016/425, annex V and VI: an EU type-examination certificate is valid at most 5 years.
TYPE_EXAMINATION_VALIDITY = relativedelta(years=5)

# Products that are classes of one family, lowest first: a higher class meets a need for a lower one.
FAMILIES = {
    Product.FFP1: ("ffp", 1),
    Product.FFP2: ("ffp", 2),
    Product.FFP3: ("ffp", 3),
    Product.MEDICAL_I: ("medical", 1),
    Product.MEDICAL_II: ("medical", 2),
    Product.MEDICAL_IIR: ("medical", 3),
}

# Evidence laboratories issue legitimately whoever they are: a test report is no "voluntary certificate".
TEST_REPORTS = (EvidenceKind.TEST_REPORT, EvidenceKind.BIOBURDEN)
# Evidence a certification body issues: its issuer must be notified for the class's legislation.
CERTIFICATES = (EvidenceKind.TYPE_EXAMINATION, EvidenceKind.PRODUCTION_CONTROL, EvidenceKind.OTHER_CERTIFICATE)
# Legislations under which bodies are notified for the products of the catalogue; for classes under no EU
# legislation (foreign equivalents, community masks) only the known issuers of voluntary certificates are flagged.
NOTIFIED_LEGISLATIONS = (Legislation.PPE, Legislation.MEDICAL_DEVICES)


@dataclass(frozen=True)
class Finding:
    code: str
    reason: str
    # "danger" makes the verdict non-conform, "missing" incomplete, "info" only informs.
    level: str

    def as_dict(self) -> dict:
        return {"code": self.code, "reason": self.reason, "level": self.level}


@dataclass
class Assessment:
    verdict: str
    findings: list[Finding] = field(default_factory=list)
    derogation_reference: str = ""

    @property
    def passes(self) -> bool:
        return self.verdict in ConformityCheck.PASSING


# --- the notified bodies reference ------------------------------------------------------------------------------
# Words that do not identify a body: legal forms ("Sp. z o.o.", "S.r.l.", "GmbH") and short function words.
_NAME_NOISE = frozenset(
    {
        "sp", "zoo", "srl", "spa", "sas", "sarl", "sa", "gmbh", "ag", "kg", "ltd", "limited", "inc", "llc", "co",
        "company", "corp", "corporation", "bv", "nv", "oy", "ab", "as", "doo", "kft", "sro", "plc", "ug",
        "the", "of", "and", "de", "di", "du", "des", "la", "le", "del", "della", "per", "et", "fur",
    }
)  # fmt: skip
_WORDS = re.compile(r"[a-z0-9]+")


def name_words(text: str) -> frozenset[str]:
    """The words identifying a body's name: accents, case, punctuation, legal forms and single letters dropped.

    >>> sorted(name_words("ICR POLSKA Sp. z o.o."))
    ['icr', 'polska']
    """
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return frozenset(word for word in _WORDS.findall(plain) if len(word) > 1 and word not in _NAME_NOISE)


class BodyIndex:
    """The notified bodies reference in memory: lookup by number, by primary key, and by name or alias.

    A name matches a body when it has the same identifying words as the body's name or one of its aliases, or
    failing that, when it contains all the words of one of them ("ECM Ente Certificazione Macchine Srl" contains
    "ECM"); the longest such name wins."""

    def __init__(self, bodies: Iterable[NotifiedBody]):
        self.bodies = list(bodies)
        self._by_number = {body.number: body for body in self.bodies if body.number}
        self._by_pk = {body.pk: body for body in self.bodies if body.pk is not None}
        self._by_words: dict[frozenset[str], NotifiedBody] = {}
        for body in self.bodies:
            for name in [body.name, *(body.aliases or [])]:
                words = name_words(name)
                if words:
                    self._by_words.setdefault(words, body)
        # Longest names first, so that "ICR Polska" wins over a body called "ICR" in "ICR Polska Sp. z o.o.".
        self._names = sorted(self._by_words.items(), key=lambda item: -len(item[0]))

    def __len__(self) -> int:
        return len(self.bodies)

    def by_number(self, number: str) -> NotifiedBody | None:
        return self._by_number.get((number or "").strip())

    def by_pk(self, pk) -> NotifiedBody | None:
        return self._by_pk.get(pk)

    def by_name(self, text: str) -> NotifiedBody | None:
        text = (text or "").strip()
        if re.fullmatch(r"\d{4}", text):
            return self.by_number(text)
        words = name_words(text)
        if not words:
            return None
        exact = self._by_words.get(words)
        if exact is not None:
            return exact
        return next((body for name, body in self._names if name <= words), None)

    def by_exact_name(self, text: str) -> NotifiedBody | None:
        """The body whose name or alias has exactly these identifying words (or this number), else None."""
        text = (text or "").strip()
        if re.fullmatch(r"\d{4}", text):
            return self.by_number(text)
        words = name_words(text)
        return self._by_words.get(words) if words else None


# --- thresholds -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Threshold:
    field: str  # the measured value on ConformityCheck
    limit: str  # the threshold on NormClass
    comparison: str  # "min" (≥), "max" (≤) or "below" (strictly <)
    unit: str
    label: str


THRESHOLDS = (
    Threshold("filtration", "filtration_min", "min", "%", _("Filtration")),
    Threshold("inward_leakage", "inward_leakage_max", "max", "%", _("Total inward leakage")),
    Threshold("bacterial_filtration", "bacterial_filtration_min", "min", "%", _("Bacterial filtration (BFE)")),
    # EN 14683: breathing resistance must be strictly below the limit.
    Threshold("breathing_resistance", "breathing_resistance_max", "below", "Pa/cm²", _("Breathing resistance")),
    Threshold("splash_resistance", "splash_resistance_min", "min", "kPa", _("Splash resistance")),
    Threshold("aql", "aql_max", "max", "", _("AQL")),
)
SYMBOLS = {"min": "≥", "max": "≤", "below": "<"}


def within(comparison: str, value: Decimal, limit: Decimal) -> bool:
    if comparison == "min":
        return value >= limit
    if comparison == "max":
        return value <= limit
    return value < limit


def _number(value) -> str:
    """94.00 → "94", 93.90 → "93,9" in French: the figures as a buyer writes them."""
    value = Decimal(str(value)).normalize()
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return number_format(value)


def _quantity(value, unit: str) -> str:
    return f"{_number(value)} {unit}".strip()


def threshold_rows(norm_class: NormClass | None) -> list[dict]:
    """The thresholds the class sets, to show next to the inputs: label, unit, comparison ("≥ 94 %"), the check's
    field name and the limit."""
    if norm_class is None:
        return []
    rows = []
    for threshold in THRESHOLDS:
        limit = getattr(norm_class, threshold.limit)
        if limit is None:
            continue
        rows.append(
            {
                "field": threshold.field,
                "label": str(threshold.label),
                "unit": threshold.unit,
                "comparison": f"{SYMBOLS[threshold.comparison]} {_quantity(limit, threshold.unit)}",
                "limit": limit,
            }
        )
    return rows


# --- helpers ----------------------------------------------------------------------------------------------------
def _day(value: date) -> str:
    return date_format(value, "SHORT_DATE_FORMAT")


def _class_name(norm_class: NormClass) -> str:
    return f"{norm_class.label} ({norm_class.norm.code})"


def _legislation(norm_class: NormClass) -> str:
    return norm_class.norm.legislation


def _legislation_name(legislation: str) -> str:
    if legislation in NOTIFIED_LEGISLATIONS:
        return str(Legislation(legislation).label)
    return gettext("any EU legislation")


def _body_notified(body: NotifiedBody, legislation: str, day: date | None = None) -> bool:
    if legislation in NOTIFIED_LEGISLATIONS:
        return body.notified_for(legislation, day)
    return body.is_notified


def _kind(evidence: ConformityEvidence) -> str:
    label = str(EvidenceKind(evidence.kind).label) if evidence.kind in EvidenceKind.values else evidence.kind
    return f"{label} {evidence.number}".strip()


def evidence_body(evidence: ConformityEvidence, bodies: BodyIndex) -> NotifiedBody | None:
    """The body that issued the evidence: the one chosen, else the one its issuer's name designates. Never queries:
    a chosen body is taken from the index (or the instance's cache), not from the database."""
    if evidence.notified_body_id is not None:
        body = bodies.by_pk(evidence.notified_body_id)
        if body is not None:
            return body
    if ConformityEvidence.notified_body.is_cached(evidence) and evidence.notified_body is not None:
        return evidence.notified_body
    return bodies.by_name(evidence.issuer)


def _issuer_name(evidence: ConformityEvidence, body: NotifiedBody | None) -> str:
    return str(body) if body is not None else evidence.issuer.strip()


_MODEL_NOISE = re.compile(r"[\s\-‐‑‒–—_]+")


def normalise_model(reference: str) -> str:
    """Model references compare without case, spaces and hyphens: "KN95 X-100" is "kn95x100"."""
    return _MODEL_NOISE.sub("", unicodedata.normalize("NFKC", reference or "")).casefold()


def _models(reference: str) -> set[str]:
    """The models a document covers: a certificate may list several, separated by commas or semicolons."""
    return {normalise_model(part) for part in re.split(r"[,;\n]", reference or "") if normalise_model(part)}


def _danger(code: str, reason: str) -> Finding:
    return Finding(code, reason, DANGER)


def _missing(code: str, reason: str) -> Finding:
    return Finding(code, reason, MISSING)


# --- the rules --------------------------------------------------------------------------------------------------
def class_claimed_finding(norm_class: NormClass | None) -> Finding | None:
    """Rule 1: without a claimed standard and class nothing can be checked."""
    if norm_class is None:
        return _missing("no_class", gettext("No standard and class claimed: choose the one the offer claims."))
    return None


def category_finding(norm_class: NormClass, product: str) -> Finding | None:
    """Rule 2: the class claimed must qualify as the product needed, or a higher class of the same family."""
    claimed = norm_class.product
    if not product or product == Product.OTHER or claimed == product:
        return None
    need, offer = FAMILIES.get(product), FAMILIES.get(claimed)
    values = {"claim": _class_name(norm_class), "need": str(Product(product).label)}
    if need and offer and need[0] == offer[0]:
        if offer[1] > need[1]:
            return None
        return _danger(
            "lower_class",
            gettext("%(claim)s is a lower class than the need asks for (%(need)s).") % values,
        )
    return _danger(
        "category_mismatch",
        gettext("Category mismatch: %(claim)s claimed on a need for %(need)s.") % values,
    )


def derogation_finding(norm_class: NormClass, day: date) -> Finding | None:
    """Rule 3: a foreign equivalent is acceptable only while its derogation is in force."""
    if not norm_class.is_derogation or norm_class.accepted_on(day):
        return None
    start, end = norm_class.valid_from, norm_class.valid_until
    if start and end:
        period = gettext("from %(start)s to %(end)s") % {"start": _day(start), "end": _day(end)}
    elif start:
        period = gettext("from %(start)s") % {"start": _day(start)}
    else:
        period = gettext("until %(end)s") % {"end": _day(end)}
    return _danger(
        "derogation_not_in_force",
        gettext("%(claim)s was accepted under derogation %(period)s only, not on %(day)s (%(reference)s).")
        % {
            "claim": _class_name(norm_class),
            "period": period,
            "day": _day(day),
            "reference": norm_class.derogation_reference,
        },
    )


def evidence_missing_findings(
    norm_class: NormClass, requirements: Iterable[str], evidence: list[ConformityEvidence]
) -> list[Finding]:
    """Rule 4: every piece of evidence the class requires must be there."""
    provided = {item.kind for item in evidence}
    required = set(requirements)
    return [
        _missing(
            f"evidence_missing_{kind}",
            gettext("Missing: %(evidence)s, required for %(claim)s.")
            % {"evidence": str(EvidenceKind(kind).label), "claim": _class_name(norm_class)},
        )
        for kind in EvidenceKind.values
        if kind in required and kind not in provided
    ]


def threshold_finding(norm_class: NormClass, check: ConformityCheck, threshold: Threshold) -> Finding | None:
    """Rule 5, for one threshold: the measured value must be given and within the class's limit."""
    limit = getattr(norm_class, threshold.limit)
    if limit is None:
        return None
    value = getattr(check, threshold.field)
    values = {
        "label": str(threshold.label),
        "limit": _quantity(limit, threshold.unit),
        "claim": norm_class.label,
        "norm": norm_class.norm.code,
    }
    if value is None:
        return _missing(
            f"{threshold.field}_missing",
            gettext("%(label)s: no measured value; %(claim)s requires %(comparison)s (%(norm)s).")
            % {**values, "comparison": f"{SYMBOLS[threshold.comparison]} {values['limit']}"},
        )
    value = Decimal(str(value))
    if within(threshold.comparison, value, limit):
        return None
    values["value"] = _quantity(value, threshold.unit)
    if threshold.comparison == "min":
        reason = gettext("%(label)s %(value)s is below the %(limit)s %(claim)s requires (%(norm)s).")
    elif threshold.comparison == "max":
        reason = gettext("%(label)s %(value)s is above the %(limit)s maximum of %(claim)s (%(norm)s).")
    else:
        reason = gettext("%(label)s %(value)s is not below the %(limit)s limit of %(claim)s (%(norm)s).")
    return _danger(f"{threshold.field}_out_of_range", reason % values)


def threshold_findings(norm_class: NormClass, check: ConformityCheck) -> list[Finding]:
    findings = (threshold_finding(norm_class, check, threshold) for threshold in THRESHOLDS)
    return [finding for finding in findings if finding]


def ce_number_of(check: ConformityCheck) -> str:
    """The number after the CE mark: the one recorded, else the one read in the marking ("CE 2163 NR")."""
    number = re.sub(r"^\s*CE\b\s*", "", check.ce_number or "", flags=re.IGNORECASE).strip()
    if not number:
        found = re.search(r"\bCE\s*(\d+)\b", check.marking or "", flags=re.IGNORECASE)
        number = found.group(1) if found else ""
    return number


def ce_mark_finding(
    norm_class: NormClass, check: ConformityCheck, bodies: BodyIndex, day: date | None = None
) -> Finding | None:
    """Rule 6: PPE of category III carries CE followed by the 4-digit number of a body notified for PPE (the body
    of module C2 or D). Foreign equivalents accepted under derogation carry no CE mark."""
    if _legislation(norm_class) != Legislation.PPE or norm_class.is_derogation:
        return None
    number = ce_number_of(check)
    claim = _class_name(norm_class)
    if not number:
        return _danger(
            "ce_number_missing",
            gettext(
                "CE mark with no notified body number on %(claim)s: protective equipment of category III carries "
                "the 4-digit number of a body notified for PPE."
            )
            % {"claim": claim},
        )
    if not re.fullmatch(r"\d{4}", number):
        return _danger(
            "ce_number_malformed",
            gettext("CE %(number)s: a notified body number has 4 digits.") % {"number": number},
        )
    body = bodies.by_number(number)
    if body is None:
        return _missing(
            "ce_number_unknown",
            gettext("CE %(number)s: this number is not in the notified bodies reference; check it in NANDO.")
            % {"number": number},
        )
    if body.notified_for(Legislation.PPE) and not body.notified_for(Legislation.PPE, day):
        return _danger(
            "ce_body_notification_ended",
            gettext("CE %(number)s: the notification of %(body)s ended on %(date)s.")
            % {"number": number, "body": body.name, "date": _day(body.notified_until)},
        )
    if not body.notified_for(Legislation.PPE):
        return _danger(
            "ce_body_not_notified",
            gettext("CE %(number)s is the number of %(body)s, a body not notified for %(legislation)s.")
            % {"number": number, "body": body.name, "legislation": _legislation_name(Legislation.PPE)},
        )
    return None


def issuer_finding(
    norm_class: NormClass | None, evidence: ConformityEvidence, bodies: BodyIndex, day: date | None = None
) -> Finding | None:
    """Rules 7 and 8, the issuer: a certificate (type-examination, production control, any other certificate or
    attestation) must come from a body notified for the class's legislation. A known issuer of "voluntary
    certificates", or a body notified only under other legislation, makes it worthless. Test reports are exempt:
    laboratories issue them legitimately."""
    if evidence.kind not in CERTIFICATES:
        return None
    legislation = _legislation(norm_class) if norm_class is not None else ""
    body = evidence_body(evidence, bodies)
    printed = bodies.by_name(evidence.issuer)
    if printed is not None and body is not None and printed.pk != body.pk:
        # The body picked in the list is not the one printed on the certificate.
        return _danger(
            "issuer_mismatch",
            gettext("%(evidence)s is printed by %(printed)s, not by %(chosen)s chosen in the list.")
            % {"evidence": _kind(evidence), "printed": evidence.issuer.strip(), "chosen": body},
        )
    if (
        evidence.notified_body_id is None
        and body is not None
        and bodies.by_exact_name(evidence.issuer) is None
        and _body_notified(body, legislation)
    ):
        # A name that merely contains a notified body's name ("Universal Certification Services Ltd"): a
        # classic imitation. Only the exact name, an alias or the body chosen in the list counts.
        return _danger(
            "issuer_lookalike",
            gettext(
                "%(evidence)s from “%(issuer)s”, a name resembling the notified body %(body)s without being it: "
                "choose the body in the list if it is really the one."
            )
            % {"evidence": _kind(evidence), "issuer": evidence.issuer.strip(), "body": body},
        )
    if body is None:
        if legislation not in NOTIFIED_LEGISLATIONS:
            return None
        if not evidence.issuer.strip():
            return _missing(
                f"issuer_missing_{evidence.kind}",
                gettext("%(evidence)s: name the body that issued it.") % {"evidence": _kind(evidence)},
            )
        return _missing(
            f"issuer_unknown_{evidence.kind}",
            gettext("%(evidence)s from %(issuer)s, a body not in the notified bodies reference; check it in NANDO.")
            % {"evidence": _kind(evidence), "issuer": evidence.issuer.strip()},
        )
    if _body_notified(body, legislation, day):
        return None
    values = {"evidence": _kind(evidence), "body": _issuer_name(evidence, body)}
    if _body_notified(body, legislation):
        return _danger(
            "issuer_notification_ended",
            gettext("%(evidence)s from %(body)s, whose notification ended on %(date)s.")
            % {**values, "date": _day(body.notified_until)},
        )
    values["legislation"] = _legislation_name(legislation)
    if evidence.kind == EvidenceKind.OTHER_CERTIFICATE:
        reason = gettext("Voluntary certificate from %(body)s, a body not notified for %(legislation)s.")
    else:
        reason = gettext(
            "%(evidence)s from %(body)s, a body not notified for %(legislation)s: a voluntary certificate, "
            "worthless as evidence."
        )
    return _danger("voluntary_certificate", reason % values)


def expiry_finding(evidence: ConformityEvidence, day: date) -> Finding | None:
    """An expired certificate (or report) proves nothing on the day of the check."""
    if evidence.expires_on is None or evidence.expires_on >= day:
        return None
    return _danger(
        f"expired_{evidence.kind}",
        gettext("%(evidence)s expired on %(date)s.") % {"evidence": _kind(evidence), "date": _day(evidence.expires_on)},
    )


def type_examination_age_finding(evidence: ConformityEvidence, day: date) -> Finding | None:
    """Rule 7, the date: an EU type-examination certificate is valid at most 5 years (Reg. 2016/425, annex V)."""
    if evidence.kind != EvidenceKind.TYPE_EXAMINATION:
        return None
    if evidence.issued_on is None:
        return _missing(
            "type_exam_date_missing",
            gettext("%(evidence)s: give its date of issue (it is valid at most 5 years).")
            % {"evidence": _kind(evidence)},
        )
    if evidence.issued_on + TYPE_EXAMINATION_VALIDITY < day:
        return _danger(
            "type_exam_too_old",
            gettext("%(evidence)s was issued on %(date)s, more than 5 years before %(day)s.")
            % {"evidence": _kind(evidence), "date": _day(evidence.issued_on), "day": _day(day)},
        )
    return None


def model_finding(check: ConformityCheck, evidence: ConformityEvidence) -> Finding | None:
    """Rule 7, the model: a document must cover the exact model offered. A type-examination certificate must
    name it; other documents are compared when they name one."""
    offered = normalise_model(check.model_reference)
    covered = _models(evidence.model_reference)
    is_type_examination = evidence.kind == EvidenceKind.TYPE_EXAMINATION
    if not covered:
        if is_type_examination:
            return _missing(
                "type_exam_model_missing",
                gettext("%(evidence)s: give the model it covers.") % {"evidence": _kind(evidence)},
            )
        return None
    if not offered:
        if is_type_examination:
            return _missing(
                "model_missing",
                gettext("Give the model offered, to compare it with the model of %(evidence)s.")
                % {"evidence": _kind(evidence)},
            )
        return None
    if offered in covered:
        return None
    return _danger(
        f"model_mismatch_{evidence.kind}",
        gettext("%(evidence)s covers the model %(covered)s, not the model offered (%(offered)s).")
        % {
            "evidence": _kind(evidence),
            "covered": evidence.model_reference.strip(),
            "offered": check.model_reference.strip(),
        },
    )


def declaration_finding(evidence: ConformityEvidence) -> Finding | None:
    """Rule 9: the EU declaration of conformity is the manufacturer's own; one on a test laboratory's (or a
    trader's) letterhead is worthless."""
    if evidence.kind != EvidenceKind.DECLARATION or evidence.by_manufacturer:
        return None
    issuer = evidence.issuer.strip()
    if issuer:
        reason = gettext(
            "EU declaration of conformity on the letterhead of %(issuer)s, not of the manufacturer: a declaration "
            "on a test laboratory's letterhead is worthless."
        ) % {"issuer": issuer}
    else:
        reason = gettext(
            "EU declaration of conformity not issued by the manufacturer: a declaration on a test laboratory's "
            "letterhead is worthless."
        )
    return _danger("declaration_not_by_manufacturer", reason)


def evidence_findings(
    norm_class: NormClass | None, check: ConformityCheck, evidence: ConformityEvidence, day: date, bodies: BodyIndex
) -> list[Finding]:
    findings = [
        issuer_finding(norm_class, evidence, bodies, day),
        expiry_finding(evidence, day),
        type_examination_age_finding(evidence, day),
        model_finding(check, evidence),
        declaration_finding(evidence),
    ]
    return [finding for finding in findings if finding]


def info_findings(norm_class: NormClass, day: date) -> list[Finding]:
    """What the buyer and the jurist should know: the class's note (KN95 not rated for oily aerosols) and the
    legal reference of the derogation a foreign equivalent is accepted under."""
    findings = []
    if norm_class.note:
        findings.append(
            Finding(
                "class_note",
                gettext("%(claim)s: %(note)s") % {"claim": _class_name(norm_class), "note": norm_class.note},
                INFO,
            )
        )
    if norm_class.is_derogation and norm_class.accepted_on(day):
        findings.append(
            Finding(
                "derogation",
                gettext("Accepted under derogation: %(reference)s.") % {"reference": norm_class.derogation_reference},
                INFO,
            )
        )
    return findings


# --- the verdict ------------------------------------------------------------------------------------------------
def _unique(findings: list[Finding]) -> list[Finding]:
    seen, unique = set(), []
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            unique.append(finding)
    return unique


def verdict_of(findings: list[Finding], norm_class: NormClass | None, day: date) -> str:
    levels = {finding.level for finding in findings}
    if DANGER in levels:
        return Verdict.NON_CONFORM
    if MISSING in levels or norm_class is None:
        return Verdict.INCOMPLETE
    if norm_class.is_derogation and norm_class.accepted_on(day):
        return Verdict.DEROGATION
    return Verdict.CONFORM


def assess(
    *,
    check: ConformityCheck,
    evidence: Iterable[ConformityEvidence],
    requirements: Iterable[str],
    product: str,
    day: date,
    bodies: BodyIndex,
) -> Assessment:
    """The verdict of a conformity check, with every reason.

    `check.norm_class` must come with its norm (select_related) and `requirements` are the EvidenceKind values the
    class requires (its EvidenceRequirement rows); `evidence` and `check` may be unsaved; `bodies` indexes every
    NotifiedBody row. Nothing here touches the database."""
    evidence = list(evidence)
    norm_class = check.norm_class
    findings: list[Finding | None] = [class_claimed_finding(norm_class)]
    if norm_class is not None:
        findings += [category_finding(norm_class, product), derogation_finding(norm_class, day)]
        findings += evidence_missing_findings(norm_class, requirements, evidence)
        findings += threshold_findings(norm_class, check)
        findings.append(ce_mark_finding(norm_class, check, bodies, day))
    for item in evidence:
        findings += evidence_findings(norm_class, check, item, day, bodies)
    if norm_class is not None:
        findings += info_findings(norm_class, day)
    findings = _unique([finding for finding in findings if finding])
    verdict = verdict_of(findings, norm_class, day)
    reference = norm_class.derogation_reference if verdict == Verdict.DEROGATION else ""
    return Assessment(verdict=verdict, findings=findings, derogation_reference=reference)
