from datetime import date

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class SupplierQuerySet(models.QuerySet):
    def for_organisation(self, organisation_id):
        return self.filter(organisation_id=organisation_id)


class Supplier(models.Model):
    """A company of the supply chain: manufacturer, trader, freight forwarder, customs broker, carrier."""

    class IdentifierType(models.TextChoices):
        # DECP identifier types (arrêté of 22 December 2022)
        SIRET = "SIRET", "SIRET"
        TVA = "TVA", _("EU VAT number")
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
            )
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


class SupplierDocument(models.Model):
    class Kind(models.TextChoices):
        URSSAF = "urssaf", _("URSSAF vigilance certificate")
        KBIS = "kbis", _("Kbis extract / RNE registration")
        TAX = "tax", _("Tax certificate")
        SWORN_STATEMENT = "sworn", _("Sworn statement on exclusion grounds (DC1/DUME)")
        RIB = "rib", _("Bank details (RIB)")
        FOREIGN = "foreign", _("Foreign equivalent")
        OTHER = "other", _("Other")

    # D8222-5: the vigilance certificate is valid 6 months from issue.
    VALIDITY_MONTHS = {Kind.URSSAF: 6, Kind.KBIS: 3, Kind.TAX: 12}

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
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "-issued_on"]
        verbose_name = _("supplier document")
        verbose_name_plural = _("supplier documents")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.supplier}"

    @classmethod
    def computed_expiry(cls, kind: str, issued_on: date) -> date | None:
        months = cls.VALIDITY_MONTHS.get(kind)
        return issued_on + relativedelta(months=months) if months else None

    def is_valid_on(self, day: date) -> bool:
        return self.expires_on is None or day < self.expires_on

    def get_download_url(self) -> str:
        return reverse("suppliers:document_download", args=[self.pk])
