"""Forms of the execution page. Each takes the contract, so that its choices (lots, shipments, receptions…)
are the contract's own: a tampered id is simply an invalid choice. No form includes a status field."""

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from execution import rules, services
from execution.models import (
    UNDECIDED,
    AdvancePayment,
    Allocation,
    DeliveryLot,
    Incident,
    Invoice,
    Milestone,
    Penalty,
    Reception,
    Shipment,
)
from procurement.catalogue import Incoterm
from procurement.models import NormClass
from suppliers.forms import BootstrapFormMixin, DateInput

# The quantity columns are PositiveBigIntegerField: a larger number is an error on the field, not a database error.
QUANTITY_MAX = 2**63 - 1


def _quantity(label, *, min_value: int = 1) -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=min_value, max_value=QUANTITY_MAX)


def _date(label):
    return forms.DateField(label=label, widget=DateInput())


def _text(label, *, required=True, rows=2, help_text=""):
    return forms.CharField(
        label=label,
        widget=forms.Textarea(attrs={"rows": rows}),
        max_length=2000,
        required=required,
        help_text=help_text,
    )


class PastDatesMixin:
    """Facts (a delivery, a payment) are recorded once they happened: no date in the future."""

    past_dates: tuple[str, ...] = ()

    def clean(self):
        data = super().clean()
        for name in self.past_dates:
            if data.get(name) and data[name] > timezone.localdate():
                self.add_error(name, _("The date cannot be in the future."))
        return data


class LotChoice(forms.ModelChoiceField):
    def label_from_instance(self, lot):
        return _("Lot %(n)s — %(quantity)s due %(day)s") % {
            "n": lot.number,
            "quantity": lot.quantity,
            "day": lot.due_on.strftime("%d/%m/%Y"),
        }


class ShipmentChoice(forms.ModelChoiceField):
    def label_from_instance(self, shipment):
        return _("Lot %(n)s — %(quantity)s by %(mode)s %(waybill)s") % {
            "n": shipment.lot.number,
            "quantity": shipment.quantity,
            "mode": shipment.get_mode_display(),
            "waybill": shipment.waybill,
        }


class ReceptionChoice(forms.ModelChoiceField):
    def label_from_instance(self, reception):
        return _("Lot %(n)s — %(quantity)s received %(day)s (%(status)s)") % {
            "n": reception.shipment.lot.number,
            "quantity": reception.quantity_received,
            "day": reception.received_on.strftime("%d/%m/%Y"),
            "status": reception.get_status_display(),
        }


class ContractForm(BootstrapFormMixin, forms.Form):
    def __init__(self, *args, contract, **kwargs):
        self.contract = contract
        super().__init__(*args, **kwargs)


class LotForm(ContractForm):
    quantity = _quantity(_("Quantity"))
    due_on = _date(_("Due date"))
    delivery_place = forms.CharField(label=_("Delivery place"), max_length=200)
    incoterm = forms.ChoiceField(label=_("Incoterm"), choices=Incoterm.choices)


class ShipmentForm(ContractForm):
    lot = LotChoice(label=_("Lot"), queryset=DeliveryLot.objects.none())
    quantity = _quantity(_("Quantity shipped"))
    mode = forms.ChoiceField(label=_("Transport mode"), choices=Shipment.Mode.choices)
    waybill = forms.CharField(label=_("Air waybill or bill of lading number"), max_length=40, required=False)
    forwarder = forms.ModelChoiceField(label=_("Freight forwarder"), queryset=None, required=False)
    carrier = forms.ModelChoiceField(label=_("Carrier"), queryset=None, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from suppliers.models import Supplier

        self.fields["lot"].queryset = DeliveryLot.objects.filter(contract=self.contract)
        for name, role in (("forwarder", "forwarder"), ("carrier", "carrier")):
            ids = [company.pk for company in services.chain_companies(self.contract, role)]
            self.fields[name].queryset = Supplier.objects.filter(pk__in=ids).order_by("name")


class MilestoneForm(PastDatesMixin, ContractForm):
    past_dates = ("occurred_on",)
    shipment = ShipmentChoice(label=_("Shipment"), queryset=Shipment.objects.none())
    kind = forms.ChoiceField(label=_("Milestone"), choices=Milestone.Kind.choices)
    occurred_on = _date(_("Date"))
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shipment"].queryset = Shipment.objects.filter(lot__contract=self.contract).select_related("lot")


class IncidentForm(PastDatesMixin, ContractForm):
    past_dates = ("occurred_on",)
    shipment = ShipmentChoice(label=_("Shipment"), queryset=Shipment.objects.none())
    kind = forms.ChoiceField(label=_("Incident"), choices=Incident.Kind.choices)
    occurred_on = _date(_("Date"))
    description = _text(_("Description"), help_text=_("A diversion or a requisition is also sent to the director."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shipment"].queryset = Shipment.objects.filter(lot__contract=self.contract).select_related("lot")


class ReceptionForm(PastDatesMixin, ContractForm):
    past_dates = ("received_on",)
    shipment = ShipmentChoice(label=_("Shipment"), queryset=Shipment.objects.none())
    received_on = _date(_("Received on"))
    quantity_received = _quantity(_("Quantity received"), min_value=0)
    note = _text(
        _("Note"), required=False, help_text=_("Required when more arrived than was shipped: explain the difference.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shipment"].queryset = Shipment.objects.filter(
            lot__contract=self.contract, reception__isnull=True
        ).select_related("lot")


class InspectionForm(ContractForm):
    reception = ReceptionChoice(label=_("Reception"), queryset=Reception.objects.none())
    norm_class = forms.ModelChoiceField(label=_("Standard and class"), queryset=NormClass.objects.none())
    sample_size = forms.IntegerField(label=_("Sample size"), min_value=1, max_value=2**31 - 1)  # PositiveIntegerField
    filtration = forms.DecimalField(
        label=_("Filtration efficiency (%)"), max_digits=5, decimal_places=2, required=False
    )
    inward_leakage = forms.DecimalField(
        label=_("Total inward leakage (%)"), max_digits=5, decimal_places=2, required=False
    )
    bacterial_filtration = forms.DecimalField(
        label=_("Bacterial filtration efficiency (%)"), max_digits=5, decimal_places=2, required=False
    )
    breathing_resistance = forms.DecimalField(
        label=_("Breathing resistance (Pa/cm²)"), max_digits=6, decimal_places=2, required=False
    )
    splash_resistance = forms.DecimalField(
        label=_("Splash resistance (kPa)"), max_digits=5, decimal_places=2, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reception"].queryset = Reception.objects.filter(
            shipment__lot__contract=self.contract
        ).select_related("shipment__lot")
        self.fields["norm_class"].queryset = NormClass.objects.filter(
            product=self.contract.offer.need_line.product
        ).select_related("norm")

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        measured = {name: data.get(name) for name, _limit, _cmp in rules.SAMPLE_MEASURES if data.get(name) is not None}
        return {
            "reception": data["reception"],
            "norm_class": data["norm_class"],
            "sample_size": data["sample_size"],
            "measured": measured,
        }


class DecisionForm(ContractForm):
    DECISIONS = [
        ("admit", _("Admission")),
        ("postpone", _("Postponement (new presentation date)")),
        ("reduce", _("Admission with a price reduction")),
        ("reject", _("Rejection")),
    ]
    reception = ReceptionChoice(label=_("Reception"), queryset=Reception.objects.none())
    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS)
    new_date = forms.DateField(
        label=_("New presentation date (postponement)"),
        widget=DateInput(),
        required=False,
    )
    amount = forms.DecimalField(
        label=_("Price reduction excl. VAT (€)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
    )
    comment = _text(_("Reason"), required=False, help_text=_("Required for anything but a plain admission."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reception"].queryset = Reception.objects.filter(
            shipment__lot__contract=self.contract, status__in=UNDECIDED
        ).select_related("shipment__lot")


class WaiverForm(ContractForm):
    penalty = forms.ModelChoiceField(label=_("Penalty"), queryset=Penalty.objects.none())
    reason = _text(_("Reason for the waiver"))
    reference = forms.CharField(label=_("Legal reference"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["penalty"].queryset = Penalty.objects.filter(
            lot__contract=self.contract, waived_at__isnull=True
        ).select_related("lot__contract")
        reference = services.covid_waiver_reference(self.contract)
        if reference:
            self.fields["reference"].initial = reference
            self.fields["reference"].help_text = _(
                "Contract of spring 2020: no late penalties when the epidemic caused the delay."
            )


class AdvanceForm(PastDatesMixin, ContractForm):
    past_dates = ("paid_on",)
    rate = forms.DecimalField(
        label=_("Advance rate (fraction, 0.30 = 30 %)"),
        max_digits=4,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("1"),
    )
    paid_on = _date(_("Paid on"))
    guarantee = forms.ChoiceField(label=_("Guarantee"), choices=AdvancePayment.Guarantee.choices)


class InvoiceForm(PastDatesMixin, ContractForm):
    past_dates = ("received_on",)
    number = forms.CharField(label=_("Invoice number"), max_length=40)
    received_on = _date(_("Received on"))
    amount = forms.DecimalField(
        label=_("Amount excl. VAT (€)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    quantity = _quantity(_("Quantity invoiced"))
    lots = forms.ModelMultipleChoiceField(
        label=_("Lots covered"), queryset=DeliveryLot.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lots"].queryset = DeliveryLot.objects.filter(contract=self.contract)
        self.fields["lots"].widget.attrs["class"] = "form-check-input"


class PaymentForm(PastDatesMixin, ContractForm):
    past_dates = ("paid_on",)
    invoice = forms.ModelChoiceField(label=_("Invoice"), queryset=Invoice.objects.none())
    paid_on = _date(_("Paid on"))
    amount = forms.DecimalField(
        label=_("Amount paid excl. VAT (€)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    quantity = _quantity(_("Quantity paid"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice"].queryset = Invoice.objects.filter(contract=self.contract).select_related("contract")


class PaymentExceptionForm(ContractForm):
    quantity = _quantity(_("Quantity allowed beyond admission"))
    reason = _text(_("Reason"))


class AllocationForm(PastDatesMixin, ContractForm):
    past_dates = ("allocated_on",)
    beneficiary = forms.ChoiceField(label=_("Beneficiaries"), choices=Allocation.Beneficiary.choices)
    detail = forms.CharField(label=_("Detail"), max_length=200, required=False)
    quantity = _quantity(_("Quantity"))
    allocated_on = _date(_("Allocated on"))
