"""Asset-freeze lists: name normalisation, the in-memory matcher, and the parsers of the two list formats.

Pure code: nothing here writes to the database (suppliers.services imports and screens).

Matching (DOMAIN.md §3) must ignore accents, case, punctuation and word order: every name is reduced to a
key (`normalise`: legal forms and short function words dropped, words sorted), so "Comptoir Méditerranéen
d'Import-Export SARL" and "COMPTOIR MEDITERRANEEN D IMPORT EXPORT" have the same key. The supplier's key is
then compared with every listed key (main names and aliases) by a similarity ratio (rapidfuzz, 0-100, typos
tolerated); a listed name scoring at least SANCTIONS_MATCH_THRESHOLD whose words all agree with the
supplier's is a possible match, for a jurist to review. A listed name of two words or more is also found inside a
longer supplier name ("CMIE Trading Hong Kong Limited" for "CMIE TRADING"); one shared word is never enough.
"""

import functools
import json
import re
import unicodedata
import zoneinfo
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rapidfuzz import fuzz, process

# Source codes, as in SanctionsList.Source.
FR_DGT = "fr_dgt"
EU_FSF = "eu_fsf"

# Entry kinds, as in SanctionsEntry.Kind.
PERSON = "person"
ENTITY = "entity"
OTHER = "other"

EU_NAMESPACE = "http://eu.europa.ec/fpi/fsd/export"

# --- normalisation -------------------------------------------------------------------------------
# Short function words (French, English, Spanish, German/Dutch particles, Arabic article). Dropping them on
# both sides is safe: they carry no identity, and "d'Import" / "D IMPORT" / "de l'import" then agree.
STOP_WORDS = frozenset(
    {"d", "de", "du", "des", "la", "le", "les", "l", "et", "and", "of", "the", "y", "von", "van", "al", "el"}
)
# Legal forms: the same company is listed with or without them ("ATLAS NEGOCE" vs "Atlas Négoce SAS").
LEGAL_FORMS = frozenset(
    {
        # France
        "sarl", "sas", "sasu", "sa", "eurl", "sci", "snc", "scop", "scs", "sca", "selarl", "gie", "ei", "eirl",
        # English-speaking
        "ltd", "limited", "co", "company", "inc", "incorporated", "llc", "llp", "lp", "corp", "corporation", "plc",
        # Germany, Austria, Switzerland, Netherlands, Belgium, Nordics
        "gmbh", "ag", "kg", "ohg", "ug", "bv", "nv", "bvba", "sprl", "srl", "oy", "ab",
        # Italy, Spain, Portugal
        "spa", "sl", "sapa", "lda",
        # Russia, Ukraine, Belarus and neighbours (transliterated)
        "ooo", "oao", "zao", "pao", "ao", "jsc", "ojsc", "cjsc", "pjsc", "tov", "pat",
        # Gulf free zones
        "fze", "fzco", "fzc", "fzllc",
    }
)  # fmt: skip
# Letters that NFKD does not decompose.
_TRANSLITERATION = str.maketrans(
    {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h"}
)
_SEPARATORS = re.compile(r"[\W_]+")


def normalise(name: str) -> str:
    """The matching key of a name: accents, case, punctuation, legal forms and word order removed.

    >>> normalise("Comptoir Méditerranéen d'Import-Export SARL")
    'comptoir export import mediterraneen'
    """
    return " ".join(sorted(name_words(name)))


def name_words(name: str) -> list[str]:
    """The words of a name's key, in the order they are written (`normalise` sorts them)."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = text.casefold().translate(_TRANSLITERATION)
    tokens = _join_initials([token for token in _SEPARATORS.split(text) if token])
    kept = [t for t in tokens if len(t) > 1 and t not in STOP_WORDS and t not in LEGAL_FORMS]
    if not kept:
        # A name made only of small words ("S.A.", "The Company") keeps them rather than matching nothing or all.
        kept = (
            [t for t in tokens if len(t) > 1 and t not in STOP_WORDS]
            or [t for t in tokens if len(t) > 1]
            or (["".join(tokens)] if tokens else [])
        )
    return kept


def _join_initials(tokens: list[str]) -> list[str]:
    """Runs of single letters are an acronym written with dots or spaces: "C.M.I.E." is "cmie", and "M & S",
    "M and S", "M et S" are all "ms"."""
    joined: list[str] = []
    run: list[str] = []
    tokens = [*tokens, ""]
    for index, token in enumerate(tokens):
        if len(token) == 1:
            run.append(token)
            continue
        if token in ("and", "et") and run and len(tokens[index + 1]) == 1:
            continue
        joined.extend(["".join(run)] if len(run) > 1 else run)
        run = []
        if token:
            joined.append(token)
    return joined


# --- matching -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    """A listed name close enough to the screened one."""

    entry: int  # pk of the SanctionsEntry (or the in-memory entry id)
    reference: str  # reference of the entry in the list
    name: str  # the listed name (main name or alias) that matched
    score: int  # similarity 0-100


@dataclass(frozen=True)
class ListedEntry:
    """What the matcher needs of an entry; `keys` may be empty (computed from `names`)."""

    pk: int
    reference: str
    names: list[str]
    keys: list[str] = field(default_factory=list)


# A word of the shorter name must be this close (0-100) to a word of the other: a whole-name ratio alone lets long
# common words ("GENERAL TRADING", "MEDICAL SUPPLIES") outweigh a different distinctive word.
WORD_THRESHOLD = 80
# A listed name of at least this many words is also found inside a longer screened name ("CMIE Trading Hong Kong
# Limited" is "CMIE TRADING"); a one-word listed name is not, or a single shared word would be enough.
CONTAINED_MIN_WORDS = 2


def has_counterpart(word: str, other: list[str]) -> bool:
    """The word is one of the other name's words, to a typo, or two of them run together ("importexport")."""
    if any(fuzz.ratio(word, candidate) >= WORD_THRESHOLD for candidate in other):
        return True
    pairs = (a + b for i, a in enumerate(other) for j, b in enumerate(other) if i != j)
    return any(fuzz.ratio(word, joined) >= WORD_THRESHOLD for joined in pairs)


def words_agree(words: list[str], other: list[str]) -> bool:
    """Every word of the name with fewer words has a counterpart in the other one (`has_counterpart`)."""
    shorter, longer = (words, other) if len(words) <= len(other) else (other, words)
    return all(has_counterpart(word, longer) for word in shorter)


def by_length(key: str) -> str:
    """The words of a key, longest first: a second order in which a typo on a word's first letter (which can
    move the word in alphabetical order) does not move it."""
    return " ".join(sorted(key.split(), key=lambda word: (-len(word), word)))


class SanctionsMatcher:
    """Every name of every entry of one list, as keys compared in vectorised passes (rapidfuzz).

    A listed name matches in two ways, both requiring that every word of the shorter name has a counterpart in
    the other (`words_agree`), so that one shared common word is never enough:
    - whole names: its key scores at least the threshold against the screened name's key, with the words in
      alphabetical order (a token-sort ratio) or longest first, whichever is higher;
    - contained names: a listed name of at least CONTAINED_MIN_WORDS words whose every word agrees with a word
      of a longer screened name ("Atlas Négoce International Trading Group") scores at least the threshold
      against the screened words that correspond to its own; the extra screened words are ignored.
    """

    def __init__(self, entries: Iterable):
        self._keys: list[str] = []
        self._length_keys: list[str] = []
        self._owners: list[tuple[int, str, str]] = []  # (entry pk, reference, listed name), parallel to _keys
        for entry in entries:
            keys = list(entry.keys or [])
            if len(keys) != len(entry.names):
                keys = [normalise(name) for name in entry.names]
            seen = set()
            for name, key in zip(entry.names, keys, strict=True):
                if key and key not in seen:
                    seen.add(key)
                    self._keys.append(key)
                    self._length_keys.append(by_length(key))
                    self._owners.append((entry.pk, entry.reference, name))
        self._index_words()

    def _index_words(self) -> None:
        """Every distinct word of the list (`_words`, `_word_ids`, `_words_by_length`), and the keys of CONTAINED_MIN_WORDS words or more filed
        under their rarest word: a key can be contained in a screened name only if its rarest word is, and rare
        words have few keys, so the contained-name pass looks at a handful of keys."""
        word_ids: dict[str, int] = {}
        key_words: list[frozenset[int]] = []
        frequency: dict[int, int] = {}
        for key in self._keys:
            ids = frozenset(word_ids.setdefault(word, len(word_ids)) for word in key.split())
            key_words.append(ids)
            for word_id in ids:
                frequency[word_id] = frequency.get(word_id, 0) + 1
        self._word_ids = word_ids
        self._words = list(word_ids)
        # Words by length: a word can be WORD_THRESHOLD close only to words of a similar length.
        self._words_by_length: dict[int, tuple[list[str], list[int]]] = {}
        for word, word_id in word_ids.items():
            words, ids = self._words_by_length.setdefault(len(word), ([], []))
            words.append(word)
            ids.append(word_id)
        self._by_rarest_word: dict[int, list[int]] = {}
        for index, ids in enumerate(key_words):
            if len(ids) >= CONTAINED_MIN_WORDS:
                rarest = min(ids, key=lambda word_id: (frequency[word_id], word_id))
                self._by_rarest_word.setdefault(rarest, []).append(index)
        self._key_words = key_words

    def __len__(self) -> int:
        return len(self._keys)

    def _similar_words(self, word: str) -> Iterable[tuple[int, float]]:
        """(word id, ratio) of the listed words at least WORD_THRESHOLD close to the word."""
        for length, (words, ids) in self._words_by_length.items():
            if 200 * min(length, len(word)) / (length + len(word)) < WORD_THRESHOLD:
                continue  # the ratio cannot reach the threshold with such a difference in length
            for _word, score, position in process.extract(
                word, words, scorer=fuzz.ratio, processor=None, score_cutoff=WORD_THRESHOLD, limit=None
            ):
                yield ids[position], score

    def _contained(self, name: str, cutoff: float) -> dict[int, float]:
        """{key index: score} of the listed keys contained in the screened name (see the class docstring)."""
        written = name_words(name)
        # A listed word may be two written words run together: "Import Export" for "IMPORTEXPORT".
        counterparts = dict.fromkeys([*written, *(a + b for a, b in zip(written, written[1:], strict=False))])
        agreed: dict[int, tuple[str, float]] = {}  # listed word id: (best screened counterpart, its ratio)
        for counterpart in counterparts:
            for word_id, score in self._similar_words(counterpart):
                if word_id not in agreed or score > agreed[word_id][1]:
                    agreed[word_id] = (counterpart, score)
        found: dict[int, float] = {}
        for word_id in agreed:
            for index in self._by_rarest_word.get(word_id, ()):
                if all(other in agreed for other in self._key_words[index]):
                    # Each listed word next to the screened word it agrees with, so order and extra words
                    # do not lower the score.
                    key = self._keys[index]
                    aligned = " ".join(agreed[self._word_ids[word]][0] for word in key.split())
                    score = fuzz.ratio(key, aligned)
                    if score >= cutoff:
                        found[index] = score
        return found

    def search(self, name: str, *, threshold: int | None = None) -> list[Match]:
        """Entries with a name scoring at least the threshold (setting SANCTIONS_MATCH_THRESHOLD), best first."""
        key = normalise(name)
        if not key or not self._keys:
            return []
        cutoff = settings.SANCTIONS_MATCH_THRESHOLD if threshold is None else threshold
        scores: dict[int, float] = {}
        for query, choices in ((key, self._keys), (by_length(key), self._length_keys)):
            for _choice, score, index in process.extract(
                query, choices, scorer=fuzz.ratio, processor=None, score_cutoff=cutoff, limit=None
            ):
                scores[index] = max(score, scores.get(index, 0))
        for index, score in self._contained(name, cutoff).items():
            scores[index] = max(score, scores.get(index, 0))
        words = key.split()
        best: dict[int, Match] = {}
        for index, score in scores.items():
            if not words_agree(words, self._keys[index].split()):
                continue
            pk, reference, listed = self._owners[index]
            rounded = int(round(score))
            if pk not in best or rounded > best[pk].score:
                best[pk] = Match(entry=pk, reference=reference, name=listed, score=rounded)
        return sorted(best.values(), key=lambda match: (-match.score, match.reference, match.name))


class _MatcherCache:
    """A few matchers kept in the process, per list version (a list never changes once imported)."""

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple[int, str], SanctionsMatcher] = OrderedDict()
        self._lock = Lock()

    def get(self, sanctions_list) -> SanctionsMatcher:
        from suppliers.models import SanctionsEntry

        cache_key = (sanctions_list.pk, sanctions_list.sha256)
        with self._lock:
            if cache_key in self._items:
                self._items.move_to_end(cache_key)
                return self._items[cache_key]
        rows = SanctionsEntry.objects.filter(sanctions_list_id=sanctions_list.pk).values_list(
            "pk", "reference", "names", "keys"
        )
        matcher = SanctionsMatcher(ListedEntry(*row) for row in rows.iterator(chunk_size=5000))
        with self._lock:
            self._items[cache_key] = matcher
            self._items.move_to_end(cache_key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return matcher

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


matchers = _MatcherCache()


def matcher_for(sanctions_list) -> SanctionsMatcher:
    """The matcher of one imported list, built once per process."""
    return matchers.get(sanctions_list)


# --- parsing ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedEntry:
    reference: str
    kind: str  # PERSON, ENTITY or OTHER
    names: list[str]  # main name first, then aliases
    programme: str = ""
    details: str = ""


@dataclass(frozen=True)
class ParsedList:
    source: str  # FR_DGT or EU_FSF
    version: str
    published_at: datetime | None
    entries: list[ParsedEntry]


UNKNOWN_FORMAT = _("This file is not a sanctions list in a known format (French register JSON or EU consolidated XML).")
SOURCE_LABELS = {
    FR_DGT: _("French national asset-freeze register (DG Trésor)"),
    EU_FSF: _("EU consolidated financial sanctions list"),
}


def detect_format(data: bytes) -> str:
    """FR_DGT for the register's JSON export, EU_FSF for the EU XML; ValidationError otherwise."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return FR_DGT
    if head.startswith(b"<") and EU_NAMESPACE.encode() in head:
        return EU_FSF
    raise ValidationError(UNKNOWN_FORMAT, code="unknown_format")


def ensure_source(found: str, expected: str | None) -> None:
    """ValidationError when the file's source is not the one the user said it was."""
    if expected and expected not in SOURCE_LABELS:
        raise ValidationError(_("Unknown sanctions list source."), code="unknown_source")
    if expected and expected != found:
        raise ValidationError(
            _("This file is the %(found)s, not the %(expected)s."),
            code="wrong_source",
            params={"found": SOURCE_LABELS[found], "expected": SOURCE_LABELS[expected]},
        )


def parse(data: bytes, *, source: str | None = None) -> ParsedList:
    """Parse a list file, checking it is of the expected source when one is given."""
    found = detect_format(data)
    ensure_source(found, source)
    return parse_fr_register(data) if found == FR_DGT else parse_eu_consolidated(data)


def _published(text: str) -> datetime | None:
    """An ISO date-time of the file; naive ones are Paris time (both publishers are in CET)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (AttributeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    return moment


def _unique(values: Iterable[str]) -> list[str]:
    seen, result = set(), []
    for value in values:
        value = " ".join(str(value or "").split())
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            result.append(value)
    return result


def _no_entries() -> ValidationError:
    return ValidationError(_("This file contains no listed person or entity."), code="empty")


# Labels of the detail lines stored with each entry ("Grounds: ...", "Date of birth: ..."). The stored text is in
# the site's language (settings.LANGUAGE_CODE) whoever imports the file, so every parser runs under
# `_in_site_language`.
DETAIL_LABELS = {
    "grounds": _("Grounds: %(value)s"),
    "eu_reference": _("EU reference: %(value)s"),
    "un_reference": _("UN reference: %(value)s"),
    "birth": _("Date of birth: %(value)s"),
    "nationality": _("Nationality: %(value)s"),
    "address": _("Address: %(value)s"),
    "identification": _("Identification: %(value)s"),
    "remark": _("Remark: %(value)s"),
    "regulation": _("Regulation: %(value)s"),
    "designation": _("Designation: %(value)s"),
}


def _detail_lines(label: str, values: Iterable[str]) -> list[str]:
    """One line per value, labelled in the active language."""
    return [str(DETAIL_LABELS[label]) % {"value": value} for value in values]


def _in_site_language(parser):
    @functools.wraps(parser)
    def parse_in_site_language(data: bytes) -> ParsedList:
        with translation.override(settings.LANGUAGE_CODE):
            return parser(data)

    return parse_in_site_language


# French national register of asset freezes (DG Trésor, gels-avoirs.dgtresor.gouv.fr), JSON export:
# {"Publications": {"DatePublication": "...", "PublicationDetail": [{"IdRegistre": 1, "Nature":
#  "Personne physique" | "Personne morale" | "Navire", "Nom": "...", "RegistreDetail": [{"TypeChamp":
#  "PRENOM" | "ALIAS" | "FONDEMENT_JURIDIQUE" | "MOTIFS" | ..., "Valeur": [{...}]}]}]}}
FR_NATURES = {"personne physique": PERSON, "personne morale": ENTITY}
FR_NOT_A_REGISTER = _(
    "This JSON file does not have the structure of the French asset-freeze register "
    "(Publications, PublicationDetail, IdRegistre, Nature, Nom)."
)


def _fr_values(details: dict[str, list], field_type: str, key: str) -> list[str]:
    values = []
    for value in details.get(field_type, []):
        text = value.get(key) if isinstance(value, dict) else value
        if isinstance(text, str | int | float) and str(text).strip():
            values.append(str(text).strip())
    return values


def _fr_date(details: dict[str, list]) -> list[str]:
    dates = []
    for value in details.get("DATE_DE_NAISSANCE", []):
        if isinstance(value, dict):
            parts = [str(value.get(k) or "").strip() for k in ("Jour", "Mois", "Annee")]
            dates.append("/".join(part.zfill(2) if len(part) < 4 else part for part in parts if part))
    return [d for d in dates if d]


@_in_site_language
def parse_fr_register(data: bytes) -> ParsedList:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError(UNKNOWN_FORMAT, code="unknown_format") from None
    publications = document.get("Publications") if isinstance(document, dict) else None
    if isinstance(publications, list):
        publications = publications[0] if publications else None
    records = publications.get("PublicationDetail") if isinstance(publications, dict) else None
    if not isinstance(records, list):
        raise ValidationError(FR_NOT_A_REGISTER, code="not_fr_register")
    version = str(publications.get("DatePublication") or publications.get("IdPublication") or "").strip()
    entries = []
    for record in records:
        if not isinstance(record, dict) or record.get("IdRegistre") in (None, ""):
            raise ValidationError(FR_NOT_A_REGISTER, code="not_fr_register")
        reference = str(record["IdRegistre"]).strip()
        details: dict[str, list] = {}
        for detail in record.get("RegistreDetail") or []:
            if not isinstance(detail, dict):
                raise ValidationError(FR_NOT_A_REGISTER, code="not_fr_register")
            values = detail.get("Valeur") or []
            details.setdefault(str(detail.get("TypeChamp") or "").upper(), []).extend(
                values if isinstance(values, list) else [values]
            )
        kind = FR_NATURES.get(str(record.get("Nature") or "").strip().lower(), OTHER)
        surname = " ".join(str(record.get("Nom") or "").split())
        if not surname:
            raise ValidationError(
                _("Entry %(reference)s of the register has no name."),
                code="no_name",
                params={"reference": reference},
            )
        first_names = _fr_values(details, "PRENOM", "Prenom")
        main = f"{surname} {first_names[0]}" if kind == PERSON and first_names else surname
        names = _unique([main, *_fr_values(details, "ALIAS", "Alias")])
        programme = "; ".join(_unique(_fr_values(details, "FONDEMENT_JURIDIQUE", "FondementJuridiqueLabel")))
        lines = [
            *_detail_lines("grounds", _fr_values(details, "MOTIFS", "Motifs")),
            *_detail_lines("eu_reference", _fr_values(details, "REFERENCE_UE", "ReferenceUe")),
            *_detail_lines("un_reference", _fr_values(details, "REFERENCE_ONU", "ReferenceOnu")),
            *_detail_lines("birth", _fr_date(details)),
            *_detail_lines("nationality", _fr_values(details, "NATIONALITE", "Pays")),
            *_detail_lines(
                "address",
                (a for field_type in ("ADRESSE_PM", "ADRESSE_PP") for a in _fr_values(details, field_type, "Adresse")),
            ),
            *_detail_lines("identification", _fr_values(details, "IDENTIFICATION", "Identification")),
        ]
        entries.append(
            ParsedEntry(
                reference=reference[:50],
                kind=kind,
                names=names,
                programme=programme[:300],
                details="\n".join(lines),
            )
        )
    if not entries:
        raise _no_entries()
    return ParsedList(source=FR_DGT, version=version[:100], published_at=_published(version), entries=entries)


# EU consolidated list of persons, groups and entities subject to financial sanctions (FSF), XML 1.1:
# <export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="..."><sanctionEntity logicalId="..."
#  euReferenceNumber="..."><regulation programme="..." numberTitle="..."/><subjectType code="person"/>
#  <nameAlias wholeName="..." firstName="..." lastName="..."/>...</sanctionEntity></export>
EU_KINDS = {"person": PERSON, "enterprise": ENTITY}
EU_NOT_A_LIST = _(
    "This XML file is not the EU consolidated sanctions list "
    "(an export element of namespace http://eu.europa.ec/fpi/fsd/export is expected)."
)


def _tag(name: str) -> str:
    return f"{{{EU_NAMESPACE}}}{name}"


def _eu_alias_name(alias: Element) -> str:
    whole = alias.get("wholeName", "").strip()
    if whole:
        return whole
    return " ".join(alias.get(part, "").strip() for part in ("firstName", "middleName", "lastName")).strip()


@_in_site_language
def parse_eu_consolidated(data: bytes) -> ParsedList:
    try:
        root = SafeElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise ValidationError(
            _("This XML file declares a DTD or entities, which are refused for security reasons."), code="xml_unsafe"
        ) from None
    except (ParseError, ValueError):
        raise ValidationError(UNKNOWN_FORMAT, code="unknown_format") from None
    if root.tag != _tag("export"):
        raise ValidationError(EU_NOT_A_LIST, code="not_eu_list")
    generated = root.get("generationDate", "").strip()
    version = f"{generated} #{root.get('globalFileId')}" if root.get("globalFileId") else generated
    entries = []
    for entity in root.iter(_tag("sanctionEntity")):
        reference = (entity.get("euReferenceNumber") or entity.get("logicalId") or "").strip()
        names = _unique(_eu_alias_name(alias) for alias in entity.iter(_tag("nameAlias")))
        if not reference or not names:
            raise ValidationError(
                _("Entry %(reference)s of the list has no reference or no name."),
                code="no_name",
                params={"reference": reference or entity.get("logicalId", "?")},
            )
        subject = entity.find(_tag("subjectType"))
        kind = EU_KINDS.get(subject.get("code", "") if subject is not None else "", OTHER)
        regulations = list(entity.iter(_tag("regulation")))
        programme = ", ".join(_unique(r.get("programme", "") for r in regulations))
        lines = [
            *_detail_lines(
                "remark", (r.text.strip() for r in entity.findall(_tag("remark")) if r.text and r.text.strip())
            ),
            *_detail_lines("regulation", _unique(r.get("numberTitle", "") for r in regulations)),
            *_detail_lines("birth", _unique(b.get("birthdate", "") for b in entity.iter(_tag("birthdate")))),
            *_detail_lines(
                "nationality", _unique(c.get("countryDescription", "") for c in entity.iter(_tag("citizenship")))
            ),
            *_detail_lines(
                "address",
                _unique(
                    ", ".join(p for p in (x.get("street", ""), x.get("city", ""), x.get("countryDescription", "")) if p)
                    for x in entity.iter(_tag("address"))
                ),
            ),
            *_detail_lines("designation", [d] if (d := entity.get("designationDetails", "").strip()) else []),
        ]
        entries.append(
            ParsedEntry(
                reference=reference[:50],
                kind=kind,
                names=names,
                programme=programme[:300],
                details="\n".join(lines),
            )
        )
    if not entries:
        raise _no_entries()
    return ParsedList(source=EU_FSF, version=version[:100], published_at=_published(generated), entries=entries)
