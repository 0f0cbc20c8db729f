"""Twenty people (or twenty tabs) take the same step at the same instant, on the real PostgreSQL.

Exactly one step is recorded — one state change, one audit event, one round of notifications — and every other
request gets the refusal a user understands (procurement.workflow.CONFLICT_MESSAGE), never a 500 and never a
second event. Terms edited concurrently are never silently overwritten: the contract's terms carry a version
(`terms_version`) and negotiation rounds are appended under the case lock, so every round survives.

Real threads released together by a barrier, each with its own database connection (tests/procurement/
test_concurrency.py holds the helper); `transaction=True` so that the threads see the committed rows.
"""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db.models import Max
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.translation import gettext

from accounts.models import User
from contracts import services as contract_services
from contracts.models import CLAUSES, Contract, ContractModification
from notifications.models import Notification
from procurement import services
from procurement.models import CaseEvent, NegotiationRound, Offer, PurchaseCase
from procurement.workflow import CONFLICT_MESSAGE, VERB_LABELS
from tests import factories
from tests.factories import make_case, make_contract, round_data
from tests.procurement.test_concurrency import EXPECTED_REFUSALS, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 20


def _fresh(model, obj):
    return model.objects.get(pk=obj.pk)


def _one_winner(results) -> object:
    errors = [exc for kind, exc in results if kind == "error"]
    assert errors == [], f"unexpected exceptions: {errors!r}"
    kinds = Counter(kind for kind, _value in results)
    assert kinds == {"ok": 1, "refused": RACERS - 1}, kinds
    assert all(isinstance(exc, EXPECTED_REFUSALS) for kind, exc in results if kind == "refused")
    return next(value for kind, value in results if kind == "ok")


def _no_duplicate_notifications(since_pk: int) -> list:
    rows = list(Notification.objects.filter(pk__gt=since_pk).values_list("recipient_id", "verb", "url"))
    duplicates = [row for row, count in Counter(rows).items() if count > 1]
    assert duplicates == [], f"notified more than once: {duplicates}"
    return rows


def _last_pk(model) -> int:
    return model.objects.aggregate(last=Max("pk"))["last"] or 0


# --- the same step, twenty times, through the services ----------------------------------------
@pytest.fixture
def cast(buyer, jurist, director):
    factories.SignatureDelegationFactory(delegate=director)
    jurists = [jurist, *(factories.UserFactory(organisation=buyer.organisation, roles=["jurist"]) for _ in range(3))]
    return {"buyer": buyer, "jurists": jurists, "director": director}


def _case_step(state, service, actor, verb, **kwargs):
    def setup(cast):
        case = make_case(cast["buyer"], state)

        def step(i):
            who = User.objects.get(pk=actor(cast, i).pk)
            return service(case=_fresh(PurchaseCase, case), actor=who, **kwargs)

        return step, {"case": case}

    return setup, verb


def _contract_step(state, service, actor, verb, **kwargs):
    def setup(cast):
        contract = make_contract(cast["buyer"], state, jurist=cast["jurists"][0], signer=cast["director"])

        def step(i):
            who = User.objects.get(pk=actor(cast, i).pk)
            return service(contract=_fresh(Contract, contract), actor=who, **kwargs)

        return step, {"contract": contract}

    return setup, verb


def _buyer(cast, i):
    return cast["buyer"]


def _a_jurist(cast, i):
    return cast["jurists"][i % len(cast["jurists"])]


def _director(cast, i):
    return cast["director"]


def _award_step(cast):
    case = make_case(cast["buyer"], "negotiation")
    offer = case.offers.get()

    def step(i):
        return contract_services.case_award(
            case=_fresh(PurchaseCase, case),
            actor=User.objects.get(pk=cast["buyer"].pk),
            awards={offer.pk: offer.quantity},
            reason=f"Racer {i}",
        )

    return step, {"case": case}


def _close_step(cast):
    case = make_case(cast["buyer"], "contract")
    for contract in case.contracts.all():
        factories.sign_contract(contract, cast["buyer"], cast["jurists"][0], cast["director"])

    def step(i):
        return contract_services.case_close(
            case=_fresh(PurchaseCase, case), actor=User.objects.get(pk=_buyer(cast, i).pk)
        )

    return step, {"case": case}


STEPS = {
    "case submit": _case_step("need", services.case_submit, _buyer, "submit"),
    "case start_norm_check": _case_step("vetting", services.case_start_norm_check, _buyer, "start_norm_check"),
    "case start_negotiation": _case_step("norm_check", services.case_start_negotiation, _buyer, "start_negotiation"),
    "case back_to_vetting": _case_step(
        "norm_check", services.case_back_to_vetting, _a_jurist, "back_to_vetting", comment="Certificat douteux."
    ),
    "case award": (_award_step, "award"),
    "case cancel": _case_step(
        "need", contract_services.case_cancel, _a_jurist, "cancel", comment="Besoin couvert par l'État."
    ),
    "case close": (_close_step, "close"),
    "contract request_changes": _contract_step(
        "legal_review", contract_services.contract_request_changes, _a_jurist, "request_changes", comment="Clause 4."
    ),
    "contract sign": _contract_step("approved", contract_services.contract_sign, _director, "sign"),
    "contract notify_supplier": _contract_step(
        "signed", contract_services.contract_notify_supplier, _buyer, "notify_supplier"
    ),
    "contract withdraw": _contract_step(
        "draft", contract_services.contract_withdraw, _a_jurist, "withdraw", comment="Offre caduque."
    ),
}


@pytest.mark.parametrize("name", list(STEPS))
def test_twenty_racers_one_step_one_event(cast, name):
    setup, verb = STEPS[name]
    step, objects = setup(cast)
    events_before = _last_pk(CaseEvent)
    notifications_before = _last_pk(Notification)

    results = race(step, n=RACERS)

    _one_winner(results)
    events = CaseEvent.objects.filter(pk__gt=events_before, verb=verb)
    assert events.count() == 1, list(events.values_list("verb", "comment"))
    if "contract" in objects:
        assert events.get().contract_id == objects["contract"].pk
    else:
        assert events.get().case_id == objects["case"].pk
    _no_duplicate_notifications(notifications_before)
    if verb == "award":
        assert Contract.objects.filter(case=objects["case"]).count() == 1


# --- through the pages: the losers read the conflict message ----------------------------------
def _french(message) -> str:
    """A message as the site shows it: in its default language (the requests carry no Accept-Language)."""
    with translation.override("fr"):
        return gettext(str(message)) if not isinstance(message, Promise) else str(message)


def _clients(users) -> list[Client]:
    clients = []
    for user in users:
        client = Client()
        client.force_login(user)
        clients.append(client)
    return clients


def _post_race(clients, url, data_for) -> list[list[str]]:
    """Each client posts at once and follows the redirect; returns the messages each one's page shows. A refused
    step that came with typed text shows its page again at once (409 or 422), the text kept."""

    def post(i):
        response = clients[i].post(url, data_for(i), follow=True)
        assert response.status_code in (200, 409, 422), response.status_code
        shown = [str(message) for message in get_messages(response.wsgi_request)]
        page = response.content.decode()
        assert all(escape(message) in page for message in shown), shown
        return shown

    results = race(post, n=len(clients))
    errors = [exc for kind, exc in results if kind != "ok"]
    assert errors == [], f"a request failed: {errors!r}"
    return [shown for _kind, shown in results]


def _tally(pages, success) -> tuple[int, int]:
    """How many users were told the step was done, and how many were told it was already taken."""
    success, conflict = _french(success), _french(CONFLICT_MESSAGE)
    assert all(shown in ([success], [conflict]) for shown in pages), pages
    return sum(shown == [success] for shown in pages), sum(shown == [conflict] for shown in pages)


def test_twenty_tabs_submitting_the_same_need(buyer):
    case = make_case(buyer, "need")
    clients = _clients([buyer] * RACERS)

    pages = _post_race(clients, reverse("procurement:case_transition", args=[case.pk, "submit"]), lambda i: {})

    assert _tally(pages, VERB_LABELS["submit"]) == (1, RACERS - 1)
    assert _fresh(PurchaseCase, case).status == "vetting"
    assert case.events.filter(verb="submit").count() == 1


def test_twenty_jurists_approving_the_same_contract(buyer, cast):
    contract = make_contract(buyer, "legal_review", jurist=cast["jurists"][0])
    sha = contract.current_document.sha256
    clients = _clients([cast["jurists"][i % len(cast["jurists"])] for i in range(RACERS)])
    notifications_before = _last_pk(Notification)

    pages = _post_race(
        clients,
        reverse("contracts:transition", args=[contract.pk, "approve"]),
        lambda i: {"approve-clauses": list(CLAUSES), "approve-rendered_sha256": sha},
    )

    assert _tally(pages, "The contract is approved.") == (1, RACERS - 1)
    contract = _fresh(Contract, contract)
    assert contract.status == "approved"
    assert CaseEvent.objects.filter(contract=contract, verb="approve").count() == 1
    assert CaseEvent.objects.get(contract=contract, verb="approve").actor_id == contract.approved_by_id
    verbs = Counter(verb for _recipient, verb, _url in _no_duplicate_notifications(notifications_before))
    assert verbs == {"contract_approved": 1, "contract_to_sign": 1}  # the buyer; the director's delegation


# --- terms edited concurrently: never silently overwritten --------------------------------------
def test_twenty_tabs_amending_the_same_terms_version(buyer):
    """Each tab opened the contract at terms version 1 and asks for its own quantity: one wins, the others are
    told the terms changed; nobody's change silently replaces the winner's."""
    contract = make_contract(buyer, "draft", jurist=factories.UserFactory(organisation=buyer.organisation))
    quantities = [90_000 + i for i in range(RACERS)]
    clients = _clients([buyer] * RACERS)

    pages = _post_race(
        clients,
        reverse("contracts:transition", args=[contract.pk, "amend"]),
        lambda i: {
            "amend-quantity": quantities[i],
            "amend-unit_price": "0.8000",
            "amend-comment": f"Onglet {i}",
            "amend-terms_version": 1,
        },
    )

    success = "The terms were changed; a new version of the contract is being generated."
    assert _tally(pages, success) == (1, RACERS - 1)
    contract = _fresh(Contract, contract)
    (event,) = CaseEvent.objects.filter(contract=contract, verb="amend")
    winner = int(event.comment.removeprefix("Onglet "))
    assert (contract.terms_version, contract.quantity) == (2, quantities[winner])
    assert list(contract.documents.values_list("version", flat=True)) == [1, 2]


def test_twenty_modifications_of_the_same_notified_terms(buyer, cast):
    """Avenants are appended and numbered: twenty at once on terms version 1 make one modification n° 1."""
    contract = make_contract(buyer, "notified", jurist=cast["jurists"][0], signer=cast["director"])
    today = timezone.localdate()

    def modify(i):
        return contract_services.contract_modify(
            contract=_fresh(Contract, contract),
            actor=User.objects.get(pk=(buyer if i % 2 else cast["jurists"][i % 4]).pk),
            quantity=contract.quantity - 100 - i,
            unit_price=contract.unit_price,
            reason=f"Avenant {i}",
            notified_on=today,
            terms_version=contract.terms_version,
        )

    winner = _one_winner(race(modify, n=RACERS))

    contract = _fresh(Contract, contract)
    assert list(ContractModification.objects.filter(contract=contract).values_list("number", "reason")) == [
        (1, winner.reason)
    ]
    assert (contract.terms_version, contract.quantity) == (2, winner.quantity)
    assert CaseEvent.objects.filter(contract=contract, verb="modification").count() == 1


def test_twenty_negotiation_rounds_recorded_at_once_are_all_kept(buyer, buyer2):
    """Rounds are appended under the case lock: twenty buyers recording terms at once get twenty numbered
    rounds — none lost, none renumbered over another — each with its own terms, each in the audit trail."""
    case = make_case(buyer, "negotiation")
    services.case_assign_buyer(case=case, actor=buyer, buyer=buyer2)
    offer = case.offers.get()
    before = list(offer.rounds.values_list("number", flat=True))
    day = timezone.localdate() + timedelta(days=5)

    def add_round(i):
        return services.negotiation_round_add(
            offer=Offer.objects.get(pk=offer.pk),
            actor=User.objects.get(pk=(buyer, buyer2)[i % 2].pk),
            **round_data(
                offer,
                is_final=False,
                unit_price=Decimal("0.8000") + Decimal(i) / 10_000,
                delivery_date=day,
                note=f"Proposition {i}",
            ),
        )

    results = race(add_round, n=RACERS)

    assert [exc for kind, exc in results if kind != "ok"] == []
    rounds = list(NegotiationRound.objects.filter(offer=offer).exclude(number__in=before).order_by("number"))
    assert [r.number for r in rounds] == list(range(len(before) + 1, len(before) + RACERS + 1))
    assert sorted(r.note for r in rounds) == sorted(f"Proposition {i}" for i in range(RACERS))
    for r in rounds:
        i = int(r.note.removeprefix("Proposition "))
        assert r.unit_price == Decimal("0.8000") + Decimal(i) / 10_000  # each round keeps its own terms
        assert r.recorded_by_id == (buyer, buyer2)[i % 2].pk
    assert case.events.filter(verb="negotiation_round").count() == len(before) + RACERS
    # The latest terms are those of the last round recorded, not of whichever write came last.
    assert Offer.objects.get(pk=offer.pk).latest_round == rounds[-1]
