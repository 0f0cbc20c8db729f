import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from suppliers import documents, identity, uploads
from suppliers.models import SanctionsList, SanctionsScreening, Supplier, SupplierDocument
from suppliers.services import SupplierAlreadyExists


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
        help_text=_("Required for a company of another EU country; optional for a French company."),
    )
    registration_number = forms.CharField(
        label=_("National registration number"),
        max_length=50,
        required=False,
        help_text=_(
            "Required for a company outside the EU, and in French Polynesia (TAHITI), New Caledonia (RIDET), "
            "Wallis and Futuna."
        ),
    )
    address = forms.CharField(label=_("Address"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    email = forms.EmailField(label=_("Contact e-mail"), required=False)
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    founded_on = forms.DateField(label=_("Company founded on"), required=False, widget=DateInput())
    activity_code = forms.CharField(
        label=_("Activity code (NAF/APE)"), max_length=10, required=False, help_text=_("E.g. 32.50B, 46.46Z, 52.29B.")
    )

    # SupplierAlreadyExists when the company (SIREN) typed already is a supplier: the page links to it.
    duplicate = None

    def __init__(self, *args, organisation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationError(_("Enter the two-letter ISO code of the country."), code="country")
        return country

    def clean_founded_on(self):
        return not_in_future(self.cleaned_data.get("founded_on"), _("The founding date cannot be in the future."))

    def clean_activity_code(self):
        return identity.clean_activity_code(self.cleaned_data.get("activity_code", ""))

    def clean(self):
        cleaned = super().clean()
        country = cleaned.get("country")
        if not country:
            return cleaned
        siret = (cleaned.get("siret") or "").strip()
        vat = (cleaned.get("vat_number") or "").strip()
        registration = (cleaned.get("registration_number") or "").strip()
        identifier_type = identity.decp_identifier_type(country)
        if identifier_type == Supplier.IdentifierType.SIRET and not siret:
            self.add_error("siret", ValidationError(_("A French company must have a SIRET."), code="required"))
        if siret:
            try:
                cleaned["siret"] = siret = identity.clean_siret(siret)
            except ValidationError as error:
                self.add_error("siret", error)
                siret = ""
        if identifier_type == Supplier.IdentifierType.TVA and not vat:
            self.add_error(
                "vat_number", ValidationError(_("A company of the EU must have a VAT number."), code="required")
            )
        if vat:
            try:
                cleaned["vat_number"] = identity.clean_supplier_vat(vat, country=country, siret=siret)
            except ValidationError as error:
                self.add_error("vat_number", error)
        if identity.requires_registration_number(country) and not registration:
            self.add_error(
                "registration_number",
                ValidationError(_("A company outside the EU must have a registration number."), code="required"),
            )
        cleaned["registration_number"] = registration
        if siret and self.organisation is not None:
            existing = (
                Supplier.objects.for_organisation(self.organisation.pk)
                .filter(siren=identity.siren_of_siret(siret))
                .first()
            )
            if existing is not None:
                self.refuse_duplicate(SupplierAlreadyExists(existing=existing, siret=siret))
        return cleaned

    def refuse_duplicate(self, error: SupplierAlreadyExists) -> None:
        """One supplier per company: also used when a concurrent creation wins the race in the database."""
        self.duplicate = error
        self.add_error("siret", error)


class SupplierEditForm(BootstrapFormMixin, forms.Form):
    """What a buyer may correct; the identifiers (SIRET, SIREN, registration number) stay as created."""

    name = forms.CharField(label=_("Company name"), max_length=200)
    vat_number = forms.CharField(label=_("VAT number"), max_length=20, required=False)
    address = forms.CharField(label=_("Address"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    email = forms.EmailField(label=_("Contact e-mail"), required=False)
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    founded_on = forms.DateField(label=_("Company founded on"), required=False, widget=DateInput())
    activity_code = forms.CharField(
        label=_("Activity code (NAF/APE)"), max_length=10, required=False, help_text=_("E.g. 32.50B, 46.46Z, 52.29B.")
    )

    def __init__(self, *args, supplier: Supplier, **kwargs):
        kwargs.setdefault("initial", {name: getattr(supplier, name) for name in self.base_fields})
        super().__init__(*args, **kwargs)
        self.supplier = supplier
        if supplier.identifier_type == Supplier.IdentifierType.TVA:
            self.fields["vat_number"].required = True

    def clean_founded_on(self):
        return not_in_future(self.cleaned_data.get("founded_on"), _("The founding date cannot be in the future."))

    def clean_activity_code(self):
        return identity.clean_activity_code(self.cleaned_data.get("activity_code", ""))

    def clean_vat_number(self):
        supplier = self.supplier
        return identity.clean_supplier_vat(
            self.cleaned_data.get("vat_number", ""), country=supplier.country, siret=supplier.siret
        )


class EstablishmentForm(BootstrapFormMixin, forms.Form):
    siret = forms.CharField(label=_("SIRET"), max_length=20, help_text=_("14 digits, same SIREN as the supplier."))
    label = forms.CharField(label=_("Label"), max_length=200, required=False, help_text=_("E.g. Marseille warehouse."))
    address = forms.CharField(label=_("Address"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_siret(self):
        return identity.clean_siret(self.cleaned_data["siret"])


class DocumentVerifyForm(BootstrapFormMixin, forms.Form):
    verified_on = forms.DateField(label=_("Verified with the issuer on"), widget=DateInput())

    def __init__(self, *args, document: SupplierDocument, **kwargs):
        kwargs.setdefault("initial", {"verified_on": timezone.localdate()})
        # One form per document row on the supplier page: distinct ids.
        kwargs.setdefault("auto_id", f"id_verify_{document.pk}_%s")
        super().__init__(*args, **kwargs)
        self.document = document
        widget = self.fields["verified_on"].widget
        widget.attrs["class"] = f"{widget.attrs['class']} form-control-sm w-auto"

    def clean_verified_on(self):
        verified_on = not_in_future(
            self.cleaned_data["verified_on"], _("The verification date cannot be in the future.")
        )
        if verified_on < self.document.issued_on:
            raise ValidationError(_("The verification date cannot be before the issue date."), code="order")
        return verified_on


class SupplierDocumentForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=SupplierDocument.Kind.choices)
    issued_on = forms.DateField(label=_("Issue date"), widget=DateInput())
    expires_on = forms.DateField(
        label=_("Expiry date"),
        required=False,
        widget=DateInput(),
        help_text=_(
            "Leave empty to compute it from the kind of document (e.g. 6 months for URSSAF); a later date than "
            "the computed one is refused."
        ),
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
        elif cleaned.get("kind"):
            error = documents.expiry_error(kind=cleaned["kind"], issued_on=issued_on, expires_on=expires_on)
            if error is not None:
                self.add_error("expires_on", error)
        return cleaned


# --- sanctions screening: a jurist's review of a possible match, and the admin's list upload ---------
class ScreeningReviewForm(BootstrapFormMixin, forms.Form):
    review = forms.ChoiceField(
        label=_("Your review"),
        choices=[
            (SanctionsScreening.Review.CLEARED, SanctionsScreening.Review.CLEARED.label),
            (SanctionsScreening.Review.CONFIRMED, SanctionsScreening.Review.CONFIRMED.label),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "What you compared (country, identifiers, address, date of birth, activity) and why it is or is not "
            "the listed party."
        ),
    )


class SanctionsListUploadForm(forms.Form):
    """The admin's add page of a sanctions list: the file as published (the format is detected)."""

    file = forms.FileField(
        label=_("List file"),
        help_text=_(
            "The French national asset-freeze register (JSON export of the DG Trésor) or the EU consolidated "
            "financial sanctions list (XML). Importing the same file again changes nothing."
        ),
    )
    source = forms.ChoiceField(
        label=_("Source"),
        required=False,
        choices=[("", _("Detect from the file")), *SanctionsList.Source.choices],
    )
