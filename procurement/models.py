from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Count, F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords

from procurement import workflow
from procurement.catalogue import CPV, Incoterm, Product


class CaseStatus(models.TextChoices):
    NEED = "need", _("Need")
    VETTING = "vetting", _("Supplier vetting")
    NORM_CHECK = "norm_check", _("Norm check")
    NEGOTIATION = "negotiation", _("Negotiation")
    CONTRACT = "contract", _("Contract")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


# The five working stages, in order, for the stepper.
STAGES = [CaseStatus.NEED, CaseStatus.VETTING, CaseStatus.NORM_CHECK, CaseStatus.NEGOTIATION, CaseStatus.CONTRACT]
OPEN_STATUSES = [s.value for s in STAGES]


class PurchaseCaseQuerySet(models.QuerySet):
    def for_organisation(self, organisation_id):
        return self.filter(organisation_id=organisation_id)

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def with_amounts(self):
        return self.annotate(
            estimated_amount=Sum(F("need_lines__quantity") * F("need_lines__estimated_unit_price")),
        )

    def overdue(self, now=None):
        now = now or timezone.now()
        condition = Q()
        for stage, hours in settings.STAGE_TARGET_HOURS.items():
            condition |= Q(status=stage, stage_entered_at__lt=now - timedelta(hours=hours))
        return self.filter(condition)

    def counts_by_status(self):
        return dict(self.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))


class PurchaseCase(ConcurrentTransitionMixin, models.Model):
    """An emergency purchase under CCP R2122-1, from the need to the signed contract."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="cases")
    reference = models.CharField(_("reference"), max_length=20)
    title = models.CharField(_("object of the purchase"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("lead buyer"), on_delete=models.PROTECT, related_name="owned_cases"
    )
    buyers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("assigned buyers"), blank=True, related_name="assigned_cases"
    )
    status = FSMField(_("status"), default=CaseStatus.NEED, choices=CaseStatus.choices, protected=True, db_index=True)
    created_at = models.DateTimeField(_("created at"), db_index=True)
    stage_entered_at = models.DateTimeField(_("in this stage since"), db_index=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    objects = PurchaseCaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("purchase case")
        verbose_name_plural = _("purchase cases")
        constraints = [models.UniqueConstraint(fields=["organisation", "reference"], name="case_unique_reference")]
        indexes = [models.Index(fields=["organisation", "status", "stage_entered_at"])]

    def __str__(self) -> str:
        return f"{self.reference} — {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("procurement:case_detail", args=[self.pk])

    # --- who -------------------------------------------------------------------------------
    @cached_property
    def buyer_ids(self) -> set[int]:
        return {self.owner_id, *(u.pk for u in self.buyers.all())}

    def is_case_buyer(self, user) -> bool:
        return user.is_buyer and user.organisation_id == self.organisation_id and user.pk in self.buyer_ids

    def purchasing_team(self):
        return [self.owner, *self.buyers.all()]

    def latest_vetting_decisions(self) -> list:
        """The latest decision per supplier (decisions are kept, never overwritten)."""
        latest = {}
        for decision in self.vetting_decisions.all():
            latest[decision.supplier_id] = decision
        return list(latest.values())

    # --- when ------------------------------------------------------------------------------
    def stage_deadline(self):
        hours = settings.STAGE_TARGET_HOURS.get(self.status)
        return self.stage_entered_at + timedelta(hours=hours) if hours else None

    def is_overdue(self, now=None) -> bool:
        deadline = self.stage_deadline()
        return deadline is not None and (now or timezone.now()) > deadline

    # --- transitions: each changes this row only; services lock, check, audit and notify ---
    @transition(
        field=status,
        source=CaseStatus.NEED,
        target=CaseStatus.VETTING,
        permission=workflow.case_buyer,
        conditions=[workflow.ready("submit")],
    )
    def submit(self):
        pass

    @transition(
        field=status,
        source=CaseStatus.VETTING,
        target=CaseStatus.NORM_CHECK,
        permission=workflow.case_buyer,
        conditions=[workflow.ready("start_norm_check")],
    )
    def start_norm_check(self):
        pass

    @transition(
        field=status, source=CaseStatus.NORM_CHECK, target=CaseStatus.VETTING, permission=workflow.case_buyer_or_jurist
    )
    def back_to_vetting(self):
        pass

    @transition(
        field=status,
        source=CaseStatus.NORM_CHECK,
        target=CaseStatus.NEGOTIATION,
        permission=workflow.case_buyer,
        conditions=[workflow.ready("start_negotiation")],
    )
    def start_negotiation(self):
        pass

    @transition(
        field=status,
        source=CaseStatus.NEGOTIATION,
        target=CaseStatus.CONTRACT,
        permission=workflow.case_buyer,
        conditions=[workflow.ready("award")],
    )
    def award(self):
        pass

    @transition(
        field=status,
        source=CaseStatus.CONTRACT,
        target=CaseStatus.NEGOTIATION,
        permission=workflow.case_buyer_or_jurist,
        conditions=[workflow.ready("reopen_negotiation")],
    )
    def reopen_negotiation(self):
        pass

    @transition(
        field=status,
        source=CaseStatus.CONTRACT,
        target=CaseStatus.CLOSED,
        permission=workflow.case_buyer_or_director,
        conditions=[workflow.ready("close")],
    )
    def close(self):
        pass

    @transition(
        field=status,
        source=OPEN_STATUSES,
        target=CaseStatus.CANCELLED,
        permission=workflow.jurist_or_director,
        conditions=[workflow.ready("cancel")],
    )
    def cancel(self):
        pass


class NeedLine(models.Model):
    case = models.ForeignKey(PurchaseCase, on_delete=models.PROTECT, related_name="need_lines")
    product = models.CharField(_("product"), max_length=20, choices=Product.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    quantity = models.PositiveBigIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    unit = models.CharField(_("unit"), max_length=30, default="unités")
    cpv_code = models.CharField(_("CPV code"), max_length=10, choices=CPV.choices)
    required_date = models.DateField(_("required delivery date"))
    delivery_place = models.CharField(_("delivery place"), max_length=200)
    delivery_postal_code = models.CharField(_("delivery postal code"), max_length=10, blank=True)
    estimated_unit_price = models.DecimalField(
        _("estimated unit price excl. VAT (€)"),
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )

    class Meta:
        ordering = ["pk"]
        verbose_name = _("need line")
        verbose_name_plural = _("need lines")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="needline_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.get_product_display()}"

    def missing_fields(self) -> list[str]:
        names = ["product", "quantity", "unit", "cpv_code", "required_date", "delivery_place"]
        return [str(self._meta.get_field(n).verbose_name) for n in names if not getattr(self, n)]

    @property
    def estimated_amount(self) -> Decimal | None:
        if self.estimated_unit_price is None:
            return None
        return self.estimated_unit_price * self.quantity


class UrgencyJustification(models.Model):
    """The cumulative conditions of R2122-1, each argued separately (DOMAIN.md §1)."""

    case = models.OneToOneField(PurchaseCase, on_delete=models.PROTECT, related_name="justification")
    triggering_event = models.TextField(_("external, unforeseeable event"))
    event_date = models.DateField(_("date of the triggering event"))
    triggering_text = models.CharField(_("triggering legal text"), max_length=200, blank=True)
    time_limits_impossible = models.TextField(_("why formal procedures' time limits cannot be met"))
    causal_link = models.TextField(_("causal link between the event and the urgency"))
    strictly_necessary_scope = models.TextField(_("why this quantity and duration are strictly necessary"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("urgency justification")
        verbose_name_plural = _("urgency justifications")

    def __str__(self) -> str:
        return str(self.case)

    def missing_conditions(self) -> list[str]:
        names = ["triggering_event", "event_date", "time_limits_impossible", "causal_link", "strictly_necessary_scope"]
        return [str(self._meta.get_field(n).verbose_name) for n in names if not str(getattr(self, n) or "").strip()]


class OfferQuerySet(models.QuerySet):
    def awarded(self):
        return self.filter(awarded_quantity__isnull=False)


class Offer(models.Model):
    """A supplier's answer to one need line. Its terms evolve through negotiation rounds."""

    case = models.ForeignKey(PurchaseCase, on_delete=models.PROTECT, related_name="offers")
    need_line = models.ForeignKey(
        NeedLine, verbose_name=_("need line"), on_delete=models.PROTECT, related_name="offers"
    )
    supplier = models.ForeignKey(
        "suppliers.Supplier", verbose_name=_("supplier"), on_delete=models.PROTECT, related_name="offers"
    )
    product_description = models.CharField(_("product offered (brand, model)"), max_length=300)
    unit_price = models.DecimalField(
        _("unit price excl. VAT (€)"),
        max_digits=12,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001"))],
    )
    quantity = models.PositiveBigIntegerField(_("quantity offered"), validators=[MinValueValidator(1)])
    delivery_date = models.DateField(_("delivery date"))
    incoterm = models.CharField(_("Incoterm"), max_length=3, choices=Incoterm.choices, default=Incoterm.DAP)
    delivery_place = models.CharField(_("delivery place"), max_length=200)
    advance_rate = models.DecimalField(
        _("advance requested (fraction, 0.30 = 30 %)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    received_at = models.DateTimeField(_("received at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    awarded_quantity = models.PositiveBigIntegerField(_("awarded quantity"), null=True, blank=True)
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    awarded_at = models.DateTimeField(null=True, blank=True)
    award_reason = models.TextField(_("reason for the choice"), blank=True)

    objects = OfferQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="offer_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.supplier} — {self.product_description}"

    @property
    def final_round(self):
        rounds = [r for r in self.rounds.all() if r.is_final]
        return rounds[-1] if rounds else None

    @property
    def latest_round(self):
        rounds = list(self.rounds.all())
        return rounds[-1] if rounds else None

    @property
    def latest_check(self):
        checks = list(self.conformity_checks.all())
        return checks[-1] if checks else None

    @property
    def agreed_unit_price(self) -> Decimal:
        terms = self.final_round or self.latest_round
        return terms.unit_price if terms else self.unit_price

    def is_conform(self) -> bool:
        check = self.latest_check
        return check is not None and check.verdict in ConformityCheck.PASSING

    def is_vetted(self) -> bool:
        """The supplier's latest decision for this case approves it (countersigned when red flags stood)."""
        return any(
            d.supplier_id == self.supplier_id and d.is_effective_approval for d in self.case.latest_vetting_decisions()
        )


class SupplyChainParty(models.Model):
    """A party between the factory and the delivery point of an offer, other than (or as well as) its supplier."""

    class Role(models.TextChoices):
        MANUFACTURER = "manufacturer", _("Manufacturer")
        INTERMEDIARY = "intermediary", _("Trader / intermediary")
        FORWARDER = "forwarder", _("Freight forwarder")
        CUSTOMS_BROKER = "customs", _("Customs broker")
        CARRIER = "carrier", _("Carrier")

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="chain")
    supplier = models.ForeignKey(
        "suppliers.Supplier", verbose_name=_("company"), on_delete=models.PROTECT, related_name="chain_roles"
    )
    role = models.CharField(_("role"), max_length=15, choices=Role.choices)
    position = models.PositiveSmallIntegerField(_("position from the factory"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("supply chain party")
        verbose_name_plural = _("supply chain parties")
        constraints = [models.UniqueConstraint(fields=["offer", "supplier", "role"], name="chain_party_unique_role")]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.supplier}"


class ReferencePrice(models.Model):
    """The usual unit price of a product, for the "price more than 3× the reference" red flag."""

    product = models.CharField(_("product"), max_length=20, choices=Product.choices)
    unit_price = models.DecimalField(
        _("reference unit price excl. VAT (€)"),
        max_digits=12,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001"))],
    )
    valid_from = models.DateField(_("valid from"))
    source = models.CharField(_("source"), max_length=300)

    class Meta:
        ordering = ["product", "-valid_from"]
        verbose_name = _("reference price")
        verbose_name_plural = _("reference prices")
        constraints = [
            models.UniqueConstraint(fields=["product", "valid_from"], name="reference_price_unique_date"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="reference_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_product_display()} — {self.unit_price} € ({self.valid_from})"

    @classmethod
    def on(cls, product: str, day) -> "ReferencePrice | None":
        return cls.objects.filter(product=product, valid_from__lte=day).order_by("-valid_from").first()


class VettingDecision(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "approved", _("Approved")
        RESERVED = "reserved", _("Approved with reservations")
        REJECTED = "rejected", _("Rejected")

    PASSING = (Decision.APPROVED, Decision.RESERVED)

    case = models.ForeignKey(PurchaseCase, on_delete=models.PROTECT, related_name="vetting_decisions")
    supplier = models.ForeignKey(
        "suppliers.Supplier", verbose_name=_("supplier"), on_delete=models.PROTECT, related_name="vetting_decisions"
    )
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    findings = models.TextField(_("findings"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    # The red flags standing when the buyer decided: [{"code": ..., "reason": ...}]. Any of them makes
    # an approval wait for a jurist's countersignature.
    red_flags = models.JSONField(_("red flags at decision time"), default=list, blank=True)
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("countersigned by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    countersigned_at = models.DateTimeField(_("countersigned at"), null=True, blank=True)
    countersign_comment = models.TextField(_("jurist's comment"), blank=True)

    class Meta:
        ordering = ["decided_at", "pk"]
        verbose_name = _("vetting decision")
        verbose_name_plural = _("vetting decisions")

    def __str__(self) -> str:
        return f"{self.supplier} — {self.get_decision_display()}"

    @property
    def needs_countersign(self) -> bool:
        return self.decision in self.PASSING and bool(self.red_flags)

    @property
    def awaiting_countersign(self) -> bool:
        return self.needs_countersign and self.countersigned_at is None

    @property
    def is_effective_approval(self) -> bool:
        """An approval that counts: passing, and countersigned by a jurist when red flags stood."""
        return self.decision in self.PASSING and not self.awaiting_countersign


class ConformityCheck(models.Model):
    class Verdict(models.TextChoices):
        CONFORM = "conform", _("Conform")
        DEROGATION = "derogation", _("Conform under derogation")
        NON_CONFORM = "non_conform", _("Non-conform")
        INCOMPLETE = "incomplete", _("Incomplete")

    PASSING = (Verdict.CONFORM, Verdict.DEROGATION)

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="conformity_checks")
    standard = models.CharField(_("standard claimed"), max_length=100)
    marking = models.CharField(_("marking (e.g. CE 2163, NR)"), max_length=100, blank=True)
    certificate_reference = models.CharField(_("certificate reference and issuer"), max_length=200, blank=True)
    verdict = models.CharField(_("verdict"), max_length=12, choices=Verdict.choices)
    derogation_reference = models.CharField(_("legal reference of the derogation"), max_length=200, blank=True)
    findings = models.TextField(_("findings"))
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["checked_at", "pk"]
        verbose_name = _("conformity check")
        verbose_name_plural = _("conformity checks")

    def __str__(self) -> str:
        return f"{self.offer} — {self.get_verdict_display()}"

    def clean(self):
        if self.verdict == self.Verdict.DEROGATION and not self.derogation_reference.strip():
            raise ValidationError({"derogation_reference": _("Give the legal reference of the derogation.")})


class NegotiationRound(models.Model):
    """Terms proposed in one round; the round marked final holds the terms the contract will state."""

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="rounds")
    number = models.PositiveSmallIntegerField(_("round"))
    unit_price = models.DecimalField(
        _("unit price excl. VAT (€)"),
        max_digits=12,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001"))],
    )
    quantity = models.PositiveBigIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    delivery_date = models.DateField(_("delivery date"))
    incoterm = models.CharField(_("Incoterm"), max_length=3, choices=Incoterm.choices)
    delivery_place = models.CharField(_("delivery place"), max_length=200)
    advance_rate = models.DecimalField(
        _("advance (fraction, 0.30 = 30 %)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    payment_days = models.PositiveSmallIntegerField(_("payment period (days)"), default=30)
    penalties = models.CharField(_("late penalties"), max_length=300, default="P = V × R / 1000")
    valid_until = models.DateField(_("offer valid until"), null=True, blank=True)
    proposed_by = models.CharField(_("proposed by"), max_length=100)
    note = models.TextField(_("what changed and why"), blank=True)
    is_final = models.BooleanField(_("final terms"), default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]
        verbose_name = _("negotiation round")
        verbose_name_plural = _("negotiation rounds")
        constraints = [models.UniqueConstraint(fields=["offer", "number"], name="round_unique_number")]

    def __str__(self) -> str:
        return f"{self.offer} — round {self.number}"


class Threshold(models.Model):
    """Effective-dated amounts of DOMAIN.md §2, editable by the admin."""

    class Kind(models.TextChoices):
        NO_PROCEDURE = "no_procedure", _("No-procedure purchases (R2122-8)")
        DECP = "decp", _("Open-data publication (DECP)")
        VIGILANCE = "vigilance", _("URSSAF vigilance (D8222-5)")
        EU_SUPPLIES = "eu_supplies", _("EU threshold, supplies, local authorities")
        ADVANCE = "advance", _("Compulsory advance (R2191-3)")

    kind = models.CharField(_("rule"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("amount excl. VAT (€)"), max_digits=14, decimal_places=2)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["kind", "-valid_from"]
        verbose_name = _("threshold")
        verbose_name_plural = _("thresholds")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.amount} € ({self.valid_from})"

    @classmethod
    def amount_on(cls, kind: str, day) -> Decimal | None:
        row = (
            cls.objects.filter(kind=kind, valid_from__lte=day)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=day))
            .order_by("-valid_from")
            .first()
        )
        return row.amount if row else None


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit log is append-only.")

    def delete(self):
        raise PermissionError("The audit log is append-only.")


class CaseEvent(models.Model):
    """Append-only audit trail: who did what, when, from where, and why. Never updated nor deleted."""

    case = models.ForeignKey(PurchaseCase, on_delete=models.PROTECT, related_name="events")
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    verb = models.CharField(_("action"), max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    source = models.CharField(_("from"), max_length=20, blank=True)
    target = models.CharField(_("to"), max_length=20, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("when"), db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.verb}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")

    @classmethod
    def record(
        cls,
        *,
        case,
        verb: str,
        actor=None,
        contract=None,
        source: str = "",
        target: str = "",
        comment: str = "",
        ip: str | None = None,
        now=None,
    ) -> "CaseEvent":
        return cls.objects.create(
            case=case,
            contract=contract,
            verb=verb,
            actor=actor,
            source=source,
            target=target,
            comment=comment,
            ip=ip,
            created_at=now or timezone.now(),
        )

    @property
    def verb_label(self) -> str:
        return str(workflow.VERB_LABELS.get(self.verb, self.verb))
