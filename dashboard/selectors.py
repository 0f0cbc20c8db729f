"""The director's figures, each computed in SQL with a constant number of queries whatever the number of rows."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from contracts.models import SIGNED_STATUSES, Contract, ContractStatus
from contracts.obligations import contract_obligations, threshold_table
from procurement.models import OPEN_STATUSES, CaseStatus, NeedLine, PurchaseCase

ZERO = Decimal("0")
# A contract commits the organisation once approved by the legal team.
COMMITTED_STATUSES = [ContractStatus.APPROVED, *SIGNED_STATUSES]


@dataclass(frozen=True)
class StageCount:
    status: str
    label: str
    count: int
    is_open: bool


@dataclass(frozen=True)
class OverdueCase:
    case: PurchaseCase
    deadline: datetime
    time_in_stage: timedelta
    late_by: timedelta


def cases_per_stage(*, organisation_id) -> tuple[list[StageCount], int]:
    """Every status in workflow order with its number of cases (zeros included), and the total. One query."""
    counts = PurchaseCase.objects.for_organisation(organisation_id).counts_by_status()
    rows = [
        StageCount(status=value, label=str(label), count=counts.get(value, 0), is_open=value in OPEN_STATUSES)
        for value, label in CaseStatus.choices
    ]
    return rows, sum(row.count for row in rows)


def overdue_cases(*, organisation_id, now=None, limit: int | None = None) -> tuple[list[OverdueCase], int]:
    """The cases past their stage target, longest in stage first (two queries: the page and the count)."""
    now = now or timezone.now()
    limit = limit or settings.DASHBOARD_LIST_SIZE
    qs = PurchaseCase.objects.for_organisation(organisation_id).overdue(now)
    rows = []
    for case in qs.select_related("owner").order_by("stage_entered_at", "pk")[:limit]:
        deadline = case.stage_deadline()
        rows.append(
            OverdueCase(case=case, deadline=deadline, time_in_stage=now - case.stage_entered_at, late_by=now - deadline)
        )
    return rows, qs.count()


MONEY = DecimalField(max_digits=20, decimal_places=4)


def _sum(expression, condition: Q | None = None) -> Coalesce:
    return Coalesce(Sum(expression, filter=condition, output_field=MONEY), ZERO, output_field=MONEY)


def amounts(*, organisation_id) -> dict[str, Decimal | int]:
    """Amounts excl. VAT, summed in SQL (two aggregate queries).

    committed: contracts approved, signed or notified; signed: signed or notified;
    estimated: need lines of open cases (quantity × estimated unit price), with the lines lacking an estimate."""
    value = F("quantity") * F("unit_price")
    figures = Contract.objects.for_organisation(organisation_id).aggregate(
        committed=_sum(value, Q(status__in=COMMITTED_STATUSES)),
        signed=_sum(value, Q(status__in=SIGNED_STATUSES)),
        committed_count=Count("pk", filter=Q(status__in=COMMITTED_STATUSES)),
        signed_count=Count("pk", filter=Q(status__in=SIGNED_STATUSES)),
    )
    figures.update(
        NeedLine.objects.filter(case__organisation_id=organisation_id, case__status__in=OPEN_STATUSES).aggregate(
            estimated=_sum(F("quantity") * F("estimated_unit_price")),
            lines_without_estimate=Count("pk", filter=Q(estimated_unit_price__isnull=True)),
        )
    )
    return figures


@dataclass(frozen=True)
class PendingObligation:
    contract: Contract
    obligation: object
    state: str


def pending_obligations(*, organisation_id, today, limit: int | None = None) -> tuple[list[PendingObligation], int]:
    """Obligations of signed contracts not yet fulfilled, overdue first then by due date (three queries)."""
    contracts = (
        Contract.objects.for_organisation(organisation_id)
        .filter(signed_at__isnull=False)
        .exclude(status=ContractStatus.WITHDRAWN)
        .select_related("case", "offer__supplier")
        .prefetch_related("offer__supplier__documents")
    )
    amount_on = threshold_table()
    rows = [
        PendingObligation(contract, obligation, obligation.state(today))
        for contract in contracts
        for obligation in contract_obligations(contract, today, amount_on)
        if obligation.done_on is None
    ]
    rows.sort(key=lambda row: (row.state != "overdue", row.obligation.due))
    return rows[:limit] if limit else rows, len(rows)


def dashboard_for(*, user, now=None) -> dict:
    """Everything the dashboard shows, for the user's organisation (a constant number of queries)."""
    organisation_id = user.organisation_id
    stages, total = cases_per_stage(organisation_id=organisation_id)
    overdue, overdue_total = overdue_cases(organisation_id=organisation_id, now=now)
    return {
        "stages": stages,
        "cases_total": total,
        "overdue": overdue,
        "overdue_total": overdue_total,
        "amounts": amounts(organisation_id=organisation_id),
        "obligations": pending_obligations(
            organisation_id=organisation_id,
            today=timezone.localdate(now) if now else timezone.localdate(),
            limit=settings.DASHBOARD_LIST_SIZE,
        )[0],
    }
