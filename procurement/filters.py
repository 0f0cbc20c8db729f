"""Query-string filters of the case list and its exports, and the opaque keyset cursor.

The parameter names are a contract: the dashboard's figures link to the list with them.
"""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django import forms
from django.core import signing
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import User
from procurement import selectors
from procurement.catalogue import Product
from procurement.models import CaseStatus
from suppliers.forms import BootstrapFormMixin, DateInput
from suppliers.models import Supplier

CURSOR_SALT = "procurement.case_list.cursor"
# Dates a case can have: beyond them the local midnight would overflow on conversion to UTC (year 1, 9999).
DATE_BOUNDS = [MinValueValidator(date(1900, 1, 1)), MaxValueValidator(date(2999, 12, 31))]

# Form field → keyword argument of selectors.case_list.
CRITERIA = {
    "status": "status",
    "buyer": "buyer",
    "product": "product",
    "supplier": "supplier",
    "overdue": "overdue",
    "montant_min": "amount_min",
    "montant_max": "amount_max",
    "du": "created_from",
    "au": "created_to",
    "q": "search",
    "signale": "flagged",
}


class FlagInput(forms.CheckboxInput):
    """A checkbox read from a link: `overdue=1` is on, and so is a ticked box; `0`, `false` or absent is off
    (Django's CheckboxInput would take "0" for on)."""

    def value_from_datadict(self, data, files, name):
        return data.get(name, "").lower() not in ("", "0", "false", "off")


class FastSelect(forms.Select):
    """A <select> written in Python, the same markup as Django's: Django renders each option through its own
    template include, which made the case list's filter form cost about as much as its 50 rows."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        if any(group_name for group_name, _choices, _index in widget["optgroups"]):
            return super().render(name, value, attrs, renderer)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (str(option["value"]), flatatt(option["attrs"]), option["label"])
                for _name, choices, _index in widget["optgroups"]
                for option in choices
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', widget["name"], flatatt(widget["attrs"]), options)


class AmountField(forms.DecimalField):
    """Euros typed the French way ("12 500,50", with any kind of space) or as the dashboard links them
    ("12500.50")."""

    def to_python(self, value):
        if isinstance(value, str):
            value = "".join(value.split())
        return super().to_python(value)


class CaseFilterForm(BootstrapFormMixin, forms.Form):
    """GET filters of the case list. An invalid value is reported on its field and that criterion is dropped;
    the valid ones still apply (`criteria()`)."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        help_text=_("Reference, object, need description or supplier name."),
    )
    status = forms.ChoiceField(
        label=_("Stage"), required=False, choices=[("", _("All stages")), *CaseStatus.choices], widget=FastSelect
    )
    buyer = forms.ModelChoiceField(
        label=_("Buyer"), required=False, queryset=User.objects.none(), empty_label=_("Anyone"), widget=FastSelect
    )
    product = forms.ChoiceField(
        label=_("Product"), required=False, choices=[("", _("Any product")), *Product.choices], widget=FastSelect
    )
    supplier = forms.ModelChoiceField(
        label=_("Supplier"), required=False, queryset=Supplier.objects.none(), widget=forms.HiddenInput
    )
    montant_min = AmountField(
        label=_("Estimated amount excl. VAT from (€)"), required=False, min_value=0, max_digits=16, decimal_places=2
    )
    montant_max = AmountField(label=_("to (€)"), required=False, min_value=0, max_digits=16, decimal_places=2)
    du = forms.DateField(label=_("Created from"), required=False, widget=DateInput, validators=DATE_BOUNDS)
    au = forms.DateField(label=_("to"), required=False, widget=DateInput, validators=DATE_BOUNDS)
    overdue = forms.BooleanField(label=_("Overdue in their stage"), required=False, widget=FlagInput)
    signale = forms.BooleanField(label=_("With a flagged supplier"), required=False, widget=FlagInput)
    tri = forms.ChoiceField(
        label=_("Sort"), required=False, choices=[(key, key) for key in selectors.SORTS], widget=forms.HiddenInput
    )

    def __init__(self, data, *, organisation_id):
        super().__init__(data)
        self.fields["buyer"].queryset = (
            User.objects.filter(organisation_id=organisation_id, groups__name=roles.BUYER)
            .distinct()
            .order_by("last_name", "first_name", "username")
        )
        self.fields["supplier"].queryset = Supplier.objects.filter(organisation_id=organisation_id)
        for name in ("montant_min", "montant_max"):
            self.fields[name].localize = True
            self.fields[name].widget.is_localized = True
            self.fields[name].widget.attrs["inputmode"] = "decimal"

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("montant_min"), cleaned.get("montant_max")
        if low is not None and high is not None and low > high:
            self.add_error("montant_max", _("The upper bound is below the lower one."))
        start, end = cleaned.get("du"), cleaned.get("au")
        if start and end and start > end:
            self.add_error("au", _("The end date is before the start date."))
        return cleaned

    def criteria(self) -> dict:
        """Keyword arguments for selectors.case_list from the valid fields only."""
        self.is_valid()
        cleaned = self.cleaned_data
        # Not `in (None, "", False)`: a minimum of 0 € equals False and is a real criterion.
        return {
            argument: cleaned[name]
            for name, argument in CRITERIA.items()
            if cleaned.get(name) is not None and cleaned[name] != "" and cleaned[name] is not False
        }

    @property
    def sort(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("tri") or selectors.DEFAULT_SORT

    @property
    def is_filtered(self) -> bool:
        return bool(self.criteria())

    @property
    def selected_supplier(self) -> Supplier | None:
        """The supplier filter (set by a link, not typed): shown as a removable label."""
        self.is_valid()
        return self.cleaned_data.get("supplier")


# --- the keyset cursor ---------------------------------------------------------------------------
def encode_cursor(sort: str, cursor) -> str:
    """(sort key value, pk) → an opaque, signed token (its sort is part of it: a cursor of another sort is
    refused)."""
    if cursor is None:
        return ""
    value, pk = cursor
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    return signing.dumps([sort, value, pk], salt=CURSOR_SALT, compress=True)


def decode_cursor(token: str, sort: str):
    """The (sort key value, pk) of a cursor made by encode_cursor for this sort, else None (first page): a
    forged, stale or mistyped cursor never reaches the database."""
    if not token:
        return None
    try:
        cursor_sort, value, pk = signing.loads(token, salt=CURSOR_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if cursor_sort != sort or type(pk) is not int:
        return None
    field = selectors.SORTS[sort].field
    try:
        if value is None:
            return (None, pk) if selectors.SORTS[sort].nullable else None
        if not isinstance(value, str):
            return None
        if field in ("created_at", "stage_entered_at"):
            moment = datetime.fromisoformat(value)
            return (moment, pk) if moment.tzinfo is not None else None
        if field == "estimated_amount":
            amount = Decimal(value)
            return (amount, pk) if amount.is_finite() else None
        return value, pk
    except (ValueError, InvalidOperation):
        return None
