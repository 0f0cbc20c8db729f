from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Count, F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords

from accounts.retention import Retained, RetainedQuerySet
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


def stage_cutoffs(now) -> dict[str, datetime]:
    """Per stage with a target (settings.STAGE_TARGET_HOURS), the instant before which a case entered in it is
    overdue at `now`."""
    return {stage: now - timedelta(hours=hours) for stage, hours in settings.STAGE_TARGET_HOURS.items()}


def overdue_condition(now) -> Q:
    """The cases past their stage target at `now` (none when no stage has a target)."""
    condition = Q(pk__in=[])
    for stage, cutoff in stage_cutoffs(now).items():
        condition |= Q(status=stage, stage_entered_at__lt=cutoff)
    return condition


class PurchaseCaseQuerySet(RetainedQuerySet):
    def for_organisation(self, organisation_id):
        return self.filter(organisation_id=organisation_id)

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def with_amounts(self):
        return self.annotate(
            estimated_amount=Sum(F("need_lines__quantity") * F("need_lines__estimated_unit_price")),
        )

    def overdue(self, now=None):
        return self.filter(overdue_condition(now or timezone.now()))

    def counts_by_status(self):
        return dict(self.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))


class PurchaseCase(Retained, ConcurrentTransitionMixin, models.Model):
    """An emergency purchase under CCP R2122-1, from the need to the signed contract."""

    retention_hint = "cancel the case instead"

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
    def current_terms(self):
        """The terms that count: the final round, else the latest one, else the offer as received."""
        return self.final_round or self.latest_round or self

    @property
    def agreed_unit_price(self) -> Decimal:
        return self.current_terms.unit_price

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


# --- the norms catalogue and the notified bodies (DOMAIN.md §4): data the administrator keeps up to date ---
class Legislation(models.TextChoices):
    PPE = "ppe", _("PPE Regulation (EU) 2016/425")
    MEDICAL_DEVICES = "md", _("Medical devices (Directive 93/42/EEC, Regulation (EU) 2017/745)")
    OTHER = "other", _("Other EU harmonisation legislation")
    NONE = "none", _("No EU legislation")


class EvidenceKind(models.TextChoices):
    DECLARATION = "declaration", _("EU declaration of conformity")
    TYPE_EXAMINATION = "type_exam", _("EU type-examination certificate (module B)")
    PRODUCTION_CONTROL = "production", _("Production control certificate (module C2 or D)")
    TEST_REPORT = "test_report", _("Test report")
    BIOBURDEN = "bioburden", _("Bioburden test report")
    OTHER_CERTIFICATE = "certificate", _("Other certificate or attestation")


class Norm(models.Model):
    """A standard (EN 149, EN 14683…) or a foreign one accepted as equivalent (GB 2626-2006…)."""

    code = models.CharField(_("standard"), max_length=100, unique=True)
    title = models.CharField(_("title"), max_length=300)
    legislation = models.CharField(_("EU legislation"), max_length=10, choices=Legislation.choices)
    country = models.CharField(_("country of the standard"), max_length=2, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("standard")
        verbose_name_plural = _("standards")

    def __str__(self) -> str:
        return self.code


class NormClass(models.Model):
    """A performance class of a standard, the product it qualifies as, and its thresholds.

    A class with a derogation reference is a foreign equivalent accepted under a dated legal text
    (the French 2020 FFP2 equivalents). Thresholds left empty are not part of the class."""

    norm = models.ForeignKey(Norm, verbose_name=_("standard"), on_delete=models.PROTECT, related_name="classes")
    label = models.CharField(_("class"), max_length=50)
    product = models.CharField(_("qualifies as"), max_length=20, choices=Product.choices)
    derogation_reference = models.CharField(_("legal reference of the derogation"), max_length=300, blank=True)
    valid_from = models.DateField(_("accepted from"), null=True, blank=True)
    valid_until = models.DateField(_("accepted until"), null=True, blank=True)
    filtration_min = models.DecimalField(
        _("filtration efficiency, at least (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    inward_leakage_max = models.DecimalField(
        _("total inward leakage, at most (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    bacterial_filtration_min = models.DecimalField(
        _("bacterial filtration efficiency, at least (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    breathing_resistance_max = models.DecimalField(
        _("breathing resistance, below (Pa/cm²)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    splash_resistance_min = models.DecimalField(
        _("splash resistance, at least (kPa)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    aql_max = models.DecimalField(_("AQL, at most"), max_digits=4, decimal_places=2, null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["norm__code", "label"]
        verbose_name = _("class of a standard")
        verbose_name_plural = _("classes of standards")
        constraints = [models.UniqueConstraint(fields=["norm", "label"], name="norm_class_unique_label")]

    def __str__(self) -> str:
        return f"{self.norm.code} — {self.label}"

    @property
    def is_derogation(self) -> bool:
        return bool(self.derogation_reference)

    def accepted_on(self, day) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


class EvidenceRequirement(models.Model):
    """A piece of evidence a claim of this class must come with."""

    norm_class = models.ForeignKey(NormClass, on_delete=models.CASCADE, related_name="requirements")
    kind = models.CharField(_("evidence"), max_length=12, choices=EvidenceKind.choices)

    class Meta:
        ordering = ["norm_class", "kind"]
        verbose_name = _("required evidence")
        verbose_name_plural = _("required evidence")
        constraints = [models.UniqueConstraint(fields=["norm_class", "kind"], name="evidence_requirement_unique")]

    def __str__(self) -> str:
        return f"{self.norm_class}: {self.get_kind_display()}"


class NotifiedBody(models.Model):
    """A certification body: notified (4-digit number, for some legislations) or a known issuer of
    worthless "voluntary certificates" (not notified, no number)."""

    number = models.CharField(_("number"), max_length=4, blank=True)
    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, blank=True)
    legislations = models.JSONField(_("notified for"), default=list, blank=True)
    aliases = models.JSONField(_("other names"), default=list, blank=True)
    notified_until = models.DateField(
        _("notification ended on"),
        null=True,
        blank=True,
        help_text=_("Last day of its notification (e.g. 31/12/2020 for the British bodies); empty: still notified."),
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["number", "name"]
        verbose_name = _("notified body")
        verbose_name_plural = _("notified bodies")
        constraints = [
            models.UniqueConstraint(fields=["number"], condition=~Q(number=""), name="notified_body_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}".strip()

    @property
    def is_notified(self) -> bool:
        return bool(self.number) and bool(self.legislations)

    def notified_for(self, legislation: str, day=None) -> bool:
        """Notified for this legislation (on `day`, when given: a notification can end)."""
        ended = day is not None and self.notified_until is not None and day > self.notified_until
        return self.is_notified and legislation in self.legislations and not ended


class ConformityCheck(models.Model):
    """The buyer's check of an offer's product: the claim, the evidence, the measured values, and the verdict
    computed from them (procurement.conformity) with every reason; a jurist may override it with a reason."""

    class Verdict(models.TextChoices):
        CONFORM = "conform", _("Conform")
        DEROGATION = "derogation", _("Conform under derogation")
        NON_CONFORM = "non_conform", _("Non-conform")
        INCOMPLETE = "incomplete", _("Incomplete")

    PASSING = (Verdict.CONFORM, Verdict.DEROGATION)

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="conformity_checks")
    norm_class = models.ForeignKey(
        NormClass,
        verbose_name=_("standard and class claimed"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    standard = models.CharField(_("standard claimed"), max_length=100)
    model_reference = models.CharField(_("model offered"), max_length=100, blank=True)
    marking = models.CharField(_("marking (e.g. CE 2163, NR)"), max_length=100, blank=True)
    ce_number = models.CharField(_("number after the CE mark"), max_length=10, blank=True)
    certificate_reference = models.CharField(_("certificate reference and issuer"), max_length=200, blank=True)
    filtration = models.DecimalField(
        _("filtration efficiency (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    inward_leakage = models.DecimalField(
        _("total inward leakage (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    bacterial_filtration = models.DecimalField(
        _("bacterial filtration efficiency (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    breathing_resistance = models.DecimalField(
        _("breathing resistance (Pa/cm²)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    splash_resistance = models.DecimalField(
        _("splash resistance (kPa)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    aql = models.DecimalField(_("AQL"), max_digits=4, decimal_places=2, null=True, blank=True)
    computed_verdict = models.CharField(_("computed verdict"), max_length=12, choices=Verdict.choices, blank=True)
    # [{"code": ..., "reason": ..., "level": "danger" | "missing" | "info"}]: why the verdict is what it is.
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    # The verdict that counts: the computed one, or the jurist's override.
    verdict = models.CharField(_("verdict"), max_length=12, choices=Verdict.choices)
    derogation_reference = models.CharField(_("legal reference of the derogation"), max_length=200, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField()
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("overridden by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    overridden_at = models.DateTimeField(_("overridden at"), null=True, blank=True)
    override_reason = models.TextField(_("reason for the override"), blank=True)

    class Meta:
        ordering = ["checked_at", "pk"]
        verbose_name = _("conformity check")
        verbose_name_plural = _("conformity checks")

    def __str__(self) -> str:
        return f"{self.offer} — {self.get_verdict_display()}"

    @property
    def is_overridden(self) -> bool:
        return self.overridden_at is not None


class ConformityEvidence(Retained, models.Model):
    """A document behind a conformity check (declaration, certificate, test report), stored privately."""

    conformity_check = models.ForeignKey(ConformityCheck, on_delete=models.PROTECT, related_name="evidence")
    kind = models.CharField(_("kind"), max_length=12, choices=EvidenceKind.choices)
    issuer = models.CharField(_("issuer"), max_length=200, blank=True)
    notified_body = models.ForeignKey(
        NotifiedBody,
        verbose_name=_("issuing body"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    number = models.CharField(_("number"), max_length=100, blank=True)
    model_reference = models.CharField(_("model covered"), max_length=100, blank=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    expires_on = models.DateField(_("valid until"), null=True, blank=True)
    by_manufacturer = models.BooleanField(_("issued by the manufacturer"), default=True)
    file = models.FileField(_("file"), upload_to="conformity-evidence/", max_length=200, blank=True)
    original_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=50, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)

    objects = RetainedQuerySet.as_manager()
    retention_hint = "record a new conformity check with the right evidence instead"

    class Meta:
        ordering = ["kind", "pk"]
        verbose_name = _("conformity evidence")
        verbose_name_plural = _("conformity evidence")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}".strip()

    def get_download_url(self) -> str:
        return reverse("procurement:evidence_download", args=[self.pk])


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
        # The dashboard's deliveries of the coming days start from the rounds delivering then.
        indexes = [models.Index(fields=["delivery_date", "offer"], name="round_delivery_date")]

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
