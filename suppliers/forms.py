import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.eu.vat import MEMBER_STATES
from stdnum.exceptions import ValidationError as StdnumError

from suppliers import identity, uploads
from suppliers.models import Supplier, SupplierDocument

# stdnum lists member states in lower case; Greece appears as "gr" or "el" depending on the version,
# and its VAT numbers carry the prefix EL.
EU_COUNTRIES = frozenset({code.upper() for code in MEMBER_STATES} | {"GR"}) - {"EL", "XI"}
VAT_PREFIX = {"GR": "EL"}


class BootstrapFormMixin:
    """Give every widget its Bootstrap class, and mark fields with errors invalid.

    Rendered with templates/includes/field.html (label, help text and errors with their ids)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
                css = ""
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            if css:
                widget.attrs["class"] = " ".join(filter(None, [widget.attrs.get("class", ""), css]))

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = " ".join(filter(None, [widget.attrs.get("class", ""), "is-invalid"]))


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def not_in_future(value, message):
    if value and value > timezone.localdate():
        raise ValidationError(message, code="future")
    return value


class SupplierForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=200)
    country = forms.CharField(
        label=_("Country (ISO code)"),
        max_length=2,
        min_length=2,
        initial="FR",
        help_text=_("Two letters, e.g. FR, DE, CN."),
    )
    siret = forms.CharField(
        label=_("SIRET"), max_length=20, required=False, help_text=_("Required for a French company: 14 digits.")
    )
    vat_number = forms.CharField(
        label=_("VAT number"),
        max_length=20,
        required=False,
        help_text=_("Required for a company of another EU country."),
    )
    registration_number = forms.CharField(
        label=_("National registration number"),
        max_length=50,
        required=False,
        help_text=_("Required for a company outside the EU."),
    )
    address = forms.CharField(label=_("Address"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    email = forms.EmailField(label=_("Contact e-mail"), required=False)
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")

    def __init__(self, *args, organisation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationError(_("Enter the two-letter ISO code of the country."), code="country")
        return country

    def clean(self):
        cleaned = super().clean()
        country = cleaned.get("country")
        if not country:
            return cleaned
        siret = (cleaned.get("siret") or "").strip()
        vat = (cleaned.get("vat_number") or "").strip()
        registration = (cleaned.get("registration_number") or "").strip()
        if country == "FR" and not siret:
            self.add_error("siret", ValidationError(_("A French company must have a SIRET."), code="required"))
        if siret:
            try:
                cleaned["siret"] = siret = identity.clean_siret(siret)
            except ValidationError as error:
                self.add_error("siret", error)
                siret = ""
        if country in EU_COUNTRIES and country != "FR" and not vat:
            self.add_error(
                "vat_number", ValidationError(_("A company of the EU must have a VAT number."), code="required")
            )
        if vat:
            try:
                cleaned["vat_number"] = self._clean_vat(vat, country)
            except ValidationError as error:
                self.add_error("vat_number", error)
        if country not in EU_COUNTRIES and not registration:
            self.add_error(
                "registration_number",
                ValidationError(_("A company outside the EU must have a registration number."), code="required"),
            )
        cleaned["registration_number"] = registration
        if siret and self.organisation is not None:
            if Supplier.objects.for_organisation(self.organisation.pk).filter(siret=siret).exists():
                self.add_error(
                    "siret", ValidationError(_("A supplier with this SIRET already exists."), code="duplicate")
                )
        return cleaned

    @staticmethod
    def _clean_vat(vat: str, country: str) -> str:
        prefix = VAT_PREFIX.get(country, country)
        vat = re.sub(r"[\s.\-/]", "", vat).upper()
        if not vat[:2].isalpha():
            # identity.clean_vat compacts before adding the country, and stdnum's compact needs a prefix.
            vat = prefix + vat
        try:
            return identity.clean_vat(vat, country=prefix)
        except StdnumError:
            # An unknown country prefix makes stdnum raise before clean_vat can translate the error.
            raise ValidationError(_("This VAT number is not valid."), code="vat_invalid") from None


class SupplierDocumentForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=SupplierDocument.Kind.choices)
    issued_on = forms.DateField(label=_("Issue date"), widget=DateInput())
    expires_on = forms.DateField(
        label=_("Expiry date"),
        required=False,
        widget=DateInput(),
        help_text=_("Leave empty to compute it from the kind of document (e.g. 6 months for URSSAF)."),
    )
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, PNG or JPEG."),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/png,image/jpeg"}),
    )
    verified_with_issuer = forms.BooleanField(label=_("Verified with the issuer"), required=False)
    verified_on = forms.DateField(label=_("Verified on"), required=False, widget=DateInput())

    def clean_issued_on(self):
        return not_in_future(self.cleaned_data["issued_on"], _("The issue date cannot be in the future."))

    def clean_verified_on(self):
        return not_in_future(self.cleaned_data.get("verified_on"), _("The verification date cannot be in the future."))

    def clean_file(self):
        uploaded = self.cleaned_data.get("file")
        uploads.validate_upload(uploaded)
        return uploaded

    def clean(self):
        cleaned = super().clean()
        issued_on, expires_on = cleaned.get("issued_on"), cleaned.get("expires_on")
        if issued_on and expires_on and expires_on < issued_on:
            self.add_error(
                "expires_on", ValidationError(_("The expiry date cannot be before the issue date."), code="order")
            )
        return cleaned
