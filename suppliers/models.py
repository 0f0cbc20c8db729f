from datetime import date

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.retention import Retained, RetainedQuerySet


class SupplierQuerySet(models.QuerySet):
    def for_organisation(self, organisation_id):
        return self.filter(organisation_id=organisation_id)


class Supplier(models.Model):
    """A company of the supply chain: manufacturer, trader, freight forwarder, customs broker, carrier."""

    class IdentifierType(models.TextChoices):
        # DECP identifier types (arrêté of 22 December 2022)
        SIRET = "SIRET", "SIRET"
        TVA = "TVA", _("EU VAT number")
        TAHITI = "TAHITI", _("TAHITI number (French Polynesia)")
        RIDET = "RIDET", _("RIDET number (New Caledonia)")
        FRWF = "FRWF", _("Wallis and Futuna registration")
        IREP = "IREP", _("IREP number (foreign entity without registration)")
        HORS_UE = "HORS-UE", _("Registration outside the EU")

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="suppliers")
    name = models.CharField(_("company name"), max_length=200)
    country = models.CharField(_("country (ISO code)"), max_length=2, default="FR")
    identifier_type = models.CharField(_("identifier type"), max_length=10, choices=IdentifierType.choices)
    siret = models.CharField(_("SIRET"), max_length=14, blank=True)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True, db_index=True)
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    registration_number = models.CharField(_("national registration number"), max_length=50, blank=True)
    address = models.TextField(_("address"), blank=True)
    email = models.EmailField(_("contact e-mail"), blank=True)
    website = models.URLField(_("website"), blank=True)
    founded_on = models.DateField(_("company founded on"), null=True, blank=True)
    activity_code = models.CharField(
        _("activity code (NAF/APE)"), max_length=10, blank=True, help_text=_("E.g. 32.50B, 46.46Z, 52.29B.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()
    objects = SupplierQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "siret"], condition=~models.Q(siret=""), name="supplier_unique_siret_per_org"
            ),
            # One supplier per company: a second SIRET of the same SIREN is an establishment.
            models.UniqueConstraint(
                fields=["organisation", "siren"], condition=~models.Q(siren=""), name="supplier_unique_siren_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("suppliers:detail", args=[self.pk])

    @property
    def identifier(self) -> str:
        """The identifier published in DECP for this supplier."""
        if self.identifier_type == self.IdentifierType.SIRET:
            return self.siret
        if self.identifier_type == self.IdentifierType.TVA:
            return self.vat_number
        return self.registration_number


class Establishment(models.Model):
    """Another establishment (SIRET) of a French supplier; the supplier's own SIRET is its main one."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="establishments")
    siret = models.CharField(_("SIRET"), max_length=14)
    label = models.CharField(_("label"), max_length=200, blank=True, help_text=_("E.g. Marseille warehouse."))
    address = models.TextField(_("address"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["siret"]
        verbose_name = _("establishment")
        verbose_name_plural = _("establishments")
        constraints = [models.UniqueConstraint(fields=["supplier", "siret"], name="establishment_unique_siret")]

    def __str__(self) -> str:
        return f"{self.siret} {self.label}".strip()


class SupplierDocument(Retained, models.Model):
    class Kind(models.TextChoices):
        URSSAF = "urssaf", _("URSSAF vigilance certificate")
        KBIS = "kbis", _("Kbis extract / RNE registration")
        TAX = "tax", _("Tax certificate")
        SWORN_STATEMENT = "sworn", _("Sworn statement on exclusion grounds (DC1/DUME)")
        RIB = "rib", _("Bank details (RIB)")
        FOREIGN = "foreign", _("Foreign equivalent")
        OTHER = "other", _("Other")

    # Kinds every supplier must hold, valid, before approval (DOMAIN.md §3).
    MANDATORY_FR = (Kind.URSSAF, Kind.KBIS, Kind.TAX, Kind.SWORN_STATEMENT)
    MANDATORY_FOREIGN = (Kind.FOREIGN, Kind.SWORN_STATEMENT)

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    issued_on = models.DateField(_("issue date"))
    expires_on = models.DateField(_("expiry date"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="supplier-documents/", max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    verified_with_issuer = models.BooleanField(_("verified with the issuer"), default=False)
    verified_on = models.DateField(_("verified on"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # Set once the purchasing team was told this document expires soon (the reminder is sent once).
    expiry_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = RetainedQuerySet.as_manager()
    retention_hint = "upload a newer document instead: the latest valid one counts"

    class Meta:
        ordering = ["kind", "-issued_on"]
        indexes = [models.Index(fields=["expires_on"], name="supplierdoc_expires_on")]
        verbose_name = _("supplier document")
        verbose_name_plural = _("supplier documents")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.supplier}"

    @classmethod
    def computed_expiry(cls, kind: str, issued_on: date) -> date | None:
        """The legal end of validity of a document of this kind issued on that day; None: no fixed validity.

        URSSAF 6 months (D8222-5) and Kbis per SUPPLIER_DOCUMENT_VALIDITY_MONTHS; the tax certificate attests
        the situation at 31 December of the previous year, so it is valid through 31 December of its issue year
        (the expiry is the first day a document is no longer valid: 1 January).
        """
        if kind == cls.Kind.TAX:
            return date(issued_on.year + 1, 1, 1)
        months = settings.SUPPLIER_DOCUMENT_VALIDITY_MONTHS.get(kind)
        return issued_on + relativedelta(months=months) if months else None

    def is_valid_on(self, day: date) -> bool:
        return self.expires_on is None or day < self.expires_on

    def get_download_url(self) -> str:
        return reverse("suppliers:document_download", args=[self.pk])


class SanctionsList(models.Model):
    """One imported version of an asset-freeze list; screenings point to the version they used."""

    class Source(models.TextChoices):
        FR = "fr_dgt", _("French national asset-freeze register (DG Trésor)")
        EU = "eu_fsf", _("EU consolidated financial sanctions list")

    SHORT_NAMES = {Source.FR: _("French register"), Source.EU: _("EU list")}

    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    version = models.CharField(_("version"), max_length=100)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    imported_at = models.DateTimeField(_("imported at"))
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    original_name = models.CharField(_("file"), max_length=200, blank=True)
    sha256 = models.CharField(max_length=64)
    entry_count = models.PositiveIntegerField(_("entries"), default=0)

    class Meta:
        ordering = ["-imported_at", "-pk"]
        verbose_name = _("sanctions list")
        verbose_name_plural = _("sanctions lists")
        constraints = [models.UniqueConstraint(fields=["source", "sha256"], name="sanctions_list_unique_file")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} — {self.version_label}"

    @property
    def version_label(self) -> str:
        """The publication date when the file gives one, else its version string."""
        if self.published_at is None:
            return self.version
        return date_format(timezone.localtime(self.published_at), "SHORT_DATETIME_FORMAT")

    @property
    def short_name(self) -> str:
        return str(self.SHORT_NAMES.get(self.source, self.source))


class SanctionsEntry(models.Model):
    """A listed person or entity, with every name it is known by (the first is its main name)."""

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        ENTITY = "entity", _("Entity")
        OTHER = "other", _("Other")

    sanctions_list = models.ForeignKey(SanctionsList, on_delete=models.CASCADE, related_name="entries")
    reference = models.CharField(_("reference in the list"), max_length=50)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    names = models.JSONField(_("names and aliases"), default=list)
    # Normalised forms of `names` (accents, case, punctuation and word order removed), same order.
    keys = models.JSONField(default=list)
    programme = models.CharField(_("regime"), max_length=300, blank=True)
    details = models.TextField(_("details"), blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("sanctions list entry")
        verbose_name_plural = _("sanctions list entries")

    def __str__(self) -> str:
        return self.names[0] if self.names else self.reference


class SanctionsScreening(models.Model):
    """One screening of a supplier against one list version, kept whatever its result."""

    class Result(models.TextChoices):
        CLEAR = "clear", _("No match")
        POSSIBLE_MATCH = "match", _("Possible match")

    class Review(models.TextChoices):
        NONE = "", _("Nothing to review")
        PENDING = "pending", _("Awaiting a jurist")
        CLEARED = "cleared", _("Cleared: not the listed party")
        CONFIRMED = "confirmed", _("Confirmed: listed party")
        # A possible match still awaiting a jurist when a later screening of the supplier against the same list
        # was recorded: only the latest screening is reviewed (services._supersede_pending).
        SUPERSEDED = "superseded", _("Replaced by a more recent screening")

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="screenings")
    sanctions_list = models.ForeignKey(SanctionsList, on_delete=models.PROTECT, related_name="screenings")
    screened_at = models.DateTimeField(_("screened at"))
    screened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    names_screened = models.JSONField(_("names screened"), default=list)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices)
    # [{"entry": pk, "reference": ..., "name": listed name, "screened": our name, "score": 0-100}]
    matches = models.JSONField(_("matched names"), default=list)
    review = models.CharField(_("review"), max_length=10, choices=Review.choices, blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-screened_at", "-pk"]
        indexes = [models.Index(fields=["supplier", "-screened_at"], name="screening_supplier_latest")]
        verbose_name = _("sanctions screening")
        verbose_name_plural = _("sanctions screenings")

    def __str__(self) -> str:
        return f"{self.supplier} — {self.sanctions_list} — {self.get_result_display()}"

    @property
    def blocks_approval(self) -> bool:
        """A possible match blocks approval until a jurist clears it; a confirmed one for good."""
        return self.review in (self.Review.PENDING, self.Review.CONFIRMED)
