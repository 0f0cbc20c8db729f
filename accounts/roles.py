"""The four roles of DESIGN.md §4, held as Django groups created by a data migration."""

from django.utils.translation import gettext_lazy as _

BUYER = "buyer"
JURIST = "jurist"
DIRECTOR = "director"
ADMIN = "admin"

ROLES = (BUYER, JURIST, DIRECTOR, ADMIN)
LABELS = {BUYER: _("Buyer"), JURIST: _("Jurist"), DIRECTOR: _("Director"), ADMIN: _("Administrator")}
