from datetime import date, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Prefetch, Q, Subquery
from django.utils import formats, timezone
from django.utils.text import capfirst

from suppliers.models import SanctionsEntry, SanctionsList, SanctionsScreening, Supplier, SupplierDocument


def suppliers_for(*, user):
    if not user.is_authenticated or user.organisation_id is None:
        return Supplier.objects.none()
    return Supplier.objects.for_organisation(user.organisation_id)


def documents_for(*, user):
    return SupplierDocument.objects.filter(supplier__in=suppliers_for(user=user)).select_related("supplier")


def documents_expiring_unreminded(*, today: date):
    """Documents, of every organisation, still valid today but expiring within DOCUMENT_REMINDER_DAYS, whose
    purchasing team was not reminded yet, soonest first.

    A document is expired on its expiry date (SupplierDocument.is_valid_on), so one expiring today is no longer
    "expiring". Documents renewed by a later one of the same kind that expires later (or never) are left out.
    """
    horizon = today + timedelta(days=settings.DOCUMENT_REMINDER_DAYS)
    renewal = SupplierDocument.objects.filter(
        Q(expires_on__isnull=True) | Q(expires_on__gt=OuterRef("expires_on")),
        supplier_id=OuterRef("supplier_id"),
        kind=OuterRef("kind"),
        issued_on__gte=OuterRef("issued_on"),
    ).exclude(pk=OuterRef("pk"))
    return (
        SupplierDocument.objects.filter(expires_on__gt=today, expires_on__lte=horizon, expiry_reminded_at__isnull=True)
        .exclude(Exists(renewal))
        .select_related("supplier")
        .order_by("expires_on", "pk")
    )


def supplier_detail_queryset(*, user):
    """A supplier with its documents, offers (and the contracts they won) and vetting decisions, joined once."""
    return suppliers_for(user=user).prefetch_related(
        Prefetch("documents", queryset=SupplierDocument.objects.select_related("verified_by")),
        "establishments",
        "offers__case",
        "offers__need_line",
        "offers__contracts",
        "vetting_decisions__case",
        "vetting_decisions__decided_by",
    )


# Bookkeeping columns the history partial does not show.
HISTORY_EXCLUDED_FIELDS = ("id", "organisation", "created_at", "created_by")


def _history_value(field, value) -> str:
    if value is None or value == "":
        return ""
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


def supplier_history(*, supplier: Supplier) -> list[dict]:
    """The changes made to the supplier since its creation, newest first, as plain rows:
    {"date", "user", "changes": [{"field", "old", "new"}]} (field: verbose name; values as displayed)."""
    records = list(supplier.history.select_related("history_user").order_by("history_date", "history_id"))
    rows = []
    for old_record, new_record in zip(records, records[1:], strict=False):
        delta = new_record.diff_against(old_record, excluded_fields=HISTORY_EXCLUDED_FIELDS)
        changes = []
        for change in delta.changes:
            field = Supplier._meta.get_field(change.field)
            changes.append(
                {
                    "field": capfirst(field.verbose_name),
                    "old": _history_value(field, change.old),
                    "new": _history_value(field, change.new),
                }
            )
        if changes:
            user = new_record.history_user
            rows.append({"date": new_record.history_date, "user": str(user) if user else "", "changes": changes})
    rows.reverse()
    return rows


# --- sanctions screening ------------------------------------------------------------------------------
# The latest version of a list is the latest *published* one (a file without a publication date comes after
# every dated one), then the latest imported; services.sanctions_import refuses a file older than it.
LATEST_LIST_ORDER = (F("published_at").desc(nulls_last=True), F("imported_at").desc(), F("pk").desc())


def latest_list_of_source(source: str) -> SanctionsList | None:
    """The list version in use for a source, None before its first import."""
    return SanctionsList.objects.filter(source=source).order_by(*LATEST_LIST_ORDER).first()


def _latest_list_of_source(source_ref):
    return SanctionsList.objects.filter(source=source_ref).order_by(*LATEST_LIST_ORDER).values("pk")[:1]


def _source_rank(source: str) -> int:
    """Sources in the order of SanctionsList.Source: the French national register first."""
    return SanctionsList.Source.values.index(source) if source in SanctionsList.Source.values else len(source)


def latest_lists() -> list[SanctionsList]:
    """The latest published version of each asset-freeze list (at most one per source), in source order."""
    latest = SanctionsList.objects.filter(pk=Subquery(_latest_list_of_source(OuterRef("source"))))
    return sorted(latest, key=lambda sanctions_list: _source_rank(sanctions_list.source))


def current_screenings(supplier: Supplier) -> list[SanctionsScreening]:
    """The supplier's latest screening against the latest version of each list (none for a list it was never
    screened against), in source order."""
    return current_screenings_by_supplier([supplier.pk]).get(supplier.pk, [])


def screening_history(supplier: Supplier):
    """Every screening of the supplier, clear ones included, newest first."""
    return supplier.screenings.select_related("sanctions_list", "screened_by", "reviewed_by").order_by(
        "-screened_at", "-pk"
    )


def screenings_for(*, user):
    """Screenings of the suppliers the user may see (its organisation's)."""
    return SanctionsScreening.objects.filter(supplier__in=suppliers_for(user=user)).select_related(
        "supplier", "sanctions_list", "reviewed_by"
    )


def screening_matches(screening: SanctionsScreening) -> list[dict]:
    """The screening's matches, each with the listed entry (kind, every name, regime, details) for the jurist to
    compare with the supplier: [{"match": {...}, "entry": SanctionsEntry or None}]."""
    entries = SanctionsEntry.objects.in_bulk([match["entry"] for match in screening.matches])
    return [{"match": match, "entry": entries.get(match["entry"])} for match in screening.matches]


def names_to_screen(supplier: Supplier) -> list[str]:
    """The names a screening of the supplier checks: its legal name, which is what the lists know (its
    establishments share it)."""
    return [supplier.name]


def screening_is_stale(screening: SanctionsScreening | None, *, supplier: Supplier, now) -> bool:
    """A current screening must be run again when missing, older than SANCTIONS_SCREENING_MAX_AGE_DAYS, or made
    for names the supplier no longer has (it was renamed)."""
    if screening is None:
        return True
    if now - screening.screened_at > timedelta(days=settings.SANCTIONS_SCREENING_MAX_AGE_DAYS):
        return True
    return screening.names_screened != names_to_screen(supplier)


def screening_panel(*, supplier: Supplier, now=None) -> dict:
    """What the supplier page shows of sanctions screening, in two queries: the latest list of each source
    with the supplier's current screening against it (None if never screened against that version) and
    whether it must be run again (`screening_is_stale`), then every screening."""
    now = now or timezone.now()
    history = list(screening_history(supplier))
    current = []
    for sanctions_list in latest_lists():
        screening = next((s for s in history if s.sanctions_list_id == sanctions_list.pk), None)
        current.append(
            {
                "list": sanctions_list,
                "screening": screening,
                "stale": screening_is_stale(screening, supplier=supplier, now=now),
            }
        )
    return {"current": current, "history": history, "lists_imported": bool(current)}


def current_screenings_by_supplier(supplier_ids) -> dict[int, list[SanctionsScreening]]:
    """For each supplier, its latest screening against the latest version of each list, in source order (one
    query for a whole case: what `current_screenings` gives for one supplier)."""
    rows = (
        SanctionsScreening.objects.filter(
            supplier_id__in=set(supplier_ids),
            sanctions_list_id=Subquery(_latest_list_of_source(OuterRef("sanctions_list__source"))),
        )
        .select_related("sanctions_list", "screened_by", "reviewed_by")
        .order_by("supplier_id", "sanctions_list_id", "-screened_at", "-pk")
    )
    current: dict[int, list[SanctionsScreening]] = {}
    seen = set()
    rows = sorted(rows, key=lambda screening: _source_rank(screening.sanctions_list.source))
    for screening in rows:
        key = (screening.supplier_id, screening.sanctions_list_id)
        if key not in seen:
            seen.add(key)
            current.setdefault(screening.supplier_id, []).append(screening)
    return current
