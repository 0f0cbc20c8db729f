"""Forms of the contract pages and of the case steps that create or withdraw contracts.

No form includes a status field: states change through services only.
"""

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contracts.models import CLAUSES
from suppliers.forms import BootstrapFormMixin, DateInput


class CommentForm(BootstrapFormMixin, forms.Form):
    """Contract steps that need a reason: request changes, withdraw. (The case steps' forms are in procurement.)"""

    comment = forms.CharField(
        label=_("Comment"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("Recorded in the audit log and shown to the team."),
    )


class ApproveForm(BootstrapFormMixin, forms.Form):
    """The jurist's clause checklist, bound to the SHA-256 of the version displayed on the page."""

    clauses = forms.MultipleChoiceField(
        label=_("Clause checklist"),
        choices=list(CLAUSES.items()),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        required=False,
        help_text=_("Tick each clause you have checked in the displayed version of the contract."),
    )
    rendered_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64, min_length=64)


class SubmitForm(BootstrapFormMixin, forms.Form):
    """Submission of the version the buyer previewed, bound to its SHA-256."""

    rendered_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64, min_length=64)
    confirm = forms.BooleanField(
        label=_("I have read this version in the preview and submit it to the legal team."), required=True
    )


class AmendForm(BootstrapFormMixin, forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1)
    unit_price = forms.DecimalField(
        label=_("Unit price excl. VAT (€)"), max_digits=12, decimal_places=4, min_value=Decimal("0.0001")
    )
    comment = forms.CharField(
        label=_("Reason for the change"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    terms_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ModifyForm(BootstrapFormMixin, forms.Form):
    """A modification (avenant) of a notified contract: the new terms, why, and when it was notified."""

    quantity = forms.IntegerField(label=_("New quantity"), min_value=1)
    unit_price = forms.DecimalField(
        label=_("New unit price excl. VAT (€)"), max_digits=12, decimal_places=4, min_value=Decimal("0.0001")
    )
    notified_on = forms.DateField(
        label=_("Date the modification was notified to the supplier"),
        widget=DateInput(),
    )
    reason = forms.CharField(
        label=_("Reason for the modification"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text=_("Recorded in the audit log; the essential data (DECP) list the modification, never overwrite."),
    )
    terms_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class SignForm(BootstrapFormMixin, forms.Form):
    confirm = forms.BooleanField(
        label=_("I have read the approved version of the contract and sign it under my delegation."),
        required=True,
    )


class PrefectTransmissionForm(BootstrapFormMixin, forms.Form):
    day = forms.DateField(label=_("Date of transmission to the prefect"), widget=DateInput())

    def clean_day(self):
        day = self.cleaned_data["day"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."))
        return day


class AwardNoticeForm(PrefectTransmissionForm):
    day = forms.DateField(label=_("Date the award notice was published"), widget=DateInput())


class DecpPublicationForm(PrefectTransmissionForm):
    day = forms.DateField(label=_("Date the essential data (DECP) were published"), widget=DateInput())


class AwardForm(BootstrapFormMixin, forms.Form):
    """One quantity per eligible offer (0 = not awarded) and the reason for the choice."""

    reason = forms.CharField(
        label=_("Reason for the choice"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text=_("Why these suppliers and these quantities (price, delivery date, conformity, reliability)."),
    )

    def __init__(self, *args, offers, **kwargs):
        super().__init__(*args, **kwargs)
        self.offers = list(offers)
        for offer in self.offers:
            self.fields[self.field_name(offer)] = forms.IntegerField(
                label=_("Quantity awarded to %(supplier)s") % {"supplier": offer.supplier},
                min_value=0,
                initial=offer.awarded_quantity or 0,
                widget=forms.NumberInput(attrs={"class": "form-control", "min": 0}),
            )

    @staticmethod
    def field_name(offer) -> str:
        return f"offer_{offer.pk}"

    def rows(self):
        """(offer, bound quantity field) pairs for the template."""
        return [(offer, self[self.field_name(offer)]) for offer in self.offers]

    def awards(self) -> dict[int, int]:
        return {offer.pk: self.cleaned_data[self.field_name(offer)] for offer in self.offers}

    def describe_quantities_by(self, element_id: str) -> None:
        """Point each quantity input, besides its own errors, at a message shown elsewhere on the page (why the
        award is blocked: quantities over the need, none awarded…), so that a screen reader reads it there too."""
        for offer in self.offers:
            bound = self[self.field_name(offer)]
            own = bound.aria_describedby  # "<id>_error" when the field has errors of its own
            bound.field.widget.attrs["aria-describedby"] = " ".join(filter(None, [own, element_id]))


class DecpPeriodForm(BootstrapFormMixin, forms.Form):
    """The period of a DECP export: contracts notified from `du` to `au`, both included (GET parameters)."""

    du = forms.DateField(label=_("From"), widget=DateInput())
    au = forms.DateField(label=_("To"), widget=DateInput())

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("du"), cleaned.get("au")
        if start and end and start > end:
            raise forms.ValidationError(_("The start of the period must not be after its end."))
        return cleaned
