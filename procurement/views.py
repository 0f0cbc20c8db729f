"""Pages of the case: thin views over procurement.services (STYLE.md §3)."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts import roles
from accounts.decorators import member_required, role_required
from accounts.network import client_ip
from procurement import comparison, conformity, exports, flags, list_cache, selectors, services, workflow
from procurement.filters import CaseFilterForm, decode_cursor, encode_cursor
from procurement.forms import (
    AssignBuyerForm,
    CaseTitleForm,
    ChainPartyForm,
    ConformityClaimForm,
    ConformityOverrideForm,
    CountersignForm,
    JustificationForm,
    NeedLineForm,
    NegotiationRoundForm,
    OfferForm,
    VettingDecisionForm,
    VettingSupplierForm,
    add_service_errors,
    case_step_form,
    evidence_formset,
)
from procurement.models import OPEN_STATUSES, STAGES, CaseStatus, NegotiationRound, NormClass
from suppliers import uploads
from suppliers.selectors import current_screenings_by_supplier, suppliers_for

PAGE_SIZE = 50
# The htmx event (HX-Trigger) of an answer after which the case's next steps may have changed: the "Next steps"
# block of the page (case_detail.html#next_steps) fetches itself again.
CHECKLIST_CHANGED = "checklist-changed"


def _posted(request):
    """The submitted data on POST (even empty, so the form is bound and shows what is missing), else None."""
    return request.POST if request.method == "POST" else None


# Stages at which each act inside a case is possible (the services check it again; this only decides
# which buttons to show).
EDIT_NEED_STAGES = (CaseStatus.NEED,)
OFFER_STAGES = (CaseStatus.VETTING, CaseStatus.NORM_CHECK, CaseStatus.NEGOTIATION)
VETTING_STAGES = (CaseStatus.VETTING, CaseStatus.NORM_CHECK)
CONFORMITY_STAGES = (CaseStatus.NORM_CHECK, CaseStatus.NEGOTIATION)
ROUND_STAGES = (CaseStatus.NEGOTIATION,)

# Case steps served by this app; the others change contracts and are served by the contracts app.
TRANSITIONS: dict[str, Callable] = {
    "submit": services.case_submit,
    "start_norm_check": services.case_start_norm_check,
    "back_to_vetting": services.case_back_to_vetting,
    "start_negotiation": services.case_start_negotiation,
}
CONTRACT_APP_TRANSITIONS = {
    "award": "contracts:case_award",
    "reopen_negotiation": "contracts:case_reopen",
    "close": "contracts:case_close",
    "cancel": "contracts:case_cancel",
}

# Terms of a negotiation round, compared from one round to the next (the first with the offer as received).
ROUND_TERMS = [
    "unit_price",
    "quantity",
    "delivery_date",
    "incoterm",
    "delivery_place",
    "advance_rate",
    "payment_days",
    "penalties",
    "valid_until",
]


# --- helpers -------------------------------------------------------------------------------------
def _attempt(request, call: Callable, form=None) -> tuple[bool, object]:
    """Run one service call; turn a refusal into messages (or form errors). (True, result) when it went through."""
    try:
        return True, call()
    except workflow.TransitionBlocked as blocked:
        for reason in blocked.reasons:
            messages.error(request, reason)
    except (TransitionNotAllowed, ConcurrentTransition, workflow.Conflict):
        messages.warning(request, workflow.CONFLICT_MESSAGE)
    except ValidationError as error:
        if form is None:
            for message in error.messages:
                messages.error(request, message)
        else:
            add_service_errors(form, error)
    return False, None


def _form_page(request, *, form, call: Callable, success: str, done_url, template: str, context: dict):
    """GET shows the form; a valid POST calls the service once; an invalid one re-renders with 422. A refusal
    (stage changed meanwhile, step already taken) shows the form again with what was typed and why (409)."""
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            ok, _result = _attempt(request, call, form=form)
            if ok:
                messages.success(request, success)
                return redirect(done_url)
            if not form.errors:
                status = 409
    return render(request, template, {**context, "form": form}, status=status)


def _act_refused(request, case, stages):
    """Acts inside a case are for its buyers, at some stages only. Returns a redirect when the stage is wrong."""
    if not workflow.case_buyer(case, request.user):
        raise PermissionDenied
    if case.status not in stages:
        messages.warning(request, _("This is not possible at the current stage of the case."))
        return redirect(case)
    return None


def _stepper(case, events) -> list[dict]:
    order = [stage.value for stage in STAGES]
    reached = case.status
    if reached == CaseStatus.CANCELLED:
        cancels = [event for event in events if event.verb == "cancel"]
        reached = cancels[-1].source if cancels else ""
    if case.status == CaseStatus.CLOSED:
        index = len(order)
    elif reached in order:
        index = order.index(reached)
    else:
        index = -1
    cancelled = case.status == CaseStatus.CANCELLED
    steps = []
    for position, stage in enumerate(STAGES):
        if position < index:
            state, state_label = "done", _("done")
        elif position == index and not cancelled:
            state, state_label = "current", _("current stage")
        elif position == index:
            state, state_label = "", _("cancelled at this stage")
        else:
            state, state_label = "", _("to come")
        steps.append({"label": stage.label, "state": state, "state_label": state_label})
    return steps


def _status_label(value: str, contract) -> str:
    if not value:
        return ""
    # Events about a contract carry the contract's statuses; read their labels through the relation,
    # since procurement does not import the contracts app.
    choices = contract._meta.get_field("status").flatchoices if contract is not None else CaseStatus.choices
    return str(dict(choices).get(value, value))


def _checklist(case, user, step_forms: dict) -> list[dict]:
    items = workflow.case_checklist(case, user)
    for item in items:
        name = item["name"]
        if name in CONTRACT_APP_TRANSITIONS:
            item["url"] = reverse(CONTRACT_APP_TRANSITIONS[name], args=[case.pk])
        else:
            item["url"] = reverse("procurement:case_transition", args=[case.pk, name])
        # Awarding means choosing offers and quantities: it has its own page.
        item["is_link"] = name == "award"
        item["needs_confirm"] = name == "cancel"
        # A step just refused comes back with what the user typed and the errors next to the fields; if it is
        # blocked now, its form is still shown (button disabled) so that the text typed is not lost.
        refused = step_forms.get(name)
        item["form"] = refused or case_step_form(name)
        item["show_form"] = not item["blockers"] or refused is not None
    return items


def _round_history(offer) -> list[dict]:
    rows = []
    previous = offer
    for negotiation_round in offer.rounds.all():
        changes = []
        for name in ROUND_TERMS:
            if not hasattr(previous, name):
                continue
            before, after = getattr(previous, name), getattr(negotiation_round, name)
            if before != after:
                label = NegotiationRound._meta.get_field(name).verbose_name
                changes.append({"label": label, "before": before, "after": after})
        rows.append({"round": negotiation_round, "changes": changes})
        previous = negotiation_round
    return rows


# --- pages ---------------------------------------------------------------------------------------
# Sortable columns of the case list: (column, sort on first click, the other direction or None).
SORT_COLUMNS = {
    "reference": ("reference", None),
    "amount": ("-montant", "montant"),
    "stage": ("etape", None),
    "created": ("-cree", "cree"),
}


def _sort_headers(sort: str) -> dict:
    """Per sortable column: the `tri` its header link sets (clicking the active column reverses it when it can)
    and its aria-sort ("ascending", "descending" or "none")."""
    headers = {}
    for column, (first, other) in SORT_COLUMNS.items():
        active = sort in (first, other)
        target = other if active and other and sort == first else first
        aria = "none"
        if active:
            aria = "descending" if selectors.SORTS[sort].descending else "ascending"
        headers[column] = {"sort": target, "aria_sort": aria}
    return headers


@member_required
@require_GET
def case_list(request):
    body = list_cache.rendered(request, lambda: _case_list_body(request))
    return render(request, "procurement/case_list.html", {"body": mark_safe(body)})  # noqa: S308  # nosec B308 B703 (our own rendering)


def _case_list_body(request) -> str:
    form = CaseFilterForm(request.GET, organisation_id=request.user.organisation_id)
    sort = form.sort
    after = decode_cursor(request.GET.get("apres", ""), sort)
    cases, next_cursor = selectors.case_list_page(
        user=request.user, sort=sort, after=after, size=PAGE_SIZE, **form.criteria()
    )
    context = {
        "cases": cases,
        "form": form,
        "sort": sort,
        "headers": _sort_headers(sort),
        "next_cursor": encode_cursor(sort, next_cursor),
        "is_first_page": after is None,
        "can_create": request.user.is_buyer,
    }
    return render_to_string("procurement/case_list.html#body", context, request=request)


@member_required
@require_GET
def case_list_export(request, format):
    """The filtered list, every matching case (up to exports.EXPORT_MAX_ROWS), in the list's order."""
    form = CaseFilterForm(request.GET, organisation_id=request.user.organisation_id)
    now = timezone.now()
    sort = form.sort
    cases = selectors.sorted_cases(selectors.case_list(user=request.user, now=now, sort=sort, **form.criteria()), sort)
    filename = f"dossiers-{timezone.localtime(now):%Y-%m-%d-%H%M}"
    if format == "xlsx":
        return exports.xlsx_response(cases, filename=filename, now=now)
    return exports.csv_response(cases, filename=filename, now=now)


@role_required(roles.BUYER)
@require_http_methods(["GET", "POST"])
def case_create(request):
    data = request.POST if request.method == "POST" else None
    title_form = CaseTitleForm(data, prefix="case")
    line_form = NeedLineForm(data, prefix="line")
    justification_form = JustificationForm(data, prefix="justification")
    if data is not None:
        if all([title_form.is_valid(), line_form.is_valid(), justification_form.is_valid()]):
            ok, case = _attempt(
                request,
                lambda: services.case_create(
                    actor=request.user,
                    title=title_form.cleaned_data["title"],
                    need_lines=[line_form.cleaned_data],
                    justification=justification_form.cleaned_data,
                    ip=client_ip(request),
                ),
                form=title_form,
            )
            if ok:
                messages.success(request, _("Case %(reference)s created.") % {"reference": case.reference})
                return redirect(case)
    context = {"title_form": title_form, "line_form": line_form, "justification_form": justification_form}
    return render(request, "procurement/case_create.html", context, status=422 if data is not None else 200)


@member_required
@require_GET
def case_detail(request, pk):
    return render_case_page(request, pk)


def render_case_page(request, pk, *, step_forms: dict | None = None, http_status: int = 200):
    """The case page. After a refused step (its form invalid, or the service said no), the step's bound form
    is passed in `step_forms` (step name → form) so that the page shows what the user typed, with its errors."""
    case = get_object_or_404(selectors.case_detail_queryset(user=request.user), pk=pk)
    user = request.user
    events = list(case.events.all())
    justification = getattr(case, "justification", None)
    days_since_event = (timezone.localdate() - justification.event_date).days if justification else None
    is_buyer = case.is_case_buyer(user)
    status = case.status
    offers = _offer_rows(case)
    next_steps = _next_steps(case, user, offers, step_forms or {})
    checklist = next_steps["checklist"]
    return render(
        request,
        "procurement/case_detail.html",
        {
            "case": case,
            "stages": _stepper(case, events),
            "justification": justification,
            "days_since_event": days_since_event,
            "urgency_warning": days_since_event is not None
            and status in OPEN_STATUSES
            and days_since_event > settings.URGENCY_WARNING_DAYS,
            "urgency_warning_days": settings.URGENCY_WARNING_DAYS,
            "is_overdue": case.is_overdue(),
            "need_lines": case.need_lines.all(),
            **next_steps,
            # The empty contract list points to the award page when this user may award.
            "award_url": next((item["url"] for item in checklist if item["name"] == "award"), None),
            "offers": offers,
            "can_compare": len(offers) > 1,
            "can_override": user.is_jurist and status in CONFORMITY_STAGES,
            "vetting_decisions": case.vetting_decisions.all(),
            "can_countersign": workflow.jurist_of(case, user) and status in VETTING_STAGES,
            "contracts": case.contracts.all(),
            "events": [
                {
                    "event": event,
                    "source": _status_label(event.source, event.contract),
                    "target": _status_label(event.target, event.contract),
                }
                for event in events
            ],
            "can_edit_need": is_buyer and status in EDIT_NEED_STAGES,
            "can_add_offer": is_buyer and status in OFFER_STAGES,
            "can_vet": is_buyer and status in VETTING_STAGES and bool(offers),
            "can_check": is_buyer and status in CONFORMITY_STAGES,
            "can_negotiate": is_buyer and status in ROUND_STAGES,
            "assign_form": _assign_form(case, user),
        },
        status=http_status,
    )


def _offer_rows(case) -> list[dict]:
    screenings = current_screenings_by_supplier(selectors.case_parties(case))
    references = flags.reference_prices()
    today = timezone.localdate()
    return [
        {
            "offer": offer,
            "vetted": offer.is_vetted(),
            "check": offer.latest_check,
            "conform": offer.is_conform(),
            "rounds": len(offer.rounds.all()),
            "red_flags": flags.offer_all_flags(offer, today, screenings, references),
        }
        for offer in case.offers.all()
    ]


def _next_steps(case, user, offers: list[dict], step_forms: dict) -> dict:
    """What the case page's "Next steps" column shows (the partial case_detail.html#next_steps): which offers pass
    the norm check, the red flags to weigh, and each step open to the user with what still blocks it."""
    return {
        "norm_results": offers if case.status in CONFORMITY_STAGES else [],
        "flagged_offers": [row for row in offers if row["red_flags"]] if case.status in OPEN_STATUSES else [],
        "checklist": _checklist(case, user, step_forms),
    }


def next_steps_context(user, pk) -> dict:
    """The context of case_detail.html#next_steps for the case `pk`, read as the case page reads it (404 outside
    the user's organisation)."""
    case = get_object_or_404(selectors.case_detail_queryset(user=user), pk=pk)
    return {"case": case, **_next_steps(case, user, _offer_rows(case), {})}


@member_required
@require_GET
def case_next_steps(request, pk):
    """The case's next steps alone. A page that shows them fetches this by htmx when an answer on it says they may
    have changed (`HX-Trigger: checklist-changed`, e.g. after a conformity check), instead of reloading."""
    return render(request, "procurement/case_detail.html#next_steps", next_steps_context(request.user, pk))


def _assign_form(case, user):
    if not workflow.case_buyer_or_director(case, user):
        return None
    form = AssignBuyerForm(case=case)
    return form if form.has_choices else None


@member_required
@require_POST
def case_assign_buyer(request, pk):
    case = get_object_or_404(selectors.cases_for(user=request.user), pk=pk)
    form = AssignBuyerForm(request.POST, case=case)
    if not workflow.case_buyer_or_director(case, request.user):
        raise PermissionDenied
    if form.is_valid():
        buyer = form.cleaned_data["buyer"]
        services.case_assign_buyer(case=case, actor=request.user, buyer=buyer, ip=client_ip(request))
        messages.success(request, _("%(buyer)s joined the purchasing team.") % {"buyer": buyer})
    else:
        messages.error(request, _("Choose a buyer of your organisation."))
    return redirect(case)


@member_required
@require_http_methods(["GET", "POST"])
def case_edit_need(request, pk):
    case = get_object_or_404(selectors.case_detail_queryset(user=request.user), pk=pk)
    refused = _act_refused(request, case, EDIT_NEED_STAGES)
    if refused:
        return refused
    data = request.POST if request.method == "POST" else None
    title_form = CaseTitleForm(data, prefix="case", initial={"title": case.title})
    # The extra line is optional: left untouched, it is ignored.
    line_form = NeedLineForm(data, prefix="line", empty_permitted=True, use_required_attribute=False)
    justification_form = JustificationForm(data, prefix="justification", instance=getattr(case, "justification", None))
    if data is not None:
        if all([title_form.is_valid(), line_form.is_valid(), justification_form.is_valid()]):
            ok, _result = _attempt(
                request,
                lambda: services.case_update_need(
                    case=case,
                    actor=request.user,
                    title=title_form.cleaned_data["title"],
                    need_line=line_form.cleaned_data or None,
                    justification=justification_form.cleaned_data,
                    ip=client_ip(request),
                ),
                form=title_form,
            )
            if ok:
                messages.success(request, _("Need updated."))
                return redirect(case)
    # Invalid (422) or refused (409, the reason in the messages): the form again, with what was typed.
    context = {
        "case": case,
        "need_lines": case.need_lines.all(),
        "title_form": title_form,
        "line_form": line_form,
        "justification_form": justification_form,
    }
    status = 200 if data is None else 422 if any(f.errors for f in (title_form, line_form, justification_form)) else 409
    return render(request, "procurement/case_edit_need.html", context, status=status)


@member_required
@require_POST
def case_transition(request, pk, name):
    service = TRANSITIONS.get(name)
    if service is None:
        raise Http404
    case = get_object_or_404(selectors.cases_for(user=request.user), pk=pk)
    form = case_step_form(name, request.POST)
    if form is not None and not form.is_valid():
        messages.error(request, _("Please correct the errors below."))
        return render_case_page(request, case.pk, step_forms={name: form}, http_status=422)
    kwargs = form.cleaned_data if form is not None else {}
    ok, _result = _attempt(request, lambda: service(case=case, actor=request.user, ip=client_ip(request), **kwargs))
    if ok:
        messages.success(request, str(workflow.VERB_LABELS[name]))
    elif form is not None:
        # Refused: the page again, with the comment the user typed, rather than a redirect that loses it.
        return render_case_page(request, case.pk, step_forms={name: form}, http_status=422)
    return redirect(case)


@member_required
@require_http_methods(["GET", "POST"])
def offer_create(request, pk):
    case = get_object_or_404(selectors.cases_for(user=request.user), pk=pk)
    refused = _act_refused(request, case, OFFER_STAGES)
    if refused:
        return refused
    form = OfferForm(_posted(request), case=case, suppliers=suppliers_for(user=request.user))
    return _form_page(
        request,
        form=form,
        call=lambda: services.offer_create(case=case, actor=request.user, ip=client_ip(request), **form.cleaned_data),
        success=_("Offer recorded."),
        done_url=case,
        template="procurement/offer_form.html",
        context={"case": case},
    )


@member_required
@require_http_methods(["GET", "POST"])
def vetting_create(request, pk):
    """Choose a supplier of the case, see its file (screenings re-run when stale, red flags), then decide."""
    case = get_object_or_404(selectors.cases_for(user=request.user), pk=pk)
    refused = _act_refused(request, case, VETTING_STAGES)
    if refused:
        return refused
    suppliers = suppliers_for(user=request.user).filter(offers__case=case).distinct()
    chosen = VettingSupplierForm(request.POST or request.GET or None, suppliers=suppliers)
    context = {"case": case, "chooser": chosen, "has_suppliers": suppliers.exists()}
    if not chosen.is_bound or not chosen.is_valid():
        return render(request, "procurement/vetting_form.html", context)
    supplier = chosen.cleaned_data["supplier"]
    assessment = services.vetting_assess(case=case, supplier=supplier, actor=request.user)
    initial = {
        "supplier": supplier,
        "decision": assessment.suggested_decision,
        "findings": assessment.suggested_findings(),
    }
    form = VettingDecisionForm(_posted(request), initial=initial, suppliers=suppliers)
    return _form_page(
        request,
        form=form,
        call=lambda: services.vetting_decide(case=case, actor=request.user, ip=client_ip(request), **form.cleaned_data),
        success=_("Vetting decision recorded."),
        done_url=case,
        template="procurement/vetting_form.html",
        context={**context, "supplier": supplier, "assessment": assessment},
    )


@member_required
@require_http_methods(["GET", "POST"])
def vetting_countersign(request, pk):
    decision = get_object_or_404(selectors.vetting_decisions_for(user=request.user), pk=pk)
    case = decision.case
    if not workflow.jurist_of(case, request.user):
        raise PermissionDenied
    if not decision.awaiting_countersign and request.method != "POST":
        messages.info(request, _("This decision does not await a countersignature."))
        return redirect(case)
    # Posted after a colleague countersigned: the service refuses (under the case's lock) and the form comes back
    # with the comment typed (409).
    form = CountersignForm(_posted(request))
    return _form_page(
        request,
        form=form,
        call=lambda: services.vetting_countersign(
            decision=decision, actor=request.user, ip=client_ip(request), **form.cleaned_data
        ),
        success=_("Your countersignature decision was recorded."),
        done_url=case,
        template="procurement/vetting_countersign.html",
        context={"case": case, "decision": decision},
    )


@member_required
@require_GET
def offer_detail(request, pk):
    offer = get_object_or_404(selectors.offer_detail_queryset(user=request.user), pk=pk)
    case = offer.case
    screenings = current_screenings_by_supplier(selectors.offer_parties(offer))
    can_edit_chain = case.is_case_buyer(request.user) and case.status in OFFER_STAGES
    return render(
        request,
        "procurement/offer_detail.html",
        {
            "case": case,
            "offer": offer,
            "chain": flags.chain_view(offer, screenings),
            "red_flags": flags.offer_all_flags(offer, timezone.localdate(), screenings),
            "history": _round_history(offer),
            "can_edit_chain": can_edit_chain,
            "can_negotiate": case.is_case_buyer(request.user) and case.status in ROUND_STAGES,
        },
    )


@member_required
@require_GET
def offer_comparison(request, pk):
    case = get_object_or_404(selectors.case_detail_queryset(user=request.user), pk=pk)
    screenings = current_screenings_by_supplier(selectors.case_parties(case))
    lines = []
    columns = comparison.offer_columns(case, timezone.localdate(), screenings)
    for line in case.need_lines.all():
        line_columns = [column for column in columns if column["offer"].need_line_id == line.pk]
        if line_columns:
            lines.append({"line": line, "columns": line_columns})
    can_add_offer = case.is_case_buyer(request.user) and case.status in OFFER_STAGES
    return render(
        request, "procurement/offer_comparison.html", {"case": case, "lines": lines, "can_add_offer": can_add_offer}
    )


@member_required
@require_http_methods(["GET", "POST"])
def chain_party_add(request, pk):
    offer = get_object_or_404(selectors.offers_for(user=request.user), pk=pk)
    refused = _act_refused(request, offer.case, OFFER_STAGES)
    if refused:
        return refused
    form = ChainPartyForm(_posted(request), suppliers=suppliers_for(user=request.user))
    return _form_page(
        request,
        form=form,
        call=lambda: services.chain_party_add(
            offer=offer, actor=request.user, ip=client_ip(request), **form.cleaned_data
        ),
        success=_("Party added to the supply chain."),
        done_url=reverse("procurement:offer_detail", args=[offer.pk]),
        template="procurement/chain_party_form.html",
        context={"case": offer.case, "offer": offer},
    )


@member_required
@require_http_methods(["GET", "POST"])
def chain_party_remove(request, pk):
    party = get_object_or_404(selectors.chain_parties_for(user=request.user), pk=pk)
    offer = party.offer
    refused = _act_refused(request, offer.case, OFFER_STAGES)
    if refused:
        return refused
    done_url = reverse("procurement:offer_detail", args=[offer.pk])
    if request.method == "POST":
        ok, _result = _attempt(
            request, lambda: services.chain_party_remove(party=party, actor=request.user, ip=client_ip(request))
        )
        if ok:
            messages.success(request, _("Party removed from the supply chain."))
        return redirect(done_url)
    return render(
        request,
        "procurement/chain_party_remove.html",
        {"case": offer.case, "offer": offer, "party": party, "done_url": done_url},
    )


def _default_class(offer):
    """The class of the required standard matching the need's product (e.g. EN 149 FFP2 for FFP2)."""
    return (
        NormClass.objects.filter(product=offer.need_line.product, derogation_reference="")
        .order_by("norm__code")
        .first()
    )


@member_required
@require_http_methods(["GET", "POST"])
def conformity_create(request, pk):
    """The buyer records the claim, the measured values and the evidence; the verdict is computed. Posted by
    htmx, the answer is the verdict panel alone (the page is not reloaded); otherwise back to the case."""
    offer = get_object_or_404(selectors.offers_for(user=request.user), pk=pk)
    case = offer.case
    refused = _act_refused(request, case, CONFORMITY_STAGES)
    if refused:
        return HttpResponseClientRedirect(case.get_absolute_url()) if request.htmx else refused
    data, files = _posted(request), request.FILES if request.method == "POST" else None
    # The class chosen in the form (its thresholds are shown next to the values), else the need's standard.
    chosen_pk = (data or request.GET).get("claim-norm_class", "")
    # A key of any other shape (letters, a number of thousands of digits) is no class: the default applies.
    chosen = NormClass.objects.filter(pk=chosen_pk).first() if chosen_pk.isdigit() and len(chosen_pk) < 19 else None
    chosen = chosen or _default_class(offer)
    form = ConformityClaimForm(
        data,
        initial={"norm_class": chosen},
        prefix="claim",
        thresholds_url=reverse("procurement:conformity_create", args=[offer.pk]),
    )
    required = list(chosen.requirements.values_list("kind", flat=True)) if chosen else []
    evidence = evidence_formset(data, files, required_kinds=required)
    context = {
        "case": case,
        "offer": offer,
        "form": form,
        "evidence_formset": evidence,
        "chosen_class": chosen,
        "thresholds": conformity.threshold_rows(chosen),
    }
    if request.method == "POST" and form.is_valid() and evidence.is_valid():
        ok, check = _attempt(
            request,
            lambda: services.conformity_record(
                offer=offer,
                actor=request.user,
                ip=client_ip(request),
                claim=form.claim(),
                evidence=[row.evidence() for row in evidence if row.has_changed()],
                findings=form.cleaned_data["findings"],
            ),
            form=form,
        )
        if ok:
            messages.success(
                request, _("Conformity check recorded: %(verdict)s.") % {"verdict": check.get_verdict_display()}
            )
            if request.htmx:
                # The verdict replaces the form; the message goes to the page's live region (verdict.html); the
                # case's next steps shown beside it refresh (the check may unblock or block a step).
                response = render(request, "procurement/includes/verdict.html", {"check": check, "recorded": True})
                return trigger_client_event(response, CHECKLIST_CHANGED)
            return redirect(case)
        if not form.errors:
            # Refused (stage changed, step taken meanwhile): the case page says why.
            return HttpResponseClientRedirect(case.get_absolute_url()) if request.htmx else redirect(case)
    if request.htmx:
        # htmx swaps only successful answers: the form comes back with its errors, as a 200.
        return render(request, "procurement/includes/conformity_fields.html", context)
    status = 422 if request.method == "POST" else 200
    context.update(next_steps_context(request.user, case.pk))
    return render(request, "procurement/conformity_form.html", context, status=status)


@member_required
@require_http_methods(["GET", "POST"])
def conformity_override(request, pk):
    check = get_object_or_404(selectors.conformity_checks_for(user=request.user), pk=pk)
    case = check.offer.case
    if not workflow.jurist_of(case, request.user):
        raise PermissionDenied
    form = ConformityOverrideForm(_posted(request), initial={"verdict": check.verdict})
    return _form_page(
        request,
        form=form,
        call=lambda: services.conformity_override(
            check=check, actor=request.user, ip=client_ip(request), **form.cleaned_data
        ),
        success=_("The verdict was overridden; the reason is in the case history."),
        done_url=case,
        template="procurement/conformity_override.html",
        context={"case": case, "check": check, "offer": check.offer},
    )


@member_required
@require_GET
def evidence_download(request, pk):
    evidence = get_object_or_404(selectors.evidence_for(user=request.user), pk=pk)
    return uploads.private_file_response(
        evidence.file, filename=evidence.original_name, content_type=evidence.content_type
    )


@member_required
@require_http_methods(["GET", "POST"])
def round_create(request, pk):
    offer = get_object_or_404(selectors.offers_for(user=request.user).prefetch_related("rounds"), pk=pk)
    case = offer.case
    refused = _act_refused(request, case, ROUND_STAGES)
    if refused:
        return refused
    terms = offer.latest_round or offer
    initial = {name: getattr(terms, name) for name in ROUND_TERMS if hasattr(terms, name)}
    form = NegotiationRoundForm(_posted(request), initial=initial)
    return _form_page(
        request,
        form=form,
        call=lambda: services.negotiation_round_add(
            offer=offer, actor=request.user, ip=client_ip(request), **form.cleaned_data
        ),
        success=_("Negotiation round recorded."),
        done_url=case,
        template="procurement/round_form.html",
        context={"case": case, "offer": offer, "history": _round_history(offer)},
    )
