"""The case state machine, at the service level: transition tables, roles, guards, audit, side effects."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import translation
from django_fsm import TransitionNotAllowed

from contracts import services as contract_services
from contracts import workflow as contract_workflow
from contracts.models import Contract, SignatureDelegation
from notifications.models import Notification
from procurement import services, workflow
from procurement.models import CaseEvent, ConformityCheck, NeedLine, PurchaseCase, UrgencyJustification
from procurement.workflow import TransitionBlocked
from tests import factories
from tests.factories import make_case

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture(autouse=True)
def english():
    """Reasons are asserted in the source language, whatever catalogue is compiled."""
    with translation.override("en"):
        yield


# --- the table -----------------------------------------------------------------------------------
def _award_all(case, actor):
    awards = {offer.pk: offer.quantity for offer in case.offers.all()}
    contract_services.case_award(case=case, actor=actor, awards=awards, reason="Meilleur délai.", now=NOW)
    return PurchaseCase.objects.get(pk=case.pk)


CALLS = {
    "submit": lambda case, actor: services.case_submit(case=case, actor=actor, now=NOW),
    "start_norm_check": lambda case, actor: services.case_start_norm_check(case=case, actor=actor, now=NOW),
    "back_to_vetting": lambda case, actor: services.case_back_to_vetting(
        case=case, actor=actor, comment="Certificat URSSAF douteux.", now=NOW
    ),
    "start_negotiation": lambda case, actor: services.case_start_negotiation(case=case, actor=actor, now=NOW),
    "award": _award_all,
    "reopen_negotiation": lambda case, actor: contract_services.case_reopen_negotiation(
        case=case, actor=actor, comment="Le fournisseur ne tient plus son délai.", now=NOW
    ),
    "close": lambda case, actor: contract_services.case_close(case=case, actor=actor, now=NOW),
    "cancel": lambda case, actor: contract_services.case_cancel(
        case=case, actor=actor, comment="Besoin couvert par l'État.", now=NOW
    ),
}
COMMENTS = {
    "back_to_vetting": "Certificat URSSAF douteux.",
    "award": "Meilleur délai.",
    "reopen_negotiation": "Le fournisseur ne tient plus son délai.",
    "cancel": "Besoin couvert par l'État.",
}
SOURCES = {
    "submit": ["need"],
    "start_norm_check": ["vetting"],
    "back_to_vetting": ["norm_check"],
    "start_negotiation": ["norm_check"],
    "award": ["negotiation"],
    "reopen_negotiation": ["contract"],
    "close": ["contract"],
    "cancel": ["need", "vetting", "norm_check", "negotiation", "contract"],
}
TARGETS = {
    "submit": "vetting",
    "start_norm_check": "norm_check",
    "back_to_vetting": "vetting",
    "start_negotiation": "negotiation",
    "award": "contract",
    "reopen_negotiation": "negotiation",
    "close": "closed",
    "cancel": "cancelled",
}
# Who may take each step (fixture names); "buyer" owns the case, "assigned" is buyer2 assigned to it.
ALLOWED = {
    "submit": ["buyer", "assigned"],
    "start_norm_check": ["buyer", "assigned"],
    "back_to_vetting": ["buyer", "jurist"],
    "start_negotiation": ["buyer"],
    "award": ["buyer", "assigned"],
    "reopen_negotiation": ["buyer", "jurist"],
    "close": ["buyer", "director"],
    "cancel": ["jurist", "director"],
}
REFUSED = {
    "submit": ["buyer2", "jurist", "director", "admin_user", "outsider", "norole"],
    "start_norm_check": ["buyer2", "jurist", "director", "outsider"],
    "back_to_vetting": ["buyer2", "director", "admin_user", "outsider", "norole"],
    "start_negotiation": ["buyer2", "jurist", "director", "outsider"],
    "award": ["buyer2", "jurist", "director", "outsider"],
    "reopen_negotiation": ["buyer2", "director", "outsider"],
    "close": ["buyer2", "jurist", "admin_user", "outsider"],
    "cancel": ["buyer", "buyer2", "admin_user", "outsider", "norole"],
}
ALL_STATES = factories.STATES


def _source_case(state: str, transition: str, buyer, *, render: bool = False) -> PurchaseCase:
    if transition == "close" and state == "contract":
        # Closing needs a signed contract.
        case = make_case(buyer, "contract")
        jurist = factories.UserFactory(organisation=buyer.organisation, roles=["jurist"])
        signer = factories.UserFactory(organisation=buyer.organisation, roles=["director"])
        factories.SignatureDelegationFactory(delegate=signer)
        factories.sign_contract(case.contracts.get(), buyer, jurist, signer)
        return PurchaseCase.objects.get(pk=case.pk)
    return make_case(buyer, state, render=render)


def _actor(request, name: str, case: PurchaseCase):
    if name == "assigned":
        user = request.getfixturevalue("buyer2")
        case.buyers.add(user)
        return user
    return request.getfixturevalue(name)


def _new_events(case, before_pk):
    return list(CaseEvent.objects.filter(case=case, pk__gt=before_pk or 0, contract__isnull=True))


def _last_pk():
    return CaseEvent.objects.order_by("-pk").values_list("pk", flat=True).first()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("transition", "source", "who"),
    [(t, s, who) for t, sources in SOURCES.items() for s in sources for who in ALLOWED[t][:1]]
    + [(t, SOURCES[t][0], who) for t, whos in ALLOWED.items() for who in whos[1:]],
)
def test_allowed_transition_writes_exactly_one_event(request, buyer, transition, source, who):
    case = _source_case(source, transition, buyer)
    actor = _actor(request, who, case)
    before = _last_pk()

    result = CALLS[transition](case, actor)

    case.refresh_from_db()
    assert result.status == case.status == TARGETS[transition]
    events = _new_events(case, before)
    assert len(events) == 1, events
    event = events[0]
    assert (event.verb, event.actor, event.source, event.target) == (transition, actor, source, TARGETS[transition])
    assert event.comment == COMMENTS.get(transition, "")
    assert event.created_at == NOW
    assert case.stage_entered_at == NOW


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("transition", "source"),
    [(t, s) for t in SOURCES for s in ALL_STATES if s not in SOURCES[t]],
)
def test_refused_source_raises_transition_not_allowed(request, buyer, transition, source):
    case = make_case(buyer, source, render=False)
    actor = _actor(request, ALLOWED[transition][0], case)
    before = _last_pk()

    with pytest.raises(TransitionNotAllowed):
        CALLS[transition](case, actor)

    case.refresh_from_db()
    assert case.status == source
    assert _new_events(case, before) == []


@pytest.mark.django_db
@pytest.mark.parametrize(("transition", "who"), [(t, who) for t, whos in REFUSED.items() for who in whos])
def test_wrong_role_is_denied(request, buyer, transition, who):
    source = SOURCES[transition][0]
    case = make_case(buyer, source, render=False)
    actor = request.getfixturevalue(who)
    before = _last_pk()

    with pytest.raises(PermissionDenied):
        CALLS[transition](case, actor)

    case.refresh_from_db()
    assert case.status == source
    assert _new_events(case, before) == []


@pytest.mark.django_db
def test_jurist_of_another_organisation_cannot_cancel(buyer, other_org):
    case = make_case(buyer, "need")
    foreign_jurist = factories.UserFactory(organisation=other_org, roles=["jurist", "director"])
    with pytest.raises(PermissionDenied):
        CALLS["cancel"](case, foreign_jurist)


@pytest.mark.django_db
def test_inactive_buyer_is_denied(buyer):
    case = make_case(buyer, "need")
    buyer.is_active = False
    buyer.save()
    with pytest.raises(PermissionDenied):
        services.case_submit(case=case, actor=buyer)


@pytest.mark.django_db
def test_create_records_event_and_reference(buyer, jurist):
    case = services.case_create(
        actor=buyer,
        title="  Gants  ",
        need_lines=[factories.need_line_data(NOW)],
        justification=factories.justification_data(NOW),
        now=NOW,
    )
    second = services.case_create(
        actor=buyer, title="Blouses", need_lines=[], justification=factories.justification_data(NOW), now=NOW
    )
    assert (case.reference, second.reference) == ("URG-2026-0001", "URG-2026-0002")
    assert case.title == "Gants"
    assert [(e.verb, e.target) for e in case.events.all()] == [("create", "need")]
    with pytest.raises(PermissionDenied):
        services.case_create(
            actor=jurist, title="X", need_lines=[], justification=factories.justification_data(NOW), now=NOW
        )


# --- guards ------------------------------------------------------------------------------------
def _blocked(call) -> list[str]:
    with pytest.raises(TransitionBlocked) as excinfo:
        call()
    return excinfo.value.reasons


@pytest.mark.django_db
def test_submit_without_need_line_is_blocked(buyer):
    case = services.case_create(
        actor=buyer, title="Masques", need_lines=[], justification=factories.justification_data()
    )
    assert _blocked(lambda: services.case_submit(case=case, actor=buyer)) == ["Add at least one need line."]
    case.refresh_from_db()
    assert case.status == "need"
    assert list(case.events.values_list("verb", flat=True)) == ["create"]


@pytest.mark.django_db
def test_submit_without_justification_is_blocked(buyer):
    case = make_case(buyer, "need")
    UrgencyJustification.objects.filter(case=case).delete()
    reasons = _blocked(lambda: services.case_submit(case=case, actor=buyer))
    assert reasons == ["The urgency justification (R2122-1) is missing."]


@pytest.mark.django_db
def test_submit_lists_every_missing_condition_and_field(buyer):
    case = services.case_create(
        actor=buyer,
        title="Masques",
        need_lines=[factories.need_line_data(delivery_place="")],
        justification=factories.justification_data(causal_link="  ", strictly_necessary_scope=""),
    )
    reasons = _blocked(lambda: services.case_submit(case=case, actor=buyer))
    assert reasons == [
        "Need line 1 is incomplete: delivery place.",
        "Urgency justification: argue “causal link between the event and the urgency”.",
        "Urgency justification: argue “why this quantity and duration are strictly necessary”.",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("decisions", "blocked"),
    [(["approved"], False), (["reserved"], False), (["rejected"], True), (["approved", "rejected"], True)],
)
def test_start_norm_check_needs_an_approved_supplier(buyer, decisions, blocked):
    case = make_case(buyer, "need")
    case = services.case_submit(case=case, actor=buyer)
    offer = factories.add_offer(case, buyer)
    for decision in decisions:
        factories.vet(case, offer, buyer, decision=decision)
    if blocked:
        reasons = _blocked(lambda: services.case_start_norm_check(case=case, actor=buyer))
        assert reasons == ["No offer comes from a supplier approved by a vetting decision for this case."]
    else:
        assert services.case_start_norm_check(case=case, actor=buyer).status == "norm_check"


@pytest.mark.django_db
def test_start_norm_check_needs_an_offer(buyer):
    case = services.case_submit(case=make_case(buyer, "need"), actor=buyer)
    assert _blocked(lambda: services.case_start_norm_check(case=case, actor=buyer)) == ["Record at least one offer."]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("verdict", "blocked"), [("conform", False), ("derogation", False), ("non_conform", True), ("incomplete", True)]
)
def test_start_negotiation_needs_a_conform_check(buyer, verdict, blocked):
    case = make_case(buyer, "norm_check", verdict=verdict)
    if blocked:
        reasons = _blocked(lambda: services.case_start_negotiation(case=case, actor=buyer))
        offer = case.offers.get()
        label = dict(ConformityCheck.Verdict.choices)[verdict]
        assert reasons == ["No offer has a conform (or conform under derogation) check.", f"{offer}: {label}."]
    else:
        assert services.case_start_negotiation(case=case, actor=buyer).status == "negotiation"


@pytest.mark.django_db
def test_award_above_the_needed_quantity_is_refused(buyer):
    case = make_case(buyer, "negotiation", quantity=100_000)
    offer = case.offers.get()
    reasons = _blocked(
        lambda: contract_services.case_award(case=case, actor=buyer, awards={offer.pk: 100_001}, reason="Tout.")
    )
    assert len(reasons) == 1
    assert "100,001 awarded for 100,000 needed" in reasons[0]
    assert "strictly necessary" in reasons[0]
    offer.refresh_from_db()
    case.refresh_from_db()
    assert (offer.awarded_quantity, offer.awarded_by, case.status) == (None, None, "negotiation")
    assert not Contract.objects.filter(case=case).exists()


@pytest.mark.django_db
def test_several_offers_may_cover_the_need(buyer):
    case = make_case(buyer, "negotiation", suppliers=2, quantity=100_000)
    first, second = case.offers.all()
    reasons = _blocked(
        lambda: contract_services.case_award(
            case=case, actor=buyer, awards={first.pk: 60_000, second.pk: 50_000}, reason="Deux sources."
        )
    )
    assert "110,000 awarded for 100,000 needed" in reasons[0]

    contracts = contract_services.case_award(
        case=case, actor=buyer, awards={first.pk: 60_000, second.pk: 40_000}, reason="Deux sources.", now=NOW
    )

    assert sorted(c.quantity for c in contracts) == [40_000, 60_000]
    assert sorted(c.reference for c in contracts) == [f"{case.reference}-C1", f"{case.reference}-C2"]
    assert all(c.status == "draft" and c.documents.get().status == "pending" for c in contracts)
    first.refresh_from_db()
    assert (first.awarded_quantity, first.awarded_by, first.awarded_at, first.award_reason) == (
        60_000,
        buyer,
        NOW,
        "Deux sources.",
    )
    assert contracts[0].unit_price == first.final_round.unit_price


@pytest.mark.django_db
def test_award_needs_final_terms_and_a_reason(buyer):
    case = make_case(buyer, "norm_check")
    case = services.case_start_negotiation(case=case, actor=buyer)
    offer = case.offers.get()
    services.negotiation_round_add(offer=offer, actor=buyer, **factories.round_data(offer, is_final=False))
    assert _blocked(
        lambda: contract_services.case_award(case=case, actor=buyer, awards={offer.pk: 10}, reason="  ")
    ) == ["A comment is required for this step."]
    reasons = _blocked(lambda: contract_services.case_award(case=case, actor=buyer, awards={offer.pk: 10}, reason="R"))
    assert reasons == [f"{offer}: record the final terms (a negotiation round marked final)."]
    assert _blocked(lambda: contract_services.case_award(case=case, actor=buyer, awards={}, reason="R")) == [
        "Award at least one offer."
    ]


@pytest.mark.django_db
def test_award_of_an_offer_of_another_case_is_refused(buyer):
    case = make_case(buyer, "negotiation")
    other = make_case(buyer, "negotiation")
    with pytest.raises(PermissionDenied):
        contract_services.case_award(case=case, actor=buyer, awards={other.offers.get().pk: 10}, reason="R")


@pytest.mark.django_db
@pytest.mark.parametrize("comment", ["", "   "])
def test_back_to_vetting_and_cancel_require_a_comment(buyer, jurist, comment):
    case = make_case(buyer, "norm_check")
    assert _blocked(lambda: services.case_back_to_vetting(case=case, actor=jurist, comment=comment)) == [
        "A comment is required for this step."
    ]
    assert _blocked(lambda: contract_services.case_cancel(case=case, actor=jurist, comment=comment)) == [
        "A comment is required for this step."
    ]
    assert _blocked(lambda: contract_services.case_reopen_negotiation(case=case, actor=jurist, comment=comment)) == [
        "A comment is required for this step."
    ]
    case.refresh_from_db()
    assert case.status == "norm_check"


@pytest.fixture
def signed_case(buyer, jurist, director, delegation):
    case = make_case(buyer, "contract", suppliers=2)
    first, second = case.contracts.order_by("pk")
    factories.sign_contract(first, buyer, jurist, director)
    return case


@pytest.mark.django_db
def test_cancel_and_reopen_refused_once_a_contract_is_signed(signed_case, buyer, jurist):
    reasons = _blocked(lambda: contract_services.case_cancel(case=signed_case, actor=jurist, comment="Stop."))
    assert reasons == ["A contract of this case is signed: the case cannot be cancelled."]
    reasons = _blocked(
        lambda: contract_services.case_reopen_negotiation(case=signed_case, actor=buyer, comment="Encore.")
    )
    assert reasons == ["A contract of this case is signed: negotiation cannot be reopened."]
    signed_case.refresh_from_db()
    assert signed_case.status == "contract"


@pytest.mark.django_db
def test_close_requires_every_contract_signed_or_withdrawn(signed_case, buyer, jurist):
    first, second = signed_case.contracts.order_by("pk")
    assert _blocked(lambda: contract_services.case_close(case=signed_case, actor=buyer)) == [
        "Every contract must be signed or withdrawn."
    ]
    contract_services.contract_withdraw(contract=second, actor=jurist, comment="Fournisseur défaillant.")

    case = contract_services.case_close(case=signed_case, actor=buyer, now=NOW)

    assert (case.status, case.closed_at) == ("closed", NOW)


@pytest.mark.django_db
def test_close_requires_at_least_one_signed_contract(buyer, jurist):
    case = make_case(buyer, "contract", render=False)
    contract_services.contract_withdraw(contract=case.contracts.get(), actor=jurist, comment="Caduc.")
    assert _blocked(lambda: contract_services.case_close(case=case, actor=buyer)) == [
        "At least one contract must be signed."
    ]


@pytest.mark.django_db
def test_reopen_withdraws_open_contracts_and_clears_the_award(buyer, jurist):
    case = make_case(buyer, "contract", suppliers=2)
    first, second = case.contracts.order_by("pk")
    contract_services.contract_submit_for_review(
        contract=first, rendered_sha256=first.current_document.sha256, actor=buyer
    )
    before = _last_pk()

    case = contract_services.case_reopen_negotiation(case=case, actor=jurist, comment="Délais intenables.", now=NOW)

    assert case.status == "negotiation"
    assert set(case.contracts.values_list("status", flat=True)) == {"withdrawn"}
    assert set(case.offers.values_list("awarded_quantity", flat=True)) == {None}
    withdrawals = CaseEvent.objects.filter(case=case, pk__gt=before, verb="withdraw")
    assert sorted((e.contract_id, e.source, e.target, e.actor_id) for e in withdrawals) == [
        (first.pk, "legal_review", "withdrawn", jurist.pk),
        (second.pk, "draft", "withdrawn", jurist.pk),
    ]
    assert CaseEvent.objects.filter(case=case, pk__gt=before, verb="reopen_negotiation").count() == 1
    # A new award numbers the new contracts after the withdrawn ones.
    new = contract_services.case_award(
        case=case, actor=buyer, awards={case.offers.first().pk: 100_000}, reason="Un seul fournisseur."
    )
    assert [c.reference for c in new] == [f"{case.reference}-C3"]


@pytest.mark.django_db
def test_cancel_withdraws_open_contracts(buyer, director):
    case = make_case(buyer, "contract", render=False)
    case = contract_services.case_cancel(case=case, actor=director, comment="Besoin couvert.")
    assert case.status == "cancelled"
    assert case.contracts.get().status == "withdrawn"


# --- side effects only on commit ----------------------------------------------------------------
@pytest.mark.django_db
def test_cancel_notifies_the_legal_team_only_on_commit(buyer, jurist, director, django_capture_on_commit_callbacks):
    other_jurist = factories.UserFactory(organisation=buyer.organisation, roles=["jurist"], email="")
    factories.UserFactory(organisation=buyer.organisation, roles=["jurist"], is_active=False)
    case = make_case(buyer, "negotiation")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        contract_services.case_cancel(case=case, actor=director, comment="Besoin couvert par l'État.")

    rows = Notification.objects.filter(verb="case_cancelled")
    assert {n.recipient for n in rows} == {jurist, other_jurist}
    assert {n.email_status for n in rows} == {"pending"}
    assert mail.outbox == []
    assert len(callbacks) == 2

    for callback in callbacks:
        callback()

    assert [m.to for m in mail.outbox] == [[jurist.email]]
    assert case.reference in mail.outbox[0].subject
    assert dict(rows.values_list("recipient", "email_status")) == {jurist.pk: "sent", other_jurist.pk: "skipped"}


@pytest.mark.django_db
def test_a_refused_transition_queues_nothing(signed_case, jurist, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(TransitionBlocked):
        contract_services.case_cancel(case=signed_case, actor=jurist, comment="Stop.")
    assert callbacks == []
    assert not Notification.objects.filter(verb="case_cancelled").exists()


@pytest.mark.django_db
def test_award_queues_document_rendering_on_commit(buyer, django_capture_on_commit_callbacks):
    case = make_case(buyer, "negotiation")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        contract_services.case_award(case=case, actor=buyer, awards={case.offers.get().pk: 100_000}, reason="R")
    document = case.contracts.get().documents.get()
    assert (document.version, document.status, len(callbacks)) == (1, "pending", 1)


# --- pure guards (no database) ------------------------------------------------------------------
class _Rel:
    def __init__(self, items):
        self._items = list(items)

    def all(self):
        return self._items


class _Offer:
    def __init__(self, line, awarded, *, final=True, conform=True, vetted=True):
        self.need_line_id = line.pk
        self.awarded_quantity = awarded
        self.final_round = object() if final else None
        self._conform, self._vetted = conform, vetted

    def is_conform(self):
        return self._conform

    def is_vetted(self):
        return self._vetted

    def __str__(self):
        return f"offer {self.awarded_quantity}"


class _Case:
    def __init__(self, lines=(), offers=(), contracts=(), justification=None):
        self.need_lines = _Rel(lines)
        self.offers = _Rel(offers)
        self.contracts = _Rel(contracts)
        if justification is not None:
            self.justification = justification


def _line(pk=1, **overrides):
    data = {**factories.need_line_data(NOW), **overrides}
    return NeedLine(pk=pk, **data)


def test_pure_submit_blockers():
    justification = UrgencyJustification(**factories.justification_data(NOW))
    assert workflow.submit_blockers(_Case([_line()], justification=justification)) == []
    assert workflow.submit_blockers(_Case([], justification=justification)) == ["Add at least one need line."]
    reasons = workflow.submit_blockers(_Case([_line(), _line(unit="", delivery_place="")]))
    assert reasons == [
        "Need line 2 is incomplete: unit, delivery place.",
        "The urgency justification (R2122-1) is missing.",
    ]


@pytest.mark.parametrize(
    ("awards", "expected"),
    [
        ([60_000, 40_000], []),
        ([100_000], []),
        ([100_001], ["FFP2 respirator (or accepted equivalent): 100,001 awarded for 100,000 needed"]),
        ([60_000, 40_001], ["FFP2 respirator (or accepted equivalent): 100,001 awarded for 100,000 needed"]),
        ([], ["Award at least one offer."]),
    ],
)
def test_pure_award_blockers_strictly_necessary(awards, expected):
    line = _line(quantity=100_000)
    case = _Case([line], offers=[_Offer(line, q) for q in awards] + [_Offer(line, None)])
    reasons = workflow.award_blockers(case)
    assert [r.split(";")[0] for r in reasons] == expected


def test_pure_award_blockers_per_offer():
    line = _line()
    offer = _Offer(line, 10, final=False, conform=False, vetted=False)
    assert workflow.award_blockers(_Case([line], offers=[offer])) == [
        "offer 10: record the final terms (a negotiation round marked final).",
        "offer 10: the product is not conform.",
        "offer 10: the supplier is not approved.",
    ]


@pytest.mark.parametrize(
    ("statuses", "close", "reopen"),
    [
        (["signed"], [], []),
        (["notified", "withdrawn"], [], []),
        (["signed", "draft"], ["Every contract must be signed or withdrawn."], []),
        (["withdrawn"], ["At least one contract must be signed."], []),
        ([], ["At least one contract must be signed."], []),
        (["approved"], ["At least one contract must be signed.", "Every contract must be signed or withdrawn."], []),
    ],
)
def test_pure_contract_related_case_guards(statuses, close, reopen):
    case = _Case(contracts=[Contract(status=s) for s in statuses])
    assert contract_workflow.close_blockers(case) == close
    assert contract_workflow.reopen_blockers(case) == (
        ["A contract of this case is signed: negotiation cannot be reopened."]
        if {"signed", "notified"} & set(statuses)
        else []
    )
    assert contract_workflow.cancel_blockers(case) == (
        ["A contract of this case is signed: the case cannot be cancelled."]
        if {"signed", "notified"} & set(statuses)
        else []
    )


def test_pure_comment_and_blocked_reasons():
    with pytest.raises(TransitionBlocked) as excinfo:
        workflow.require_comment(" \n ")
    assert excinfo.value.reasons == ["A comment is required for this step."]
    workflow.require_comment("ok")
    assert str(TransitionBlocked(["a", "b"])) == "a; b"


@pytest.mark.parametrize(
    ("day", "amount", "covered"),
    [
        (date(2026, 1, 1), Decimal("1000"), True),
        (date(2026, 12, 31), Decimal("1000"), True),
        (date(2025, 12, 31), Decimal("1000"), False),
        (date(2027, 1, 1), Decimal("1000"), False),
        (date(2026, 6, 1), Decimal("5000.00"), True),
        (date(2026, 6, 1), Decimal("5000.01"), False),
    ],
)
def test_pure_delegation_covers(day, amount, covered):
    delegation = SignatureDelegation(
        amount_ceiling=Decimal("5000"), valid_from=date(2026, 1, 1), valid_until=date(2026, 12, 31)
    )
    assert delegation.covers(day=day, amount=amount) is covered


def test_pure_overdue(settings):
    settings.STAGE_TARGET_HOURS = {"need": 4}
    case = PurchaseCase(status="need", stage_entered_at=NOW)
    assert case.stage_deadline() == NOW + timedelta(hours=4)
    assert not case.is_overdue(NOW + timedelta(hours=4))
    assert case.is_overdue(NOW + timedelta(hours=4, seconds=1))


@pytest.mark.django_db
def test_assigning_a_buyer_lets_them_drive_the_case_and_is_audited(buyer, buyer2, jurist, outsider):
    case = make_case(buyer, "need")
    with pytest.raises(PermissionDenied):
        services.case_submit(case=case, actor=buyer2)
    with pytest.raises(PermissionDenied):
        services.case_assign_buyer(case=case, actor=jurist, buyer=buyer2)
    with pytest.raises(PermissionDenied):
        services.case_assign_buyer(case=case, actor=buyer, buyer=outsider)
    services.case_assign_buyer(case=case, actor=buyer, buyer=buyer2)
    services.case_assign_buyer(case=case, actor=buyer, buyer=buyer2)  # twice: one event
    assert CaseEvent.objects.filter(case=case, verb="buyer_assigned").count() == 1
    case = services.case_submit(case=case, actor=buyer2)
    assert case.status == "vetting"
