from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords

from accounts.retention import Retained, RetainedQuerySet
from contracts import workflow

CENT = Decimal("0.01")


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LEGAL_REVIEW = "legal_review", _("Legal review")
    APPROVED = "approved", _("Approved")
    SIGNED = "signed", _("Signed")
    NOTIFIED = "notified", _("Notified to the supplier")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_CONTRACT_STATUSES = [ContractStatus.DRAFT, ContractStatus.LEGAL_REVIEW, ContractStatus.APPROVED]
SIGNED_STATUSES = [ContractStatus.SIGNED, ContractStatus.NOTIFIED]

# The jurist's clause checklist (DOMAIN.md §5).
CLAUSES = {
    "parties": _("Buyer and supplier identified (SIRET/VAT)"),
    "legal_basis": _("Legal basis L2122-1 / R2122-1 and summary of the justification"),
    "object": _("Object and CPV code"),
    "quantities_prices": _("Quantities, unit and total prices (excl. VAT, VAT, incl. VAT)"),
    "delivery": _("Delivery place, Incoterm and schedule"),
    "norms": _("Required standard and conformity documents"),
    "checks": _("Quantitative and qualitative checks at delivery"),
    "penalties": _("Late penalties (P = V × R / 1000)"),
    "advance": _("Advance and guarantee"),
    "payment": _("Payment terms (30 days)"),
    "termination": _("Termination"),
    "ccag": _("General conditions referred to (CCAG-FCS)"),
    "signatory": _("Signatory and delegation reference"),
}


class ContractQuerySet(RetainedQuerySet):
    def for_organisation(self, organisation_id):
        return self.filter(case__organisation_id=organisation_id)


class Contract(Retained, ConcurrentTransitionMixin, models.Model):
    retention_hint = "withdraw the contract instead"

    case = models.ForeignKey("procurement.PurchaseCase", on_delete=models.PROTECT, related_name="contracts")
    offer = models.ForeignKey("procurement.Offer", on_delete=models.PROTECT, related_name="contracts")
    reference = models.CharField(_("reference"), max_length=24)
    status = FSMField(
        _("status"), default=ContractStatus.DRAFT, choices=ContractStatus.choices, protected=True, db_index=True
    )
    quantity = models.PositiveBigIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price excl. VAT (€)"), max_digits=12, decimal_places=4)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=4, decimal_places=3)
    created_at = models.DateTimeField(_("created at"))
    # Optimistic lock on the terms: an edit based on an older version is refused, never silently lost.
    terms_version = models.PositiveIntegerField(default=1)
    clauses_checked = models.JSONField(_("clauses checked"), default=list, blank=True)
    approved_document = models.ForeignKey(
        "ContractDocument", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    signed_sha256 = models.CharField(max_length=64, blank=True)
    delegation = models.ForeignKey(
        "SignatureDelegation", on_delete=models.PROTECT, null=True, blank=True, related_name="contracts"
    )
    prefect_transmitted_on = models.DateField(_("transmitted to the prefect on"), null=True, blank=True)
    award_notice_published_on = models.DateField(_("award notice published on"), null=True, blank=True)
    decp_published_on = models.DateField(_("essential data (DECP) published on"), null=True, blank=True)
    notified_at = models.DateTimeField(_("notified to the supplier at"), null=True, blank=True)

    objects = ContractQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["status"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        # The requisition risk reads the contracts of one period (décret 2020-281) among all of them.
        indexes = [models.Index(fields=["created_at"], name="contract_created_at")]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("contracts:detail", args=[self.pk])

    @property
    def organisation_id(self):
        return self.case.organisation_id

    @property
    def supplier(self):
        return self.offer.supplier

    @property
    def amount_ht(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT, ROUND_HALF_UP)

    @property
    def amount_vat(self) -> Decimal:
        return (self.amount_ht * self.vat_rate).quantize(CENT, ROUND_HALF_UP)

    @property
    def amount_ttc(self) -> Decimal:
        return self.amount_ht + self.amount_vat

    @property
    def current_document(self):
        documents = list(self.documents.all())
        return documents[-1] if documents else None

    @property
    def missing_clauses(self) -> list[str]:
        return [str(label) for key, label in CLAUSES.items() if key not in self.clauses_checked]

    # --- transitions ---------------------------------------------------------------------------
    @transition(
        field=status,
        source=ContractStatus.DRAFT,
        target=ContractStatus.LEGAL_REVIEW,
        permission=workflow.contract_buyer,
        conditions=[workflow.ready("submit_for_review")],
    )
    def submit_for_review(self):
        pass

    @transition(
        field=status, source=ContractStatus.LEGAL_REVIEW, target=ContractStatus.DRAFT, permission=workflow.jurist
    )
    def request_changes(self):
        pass

    @transition(
        field=status,
        source=ContractStatus.LEGAL_REVIEW,
        target=ContractStatus.APPROVED,
        permission=workflow.four_eyes_jurist,
        conditions=[workflow.ready("approve")],
    )
    def approve(self, *, by, document, at):
        self.approved_by = by
        self.approved_document = document
        self.approved_at = at

    @transition(
        field=status, source=ContractStatus.APPROVED, target=ContractStatus.DRAFT, permission=workflow.contract_buyer
    )
    def revise(self):
        # The approval is void: the terms will change and a new version will be rendered.
        self.approved_by = None
        self.approved_document = None
        self.approved_at = None
        self.clauses_checked = []

    @transition(
        field=status,
        source=ContractStatus.APPROVED,
        target=ContractStatus.SIGNED,
        permission=workflow.delegation_holder,
        conditions=[workflow.ready("sign")],
    )
    def sign(self, *, by, at, delegation, sha256):
        self.signed_by = by
        self.signed_at = at
        self.delegation = delegation
        self.signed_sha256 = sha256

    @transition(
        field=status,
        source=ContractStatus.SIGNED,
        target=ContractStatus.NOTIFIED,
        permission=workflow.contract_buyer,
        conditions=[workflow.ready("notify_supplier")],
    )
    def notify_supplier(self, *, at):
        self.notified_at = at

    @transition(
        field=status,
        source=OPEN_CONTRACT_STATUSES,
        target=ContractStatus.WITHDRAWN,
        permission=workflow.jurist_or_director,
    )
    def withdraw(self):
        pass


class ContractDocument(Retained, models.Model):
    """A numbered rendering of the contract (outbox row: pending until the worker stores the PDF)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("being generated")
        RENDERED = "rendered", _("ready")
        FAILED = "failed", _("failed")

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="documents")
    version = models.PositiveSmallIntegerField(_("version"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to="contracts/", max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    rendered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    objects = RetainedQuerySet.as_manager()
    retention_hint = "revise the contract: a new version is rendered beside this one"

    class Meta:
        ordering = ["version"]
        verbose_name = _("contract document")
        verbose_name_plural = _("contract documents")
        constraints = [models.UniqueConstraint(fields=["contract", "version"], name="contractdocument_unique_version")]

    def __str__(self) -> str:
        return f"{self.contract} v{self.version}"

    def get_download_url(self) -> str:
        return reverse("contracts:document_download", args=[self.pk])


class SignatureDelegation(models.Model):
    """Who may sign on behalf of the buyer, up to what amount, over which dates (e.g. arrêté, L4231-3)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="delegations")
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("delegate"), on_delete=models.PROTECT, related_name="delegations"
    )
    delegating_authority = models.CharField(_("delegating authority"), max_length=200)
    legal_basis = models.CharField(_("legal basis"), max_length=200)
    reference = models.CharField(_("reference of the act"), max_length=100)
    amount_ceiling = models.DecimalField(_("amount ceiling excl. VAT (€)"), max_digits=14, decimal_places=2)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("signature delegation")
        verbose_name_plural = _("signature delegations")

    def __str__(self) -> str:
        return f"{self.reference} — {self.delegate}"

    def covers(self, *, day, amount) -> bool:
        return self.valid_from <= day <= self.valid_until and amount <= self.amount_ceiling


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Contract modifications are append-only.")

    def delete(self):
        raise PermissionError("Contract modifications are append-only.")


class ContractModification(models.Model):
    """A modification of a notified contract (avenant, R2194-1 and following): appended, never edited.

    The contract carries the current terms; each modification keeps the terms before and after, so the
    published essential data (DECP) state the notified amount and append the modifications in order."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="modifications")
    number = models.PositiveSmallIntegerField(_("number"))
    previous_quantity = models.PositiveBigIntegerField(_("previous quantity"))
    previous_unit_price = models.DecimalField(_("previous unit price excl. VAT (€)"), max_digits=12, decimal_places=4)
    quantity = models.PositiveBigIntegerField(_("new quantity"))
    unit_price = models.DecimalField(_("new unit price excl. VAT (€)"), max_digits=12, decimal_places=4)
    reason = models.TextField(_("reason"))
    notified_on = models.DateField(_("notified to the supplier on"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        verbose_name = _("contract modification")
        verbose_name_plural = _("contract modifications")
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="contractmodification_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.contract} — modification {self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Contract modifications are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Contract modifications are append-only.")

    @property
    def previous_amount_ht(self) -> Decimal:
        return (self.previous_unit_price * self.previous_quantity).quantize(CENT, ROUND_HALF_UP)

    @property
    def amount_ht(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT, ROUND_HALF_UP)


class SignedDocument(Retained, models.Model):
    """The signed PDF (PAdES) of a signed contract: an outbox row until the worker stores the signed file.

    Created at signature when the deployment configures a signing certificate; the worker seals the
    approved version with it. The signed file's own SHA-256 is kept beside the source version's."""

    class Status(models.TextChoices):
        PENDING = "pending", _("being signed")
        SIGNED = "signed", _("ready")
        FAILED = "failed", _("failed")

    contract = models.OneToOneField(Contract, on_delete=models.PROTECT, related_name="signed_document")
    source = models.ForeignKey(ContractDocument, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to="contracts/", max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    signer_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    objects = RetainedQuerySet.as_manager()
    retention_hint = "the sealed copy is the signed contract itself"

    class Meta:
        verbose_name = _("signed contract document")
        verbose_name_plural = _("signed contract documents")

    def __str__(self) -> str:
        return f"{self.contract} (PAdES)"

    def get_download_url(self) -> str:
        return reverse("contracts:signed_download", args=[self.pk])
