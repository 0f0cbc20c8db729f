"""The contract state machine, at the service level: tables, four eyes, stale approvals, delegations, notices."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation
from django_fsm import TransitionNotAllowed

from contracts import services
from contracts.models import CLAUSES, ContractDocument
from notifications.models import Notification
from procurement.models import CaseEvent, Threshold
from procurement.workflow import Conflict, TransitionBlocked
from tests import factories
from tests.factories import make_case, make_contract

NOW = timezone.now().replace(microsecond=0)
TODAY = timezone.localdate(NOW)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def _approve(contract, actor, **kwargs):
    document = contract.current_document
    return services.contract_approve(
        contract=contract,
        actor=actor,
        rendered_sha256=kwargs.pop("sha", document.sha256 if document else ""),
        clauses=kwargs.pop("clauses", list(CLAUSES)),
        now=NOW,
        **kwargs,
    )


def _amend(contract, actor, **kwargs):
    return services.contract_amend(
        contract=contract,
        actor=actor,
        quantity=kwargs.pop("quantity", contract.quantity),
        unit_price=kwargs.pop("unit_price", contract.unit_price),
        comment=kwargs.pop("comment", "Prix renégocié."),
        terms_version=kwargs.pop("terms_version", contract.terms_version),
        now=NOW,
        **kwargs,
    )


CALLS = {
    "submit_for_review": lambda c, a: services.contract_submit_for_review(
        contract=c, rendered_sha256=c.current_document.sha256, actor=a, now=NOW
    ),
    "request_changes": lambda c, a: services.contract_request_changes(
        contract=c, actor=a, comment="Préciser l'Incoterm.", now=NOW
    ),
    "approve": _approve,
    "revise": _amend,
    "sign": lambda c, a: services.contract_sign(contract=c, actor=a, now=NOW),
    "notify_supplier": lambda c, a: services.contract_notify_supplier(contract=c, actor=a, now=NOW),
    "withdraw": lambda c, a: services.contract_withdraw(contract=c, actor=a, comment="Offre caduque.", now=NOW),
}
COMMENTS = {"request_changes": "Préciser l'Incoterm.", "revise": "Prix renégocié.", "withdraw": "Offre caduque."}
SOURCES = {
    "submit_for_review": ["draft"],
    "request_changes": ["legal_review"],
    "approve": ["legal_review"],
    "revise": ["approved"],
    "sign": ["approved"],
    "notify_supplier": ["signed"],
    "withdraw": ["draft", "legal_review", "approved"],
}
TARGETS = {
    "submit_for_review": "legal_review",
    "request_changes": "draft",
    "approve": "approved",
    "revise": "draft",
    "sign": "signed",
    "notify_supplier": "notified",
    "withdraw": "withdrawn",
}
ALLOWED = {
    "submit_for_review": ["buyer", "assigned"],
    "request_changes": ["jurist"],
    "approve": ["jurist"],
    "revise": ["buyer"],
    "sign": ["director"],
    "notify_supplier": ["buyer"],
    "withdraw": ["jurist", "director"],
}
REFUSED = {
    "submit_for_review": ["buyer2", "jurist", "director", "outsider"],
    "request_changes": ["buyer", "director", "admin_user", "outsider"],
    "approve": ["buyer", "director", "admin_user", "outsider"],
    "revise": ["buyer2", "jurist", "director", "outsider"],
    "sign": ["buyer", "jurist", "outsider"],
    "notify_supplier": ["buyer2", "jurist", "director", "outsider"],
    "withdraw": ["buyer", "buyer2", "admin_user", "outsider"],
}
# Amending a draft is not a transition (it is tested below); from the other states it is refused.
REFUSED_SOURCES = {
    name: [s for s in factories.CONTRACT_STATES if s not in SOURCES[name] and not (name == "revise" and s == "draft")]
    for name in SOURCES
}


@pytest.fixture
def build(buyer, jurist, director, delegation):
    def do_build(state, **kwargs):
        return make_contract(buyer, state, jurist=jurist, signer=director, **kwargs)

    return do_build


def _actor(request, name, contract):
    if name == "assigned":
        user = request.getfixturevalue("buyer2")
        contract.case.buyers.add(user)
        return user
    return request.getfixturevalue(name)


def _last_pk():
    return CaseEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _new_events(contract, before):
    return list(CaseEvent.objects.filter(contract=contract, pk__gt=before))


def _blocked(call) -> list[str]:
    with pytest.raises(TransitionBlocked) as excinfo:
        call()
    return excinfo.value.reasons


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("transition", "source", "who"),
    [(t, s, ALLOWED[t][0]) for t, sources in SOURCES.items() for s in sources]
    + [(t, SOURCES[t][0], who) for t, whos in ALLOWED.items() for who in whos[1:]],
)
def test_allowed_transition_writes_exactly_one_event(request, build, transition, source, who):
    contract = build(source)
    actor = _actor(request, who, contract)
    before = _last_pk()

    result = CALLS[transition](contract, actor)

    contract.refresh_from_db()
    assert result.status == contract.status == TARGETS[transition]
    events = _new_events(contract, before)
    assert [(e.verb, e.actor, e.source, e.target) for e in events] == [(transition, actor, source, TARGETS[transition])]
    assert events[0].case_id == contract.case_id
    assert events[0].comment == COMMENTS.get(transition, "")
    assert events[0].created_at == NOW


@pytest.mark.django_db
@pytest.mark.parametrize(("transition", "source"), [(t, s) for t, states in REFUSED_SOURCES.items() for s in states])
def test_refused_source_raises_transition_not_allowed(request, build, transition, source):
    contract = build(source)
    actor = _actor(request, ALLOWED[transition][0], contract)
    before = _last_pk()

    with pytest.raises(TransitionNotAllowed):
        CALLS[transition](contract, actor)

    contract.refresh_from_db()
    assert contract.status == source
    assert _new_events(contract, before) == []


@pytest.mark.django_db
@pytest.mark.parametrize(("transition", "who"), [(t, who) for t, whos in REFUSED.items() for who in whos])
def test_wrong_role_is_denied(request, build, transition, who):
    source = SOURCES[transition][0]
    contract = build(source)
    actor = request.getfixturevalue(who)
    before = _last_pk()

    with pytest.raises(PermissionDenied):
        CALLS[transition](contract, actor)

    contract.refresh_from_db()
    assert contract.status == source
    assert _new_events(contract, before) == []


# --- submit_for_review ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_submit_for_review_needs_a_rendered_document(buyer):
    contract = make_case(buyer, "contract", render=False).contracts.get()
    assert contract.current_document.status == "pending"
    assert _blocked(
        lambda: services.contract_submit_for_review(
            contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
        )
    ) == ["The contract document is still being generated; wait until its PDF is ready."]
    factories.render_pending(contract)
    assert (
        services.contract_submit_for_review(
            contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
        ).status
        == "legal_review"
    )


@pytest.mark.django_db
def test_eager_task_renders_the_document_on_commit(buyer, django_capture_on_commit_callbacks):
    case = make_case(buyer, "negotiation")
    with django_capture_on_commit_callbacks(execute=True):
        (contract,) = services.case_award(case=case, actor=buyer, awards={case.offers.get().pk: 1000}, reason="R")
    document = contract.documents.get()
    assert (document.status, len(document.sha256), document.attempts) == ("rendered", 64, 1)
    assert CaseEvent.objects.filter(contract=contract, verb="document_rendered").count() == 1
    assert (
        services.contract_submit_for_review(
            contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
        ).status
        == "legal_review"
    )


# --- request_changes -----------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("comment", ["", "  "])
def test_request_changes_needs_a_comment(build, jurist, comment):
    contract = build("legal_review")
    assert _blocked(lambda: services.contract_request_changes(contract=contract, actor=jurist, comment=comment)) == [
        "A comment is required for this step."
    ]


@pytest.mark.django_db
def test_request_changes_is_for_jurists_only_even_when_they_also_buy(build, org):
    contract = build("legal_review")
    buyer_director = factories.UserFactory(organisation=org, roles=["buyer", "director"])
    contract.case.buyers.add(buyer_director)
    with pytest.raises(PermissionDenied):
        services.contract_request_changes(contract=contract, actor=buyer_director, comment="Non.")


# --- approve ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_approve_four_eyes_refuses_the_awarding_buyer_even_if_jurist(org, jurist):
    buyer_jurist = factories.UserFactory(organisation=org, roles=["buyer", "jurist"])
    contract = make_case(buyer_jurist, "contract").contracts.get()
    contract = services.contract_submit_for_review(
        contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer_jurist
    )
    assert contract.offer.awarded_by == buyer_jurist

    with pytest.raises(PermissionDenied):
        _approve(contract, buyer_jurist)

    approved = _approve(contract, jurist)
    assert (approved.status, approved.approved_by, approved.approved_at) == ("approved", jurist, NOW)
    assert approved.approved_document == approved.current_document
    assert approved.clauses_checked == sorted(CLAUSES)


@pytest.mark.django_db
def test_approve_with_an_incomplete_clause_checklist_is_blocked(build, jurist):
    contract = build("legal_review")
    reasons = _blocked(lambda: _approve(contract, jurist, clauses=[c for c in CLAUSES if c != "signatory"]))
    assert reasons == ["Clause checklist: “Signatory and delegation reference” is not checked."]
    contract.refresh_from_db()
    assert (contract.status, contract.clauses_checked) == ("legal_review", [])


@pytest.mark.django_db
def test_approve_of_a_stale_version_is_a_conflict(build, jurist):
    contract = build("legal_review")
    with pytest.raises(Conflict):
        _approve(contract, jurist, sha="0" * 64)
    contract.refresh_from_db()
    assert (contract.status, contract.approved_by) == ("legal_review", None)


@pytest.mark.django_db
def test_unknown_clause_keys_do_not_complete_the_checklist(build, jurist):
    contract = build("legal_review")
    reasons = _blocked(lambda: _approve(contract, jurist, clauses=["parties", "nonsense"]))
    assert len(reasons) == len(CLAUSES) - 1


# --- amend / revise ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_amend_a_draft_bumps_the_terms_version_and_renders_a_new_version(build, buyer):
    contract = build("draft")
    first = contract.current_document
    before = _last_pk()

    amended = _amend(contract, buyer, quantity=80_000, unit_price=Decimal("0.8000"))

    assert (amended.status, amended.terms_version, amended.quantity, amended.unit_price) == (
        "draft",
        2,
        80_000,
        Decimal("0.8000"),
    )
    assert [(e.verb, e.actor, e.comment) for e in _new_events(contract, before)] == [
        ("amend", buyer, "Prix renégocié.")
    ]
    new = amended.current_document
    assert (new.version, new.status) == (2, "pending")
    # Until the new version is rendered, the contract cannot go to review.
    assert _blocked(
        lambda: services.contract_submit_for_review(
            contract=amended, rendered_sha256=amended.current_document.sha256, actor=buyer
        )
    )
    factories.render_pending(amended)
    new.refresh_from_db()
    assert new.status == "rendered"
    assert new.sha256 != first.sha256
    assert (
        services.contract_submit_for_review(
            contract=amended, rendered_sha256=amended.current_document.sha256, actor=buyer
        ).status
        == "legal_review"
    )


@pytest.mark.django_db
def test_amend_with_a_stale_terms_version_is_a_conflict(build, buyer, buyer2):
    contract = build("draft")
    contract.case.buyers.add(buyer2)
    _amend(contract, buyer2, quantity=90_000)
    with pytest.raises(Conflict):
        _amend(contract, buyer, quantity=70_000, terms_version=1)
    contract.refresh_from_db()
    assert (contract.quantity, contract.terms_version) == (90_000, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("quantity", "unit_price"), [(0, Decimal("1")), (100_001, Decimal("1")), (10, Decimal("0")), (10, Decimal("-1"))]
)
def test_amend_refuses_terms_beyond_the_need_or_non_positive(build, buyer, quantity, unit_price):
    contract = build("draft")
    with pytest.raises(ValidationError):
        _amend(contract, buyer, quantity=quantity, unit_price=unit_price)
    contract.refresh_from_db()
    assert contract.terms_version == 1


@pytest.mark.django_db
def test_amend_needs_a_comment(build, buyer):
    contract = build("draft")
    assert _blocked(lambda: _amend(contract, buyer, comment=" ")) == ["A comment is required for this step."]


@pytest.mark.django_db
def test_amend_of_an_approved_contract_voids_the_approval(build, buyer):
    contract = build("approved")
    assert contract.approved_by is not None

    revised = _amend(contract, buyer, unit_price=Decimal("0.7000"))

    revised.refresh_from_db()
    assert (revised.status, revised.approved_by, revised.approved_document, revised.approved_at) == (
        "draft",
        None,
        None,
        None,
    )
    assert (revised.clauses_checked, revised.terms_version, revised.unit_price) == ([], 2, Decimal("0.7000"))
    assert [d.status for d in revised.documents.all()] == ["rendered", "pending"]


# --- sign ------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_sign_records_the_signature(build, director, delegation):
    contract = build("approved")
    signed = services.contract_sign(contract=contract, actor=director, now=NOW)
    assert (signed.status, signed.signed_by, signed.signed_at, signed.delegation) == (
        "signed",
        director,
        NOW,
        delegation,
    )
    assert signed.signed_sha256 == signed.current_document.sha256 == signed.approved_document.sha256


@pytest.fixture
def approved(buyer, jurist):
    return make_contract(buyer, "approved", jurist=jurist)


@pytest.mark.django_db
def test_sign_without_any_delegation_is_denied(approved, director):
    # The role rule of `sign` is holding a delegation of the organisation: without one, the step is not offered.
    with pytest.raises(PermissionDenied):
        services.contract_sign(contract=approved, actor=director)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("delegation_kwargs", "reason"),
    [
        (
            {"amount_ceiling": Decimal("1000")},
            "Delegation {ref} is capped at 1000.00 € excl. VAT, below this contract.",
        ),
        (
            {"valid_from": TODAY - timedelta(days=60), "valid_until": TODAY - timedelta(days=1)},
            "Delegation {ref} ended on {until}.",
        ),
        ({"valid_from": TODAY + timedelta(days=1)}, "Delegation {ref} only starts on {start}."),
    ],
    ids=["above-ceiling", "after-end", "before-start"],
)
def test_sign_outside_the_delegation_is_blocked(approved, director, delegation_kwargs, reason):
    delegation = factories.SignatureDelegationFactory(delegate=director, **delegation_kwargs)
    reasons = _blocked(lambda: services.contract_sign(contract=approved, actor=director))
    expected = reason.format(ref=delegation.reference, until=delegation.valid_until, start=delegation.valid_from)
    assert reasons == [expected]
    approved.refresh_from_db()
    assert (approved.status, approved.signed_by) == ("approved", None)


@pytest.mark.django_db
def test_sign_uses_the_covering_delegation_among_several(approved, director):
    factories.SignatureDelegationFactory(delegate=director, amount_ceiling=Decimal("1000"))
    good = factories.SignatureDelegationFactory(delegate=director)
    assert services.contract_sign(contract=approved, actor=director).delegation == good


@pytest.mark.django_db
def test_sign_on_a_date_outside_the_delegation_is_blocked(approved, director, delegation):
    later = timezone.now() + timedelta(days=400)
    reasons = _blocked(lambda: services.contract_sign(contract=approved, actor=director, now=later))
    assert reasons == [f"Delegation {delegation.reference} ended on {delegation.valid_until}."]


@pytest.mark.django_db
def test_sign_when_the_approved_version_is_not_current_is_blocked(approved, director, delegation):
    ContractDocument.objects.create(contract=approved, version=2, created_at=timezone.now())
    reasons = _blocked(lambda: services.contract_sign(contract=approved, actor=director))
    assert reasons == ["The approved version is not the current version of the contract."]


@pytest.mark.django_db
def test_delegation_of_another_organisation_does_not_count(approved, other_org):
    foreign = factories.UserFactory(organisation=other_org, roles=["director"])
    factories.SignatureDelegationFactory(delegate=foreign)
    with pytest.raises(PermissionDenied):
        services.contract_sign(contract=approved, actor=foreign)


# --- notify_supplier -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_eu_threshold_is_seeded_by_the_migration():
    assert Threshold.amount_on(Threshold.Kind.EU_SUPPLIES, TODAY) is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("quantity", "unit_price", "needs_prefect"),
    [(100_000, Decimal("0.85"), False), (300_000, Decimal("0.85"), True), (100_000, None, True)],
    ids=["below", "above", "exactly-at-threshold"],
)
def test_notify_supplier_at_or_above_eu_threshold_needs_the_prefect(build, buyer, quantity, unit_price, needs_prefect):
    threshold = Threshold.amount_on(Threshold.Kind.EU_SUPPLIES, TODAY)
    unit_price = unit_price or threshold / 100_000
    contract = build("signed", quantity=quantity, unit_price=unit_price)
    assert (contract.amount_ht >= threshold) is needs_prefect
    if needs_prefect:
        assert _blocked(lambda: services.contract_notify_supplier(contract=contract, actor=buyer)) == [
            "The amount is at or above the EU threshold: record the transmission to the prefect first."
        ]
        with pytest.raises(ValidationError):
            services.contract_record_prefect_transmission(
                contract=contract, actor=buyer, day=timezone.localdate(contract.signed_at) - timedelta(days=1)
            )
        contract = services.contract_record_prefect_transmission(contract=contract, actor=buyer, day=TODAY)
        assert contract.prefect_transmitted_on == TODAY
        assert CaseEvent.objects.filter(contract=contract, verb="prefect_transmission").count() == 1
    notified = services.contract_notify_supplier(contract=contract, actor=buyer, now=NOW)
    assert (notified.status, notified.notified_at) == ("notified", NOW)


@pytest.mark.django_db
def test_prefect_transmission_only_for_signed_contracts(build, buyer, jurist):
    contract = build("approved")
    with pytest.raises(TransitionNotAllowed):
        services.contract_record_prefect_transmission(contract=contract, actor=buyer, day=TODAY)
    signed = build("signed")
    with pytest.raises(PermissionDenied):
        services.contract_record_prefect_transmission(contract=signed, actor=jurist, day=TODAY)


# --- withdraw ------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_withdraw_needs_a_reason(build, jurist):
    contract = build("draft")
    assert _blocked(lambda: services.contract_withdraw(contract=contract, actor=jurist, comment="")) == [
        "A comment is required for this step."
    ]


# --- notifications -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_submit_for_review_notifies_the_legal_team_after_commit(
    build, buyer, jurist, django_capture_on_commit_callbacks
):
    contract = build("draft")
    other_jurist = factories.UserFactory(organisation=buyer.organisation, roles=["jurist"])
    factories.UserFactory(roles=["jurist"])  # a jurist of another organisation is not told
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.contract_submit_for_review(
            contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
        )

    rows = Notification.objects.filter(verb="contract_to_review")
    assert {n.recipient for n in rows} == {jurist, other_jurist}
    assert all(n.url == contract.get_absolute_url() and contract.reference in n.text for n in rows)
    assert mail.outbox == []

    for callback in callbacks:
        callback()

    assert sorted(m.to[0] for m in mail.outbox) == sorted([jurist.email, other_jurist.email])
    assert set(rows.values_list("email_status", flat=True)) == {"sent"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("transition", "source", "who", "verb"),
    [
        ("approve", "legal_review", "jurist", "contract_approved"),
        ("request_changes", "legal_review", "jurist", "contract_returned"),
        ("sign", "approved", "director", "contract_signed"),
    ],
)
def test_purchasing_team_is_notified(
    request, build, buyer, buyer2, transition, source, who, verb, django_capture_on_commit_callbacks
):
    contract = build(source)
    contract.case.buyers.add(buyer2)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        CALLS[transition](contract, request.getfixturevalue(who))

    assert set(Notification.objects.filter(verb=verb).values_list("recipient", "email_status")) == {
        (buyer.pk, "sent"),
        (buyer2.pk, "sent"),
    }
    team = {buyer.email, buyer2.email}
    assert sorted(m.to[0] for m in mail.outbox if m.to[0] in team) == sorted(team)
    assert all(contract.reference in m.subject for m in mail.outbox)


@pytest.mark.django_db
def test_approval_tells_the_signatories_it_awaits_their_signature(build, jurist, director, delegation):
    contract = build("legal_review")
    _approve(contract, jurist)
    [row] = Notification.objects.filter(verb="contract_to_sign")
    assert row.recipient == director
    assert contract.reference in row.text


@pytest.mark.django_db
def test_stale_approval_queues_no_notification(build, jurist, django_capture_on_commit_callbacks):
    contract = build("legal_review")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Conflict):
        _approve(contract, jurist, sha="f" * 64)
    assert callbacks == []
    assert not Notification.objects.filter(verb="contract_approved").exists()
