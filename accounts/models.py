from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts import roles


class Organisation(models.Model):
    """A public buyer (e.g. a regional council). Everything a user sees belongs to their organisation."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    siret = models.CharField(_("SIRET"), max_length=14, unique=True)
    address = models.TextField(_("address"), blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    job_title = models.CharField(_("job title"), max_length=150, blank=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @cached_property
    def role_names(self) -> frozenset[str]:
        return frozenset(self.groups.values_list("name", flat=True))

    def has_role(self, role: str) -> bool:
        return self.is_active and self.organisation_id is not None and role in self.role_names

    @property
    def is_buyer(self) -> bool:
        return self.has_role(roles.BUYER)

    @property
    def is_jurist(self) -> bool:
        return self.has_role(roles.JURIST)

    @property
    def is_director(self) -> bool:
        return self.has_role(roles.DIRECTOR)

    @property
    def is_tandem_admin(self) -> bool:
        return self.has_role(roles.ADMIN)

    @property
    def has_any_role(self) -> bool:
        return self.organisation_id is not None and bool(self.role_names)

    @property
    def role_labels(self) -> list[str]:
        return [str(roles.LABELS[r]) for r in roles.ROLES if r in self.role_names]
