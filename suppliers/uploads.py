"""Uploaded evidence: PDF, PNG or JPEG only (sniffed from the content, not the name), size-limited."""

import hashlib
import uuid

import magic
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

ALLOWED_TYPES = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def validate_upload(uploaded) -> str:
    """Return the sniffed MIME type, or raise a French ValidationError; nothing is stored here."""
    if uploaded is None:
        raise ValidationError(_("Choose a file."), code="missing")
    if uploaded.size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    if uploaded.size > settings.UPLOAD_MAX_BYTES:
        raise ValidationError(
            _("The file is too large (%(size)s); the limit is %(limit)s.")
            % {"size": filesizeformat(uploaded.size), "limit": filesizeformat(settings.UPLOAD_MAX_BYTES)},
            code="too_large",
        )
    head = uploaded.read(4096)
    uploaded.seek(0)
    mime = magic.from_buffer(head, mime=True)
    if mime not in ALLOWED_TYPES:
        raise ValidationError(
            _("Only PDF, PNG or JPEG files are accepted; this file's content is not one of them."), code="bad_type"
        )
    return mime


def sha256_of(uploaded) -> str:
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()


def private_name(mime: str) -> str:
    """A generated name (the field's upload_to adds the folder): the user's file name never reaches the disk."""
    return f"{uuid.uuid4().hex}.{ALLOWED_TYPES[mime]}"


def private_file_response(field_file, *, filename: str, content_type: str) -> FileResponse:
    """A stored evidence file as a download, never cached nor sniffed by the browser; 404 if it is gone."""
    if not field_file:
        raise Http404
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
