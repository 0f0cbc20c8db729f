"""Contract pages, and the case steps that create or withdraw contracts. Thin: selector, form, one service."""

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_htmx.http import HttpResponseClientRefresh

from accounts.decorators import member_required
from accounts.network import client_ip
from contracts import audit, clauses, decp, obligations, selectors, services, workflow
from contracts.forms import (
    AmendForm,
    ApproveForm,
    AwardForm,
    AwardNoticeForm,
    CommentForm,
    DecpPeriodForm,
    DecpPublicationForm,
    ModifyForm,
    PrefectTransmissionForm,
    SignForm,
    SubmitForm,
)
from contracts.models import ContractDocument, ContractStatus
from procurement import selectors as case_selectors
from procurement.forms import add_service_errors, case_step_form
from procurement.models import CaseStatus
from procurement.views import render_case_page
from procurement.workflow import CONFLICT_MESSAGE, Conflict, TransitionBlocked, is_available, may

# Case and contract status codes do not overlap: one table labels both in the audit trail.
STATUS_LABELS = {**dict(CaseStatus.choices), **dict(ContractStatus.choices)}
CONFLICTS = (TransitionNotAllowed, ConcurrentTransition, Conflict)
# Form fields that only confirm an intent and are not passed to the service.
CONFIRMATION_FIELDS = {"confirm"}


@dataclass(frozen=True)
class Action:
    service: Callable
    form: type[forms.Form] | None
    success: str


ACTIONS: dict[str, Action] = {
    "submit_for_review": Action(
        services.contract_submit_for_review, SubmitForm, _("The contract was submitted to the legal team.")
    ),
    "request_changes": Action(
        services.contract_request_changes, CommentForm, _("The contract was returned to the buyers.")
    ),
    "approve": Action(services.contract_approve, ApproveForm, _("The contract is approved.")),
    "amend": Action(
        services.contract_amend,
        AmendForm,
        _("The terms were changed; a new version of the contract is being generated."),
    ),
    "sign": Action(services.contract_sign, SignForm, _("The contract is signed.")),
    "prefect": Action(
        services.contract_record_prefect_transmission,
        PrefectTransmissionForm,
        _("The transmission to the prefect is recorded."),
    ),
    "award_notice": Action(
        services.contract_record_award_notice, AwardNoticeForm, _("The publication of the award notice is recorded.")
    ),
    "decp_published": Action(
        services.contract_record_decp_publication,
        DecpPublicationForm,
        _("The publication of the essential data is recorded."),
    ),
    "notify_supplier": Action(
        services.contract_notify_supplier, None, _("The notification to the supplier is recorded.")
    ),
    "withdraw": Action(services.contract_withdraw, CommentForm, _("The contract was withdrawn.")),
    "modify": Action(
        services.contract_modify,
        ModifyForm,
        _("The modification is recorded; the essential data list it after the notified terms."),
    ),
}


def _report(request, error: Exception) -> None:
    """Turn a refused step into messages: never a 500 for a double or stale post."""
    if isinstance(error, TransitionBlocked):
        for reason in error.reasons:
            messages.error(request, reason)
    elif isinstance(error, ValidationError):
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.warning(request, CONFLICT_MESSAGE)


# --- contracts -------------------------------------------------------------------------------
def _list_context(request, decp_form: DecpPeriodForm | None = None) -> dict:
    status = request.GET.get("status", "")
    if status not in ContractStatus.values:
        status = ""
    page = Paginator(selectors.contract_list(user=request.user, status=status or None), 50).get_page(
        request.GET.get("page")
    )
    today = timezone.localdate()
    return {
        "page": page,
        "contracts": page.object_list,
        "status": status,
        "statuses": ContractStatus.choices,
        "decp_form": decp_form or DecpPeriodForm(initial={"du": date(today.year, 1, 1), "au": today}),
    }


@member_required
def contract_list(request):
    return render(request, "contracts/list.html", _list_context(request))


def _available_actions(contract, user) -> dict[str, dict]:
    """The steps this user may take on the contract now, each with the reasons it is still blocked."""
    document_blockers = workflow.GUARDS["submit_for_review"](contract)
    actions = {}
    for name in ("submit_for_review", "request_changes", "approve", "sign", "notify_supplier", "withdraw"):
        bound = getattr(contract, name)
        if is_available(bound) and may(bound, user):
            guard = workflow.GUARDS.get(name)
            # The approval form itself is the clause checklist: only the document can block it beforehand.
            blockers = document_blockers if name == "approve" else (guard(contract) if guard else [])
            actions[name] = {"blockers": list(blockers)}
    if "sign" in actions:
        _, reasons = workflow.delegation_blockers(contract, user, timezone.localdate())
        actions["sign"]["blockers"] += reasons
    is_buyer = workflow.contract_buyer(contract, user)
    if is_buyer and contract.status in (ContractStatus.DRAFT, ContractStatus.APPROVED):
        actions["amend"] = {"blockers": []}
    if contract.status == ContractStatus.NOTIFIED and (is_buyer or workflow.jurist(contract, user)):
        actions["modify"] = {"blockers": []}
    if is_buyer and contract.status == ContractStatus.SIGNED and contract.prefect_transmitted_on is None:
        actions["prefect"] = {"blockers": []}
    if is_buyer:
        pending = {o.code for o in obligations.contract_obligations(contract, timezone.localdate()) if not o.done_on}
        for code, name in (("award_notice", "award_notice"), ("decp", "decp_published")):
            if code in pending:
                actions[name] = {"blockers": []}
    return actions


def _detail_context(request, contract, bound: dict[str, forms.Form] | None = None) -> dict:
    bound = bound or {}
    document = contract.current_document
    actions = _available_actions(contract, request.user)
    initial_forms = {
        "submit_for_review": lambda: SubmitForm(
            prefix="submit_for_review", initial={"rendered_sha256": document.sha256 if document else ""}
        ),
        "modify": lambda: ModifyForm(
            prefix="modify",
            initial={
                "quantity": contract.quantity,
                "unit_price": contract.unit_price,
                "notified_on": timezone.localdate(),
                "terms_version": contract.terms_version,
            },
        ),
        "request_changes": lambda: CommentForm(prefix="request_changes"),
        "withdraw": lambda: CommentForm(prefix="withdraw"),
        "approve": lambda: ApproveForm(
            prefix="approve", initial={"rendered_sha256": document.sha256 if document else ""}
        ),
        "amend": lambda: AmendForm(
            prefix="amend",
            initial={
                "quantity": contract.quantity,
                "unit_price": contract.unit_price,
                "terms_version": contract.terms_version,
            },
        ),
        "sign": lambda: SignForm(prefix="sign"),
        "prefect": lambda: PrefectTransmissionForm(prefix="prefect"),
        "award_notice": lambda: AwardNoticeForm(prefix="award_notice"),
        "decp_published": lambda: DecpPublicationForm(prefix="decp_published"),
    }
    if "approve" in actions:
        actions["approve"]["clauses"] = clauses.clause_rows(contract, timezone.localdate())
    for name, action in actions.items():
        if name in bound:
            action["form"] = bound[name]
        elif name in initial_forms:
            action["form"] = initial_forms[name]()
    return {
        "contract": contract,
        "case": contract.case,
        "supplier": contract.offer.supplier,
        "terms": contract.offer.final_round or contract.offer.latest_round,
        "documents": list(contract.documents.all()),
        "document": document,
        "document_pending": document is not None and document.status == ContractDocument.Status.PENDING,
        "events": [
            (event, STATUS_LABELS.get(event.source, event.source), STATUS_LABELS.get(event.target, event.target))
            for event in contract.events.select_related("actor")
        ],
        "actions": actions,
        "decp_publishable": decp.is_publishable(contract),
        "modifications": list(contract.modifications.select_related("recorded_by")),
        "signed_document": selectors.signed_document(contract),
        "obligations": _obligation_rows(contract),
    }


def _obligation_rows(contract) -> list[dict]:
    today = timezone.localdate()
    return [
        {"obligation": obligation, "state": obligation.state(today)}
        for obligation in obligations.contract_obligations(contract, today)
    ]


@member_required
def contract_detail(request, pk):
    contract = get_object_or_404(selectors.contracts_for(user=request.user), pk=pk)
    context = _detail_context(request, contract)
    if request.htmx and request.GET.get("part") == "documents":
        # Polled while the PDF is being generated: once ready, reload the page so the forms carry its SHA-256.
        if not context["document_pending"]:
            # The refreshed page says so in its live region (a failed rendering shows in the table of versions).
            document = context["document"]
            if document is not None and document.status == ContractDocument.Status.RENDERED:
                messages.info(
                    request, _("Version %(version)s of the contract is ready.") % {"version": document.version}
                )
            return HttpResponseClientRefresh()
        return render(request, "contracts/detail.html#documents", context)
    return render(request, "contracts/detail.html", context)


@member_required
@require_POST
def contract_transition(request, pk, action):
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    contract = get_object_or_404(selectors.contracts_for(user=request.user), pk=pk)
    form, kwargs = None, {}
    if spec.form is not None:
        form = spec.form(request.POST, prefix=action)
        if not form.is_valid():
            messages.error(request, _("Please correct the errors below."))
            return _refused_page(request, contract, action, form)
        kwargs = {k: v for k, v in form.cleaned_data.items() if k not in CONFIRMATION_FIELDS}
    try:
        spec.service(contract=contract, actor=request.user, ip=client_ip(request), **kwargs)
    except (TransitionBlocked, ValidationError, *CONFLICTS) as error:
        if form is None:
            _report(request, error)
            return redirect(contract)
        # Refused: the page again, in its current state, with what the user typed (a comment, new terms, the
        # clauses ticked) rather than a redirect that loses it.
        current = get_object_or_404(selectors.contracts_for(user=request.user), pk=pk)
        if isinstance(error, ValidationError):
            messages.error(request, _("Please correct the errors below."))
            return _refused_page(request, current, action, form, error=error)
        _report(request, error)
        return _refused_page(request, current, action, form)
    messages.success(request, spec.success)
    return redirect(contract)


# Hidden fields that bind a step to what the page showed (the document's SHA-256, the terms' version).
PAGE_STATE_FIELDS = {
    "rendered_sha256": lambda contract: contract.current_document.sha256 if contract.current_document else "",
    "terms_version": lambda contract: contract.terms_version,
}


def _refused_page(request, contract, action: str, form: forms.Form, error: ValidationError | None = None):
    """The contract page (422) with the refused step's form bound to what the user typed, its errors next to the
    fields. The re-rendered page shows the contract as it is now, so the form carries the current document's
    fingerprint and terms version, never the posted ones: approving the page shown approves what it shows."""
    data = form.data.copy()
    for name in PAGE_STATE_FIELDS.keys() & form.fields.keys():
        data[form.add_prefix(name)] = str(PAGE_STATE_FIELDS[name](contract))
    rebound = type(form)(data, prefix=form.prefix)
    rebound.is_valid()
    if error is not None:
        add_service_errors(rebound, error)
    context = _detail_context(request, contract, {action: rebound})
    return render(request, "contracts/detail.html", context, status=422)


@member_required
def document_download(request, pk):
    document = get_object_or_404(
        selectors.documents_for(user=request.user), pk=pk, status=ContractDocument.Status.RENDERED
    )
    if not document.file:
        raise Http404
    # ?apercu=1 opens the PDF in the browser (the preview before submission); by default it is downloaded.
    return FileResponse(
        document.file.open("rb"),
        as_attachment=request.GET.get("apercu") != "1",
        filename=f"{document.contract.reference}-v{document.version}.pdf",
        content_type="application/pdf",
    )


@member_required
def signed_download(request, pk):
    """The signed PDF (PAdES) of a contract, once the worker has sealed it."""
    signed = get_object_or_404(selectors.signed_documents_for(user=request.user), pk=pk, status="signed")
    if not signed.file:
        raise Http404
    return FileResponse(
        signed.file.open("rb"),
        as_attachment=True,
        filename=f"{signed.contract.reference}-v{signed.source.version}-signe.pdf",
        content_type="application/pdf",
    )


def _json_attachment(document: dict, filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@member_required
def decp_export(request, pk):
    """The DECP of one contract (any member of the organisation); 404 when it is not published (see decp)."""
    contract = get_object_or_404(decp.with_related(selectors.contracts_for(user=request.user)), pk=pk)
    if not decp.is_publishable(contract):
        raise Http404
    return _json_attachment(decp.export([contract]), f"decp-{decp.marche_id(contract)}.json")


@member_required
def decp_export_period(request):
    """The DECP of the organisation's contracts notified in ?du=…&au=… (by default, this calendar year)."""
    if "du" in request.GET or "au" in request.GET:
        form = DecpPeriodForm(request.GET)
        if not form.is_valid():
            messages.error(request, _("The DECP export needs a valid period."))
            return render(request, "contracts/list.html", _list_context(request, form), status=422)
        start, end = form.cleaned_data["du"], form.cleaned_data["au"]
    else:
        end = timezone.localdate()
        start = date(end.year, 1, 1)
    contracts = decp.notified_between(selectors.contracts_for(user=request.user), start=start, end=end)
    return _json_attachment(decp.export(contracts), f"decp-{start.isoformat()}-{end.isoformat()}.json")


# --- case steps that create, withdraw or close contracts --------------------------------------
def _award_offers(case):
    """Offers that may be awarded: supplier approved for this case and product conform."""
    return [offer for offer in case.offers.all() if offer.is_vetted() and offer.is_conform()]


@member_required
def case_award(request, pk):
    case = get_object_or_404(case_selectors.case_detail_queryset(user=request.user), pk=pk)
    offers = _award_offers(case)
    allowed = may(case.award, request.user)
    if request.method == "POST" and not allowed:
        raise PermissionDenied
    available = allowed and is_available(case.award)
    form = AwardForm(request.POST or None, offers=offers)
    status = 200
    blockers = []
    if request.method == "POST" and available:
        if form.is_valid():
            try:
                services.case_award(
                    case=case,
                    actor=request.user,
                    awards=form.awards(),
                    reason=form.cleaned_data["reason"],
                    ip=client_ip(request),
                )
            except TransitionBlocked as blocked:
                blockers = blocked.reasons
                form.describe_quantities_by("award-blockers")
            except ValidationError as error:
                # On the form, next to the quantities and the reason typed, rather than lost in a redirect.
                add_service_errors(form, error)
            except CONFLICTS as error:
                _report(request, error)
                return redirect(case)
            else:
                messages.success(request, _("Offers awarded: the draft contracts are being generated."))
                return redirect(case)
        status = 422
    elif request.method == "POST":
        messages.warning(request, CONFLICT_MESSAGE)
        return redirect(case)
    return render(
        request,
        "contracts/case_award.html",
        {"case": case, "form": form, "available": available, "blockers": blockers, "has_offers": bool(offers)},
        status=status,
    )


def _case_step(request, pk, service, step, success):
    """A step taken from the case page's checklist. Refused, it shows the case page again with the form as the
    user filled it in (errors next to the fields), so that the comment typed is not lost."""
    case = get_object_or_404(case_selectors.cases_for(user=request.user), pk=pk)
    form = case_step_form(step, request.POST)
    if form is not None and not form.is_valid():
        messages.error(request, _("Please correct the errors below."))
        return render_case_page(request, case.pk, step_forms={step: form}, http_status=422)
    kwargs = {k: v for k, v in form.cleaned_data.items() if k not in CONFIRMATION_FIELDS} if form is not None else {}
    try:
        service(case=case, actor=request.user, ip=client_ip(request), **kwargs)
    except (TransitionBlocked, ValidationError, *CONFLICTS) as error:
        _report(request, error)
        if form is not None:
            return render_case_page(request, case.pk, step_forms={step: form}, http_status=422)
    else:
        messages.success(request, success)
    return redirect(case)


@member_required
@require_POST
def case_reopen(request, pk):
    return _case_step(
        request,
        pk,
        services.case_reopen_negotiation,
        "reopen_negotiation",
        _("Negotiation reopened; the open contracts were withdrawn."),
    )


@member_required
@require_POST
def case_close(request, pk):
    return _case_step(request, pk, services.case_close, "close", _("The case is closed."))


@member_required
@require_POST
def case_cancel(request, pk):
    return _case_step(
        request,
        pk,
        services.case_cancel,
        "cancel",
        _("The case is cancelled; its open contracts were withdrawn."),
    )


# --- the case file for auditors ---------------------------------------------------------------
# Past this size the ZIP being built spills from memory to a temporary file.
AUDIT_ZIP_IN_MEMORY = 16 * 1024 * 1024


@member_required
def case_audit_zip(request, pk):
    """The case file for auditors: the dossier PDF, every evidence file and their manifest, as one ZIP."""
    case = get_object_or_404(case_selectors.cases_for(user=request.user), pk=pk)
    output = tempfile.SpooledTemporaryFile(max_size=AUDIT_ZIP_IN_MEMORY)
    try:
        services.case_file_export(case=case, actor=request.user, output=output, ip=client_ip(request))
        output.seek(0)
    except BaseException:
        output.close()
        raise
    # FileResponse streams the file and closes it when the response is closed.
    return FileResponse(
        output, as_attachment=True, filename=f"{audit.dossier_name(case)}.zip", content_type="application/zip"
    )
