"""What a signed contract still owes, with due dates, on the contract page and the director's dashboard."""

from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts import obligations, services
from procurement import workflow
from tests.factories import make_contract


def codes(contract, today=None):
    return {o.code: o for o in obligations.contract_obligations(contract, today or timezone.localdate())}


@pytest.fixture
def big(buyer, jurist, director, delegation):
    """1 000 000 masks at 0.85 €: above the EU threshold and the DECP threshold."""
    return make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=1_000_000)


@pytest.mark.django_db
def test_above_the_eu_threshold_the_prefect_and_the_award_notice_are_due(big):
    signed_on = timezone.localdate(big.signed_at)
    found = codes(big)
    assert found["prefect"].due == signed_on + timedelta(days=15)
    assert found["award_notice"].due == signed_on + timedelta(days=30)
    assert "decp" not in found  # due from the notification
    assert found["vigilance"].due == signed_on + relativedelta(months=6)  # no URSSAF certificate on file
    later = signed_on + timedelta(days=31)
    assert found["award_notice"].state(later) == "overdue"


@pytest.mark.django_db
def test_below_the_eu_threshold_only_the_decp_after_notification(buyer, jurist, director, delegation):
    contract = make_contract(buyer, "notified", jurist=jurist, signer=director, quantity=100_000)
    assert contract.amount_ht == Decimal("85000.00")
    found = codes(contract)
    assert set(found) == {"decp", "vigilance"}
    assert found["decp"].due == timezone.localdate(contract.notified_at) + relativedelta(months=2)


@pytest.mark.django_db
def test_recording_the_award_notice_fulfils_it_once(big, buyer, jurist):
    with pytest.raises(PermissionDenied):
        services.contract_record_award_notice(contract=big, actor=jurist, day=timezone.localdate())
    with pytest.raises(ValidationError):
        services.contract_record_award_notice(
            contract=big, actor=buyer, day=timezone.localdate(big.signed_at) - timedelta(days=1)
        )
    services.contract_record_award_notice(contract=big, actor=buyer, day=timezone.localdate())
    big.refresh_from_db()
    assert codes(big)["award_notice"].done_on == timezone.localdate()
    assert big.events.filter(verb="award_notice").count() == 1
    with pytest.raises(workflow.Conflict):
        services.contract_record_award_notice(contract=big, actor=buyer, day=timezone.localdate())


@pytest.mark.django_db
def test_the_contract_page_lists_them_and_records_one(client, big, buyer):
    client.force_login(buyer)
    page = client.get(big.get_absolute_url())
    assert {row["obligation"].code for row in page.context["obligations"]} >= {"prefect", "award_notice"}
    response = client.post(
        reverse("contracts:transition", args=[big.pk, "award_notice"]),
        {"award_notice-day": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302
    big.refresh_from_db()
    assert big.award_notice_published_on == timezone.localdate()


@pytest.mark.django_db
def test_the_dashboard_lists_pending_obligations_overdue_first(client, big, director, buyer, jurist):
    old = make_contract(
        buyer, "signed", jurist=jurist, signer=director, quantity=1_000_000, now=timezone.now() - timedelta(days=20)
    )
    client.force_login(director)
    rows = client.get(reverse("dashboard:index")).context["obligations"]
    assert rows[0].state == "overdue"
    assert rows[0].contract == old
    assert {row.contract for row in rows} == {old, big}


@pytest.mark.django_db
def test_dashboard_queries_do_not_grow_with_contracts(client, buyer, jurist, director, delegation):
    client.force_login(director)
    make_contract(buyer, "signed", jurist=jurist, signer=director)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            client.get(reverse("dashboard:index"))
        return len(captured)

    few = queries()
    for _ in range(3):
        make_contract(buyer, "signed", jurist=jurist, signer=director)
    assert queries() == few


@pytest.mark.django_db
def test_a_publication_the_contract_does_not_owe_is_refused(buyer, jurist, director, delegation):
    from django_fsm import TransitionNotAllowed

    small = make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=100_000)  # below the EU threshold
    with pytest.raises(TransitionNotAllowed):
        services.contract_record_award_notice(contract=small, actor=buyer, day=timezone.localdate())
