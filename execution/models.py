"""After the signature: delivery lots, shipments (milestones, incidents), receptions, penalties, advance,
invoices, payments and allocations of a contract (DESIGN.md §2, DOMAIN.md §5).

Rows are written by execution.services only. The reception's decision is a small state machine (protected
FSMField): recorded → postponed → admitted / reduced / rejected, or deemed admitted after 15 days."""

from datetime import timedelta

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from execution import rules
from procurement.catalogue import Incoterm


class DeliveryLot(models.Model):
    """One line of the contract's delivery schedule."""

    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="lots")
    number = models.PositiveSmallIntegerField(_("lot"))
    quantity = models.PositiveBigIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    due_on = models.DateField(_("due date"))
    delivery_place = models.CharField(_("delivery place"), max_length=200)
    incoterm = models.CharField(_("Incoterm"), max_length=3, choices=Incoterm.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["contract", "number"]
        verbose_name = _("delivery lot")
        verbose_name_plural = _("delivery lots")
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="deliverylot_unique_number"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="deliverylot_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.contract} — {_('lot')} {self.number}"


class Shipment(models.Model):
    class Mode(models.TextChoices):
        AIR = "air", _("Air")
        SEA = "sea", _("Sea")
        ROAD = "road", _("Road")
        RAIL = "rail", _("Rail")

    lot = models.ForeignKey(DeliveryLot, on_delete=models.PROTECT, related_name="shipments")
    quantity = models.PositiveBigIntegerField(_("quantity shipped"), validators=[MinValueValidator(1)])
    forwarder = models.ForeignKey(
        "suppliers.Supplier",
        verbose_name=_("freight forwarder"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    carrier = models.ForeignKey(
        "suppliers.Supplier",
        verbose_name=_("carrier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    mode = models.CharField(_("transport mode"), max_length=4, choices=Mode.choices)
    waybill = models.CharField(_("air waybill or bill of lading number"), max_length=40, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["lot", "pk"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")

    def __str__(self) -> str:
        return f"{self.lot} — {self.waybill or self.get_mode_display()}"


class Milestone(models.Model):
    class Kind(models.TextChoices):
        READY = "ready", _("Ready at the factory")
        DEPARTED = "departed", _("Departed")
        ARRIVED = "arrived", _("Arrived")
        CUSTOMS_CLEARED = "cleared", _("Customs cleared")
        DELIVERED = "delivered", _("Delivered")

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="milestones")
    kind = models.CharField(_("milestone"), max_length=10, choices=Kind.choices)
    occurred_on = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_on", "pk"]
        verbose_name = _("shipment milestone")
        verbose_name_plural = _("shipment milestones")
        constraints = [models.UniqueConstraint(fields=["shipment", "kind"], name="milestone_unique_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_on}"


class Incident(models.Model):
    class Kind(models.TextChoices):
        DELAYED = "delayed", _("Delayed")
        DIVERTED = "diverted", _("Diverted")
        REQUISITIONED = "requisitioned", _("Requisitioned")
        LOST = "lost", _("Lost")

    # These also concern the director (DESIGN.md §5).
    DIRECTOR_KINDS = (Kind.DIVERTED, Kind.REQUISITIONED)

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="incidents")
    kind = models.CharField(_("incident"), max_length=15, choices=Kind.choices)
    occurred_on = models.DateField(_("date"))
    description = models.TextField(_("description"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_on", "pk"]
        verbose_name = _("shipment incident")
        verbose_name_plural = _("shipment incidents")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_on}"


class ReceptionStatus(models.TextChoices):
    RECORDED = "recorded", _("Awaiting decision")
    POSTPONED = "postponed", _("Postponed")
    ADMITTED = "admitted", _("Admitted")
    REDUCED = "reduced", _("Admitted with a price reduction")
    REJECTED = "rejected", _("Rejected")


UNDECIDED = [ReceptionStatus.RECORDED, ReceptionStatus.POSTPONED]
ADMITTED = [ReceptionStatus.ADMITTED, ReceptionStatus.REDUCED]


def _buyer_of_contract(reception, user) -> bool:
    from contracts.workflow import contract_buyer

    return contract_buyer(reception.shipment.lot.contract, user)


class Reception(ConcurrentTransitionMixin, models.Model):
    """The reception of one shipment: quantitative check, qualitative check by sample, then a decision."""

    shipment = models.OneToOneField(Shipment, on_delete=models.PROTECT, related_name="reception")
    received_on = models.DateField(_("received on"))
    quantity_received = models.PositiveBigIntegerField(_("quantity received"))
    note = models.TextField(_("note"), blank=True)
    status = FSMField(
        _("decision"), default=ReceptionStatus.RECORDED, choices=ReceptionStatus.choices, protected=True, db_index=True
    )
    postponed_to = models.DateField(_("new presentation date"), null=True, blank=True)
    price_reduction = models.DecimalField(
        _("price reduction excl. VAT (€)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    decision_comment = models.TextField(_("reason for the decision"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    tacit = models.BooleanField(_("deemed admitted (no decision within the time limit)"), default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["received_on", "pk"]
        verbose_name = _("reception")
        verbose_name_plural = _("receptions")

    def __str__(self) -> str:
        return f"{self.shipment} — {self.get_status_display()}"

    @property
    def decision_deadline(self):
        """The last day to decide: TACIT_ADMISSION_DAYS after the delivery (after the new presentation date
        when postponed). The day after, admission is deemed."""
        start = self.postponed_to if self.status == ReceptionStatus.POSTPONED else self.received_on
        return start + timedelta(days=settings.TACIT_ADMISSION_DAYS)

    @property
    def deemed_admitted_on(self):
        return self.decision_deadline + timedelta(days=1)

    @property
    def quantity_admitted(self) -> int:
        return self.quantity_received if self.status in ADMITTED else 0

    # --- transitions: the row only; execution.services locks, checks, audits and notifies ---------------
    @transition(field=status, source=UNDECIDED, target=ReceptionStatus.ADMITTED, permission=_buyer_of_contract)
    def admit(self, *, by, at, comment):
        self._decide(by, at, comment)

    @transition(field=status, source=UNDECIDED, target=ReceptionStatus.POSTPONED, permission=_buyer_of_contract)
    def postpone(self, *, by, at, comment, new_date):
        self._decide(by, at, comment)
        self.postponed_to = new_date

    @transition(field=status, source=UNDECIDED, target=ReceptionStatus.REDUCED, permission=_buyer_of_contract)
    def reduce_price(self, *, by, at, comment, amount):
        self._decide(by, at, comment)
        self.price_reduction = amount

    @transition(field=status, source=UNDECIDED, target=ReceptionStatus.REJECTED, permission=_buyer_of_contract)
    def reject(self, *, by, at, comment):
        self._decide(by, at, comment)

    @transition(field=status, source=UNDECIDED, target=ReceptionStatus.ADMITTED)
    def admit_tacitly(self, *, at):
        self.tacit = True
        self.decided_by = None
        self.decided_at = at

    def _decide(self, by, at, comment):
        self.decided_by = by
        self.decided_at = at
        self.decision_comment = comment


class SampleInspection(models.Model):
    """The qualitative check: a sample of the delivery measured against the thresholds of the norms catalogue."""

    reception = models.ForeignKey(Reception, on_delete=models.PROTECT, related_name="inspections")
    norm_class = models.ForeignKey(
        "procurement.NormClass", verbose_name=_("standard and class"), on_delete=models.PROTECT, related_name="+"
    )
    sample_size = models.PositiveIntegerField(_("sample size"), validators=[MinValueValidator(1)])
    filtration = models.DecimalField(_("filtration efficiency (%)"), max_digits=5, decimal_places=2, null=True)
    inward_leakage = models.DecimalField(_("total inward leakage (%)"), max_digits=5, decimal_places=2, null=True)
    bacterial_filtration = models.DecimalField(
        _("bacterial filtration efficiency (%)"), max_digits=5, decimal_places=2, null=True
    )
    breathing_resistance = models.DecimalField(
        _("breathing resistance (Pa/cm²)"), max_digits=6, decimal_places=2, null=True
    )
    splash_resistance = models.DecimalField(_("splash resistance (kPa)"), max_digits=5, decimal_places=2, null=True)
    passed = models.BooleanField(_("within the standard"))
    findings = models.JSONField(_("findings"), default=list, blank=True)
    inspected_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    inspected_at = models.DateTimeField()

    class Meta:
        ordering = ["inspected_at", "pk"]
        verbose_name = _("sample inspection")
        verbose_name_plural = _("sample inspections")

    def __str__(self) -> str:
        return f"{self.reception} — {self.norm_class}"


class Penalty(models.Model):
    """The late-penalty proposal of a lot (P = V × R / 1000), recomputed until a jurist waives it."""

    lot = models.OneToOneField(DeliveryLot, on_delete=models.PROTECT, related_name="penalty")
    late_value = models.DecimalField(_("value of the late part excl. VAT (€)"), max_digits=14, decimal_places=2)
    days_late = models.PositiveIntegerField(_("days late"))
    amount = models.DecimalField(_("penalty (€)"), max_digits=14, decimal_places=2)
    # [{"quantity", "value", "days", "amount", "label"}]: how the amount was reached, part by part.
    details = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField()
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("waived by"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    waived_at = models.DateTimeField(_("waived at"), null=True, blank=True)
    waiver_reason = models.TextField(_("reason for the waiver"), blank=True)
    waiver_reference = models.CharField(_("legal reference"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("late penalty")
        verbose_name_plural = _("late penalties")

    def __str__(self) -> str:
        return f"{self.lot}: {self.amount} €"

    @property
    def is_waived(self) -> bool:
        return self.waived_at is not None

    @property
    def amount_due(self):
        return rules.money(0) if self.is_waived else self.amount


class AdvancePayment(models.Model):
    class Guarantee(models.TextChoices):
        NONE = "none", _("None")
        FIRST_DEMAND = "first_demand", _("First-demand guarantee")
        SURETY = "surety", _("Personal surety")

    contract = models.OneToOneField("contracts.Contract", on_delete=models.PROTECT, related_name="advance")
    rate = models.DecimalField(_("advance rate (fraction, 0.30 = 30 %)"), max_digits=4, decimal_places=2)
    amount = models.DecimalField(_("amount excl. VAT (€)"), max_digits=14, decimal_places=2)
    paid_on = models.DateField(_("paid on"))
    guarantee = models.CharField(_("guarantee"), max_length=12, choices=Guarantee.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        verbose_name = _("advance")
        verbose_name_plural = _("advances")

    def __str__(self) -> str:
        return f"{self.contract}: {self.amount} €"


class Invoice(models.Model):
    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(_("invoice number"), max_length=40)
    received_on = models.DateField(_("received on"))
    amount = models.DecimalField(_("amount excl. VAT (€)"), max_digits=14, decimal_places=2)
    quantity = models.PositiveBigIntegerField(_("quantity invoiced"), validators=[MinValueValidator(1)])
    lots = models.ManyToManyField(DeliveryLot, verbose_name=_("lots covered"), related_name="invoices")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["received_on", "pk"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [models.UniqueConstraint(fields=["contract", "number"], name="invoice_unique_number")]

    def __str__(self) -> str:
        return f"{self.contract} — {self.number}"

    @property
    def due_on(self):
        return rules.payment_due_on(self.received_on)


class PaymentException(models.Model):
    """A jurist allows paying beyond the admitted quantity (e.g. a cargo paid on the tarmac), with the reason."""

    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="payment_exceptions")
    quantity = models.PositiveBigIntegerField(_("quantity allowed beyond admission"), validators=[MinValueValidator(1)])
    reason = models.TextField(_("reason"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at", "pk"]
        verbose_name = _("payment exception")
        verbose_name_plural = _("payment exceptions")

    def __str__(self) -> str:
        return f"{self.contract}: +{self.quantity}"


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    paid_on = models.DateField(_("paid on"))
    amount = models.DecimalField(_("amount paid excl. VAT (€)"), max_digits=14, decimal_places=2)
    quantity = models.PositiveBigIntegerField(_("quantity paid"), validators=[MinValueValidator(1)])
    days_late = models.PositiveIntegerField(_("days late"), default=0)
    late_interest = models.DecimalField(_("late-payment interest (€)"), max_digits=12, decimal_places=2, default=0)
    recovery_fee = models.DecimalField(_("fixed recovery fee (€)"), max_digits=8, decimal_places=2, default=0)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["paid_on", "pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return f"{self.invoice}: {self.amount} €"


class Allocation(models.Model):
    """Admitted goods handed to a group of beneficiaries (April 2020: carers, police, small towns)."""

    class Beneficiary(models.TextChoices):
        CARERS = "carers", _("Carers")
        POLICE = "police", _("Police")
        SMALL_TOWNS = "small_towns", _("Towns under 20,000 inhabitants")
        SCHOOLS = "schools", _("Schools")
        OTHER = "other", _("Other")

    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="allocations")
    beneficiary = models.CharField(_("beneficiaries"), max_length=12, choices=Beneficiary.choices)
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    quantity = models.PositiveBigIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    allocated_on = models.DateField(_("allocated on"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["allocated_on", "pk"]
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")

    def __str__(self) -> str:
        return f"{self.get_beneficiary_display()}: {self.quantity}"
