"""Company identifiers, checked with python-stdnum (never hand-rolled): SIREN, SIRET, FR and EU VAT."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import luhn
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren, siret
from stdnum.fr import tva as fr_tva


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


def siren_of_siret(value: str) -> str:
    return siret.to_siren(value)


def is_luhn_valid(value: str) -> bool:
    return luhn.is_valid(value)
