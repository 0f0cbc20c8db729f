"""The execution page of a contract, its actions (one table, one service each) and the allocation export."""

import csv
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from accounts.decorators import member_required
from accounts.network import client_ip
from execution import forms as execution_forms
from execution import selectors, services, workflow
from procurement.exports import neutralise
from procurement.workflow import CONFLICT_MESSAGE, Conflict, TransitionBlocked

CONFLICTS = (TransitionNotAllowed, ConcurrentTransition, Conflict)


@dataclass(frozen=True)
class Action:
    form: type[forms.Form]
    run: Callable  # (contract, actor, ip, cleaned_data) -> object
    success: str
    role: str  # "buyer": a buyer of the case; "jurist": a jurist of the organisation


def _plain(service):
    """The form names the contract's object the service acts on (a lot, a shipment, a reception…)."""

    def run(contract, actor, ip, data):
        return service(actor=actor, ip=ip, **data)

    return run


def _on_contract(service):
    def run(contract, actor, ip, data):
        return service(contract=contract, actor=actor, ip=ip, **data)

    return run


ACTIONS: dict[str, Action] = {
    "lot": Action(execution_forms.LotForm, _on_contract(services.lot_add), _("The lot is scheduled."), "buyer"),
    "shipment": Action(
        execution_forms.ShipmentForm, _plain(services.shipment_add), _("The shipment is recorded."), "buyer"
    ),
    "milestone": Action(
        execution_forms.MilestoneForm,
        _plain(services.milestone_record),
        _("The milestone is recorded; the purchasing team is told."),
        "buyer",
    ),
    "incident": Action(
        execution_forms.IncidentForm,
        _plain(services.incident_record),
        _("The incident is recorded; the team (and for a diversion or requisition, the director) is told."),
        "buyer",
    ),
    "reception": Action(
        execution_forms.ReceptionForm, _plain(services.reception_record), _("The reception is recorded."), "buyer"
    ),
    "inspection": Action(
        execution_forms.InspectionForm,
        lambda contract, actor, ip, data: services.inspection_record(actor=actor, ip=ip, **data),
        _("The sample inspection is recorded."),
        "buyer",
    ),
    "decision": Action(
        execution_forms.DecisionForm, _plain(services.reception_decide), _("The decision is recorded."), "buyer"
    ),
    "waiver": Action(execution_forms.WaiverForm, _plain(services.penalty_waive), _("The penalty is waived."), "jurist"),
    "advance": Action(
        execution_forms.AdvanceForm, _on_contract(services.advance_record), _("The advance is recorded."), "buyer"
    ),
    "invoice": Action(
        execution_forms.InvoiceForm, _on_contract(services.invoice_record), _("The invoice is recorded."), "buyer"
    ),
    "payment": Action(
        execution_forms.PaymentForm, _plain(services.payment_record), _("The payment is recorded."), "buyer"
    ),
    "payment_exception": Action(
        execution_forms.PaymentExceptionForm,
        _on_contract(services.payment_exception_record),
        _("The exception is recorded: the payment may cover more than the admitted quantity."),
        "jurist",
    ),
    "allocation": Action(
        execution_forms.AllocationForm,
        _on_contract(services.allocation_record),
        _("The allocation is recorded."),
        "buyer",
    ),
}


def _cleaned(form) -> dict:
    if hasattr(form, "service_kwargs"):
        return form.service_kwargs()
    return dict(form.cleaned_data)


def _context(request, contract, bound: dict | None = None) -> dict:
    bound = bound or {}
    user = request.user
    roles = {"buyer": workflow.may_run(contract, user), "jurist": workflow.may_judge(contract, user)}
    lots = list(selectors.lots_of(contract))
    actions = {}
    for name, spec in ACTIONS.items():
        if roles[spec.role]:
            form = bound.get(name) or spec.form(contract=contract, prefix=name)
            actions[name] = {
                "form": form,
                "url": reverse("execution:action", args=[contract.pk, name]),
                "label": ACTION_LABELS[name],
            }
    today = timezone.localdate()
    return {
        "contract": contract,
        "case": contract.case,
        "figures": selectors.contract_figures(contract),
        "lots": [_lot_row(lot) for lot in lots],
        "penalties": [(lot, lot.penalty) for lot in lots if hasattr(lot, "penalty")],
        "advance": getattr(contract, "advance", None),
        "invoices": list(selectors.invoices_of(contract)),
        "exceptions": list(contract.payment_exceptions.select_related("recorded_by")),
        "allocations": list(contract.allocations.select_related("recorded_by")),
        "vigilance": services.vigilance_state(contract, today),
        "executable": contract.status in workflow.EXECUTABLE,
        "actions": actions,
    }


def _lot_row(lot) -> dict:
    """A lot and its shipments, with the one-to-one rows resolved (None when absent) for the template."""
    shipments = []
    for shipment in lot.shipments.all():
        reception = getattr(shipment, "reception", None)
        shipments.append(
            {
                "shipment": shipment,
                "milestones": list(shipment.milestones.all()),
                "incidents": list(shipment.incidents.all()),
                "reception": reception,
                "inspections": list(reception.inspections.all()) if reception else [],
            }
        )
    return {"lot": lot, "shipments": shipments}


ACTION_LABELS = {
    "lot": _("Schedule a lot"),
    "shipment": _("Record a shipment"),
    "milestone": _("Record a milestone"),
    "incident": _("Record an incident"),
    "reception": _("Record a reception"),
    "inspection": _("Record a sample inspection"),
    "decision": _("Decide on a reception"),
    "waiver": _("Waive a penalty"),
    "advance": _("Record the advance"),
    "invoice": _("Record an invoice"),
    "payment": _("Record a payment"),
    "payment_exception": _("Allow a payment beyond the admitted quantity"),
    "allocation": _("Allocate admitted goods"),
}


@member_required
def contract_execution(request, pk):
    contract = get_object_or_404(selectors.executable_contracts_for(user=request.user), pk=pk)
    return render(request, "execution/contract.html", _context(request, contract))


@member_required
@require_POST
def execution_action(request, pk, action):
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    contract = get_object_or_404(selectors.executable_contracts_for(user=request.user), pk=pk)
    # The role is checked before the form: a user who may not act gets 403 whatever was posted.
    (workflow.ensure_buyer if spec.role == "buyer" else workflow.ensure_jurist)(contract, request.user)
    form = spec.form(request.POST, contract=contract, prefix=action)
    if not form.is_valid():
        messages.error(request, _("Please correct the errors below."))
        return render(request, "execution/contract.html", _context(request, contract, {action: form}), status=422)
    try:
        spec.run(contract, request.user, client_ip(request), _cleaned(form))
    except (TransitionBlocked, ValidationError) as error:
        for message in getattr(error, "reasons", None) or error.messages:
            messages.error(request, message)
    except CONFLICTS:
        messages.warning(request, CONFLICT_MESSAGE)
    else:
        messages.success(request, spec.success)
    return redirect("execution:contract", pk=contract.pk)


@member_required
def allocation_export(request, pk):
    """The allocations of a contract for the logistics team (CSV for French Excel, cells neutralised)."""
    contract = get_object_or_404(selectors.executable_contracts_for(user=request.user), pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="repartition-{contract.reference}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response, delimiter=";")
    writer.writerow(
        [
            gettext("Contract"),
            gettext("Supplier"),
            gettext("Product"),
            gettext("Beneficiaries"),
            gettext("Detail"),
            gettext("Quantity"),
            gettext("Allocated on"),
            gettext("Recorded by"),
        ]
    )
    for allocation in contract.allocations.select_related("recorded_by"):
        writer.writerow(
            neutralise(value)
            for value in (
                contract.reference,
                contract.offer.supplier.name,
                contract.offer.product_description,
                str(allocation.get_beneficiary_display()),
                allocation.detail,
                allocation.quantity,
                allocation.allocated_on.strftime("%d/%m/%Y"),
                str(allocation.recorded_by),
            )
        )
    return response
