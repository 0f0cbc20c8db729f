"""Suppliers' business rules: the only code that writes supplier rows (identity, establishments, documents)."""

import hashlib
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.selectors import members_with_role
from notifications.services import notify
from suppliers import documents, identity, sanctions, selectors, uploads
from suppliers.models import (
    Establishment,
    SanctionsEntry,
    SanctionsList,
    SanctionsScreening,
    Supplier,
    SupplierDocument,
)


class SupplierAlreadyExists(ValidationError):
    """The company (SIREN) already is a supplier of the organisation: another SIRET of it is an establishment."""

    def __init__(self, *, existing: Supplier, siret: str):
        self.existing, self.siret = existing, siret
        # False when the SIRET already is the supplier's main SIRET or one of its establishments.
        self.establishment_possible = False
        if siret == existing.siret:
            message = _("This SIRET is already the supplier “%(name)s”.")
        elif existing.establishments.filter(siret=siret).exists():
            message = _("This SIRET is already an establishment of the supplier “%(name)s”.")
        else:
            self.establishment_possible = True
            message = _(
                "This SIRET belongs to a company already recorded as the supplier “%(name)s” (SIREN %(siren)s): "
                "add it as an establishment from that supplier's page."
            )
        super().__init__(message, code="duplicate", params={"name": existing.name, "siren": existing.siren})


def _ensure_buyer_of(actor, supplier: Supplier) -> None:
    if not actor.is_buyer or actor.organisation_id != supplier.organisation_id:
        raise PermissionDenied


@transaction.atomic
def supplier_create(
    *,
    actor,
    name: str,
    country: str,
    siret: str = "",
    vat_number: str = "",
    registration_number: str = "",
    address: str = "",
    email: str = "",
    website: str = "",
    founded_on=None,
    activity_code: str = "",
) -> Supplier:
    """Create a supplier of the actor's organisation; identifiers are expected already validated by the form.

    One supplier per company: when another supplier of the organisation holds the SIREN (a concurrent
    creation that won the race included), SupplierAlreadyExists names it.
    """
    country = (country or "FR").upper()
    supplier = Supplier(
        organisation=actor.organisation,
        name=name.strip(),
        country=country,
        identifier_type=identity.decp_identifier_type(country),
        siret=siret,
        siren=identity.siren_of_siret(siret) if siret else "",
        vat_number=vat_number,
        registration_number=registration_number,
        address=address,
        email=email,
        website=website,
        founded_on=founded_on,
        activity_code=identity.clean_activity_code(activity_code),
        created_by=actor,
    )
    supplier._history_user = actor  # the history row names who created it, in a task or command too
    try:
        with transaction.atomic():
            supplier.save()
    except IntegrityError:
        # supplier_unique_siren_per_org (or _siret_): another request created the company first.
        existing = (
            Supplier.objects.for_organisation(actor.organisation_id).filter(siren=supplier.siren).first()
            if supplier.siren
            else None
        )
        if existing is None:
            raise
        raise SupplierAlreadyExists(existing=existing, siret=siret) from None
    return supplier


# What a buyer may correct after creation; SIRET, SIREN and registration number stay as created.
EDITABLE_FIELDS = ("name", "vat_number", "address", "email", "website", "founded_on", "activity_code")


@transaction.atomic
def supplier_update(*, supplier: Supplier, actor, now: datetime | None = None, **fields) -> Supplier:
    """Change the editable fields given; the history row (django-simple-history) records the actor.

    A new name is screened at once against the sanctions lists (when any was imported): a renamed company must
    not keep the clear result of its former name.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"supplier_update() cannot change {', '.join(sorted(unknown))}")
    supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
    _ensure_buyer_of(actor, supplier)
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise ValidationError(_("The company name cannot be empty."), code="required")
    if "activity_code" in fields:
        fields["activity_code"] = identity.clean_activity_code(fields["activity_code"])
    if "vat_number" in fields:
        fields["vat_number"] = identity.clean_supplier_vat(
            fields["vat_number"], country=supplier.country, siret=supplier.siret
        )
        if not fields["vat_number"] and supplier.identifier_type == Supplier.IdentifierType.TVA:
            raise ValidationError(_("A company of the EU must have a VAT number."), code="required")
    for text_field in ("address", "email", "website"):
        if text_field in fields and fields[text_field] is None:
            fields[text_field] = ""
    changed = [name for name, value in fields.items() if getattr(supplier, name) != value]
    if not changed:
        return supplier
    for name in changed:
        setattr(supplier, name, fields[name])
    supplier._history_user = actor
    supplier.save(update_fields=changed)
    if "name" in changed:
        supplier_screen(supplier=supplier, actor=actor, now=now)
    return supplier


@transaction.atomic
def establishment_add(*, supplier: Supplier, actor, siret: str, label: str = "", address: str = "") -> Establishment:
    """Record another SIRET of the supplier's company (same SIREN), once."""
    siret = identity.clean_siret(siret)
    # Locked: two buyers adding the same SIRET get one row and one clear refusal.
    supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
    _ensure_buyer_of(actor, supplier)
    params = {"name": supplier.name, "siren": identity.siren_of_siret(siret), "supplier_siren": supplier.siren}
    if not supplier.siren:
        raise ValidationError(
            _("Only a French supplier, known by its SIREN, has establishments."), code="no_siren", params=params
        )
    if params["siren"] != supplier.siren:
        raise ValidationError(
            _("This SIRET belongs to the company with SIREN %(siren)s, not to “%(name)s” (SIREN %(supplier_siren)s)."),
            code="other_siren",
            params=params,
        )
    if siret == supplier.siret:
        raise ValidationError(_("This SIRET is already the main SIRET of “%(name)s”."), code="main", params=params)
    if supplier.establishments.filter(siret=siret).exists():
        raise ValidationError(
            _("This establishment of “%(name)s” is already recorded."), code="duplicate", params=params
        )
    return Establishment.objects.create(
        supplier=supplier, siret=siret, label=label.strip(), address=address.strip(), created_by=actor
    )


@transaction.atomic
def document_mark_verified(*, document: SupplierDocument, actor, verified_on) -> SupplierDocument:
    """Record that the document was checked with its issuer (e.g. URSSAF's online check) on `verified_on`."""
    document = SupplierDocument.objects.select_for_update().select_related("supplier").get(pk=document.pk)
    _ensure_buyer_of(actor, document.supplier)
    if document.verified_with_issuer:
        raise ValidationError(_("This document was already marked as verified with its issuer."), code="verified")
    if verified_on < document.issued_on:
        raise ValidationError(_("The verification date cannot be before the issue date."), code="order")
    document.verified_with_issuer = True
    document.verified_on = verified_on
    document.verified_by = actor
    document.save(update_fields=["verified_with_issuer", "verified_on", "verified_by"])
    return document


@transaction.atomic
def document_claim_expiry_reminder(*, document: SupplierDocument, now: datetime) -> bool:
    """Record that the purchasing team is being reminded that the document expires soon; False when a reminder
    was already recorded. A conditional UPDATE, so two runs, even concurrent, claim each document once: the caller
    notifies only when it gets True, in the same transaction."""
    claimed = SupplierDocument.objects.filter(pk=document.pk, expiry_reminded_at__isnull=True).update(
        expiry_reminded_at=now
    )
    return claimed == 1


@transaction.atomic
def supplier_document_add(
    *,
    supplier: Supplier,
    actor,
    kind: str,
    issued_on,
    uploaded,
    expires_on=None,
    verified_with_issuer: bool = False,
    verified_on=None,
) -> SupplierDocument:
    """Store a document of the supplier. Without an expiry date, the computed one (SupplierDocument.computed_expiry)
    is used; a date after it is refused, an earlier one kept. Uploaded as verified, the uploader is the verifier."""
    error = documents.expiry_error(kind=kind, issued_on=issued_on, expires_on=expires_on)
    if error is not None:
        raise error
    mime = uploads.validate_upload(uploaded)
    digest = uploads.sha256_of(uploaded)
    document = SupplierDocument(
        supplier=supplier,
        kind=kind,
        issued_on=issued_on,
        expires_on=expires_on or SupplierDocument.computed_expiry(kind, issued_on),
        original_name=uploaded.name[-200:],
        content_type=mime,
        size=uploaded.size,
        sha256=digest,
        verified_with_issuer=verified_with_issuer,
        verified_on=verified_on or (timezone.localdate() if verified_with_issuer else None),
        verified_by=actor if verified_with_issuer else None,
        uploaded_by=actor,
    )
    document.file.save(uploads.private_name(mime), uploaded, save=False)
    document.save()
    return document


# =====================================================================================================
# Sanctions screening (DOMAIN.md §3): import an asset-freeze list, screen a supplier against the latest
# version of each list, and a jurist's review of a possible match. Every screening is kept, clear or not.
# =====================================================================================================


@transaction.atomic
def sanctions_import(
    *, data: bytes, original_name: str = "", actor=None, now: datetime | None = None, source: str | None = None
) -> SanctionsList:
    """Import one version of an asset-freeze list: the French register's JSON export or the EU consolidated XML.

    Idempotent: the same file of the same source returns the list already imported. The returned list carries
    `newly_imported` (False when the file had been imported before). A malformed file raises ValidationError.
    """
    found = sanctions.detect_format(data)
    sanctions.ensure_source(found, source)
    digest = hashlib.sha256(data).hexdigest()
    existing = SanctionsList.objects.filter(source=found, sha256=digest).first()
    if existing is None:
        parsed = sanctions.parse(data, source=found)
        _ensure_not_older(parsed, selectors.latest_list_of_source(found))
        try:
            with transaction.atomic():
                sanctions_list = SanctionsList.objects.create(
                    source=parsed.source,
                    version=parsed.version or digest[:12],
                    published_at=parsed.published_at,
                    imported_at=now or timezone.now(),
                    imported_by=actor,
                    original_name=(original_name or "")[-200:],
                    sha256=digest,
                    entry_count=len(parsed.entries),
                )
        except IntegrityError:  # the same file imported concurrently: keep the first
            existing = SanctionsList.objects.get(source=found, sha256=digest)
        else:
            SanctionsEntry.objects.bulk_create(
                (
                    SanctionsEntry(
                        sanctions_list=sanctions_list,
                        reference=entry.reference,
                        kind=entry.kind,
                        names=entry.names,
                        keys=[sanctions.normalise(name) for name in entry.names],
                        programme=entry.programme,
                        details=entry.details,
                    )
                    for entry in parsed.entries
                ),
                batch_size=2000,
            )
            sanctions_list.newly_imported = True
            return sanctions_list
    existing.newly_imported = False
    return existing


def _ensure_not_older(parsed: sanctions.ParsedList, current: SanctionsList | None) -> None:
    """ValidationError when the file was published before the list version in use for its source: the latest
    published version is the one screenings use (selectors.latest_lists), so an older file would be stored for
    nothing, or be taken for the current list."""
    if current is None or current.published_at is None:
        return
    params = {"current": formats.date_format(timezone.localtime(current.published_at), "SHORT_DATETIME_FORMAT")}
    if parsed.published_at is None:
        raise ValidationError(
            _(
                "This file gives no publication date, so it cannot be shown to be more recent than the list in use "
                "(published on %(current)s)."
            ),
            code="undated",
            params=params,
        )
    if parsed.published_at < current.published_at:
        params["published"] = formats.date_format(timezone.localtime(parsed.published_at), "SHORT_DATETIME_FORMAT")
        raise ValidationError(
            _(
                "This file was published on %(published)s, before the list in use (published on %(current)s): "
                "import the latest publication."
            ),
            code="older",
            params=params,
        )


def _matched_entries(matches: list[dict]) -> frozenset:
    return frozenset(match["entry"] for match in matches)


def _review_to_carry_over(*, supplier: Supplier, sanctions_list: SanctionsList, names: list[str], matches: list[dict]):
    """The jurist's last review of this supplier against the same list version, if it settled exactly these
    matches for exactly these names; a different match set (or a renamed supplier) needs a new review."""
    previous = (
        SanctionsScreening.objects.filter(
            supplier=supplier,
            sanctions_list=sanctions_list,
            review__in=[SanctionsScreening.Review.CLEARED, SanctionsScreening.Review.CONFIRMED],
        )
        .order_by("-screened_at", "-pk")
        .first()
    )
    if previous is None or previous.names_screened != names:
        return None
    if _matched_entries(previous.matches) != _matched_entries(matches):
        return None
    return previous


def _lock_pending(*, supplier: Supplier, sanctions_list: SanctionsList) -> list[SanctionsScreening]:
    """The supplier's screenings against any version of this list that still await a jurist, locked: a review
    being recorded meanwhile is waited for, then seen as a review (and carried over), not superseded."""
    return list(
        SanctionsScreening.objects.select_for_update()
        .filter(
            supplier=supplier,
            sanctions_list_id__in=SanctionsList.objects.filter(source=sanctions_list.source).values("pk"),
            review=SanctionsScreening.Review.PENDING,
        )
        .order_by("pk")
    )


def _already_awaiting(pending: list[SanctionsScreening], *, sanctions_list: SanctionsList, names, matches) -> bool:
    """A screening awaiting a jurist already holds these matches for these names against this list version: the
    jurists were told of them then."""
    return any(
        screening.sanctions_list_id == sanctions_list.pk
        and screening.names_screened == names
        and _matched_entries(screening.matches) == _matched_entries(matches)
        for screening in pending
    )


def _screen_against(*, supplier: Supplier, sanctions_list: SanctionsList, actor, now: datetime) -> SanctionsScreening:
    names = selectors.names_to_screen(supplier)
    matcher = sanctions.matcher_for(sanctions_list)
    matches, seen = [], set()
    for name in names:
        for match in matcher.search(name):
            if match.entry not in seen:
                seen.add(match.entry)
                matches.append(
                    {
                        "entry": match.entry,
                        "reference": match.reference,
                        "name": match.name,
                        "screened": name,
                        "score": match.score,
                    }
                )
    pending = _lock_pending(supplier=supplier, sanctions_list=sanctions_list)
    screening = SanctionsScreening(
        supplier=supplier,
        sanctions_list=sanctions_list,
        screened_at=now,
        screened_by=actor,
        names_screened=names,
        result=SanctionsScreening.Result.POSSIBLE_MATCH if matches else SanctionsScreening.Result.CLEAR,
        matches=matches,
        review=SanctionsScreening.Review.PENDING if matches else SanctionsScreening.Review.NONE,
    )
    previous = _review_to_carry_over(supplier=supplier, sanctions_list=sanctions_list, names=names, matches=matches)
    if matches and previous is not None:
        # A cleared false positive need not be cleared again every week while the list and the matches stay the
        # same. A carried-over review is dated before its screening; its reason already says it was carried.
        carried = previous.reviewed_at < previous.screened_at
        screening.review = previous.review
        screening.reviewed_by_id = previous.reviewed_by_id
        screening.reviewed_at = previous.reviewed_at
        screening.review_reason = (
            previous.review_reason
            if carried
            else gettext("Review of %(date)s carried over (same list version, same matches): %(reason)s")
            % {
                "date": formats.date_format(timezone.localtime(previous.reviewed_at), "SHORT_DATE_FORMAT"),
                "reason": previous.review_reason,
            }
        )
    screening.save()
    if pending:
        # Only the latest screening against a list is reviewed: the weekly re-runs of a match nobody reviewed yet
        # do not pile up as so many reviews to do.
        SanctionsScreening.objects.filter(pk__in=[older.pk for older in pending]).update(
            review=SanctionsScreening.Review.SUPERSEDED
        )
    already_told = _already_awaiting(pending, sanctions_list=sanctions_list, names=names, matches=matches)
    if screening.review == SanctionsScreening.Review.PENDING and not already_told:
        notify(
            recipients=members_with_role(supplier.organisation_id, roles.JURIST),
            verb="sanctions_match",
            text=gettext("Possible sanctions match for %(supplier)s (%(list)s): %(names)s. A jurist must review it.")
            % {
                "supplier": supplier.name,
                "list": sanctions_list.get_source_display(),
                "names": ", ".join(match["name"] for match in matches),
            },
            url=supplier.get_absolute_url(),
            now=now,
        )
    return screening


@transaction.atomic
def supplier_screen(*, supplier: Supplier, actor=None, now: datetime | None = None) -> list[SanctionsScreening]:
    """Screen the supplier against the latest version of each imported list: one new screening per list,
    kept whatever its result. [] when no list was imported.

    A possible match awaits a jurist, who is notified unless the previous screening against the same list version,
    still awaiting, found the same matches. Earlier screenings still awaiting a jurist are then superseded: only
    the latest one is reviewed."""
    now = now or timezone.now()
    return [
        _screen_against(supplier=supplier, sanctions_list=sanctions_list, actor=actor, now=now)
        for sanctions_list in selectors.latest_lists()
    ]


@transaction.atomic
def supplier_screen_if_stale(
    *, supplier: Supplier, actor=None, now: datetime | None = None
) -> list[SanctionsScreening]:
    """The supplier's current screenings (one per list), re-running those that are missing, older than
    SANCTIONS_SCREENING_MAX_AGE_DAYS, made for a former name of the supplier, or made against a list version that
    is no longer the latest."""
    now = now or timezone.now()
    current = {screening.sanctions_list_id: screening for screening in selectors.current_screenings(supplier)}
    result = []
    for sanctions_list in selectors.latest_lists():
        screening = current.get(sanctions_list.pk)
        if selectors.screening_is_stale(screening, supplier=supplier, now=now):
            screening = _screen_against(supplier=supplier, sanctions_list=sanctions_list, actor=actor, now=now)
        result.append(screening)
    return result


@transaction.atomic
def screening_review(
    *, screening: SanctionsScreening, actor, review: str, reason: str, now: datetime | None = None
) -> SanctionsScreening:
    """A jurist of the supplier's organisation clears (not the listed party) or confirms a possible match,
    with a reason. Only once: a reviewed screening is never reviewed again (the next screening may be)."""
    screening = SanctionsScreening.objects.select_for_update().get(pk=screening.pk)
    organisation_id = Supplier.objects.values_list("organisation_id", flat=True).get(pk=screening.supplier_id)
    if not actor.is_jurist or actor.organisation_id != organisation_id:
        raise PermissionDenied
    if screening.review == SanctionsScreening.Review.NONE:
        raise ValidationError(_("This screening found no match: there is nothing to review."), code="nothing_to_review")
    if screening.review == SanctionsScreening.Review.SUPERSEDED:
        raise ValidationError(
            _("A more recent screening of this supplier replaced this one: review that one."), code="superseded"
        )
    if screening.review != SanctionsScreening.Review.PENDING:
        raise ValidationError(_("This screening was already reviewed."), code="already_reviewed")
    if review not in (SanctionsScreening.Review.CLEARED, SanctionsScreening.Review.CONFIRMED):
        raise ValidationError({"review": _("Choose whether the match is cleared or confirmed.")}, code="invalid")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": _("Give the reason for your review (what you checked and what you found).")},
            code="required",
        )
    screening.review = review
    screening.reviewed_by = actor
    screening.reviewed_at = now or timezone.now()
    screening.review_reason = reason
    screening.save(update_fields=["review", "reviewed_by", "reviewed_at", "review_reason"])
    return screening
