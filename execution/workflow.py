"""Who may act on a contract's execution (DESIGN.md §4), and when.

Choices (DOMAIN.md §5 names no other role): the buyers of the case run the execution — lots, shipments,
receptions and their decisions, the advance, invoices, payments (recorded as ordered to the public accountant)
and allocations; jurists take the legal acts — waiving a penalty, allowing a payment beyond the admitted
quantity. Everyone of the organisation reads."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext
from django_fsm import TransitionNotAllowed

from contracts.workflow import contract_buyer, jurist

# A contract is executed once signed (notification to the supplier may come later).
EXECUTABLE = ("signed", "notified")


def ensure_buyer(contract, user) -> None:
    if not contract_buyer(contract, user):
        raise PermissionDenied(gettext("Only a buyer of this case may do this."))


def ensure_jurist(contract, user) -> None:
    if not jurist(contract, user):
        raise PermissionDenied(gettext("Only a jurist may do this."))


def ensure_executable(contract) -> None:
    if contract.status not in EXECUTABLE:
        raise TransitionNotAllowed(gettext("Only a signed contract is executed."))


def may_run(contract, user) -> bool:
    return contract.status in EXECUTABLE and contract_buyer(contract, user)


def may_judge(contract, user) -> bool:
    return contract.status in EXECUTABLE and jurist(contract, user)
