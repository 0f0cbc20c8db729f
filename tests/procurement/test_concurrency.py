"""Real threads racing the same step on PostgreSQL: exactly one wins, the others get a clear refusal."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from accounts.models import User
from contracts import services as contract_services
from contracts.models import CLAUSES, Contract
from procurement import services
from procurement.models import CaseEvent, PurchaseCase
from procurement.workflow import Conflict
from tests import factories
from tests.factories import make_case

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 12
EXPECTED_REFUSALS = (TransitionNotAllowed, ConcurrentTransition, Conflict)


def race(work, n: int = THREADS) -> list[tuple[str, object]]:
    """Run work(i) in n threads released together; each closes its own connection."""
    barrier = threading.Barrier(n)
    results: list[tuple[str, object]] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcome = ("ok", work(i))
        except EXPECTED_REFUSALS as exc:
            outcome = ("refused", exc)
        except BaseException as exc:  # anything else is a bug the assertion below shows
            outcome = ("error", exc)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,), name=f"racer-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    assert len(results) == n
    return results


def _assert_one_winner(results):
    errors = [exc for kind, exc in results if kind == "error"]
    assert errors == [], f"unexpected exceptions: {errors!r}"
    assert [kind for kind, _ in results].count("ok") == 1, results


def test_racing_case_submit_has_exactly_one_winner(buyer):
    case = make_case(buyer, "need")

    def submit(i):
        actor = User.objects.get(pk=buyer.pk)
        return services.case_submit(case=PurchaseCase.objects.get(pk=case.pk), actor=actor)

    results = race(submit)

    _assert_one_winner(results)
    assert PurchaseCase.objects.get(pk=case.pk).status == "vetting"
    assert CaseEvent.objects.filter(case=case, verb="submit").count() == 1


def test_racing_award_creates_the_contracts_once(buyer):
    case = make_case(buyer, "negotiation", render=False)
    offer = case.offers.get()

    def award(i):
        actor = User.objects.get(pk=buyer.pk)
        return contract_services.case_award(case=case, actor=actor, awards={offer.pk: 100_000}, reason=f"Racer {i}")

    results = race(award, n=8)

    _assert_one_winner(results)
    assert Contract.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, verb="award").count() == 1


def test_racing_contract_approve_has_exactly_one_winner(buyer, jurist):
    contract = make_case(buyer, "contract").contracts.get()
    contract = contract_services.contract_submit_for_review(
        contract=contract, rendered_sha256=contract.current_document.sha256, actor=buyer
    )
    sha = contract.current_document.sha256
    other_jurists = [factories.UserFactory(organisation=buyer.organisation, roles=["jurist"]) for _ in range(3)]
    jurists = [jurist, *other_jurists]

    def approve(i):
        actor = User.objects.get(pk=jurists[i % len(jurists)].pk)
        return contract_services.contract_approve(
            contract=Contract.objects.get(pk=contract.pk), actor=actor, rendered_sha256=sha, clauses=list(CLAUSES)
        )

    results = race(approve)

    _assert_one_winner(results)
    winner = next(value for kind, value in results if kind == "ok")
    contract.refresh_from_db()
    assert (contract.status, contract.approved_by_id) == ("approved", winner.approved_by_id)
    assert CaseEvent.objects.filter(contract=contract, verb="approve").count() == 1


@pytest.mark.parametrize("n", [2, 8])
def test_concurrent_amends_with_the_same_terms_version_lose_nothing(buyer, n):
    contract = make_case(buyer, "contract").contracts.get()
    quantities = [50_000 + i for i in range(n)]

    def amend(i):
        actor = User.objects.get(pk=buyer.pk)
        return contract_services.contract_amend(
            contract=Contract.objects.get(pk=contract.pk),
            actor=actor,
            quantity=quantities[i],
            unit_price=Decimal("0.8000"),
            comment=f"Racer {i}",
            terms_version=1,
        )

    results = race(amend, n=n)

    _assert_one_winner(results)
    assert {type(exc) for kind, exc in results if kind == "refused"} == {Conflict}
    winner = next(value for kind, value in results if kind == "ok")
    contract.refresh_from_db()
    assert (contract.terms_version, contract.quantity) == (2, winner.quantity)
    events = CaseEvent.objects.filter(contract=contract, verb="amend")
    assert [e.comment for e in events] == [f"Racer {quantities.index(winner.quantity)}"]
    assert list(contract.documents.values_list("version", flat=True)) == [1, 2]


def test_stale_instance_cannot_overwrite_a_transition(buyer):
    """Without the service lock, ConcurrentTransitionMixin still refuses a save based on a stale state."""
    case = make_case(buyer, "need")
    first = PurchaseCase.objects.get(pk=case.pk)
    second = PurchaseCase.objects.get(pk=case.pk)
    first.submit()
    first.save()
    second.cancel()
    with pytest.raises(ConcurrentTransition):
        second.save()
    assert PurchaseCase.objects.get(pk=case.pk).status == "vetting"
