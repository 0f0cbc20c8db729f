"""Company identifiers, checked with python-stdnum (never hand-rolled): SIREN, SIRET, FR and EU VAT.

Also the DECP identifier type a country implies, and the NAF/APE activity code's shape.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import luhn
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren, siret
from stdnum.fr import tva as fr_tva

from suppliers.models import Supplier

# stdnum lists member states in lower case; Greece appears as "gr" or "el" depending on the version (its
# VAT numbers carry the prefix EL), and "xi" is Northern Ireland's VAT prefix, not a country.
EU_COUNTRIES = frozenset({code.upper() for code in eu_vat.MEMBER_STATES} | {"GR"}) - {"EL", "XI"}
VAT_PREFIX = {"GR": "EL"}

# French overseas collectivities with their own company registers (DECP identifier types).
OVERSEAS_IDENTIFIER_TYPES = {
    "PF": Supplier.IdentifierType.TAHITI,  # French Polynesia: numéro TAHITI
    "NC": Supplier.IdentifierType.RIDET,  # New Caledonia: RIDET
    "WF": Supplier.IdentifierType.FRWF,  # Wallis and Futuna
}
# Identifier types whose identifier is the national registration number.
REGISTRATION_TYPES = frozenset(
    {
        Supplier.IdentifierType.TAHITI,
        Supplier.IdentifierType.RIDET,
        Supplier.IdentifierType.FRWF,
        Supplier.IdentifierType.HORS_UE,
    }
)

# Metropolitan France and the overseas departments and collectivities registered in SIRENE (ISO codes).
SIRET_COUNTRIES = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF"})

# NAF rév. 2 / APE: two digits, two digits, a letter ("32.50B"); typed with or without the dot.
ACTIVITY_CODE = re.compile(r"(\d{2})\.?(\d{2})([A-Z])")


def decp_identifier_type(country: str) -> str:
    """The DECP identifier type of a supplier of `country` (ISO 3166 alpha-2)."""
    country = (country or "").strip().upper()
    if country in SIRET_COUNTRIES:
        return Supplier.IdentifierType.SIRET
    if country in EU_COUNTRIES:
        return Supplier.IdentifierType.TVA
    return OVERSEAS_IDENTIFIER_TYPES.get(country, Supplier.IdentifierType.HORS_UE)


def requires_registration_number(country: str) -> bool:
    """A company of Polynesia, New Caledonia, Wallis and Futuna or outside the EU is known by its registration."""
    return decp_identifier_type(country) in REGISTRATION_TYPES


def clean_activity_code(value: str) -> str:
    """The code as INSEE writes it ("3250B", "32.50b" -> "32.50B"); any other shape is refused."""
    compact = re.sub(r"\s", "", value or "").upper()
    if not compact:
        return ""
    match = ACTIVITY_CODE.fullmatch(compact)
    if match is None:
        raise ValidationError(
            _("Enter the NAF/APE code as four digits and a letter, e.g. 32.50B."), code="activity_code"
        )
    return "{}.{}{}".format(*match.groups())


def clean_siret(value: str) -> str:
    compact = siret.compact(value or "")
    if not compact.isdigit() or len(compact) != 14:
        raise ValidationError(_("A SIRET has exactly 14 digits."), code="siret_length")
    try:
        return siret.validate(compact)
    except StdnumError:
        raise ValidationError(_("This SIRET is not valid (its check digit is wrong)."), code="siret_invalid") from None


def clean_siren(value: str) -> str:
    compact = siren.compact(value or "")
    if not compact.isdigit() or len(compact) != 9:
        raise ValidationError(_("A SIREN has exactly 9 digits."), code="siren_length")
    try:
        return siren.validate(compact)
    except StdnumError:
        raise ValidationError(_("This SIREN is not valid (its check digit is wrong)."), code="siren_invalid") from None


def clean_vat(value: str, *, country: str = "") -> str:
    try:
        compact = eu_vat.compact(value or "")
        if country and not compact[:2].isalpha():
            compact = eu_vat.compact(("EL" if country.upper() == "GR" else country.upper()) + compact)
        if compact.startswith("FR"):
            return "FR" + fr_tva.validate(compact[2:])
        return eu_vat.validate(compact)
    except StdnumError:
        raise ValidationError(_("This VAT number is not valid."), code="vat_invalid") from None


def clean_vat_for_country(value: str, *, country: str) -> str:
    """A VAT number of a supplier of `country`: valid, and issued by that country (EL for Greece)."""
    prefix = VAT_PREFIX.get(country, country)
    vat = re.sub(r"[\s.\-/]", "", value or "").upper()
    if not vat[:2].isalpha():
        # stdnum's compact needs a country prefix before clean_vat can add one.
        vat = prefix + vat
    try:
        vat = clean_vat(vat, country=prefix)
    except StdnumError:
        # An unknown country prefix makes stdnum raise before clean_vat can translate the error.
        raise ValidationError(_("This VAT number is not valid."), code="vat_invalid") from None
    if vat[:2] != prefix:
        raise ValidationError(
            _(
                "This VAT number was issued in another country (%(prefix)s); a company of %(country)s has one starting with %(expected)s."
            )
            % {"prefix": vat[:2], "country": country, "expected": prefix},
            code="vat_country",
        )
    return vat


def check_vat_matches_siret(vat: str, siret_number: str) -> None:
    """A French VAT number is the key followed by the SIREN: it must be the SIRET's company."""
    vat_siren, company_siren = vat[4:], siren_of_siret(siret_number)
    if vat_siren != company_siren:
        raise ValidationError(
            _(
                "This VAT number belongs to the company with SIREN %(vat_siren)s, not to this SIRET's company (SIREN %(siren)s)."
            )
            % {"vat_siren": vat_siren, "siren": company_siren},
            code="vat_siren",
        )


def clean_supplier_vat(value: str, *, country: str, siret: str = "") -> str:
    """The optional VAT number of a supplier: valid, of its country, and for a French one, of its SIRET's company."""
    if not (value or "").strip():
        return ""
    vat = clean_vat_for_country(value, country=country)
    if country == "FR" and siret:
        check_vat_matches_siret(vat, siret)
    return vat


def siren_of_siret(value: str) -> str:
    return siret.to_siren(value)


def is_luhn_valid(value: str) -> bool:
    return luhn.is_valid(value)
