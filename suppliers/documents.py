"""Validity of supplier documents, for the badges of the supplier page and the upload: pure functions, no database."""

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from suppliers.models import SupplierDocument

VALID = "valid"
EXPIRING = "expiring"
EXPIRED = "expired"
NO_EXPIRY = "no_expiry"

STATUS_LABELS = {
    VALID: _("Valid"),
    EXPIRING: _("Expires soon"),
    EXPIRED: _("Expired"),
    NO_EXPIRY: _("No expiry"),
}
# Bootstrap badge classes (AA contrast with the text-bg-* helpers).
STATUS_BADGES = {
    VALID: "text-bg-success",
    EXPIRING: "text-bg-warning",
    EXPIRED: "text-bg-danger",
    NO_EXPIRY: "text-bg-secondary",
}


def document_status(document: SupplierDocument, today: date) -> tuple[str, str]:
    """(code, label): expired from its expiry date on (SupplierDocument.is_valid_on), expiring within
    DOCUMENT_REMINDER_DAYS of it, else valid; no_expiry when it has no expiry date."""
    if document.expires_on is None:
        code = NO_EXPIRY
    elif not document.is_valid_on(today):
        code = EXPIRED
    elif (document.expires_on - today).days <= settings.DOCUMENT_REMINDER_DAYS:
        code = EXPIRING
    else:
        code = VALID
    return code, STATUS_LABELS[code]


def document_rows(documents, today: date) -> list[dict]:
    """One row per document for templates/suppliers/includes/documents.html."""
    rows = []
    for document in documents:
        code, label = document_status(document, today)
        rows.append({"document": document, "status": code, "status_label": label, "badge_class": STATUS_BADGES[code]})
    return rows


def expiry_error(*, kind: str, issued_on: date | None, expires_on: date | None) -> ValidationError | None:
    """The refusal of an expiry date typed after the one computed for the kind (SupplierDocument.computed_expiry):
    the computed date is the end of the document's validity, so a later date would keep an outdated certificate
    valid. An earlier date (e.g. printed on the document) is accepted. None when the date is acceptable."""
    if issued_on is None or expires_on is None:
        return None
    latest = SupplierDocument.computed_expiry(kind, issued_on)
    if latest is None or expires_on <= latest:
        return None
    return ValidationError(
        _(
            "The expiry date cannot be after %(date)s, the end of validity of this kind of document issued on "
            "%(issued)s."
        ),
        code="after_validity",
        params={
            "date": formats.date_format(latest, "SHORT_DATE_FORMAT"),
            "issued": formats.date_format(issued_on, "SHORT_DATE_FORMAT"),
        },
    )
