from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import User
from procurement.models import (
    ConformityCheck,
    ConformityEvidence,
    NeedLine,
    NegotiationRound,
    NormClass,
    NotifiedBody,
    Offer,
    SupplyChainParty,
    UrgencyJustification,
    VettingDecision,
)
from suppliers import uploads
from suppliers.forms import BootstrapFormMixin, DateInput

ADVANCE_RANGE_MESSAGE = _("The advance is a fraction between 0 and 1 (0.30 for 30 %).")


def not_in_past(value, message):
    if value and value < timezone.localdate():
        raise ValidationError(message, code="past")
    return value


def not_in_future(value, message):
    if value and value > timezone.localdate():
        raise ValidationError(message, code="future")
    return value


def advance_in_range(value):
    if value is not None and not Decimal("0") <= value <= Decimal("1"):
        raise ValidationError(ADVANCE_RANGE_MESSAGE, code="advance_range")
    return value


def add_service_errors(form, error: ValidationError) -> None:
    """Put a ValidationError raised by a service on the form: on its fields when they exist, else on top."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


class CaseTitleForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(
        label=_("Object of the purchase"),
        max_length=200,
        help_text=_("For example: FFP2 masks for carers (COVID-19)."),
    )


class NeedLineForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = NeedLine
        fields = [
            "product",
            "description",
            "quantity",
            "unit",
            "cpv_code",
            "required_date",
            "delivery_place",
            "delivery_postal_code",
            "estimated_unit_price",
        ]
        widgets = {"required_date": DateInput()}

    def clean_required_date(self):
        return not_in_past(
            self.cleaned_data.get("required_date"), _("The required delivery date cannot be in the past.")
        )


class JustificationForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = UrgencyJustification
        fields = [
            "triggering_event",
            "event_date",
            "triggering_text",
            "time_limits_impossible",
            "causal_link",
            "strictly_necessary_scope",
        ]
        widgets = {
            "event_date": DateInput(),
            "triggering_event": forms.Textarea(attrs={"rows": 3}),
            "time_limits_impossible": forms.Textarea(attrs={"rows": 3}),
            "causal_link": forms.Textarea(attrs={"rows": 3}),
            "strictly_necessary_scope": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "triggering_event": _("An event external to the buyer, that it could not foresee."),
            "triggering_text": _("For example: décret 2020-281."),
        }

    def clean_event_date(self):
        return not_in_future(
            self.cleaned_data.get("event_date"), _("The date of the triggering event cannot be in the future.")
        )


class CaseStepForm(BootstrapFormMixin, forms.Form):
    """The comment a case step asks for in the case page's checklist (send back to vetting, reopen the
    negotiation, cancel). Several steps' forms share the page: each has its own ids (id_<step>-comment) while
    the field names stay plain."""

    comment = forms.CharField(
        label=_("Comment"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text=_("Recorded in the audit log and shown to the team."),
    )

    def __init__(self, *args, step: str, **kwargs):
        kwargs.setdefault("auto_id", f"id_{step}-%s")
        super().__init__(*args, **kwargs)


class CaseCancelForm(CaseStepForm):
    # Cancelling withdraws the case's open contracts: it takes an explicit confirmation, not one click.
    confirm = forms.BooleanField(label=_("I confirm the cancellation: the case's open contracts will be withdrawn."))


CASE_STEP_FORMS: dict[str, type[CaseStepForm]] = {
    "back_to_vetting": CaseStepForm,
    "reopen_negotiation": CaseStepForm,
    "cancel": CaseCancelForm,
}


def case_step_form(step: str, data=None) -> CaseStepForm | None:
    """The form of a case step taken from the checklist, bound to `data` when posted; None if it asks nothing."""
    form_class = CASE_STEP_FORMS.get(step)
    return form_class(data, step=step) if form_class else None


class OfferForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Offer
        fields = [
            "need_line",
            "supplier",
            "product_description",
            "unit_price",
            "quantity",
            "delivery_date",
            "incoterm",
            "delivery_place",
            "advance_rate",
        ]
        widgets = {"delivery_date": DateInput()}

    def __init__(self, *args, case, suppliers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["need_line"].queryset = NeedLine.objects.filter(case=case)
        self.fields["supplier"].queryset = suppliers

    def clean_delivery_date(self):
        return not_in_past(self.cleaned_data.get("delivery_date"), _("The delivery date cannot be in the past."))

    def clean_advance_rate(self):
        return advance_in_range(self.cleaned_data.get("advance_rate"))


class VettingSupplierForm(BootstrapFormMixin, forms.Form):
    """Choose which supplier of the case to decide on (GET)."""

    supplier = forms.ModelChoiceField(label=_("Supplier"), queryset=None, empty_label=None)

    def __init__(self, *args, suppliers, **kwargs):
        # Its own ids: the decision form below carries the chosen supplier in a hidden field of the same name.
        kwargs.setdefault("auto_id", "choose_%s")
        super().__init__(*args, **kwargs)
        self.fields["supplier"].queryset = suppliers


class VettingDecisionForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = VettingDecision
        fields = ["supplier", "decision", "findings"]
        widgets = {
            "supplier": forms.HiddenInput(),
            "decision": forms.RadioSelect(),
            "findings": forms.Textarea(attrs={"rows": 8}),
        }
        help_texts = {"findings": _("Prefilled from the supplier's file; complete or correct it.")}

    def __init__(self, *args, suppliers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supplier"].queryset = suppliers
        self.fields["decision"].choices = VettingDecision.Decision.choices


class CountersignForm(BootstrapFormMixin, forms.Form):
    approve = forms.TypedChoiceField(
        label=_("Your decision"),
        choices=[("1", _("Countersign the approval")), ("0", _("Refuse: the supplier is rejected for this case"))],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class ChainPartyForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = SupplyChainParty
        fields = ["supplier", "role", "note"]
        help_texts = {"supplier": _("The company must first exist in the suppliers' register.")}

    def __init__(self, *args, suppliers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supplier"].queryset = suppliers


MEASURES = ["filtration", "inward_leakage", "bacterial_filtration", "breathing_resistance", "splash_resistance", "aql"]


class ConformityClaimForm(BootstrapFormMixin, forms.ModelForm):
    """What the offer claims and what the test reports measured; the verdict is computed, not chosen."""

    class Meta:
        model = ConformityCheck
        fields = ["norm_class", "model_reference", "marking", "ce_number", *MEASURES, "findings"]
        widgets = {"findings": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "norm_class": _("Foreign standards accepted in 2020 appear with their derogation."),
            "ce_number": _("The four digits after the CE mark, if any."),
            "findings": _("Anything else you noticed (optional)."),
        }

    def __init__(self, *args, thresholds_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["norm_class"].required = True
        if thresholds_url:
            # Choosing another class reloads only the content of the box of its thresholds: the box itself, a
            # live region, stays in place so that a screen reader announces the new thresholds.
            self.fields["norm_class"].widget.attrs.update(
                {
                    "hx-get": thresholds_url,
                    "hx-trigger": "change",
                    "hx-target": "#class-thresholds",
                    "hx-select": "#class-thresholds > *",
                    "hx-swap": "innerHTML",
                }
            )
        self.fields["norm_class"].queryset = NormClass.objects.select_related("norm").order_by(
            "norm__legislation", "norm__code", "label"
        )
        for name in MEASURES:
            self.fields[name].widget.attrs.update({"step": "any", "inputmode": "decimal"})

    def clean_ce_number(self):
        return self.cleaned_data["ce_number"].strip().removeprefix("CE").strip()

    def claim(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields if name != "findings"}


class EvidenceForm(BootstrapFormMixin, forms.ModelForm):
    uploaded = forms.FileField(
        label=_("File"),
        help_text=_("PDF, PNG or JPEG."),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/png,image/jpeg"}),
    )

    class Meta:
        model = ConformityEvidence
        fields = [
            "kind",
            "issuer",
            "notified_body",
            "number",
            "model_reference",
            "issued_on",
            "expires_on",
            "by_manufacturer",
        ]
        widgets = {"issued_on": DateInput(), "expires_on": DateInput()}
        help_texts = {
            "issuer": _("As printed on the document (manufacturer, laboratory, certification body)."),
            "notified_body": _("If the issuer is in the reference of certification bodies."),
            "by_manufacturer": _("Untick if a declaration of conformity is on a laboratory's letterhead."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notified_body"].queryset = NotifiedBody.objects.order_by("number", "name")

    def has_changed(self):
        """A document sub-form counts once something describes a document: its kind is preset from the class
        and "by the manufacturer" ticked by default, so those alone leave it unused (and skipped)."""
        return bool(set(self.changed_data) - {"kind", "by_manufacturer"})

    def clean_uploaded(self):
        uploaded = self.cleaned_data.get("uploaded")
        uploads.validate_upload(uploaded)
        return uploaded

    def clean(self):
        cleaned = super().clean()
        issued_on, expires_on = cleaned.get("issued_on"), cleaned.get("expires_on")
        if issued_on and expires_on and expires_on < issued_on:
            self.add_error("expires_on", ValidationError(_("The end of validity cannot be before the issue date.")))
        if issued_on and issued_on > timezone.localdate():
            self.add_error("issued_on", ValidationError(_("The issue date cannot be in the future."), code="future"))
        return cleaned

    def evidence(self) -> dict:
        return {
            **{name: self.cleaned_data[name] for name in self.Meta.fields},
            "uploaded": self.cleaned_data["uploaded"],
        }


EVIDENCE_MAX = 8


def evidence_formset(data=None, files=None, *, required_kinds=(), prefix="evidence"):
    """One document form per piece of evidence the claimed class requires (its kind chosen), plus two. All are
    "extra" forms, so the ones left untouched are skipped (formset initial forms would all be required)."""
    extra = min(len(required_kinds) + 2, EVIDENCE_MAX)
    formset_class = forms.formset_factory(EvidenceForm, extra=extra, max_num=EVIDENCE_MAX, absolute_max=EVIDENCE_MAX)
    formset = formset_class(data, files, prefix=prefix)
    for form, kind in zip(formset.forms, required_kinds, strict=False):
        form.fields["kind"].initial = kind
    return formset


class ConformityOverrideForm(BootstrapFormMixin, forms.Form):
    verdict = forms.ChoiceField(label=_("Verdict"), choices=ConformityCheck.Verdict.choices, widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class NegotiationRoundForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = NegotiationRound
        fields = [
            "unit_price",
            "quantity",
            "delivery_date",
            "incoterm",
            "delivery_place",
            "advance_rate",
            "payment_days",
            "penalties",
            "valid_until",
            "proposed_by",
            "note",
            "is_final",
        ]
        widgets = {
            "delivery_date": DateInput(),
            "valid_until": DateInput(),
            "note": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_delivery_date(self):
        return not_in_past(self.cleaned_data.get("delivery_date"), _("The delivery date cannot be in the past."))

    def clean_valid_until(self):
        return not_in_past(self.cleaned_data.get("valid_until"), _("The validity date cannot be in the past."))

    def clean_advance_rate(self):
        return advance_in_range(self.cleaned_data.get("advance_rate"))


class AssignBuyerForm(BootstrapFormMixin, forms.Form):
    """A buyer of the organisation who is not yet on the case's purchasing team."""

    buyer = forms.ModelChoiceField(label=_("Buyer"), queryset=None)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["buyer"].queryset = (
            User.objects.filter(organisation_id=case.organisation_id, groups__name=roles.BUYER, is_active=True)
            .exclude(pk__in=case.buyer_ids)
            .order_by("last_name", "first_name", "username")
        )

    @property
    def has_choices(self) -> bool:
        return self.fields["buyer"].queryset.exists()
