"""The dashboard's figures read with raw SQL on PostgreSQL (dashboard.figures, dashboard.execution) on rich data:
execution quantities, red flags of every kind beside their look-alikes, the requisition risk of 2020 mask
contracts. Each figure is checked against values worked out from the fixtures, and the benchmark's own SQL
(benchmarks.dashboard_sql) against dashboard_for on all of them."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from benchmarks import dashboard_sql
from contracts.models import Contract
from dashboard import selectors
from execution import services as execution
from execution.models import Allocation
from procurement import selectors as procurement_selectors
from procurement.models import OPEN_STATUSES, PurchaseCase
from suppliers.models import SanctionsList, SanctionsScreening, Supplier
from tests import factories
from tests.factories import make_case, make_contract

PARIS = ZoneInfo("Europe/Paris")

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def figures(director) -> tuple[dict, dict]:
    """The benchmark baseline's figures (its own SQL on the kept tables) and the same figures read from
    dashboard_for, for the director's organisation."""
    now = timezone.now()
    baseline = dashboard_sql.dashboard_figures(organisation_id=director.organisation_id, now=now)
    shown = dashboard_sql.figures_of_dashboard(selectors.dashboard_for(user=director, now=now))
    return baseline, shown


def _supplier_of(case, name: str) -> Supplier:
    """The supplier of the case's only offer, renamed (the dashboard lists flagged suppliers by name)."""
    supplier = case.offers.get().supplier
    Supplier.objects.filter(pk=supplier.pk).update(name=name)
    return Supplier.objects.get(pk=supplier.pk)


def _sanctions_list(version: str, published_at) -> SanctionsList:
    return SanctionsList.objects.create(
        source=SanctionsList.Source.FR,
        version=version,
        published_at=published_at,
        imported_at=published_at,
        sha256=version * 8,
    )


def _screening(supplier, sanctions_list, review: str, screened_at) -> SanctionsScreening:
    return SanctionsScreening.objects.create(
        supplier=supplier,
        sanctions_list=sanctions_list,
        screened_at=screened_at,
        result=SanctionsScreening.Result.POSSIBLE_MATCH,
        matches=[{"name": "Homonyme", "score": 90}],
        review=review,
    )


# --- data ----------------------------------------------------------------------------------------------------
@pytest.fixture
def execution_world(buyer, jurist, director, delegation):
    """A signed contract (100 000 units) with every execution step, a notified one (50 000) with none, and an
    approved one, not signed, with an allocation written directly: only the signed contracts count.
    Returns their product."""
    today = timezone.localdate()
    signed = make_contract(buyer, "signed", jurist=jurist, signer=director)
    make_contract(buyer, "notified", jurist=jurist, signer=director, quantity=50_000)
    approved = make_contract(buyer, "approved", jurist=jurist, signer=director, quantity=70_000)
    lot = execution.lot_add(
        contract=signed, actor=buyer, quantity=6000, due_on=today, delivery_place="Marseille", incoterm="DAP"
    )
    by_sea = execution.shipment_add(lot=lot, actor=buyer, quantity=5000, mode="sea")
    by_air = execution.shipment_add(lot=lot, actor=buyer, quantity=1000, mode="air")
    admitted = execution.reception_record(shipment=by_sea, actor=buyer, received_on=today, quantity_received=4000)
    execution.reception_decide(reception=admitted, actor=buyer, decision="admit")
    execution.reception_record(shipment=by_air, actor=buyer, received_on=today, quantity_received=900)
    execution.allocation_record(contract=signed, actor=buyer, beneficiary="police", quantity=400, allocated_on=today)
    invoice = execution.invoice_record(
        contract=signed, actor=buyer, number="F1", received_on=today, amount=3000, quantity=3000, lots=[lot]
    )
    execution.payment_record(invoice=invoice, actor=buyer, paid_on=today, amount=2000, quantity=2000)
    # Test data only: an allocation on a contract not yet signed, which the services would refuse.
    Allocation.objects.create(
        contract=approved,
        beneficiary="police",
        quantity=77,
        allocated_on=today,
        recorded_by=buyer,
        recorded_at=timezone.now(),
    )
    return signed.offer.need_line.product


@pytest.fixture
def flag_world(buyer, jurist, director, delegation, outsider):
    """Suppliers by name: each kind of red flag on a supplier answering open cases, each look-alike that is no
    flag, and flagged suppliers of another organisation. The sanctions lists are imported after the cases, so the
    only screenings are those written here.

    Flagged and answering open cases: Bravo (pending on the latest list), Charlie (latest vetting decision a
    rejection; it also answers Bravo's case) and Delta (confirmed on the latest list) — three suppliers, three
    cases, four answers. Not flagged: Alpha (rejected, then approved), Aaron (confirmed on an older list only),
    Abel (pending, then cleared). Flagged but answering a closed case only: Aardvark. Of another organisation:
    "AAA Autre" (rejected) and "AAB Autre" (pending)."""
    now = timezone.now()
    bravo_case = make_case(buyer, "vetting")
    bravo = _supplier_of(bravo_case, "Bravo")
    charlie_case = make_case(buyer, "vetting")
    charlie = _supplier_of(charlie_case, "Charlie")
    factories.vet(charlie_case, charlie_case.offers.get(), buyer, decision="rejected")
    factories.add_offer(bravo_case, buyer, supplier=charlie)
    delta = _supplier_of(make_case(buyer, "norm_check"), "Delta")
    alpha_case = make_case(buyer, "vetting")
    alpha = _supplier_of(alpha_case, "Alpha")
    factories.vet(alpha_case, alpha_case.offers.get(), buyer, decision="rejected")
    factories.vet(alpha_case, alpha_case.offers.get(), buyer, decision="approved")
    aaron = _supplier_of(make_case(buyer, "vetting"), "Aaron")
    abel = _supplier_of(make_case(buyer, "vetting"), "Abel")
    aardvark = _supplier_of(make_case(buyer, "closed", jurist=jurist, signer=director), "Aardvark")
    other_case = make_case(outsider, "vetting")
    other_rejected = _supplier_of(other_case, "AAA Autre")
    factories.vet(other_case, other_case.offers.get(), outsider, decision="rejected")
    other_pending = _supplier_of(make_case(outsider, "vetting"), "AAB Autre")

    older = _sanctions_list("1", now - timedelta(days=9))
    latest = _sanctions_list("2", now - timedelta(days=1))
    _screening(bravo, latest, SanctionsScreening.Review.PENDING, now - timedelta(hours=2))
    _screening(delta, latest, SanctionsScreening.Review.CONFIRMED, now - timedelta(hours=2))
    _screening(aaron, older, SanctionsScreening.Review.CONFIRMED, now - timedelta(days=5))
    _screening(abel, latest, SanctionsScreening.Review.PENDING, now - timedelta(hours=5))
    _screening(abel, latest, SanctionsScreening.Review.CLEARED, now - timedelta(hours=3))
    _screening(aardvark, latest, SanctionsScreening.Review.PENDING, now - timedelta(hours=2))
    _screening(other_pending, latest, SanctionsScreening.Review.PENDING, now - timedelta(hours=2))
    suppliers = (alpha, aaron, abel, aardvark, bravo, charlie, delta, other_rejected, other_pending)
    return {supplier.name: supplier for supplier in suppliers}


@pytest.fixture
def requisition_world(buyer, jurist, director, delegation):
    """Five signed contracts of 3 000 000 masks, awarded in 2020 (Paris time): in the second quarter on 2 April,
    30 May and 1 April at 00:30 (still 31 March in UTC), 9 000 000 units above the threshold of 5 000 000; in the
    first quarter on 25 March, and on 19 March, the day before the décret's period. Their cases were created 3, 1,
    2, 4 and 5 days ago. Returns the contracts in that order."""
    now = timezone.now()
    awarded = (
        datetime(2020, 4, 2, 10, 0, tzinfo=PARIS),
        datetime(2020, 5, 30, 10, 0, tzinfo=PARIS),
        datetime(2020, 4, 1, 0, 30, tzinfo=PARIS),
        datetime(2020, 3, 25, 10, 0, tzinfo=PARIS),
        datetime(2020, 3, 19, 23, 30, tzinfo=PARIS),
    )
    contracts = []
    for created_at, days_ago in zip(awarded, (3, 1, 2, 4, 5), strict=True):
        contract = make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=3_000_000)
        Contract.objects.filter(pk=contract.pk).update(created_at=created_at)
        PurchaseCase.objects.filter(pk=contract.case_id).update(created_at=now - timedelta(days=days_ago))
        contracts.append(contract)
    return contracts


# --- each figure ---------------------------------------------------------------------------------------------
def test_execution_counts_every_step_of_the_signed_contracts_only(execution_world, director):
    baseline, shown = figures(director)
    # ordered, shipped, received, admitted, allocated, invoiced, paid
    expected = {execution_world: (150_000, 6000, 4900, 4000, 400, 3000, 2000)}
    assert shown["execution"] == expected
    assert baseline["execution"] == expected


def test_red_flags_list_the_flagged_suppliers_answering_open_cases_by_name(flag_world, director, settings):
    settings.DASHBOARD_LIST_SIZE = 2
    baseline, shown = figures(director)
    first_two = [flag_world["Bravo"].pk, flag_world["Charlie"].pk]
    assert shown["flagged_suppliers"] == baseline["flagged_suppliers"] == first_two
    # Bravo, Charlie, Delta; the cases of Bravo (answered by Charlie too), Charlie and Delta.
    assert (shown["flagged_total"], shown["flagged_cases"]) == (3, 3)
    assert (baseline["flagged_total"], baseline["flagged_cases"]) == (3, 3)


def test_red_flags_on_postgresql_equal_the_orm_rule_on_open_cases(flag_world, director):
    organisation_id = director.organisation_id
    flagged = procurement_selectors.flagged_suppliers(organisation_id=organisation_id)
    # The rule flags the closed case's supplier too, and none of the look-alikes nor the other organisation's.
    assert set(flagged.values_list("name", flat=True)) == {"Aardvark", "Bravo", "Charlie", "Delta"}
    answering = flagged.filter(
        offers__case__organisation_id=organisation_id, offers__case__status__in=OPEN_STATUSES
    ).distinct()
    expected = list(answering.order_by("name", "pk").values_list("pk", flat=True))
    open_cases = (
        PurchaseCase.objects.filter(organisation_id=organisation_id, status__in=OPEN_STATUSES)
        .filter(offers__supplier__in=flagged)
        .distinct()
        .count()
    )
    assert expected == [flag_world[name].pk for name in ("Bravo", "Charlie", "Delta")]
    assert open_cases == 3

    suppliers, total, cases = selectors.red_flags(organisation_id=organisation_id)
    assert [supplier.pk for supplier in suppliers] == expected
    assert (total, cases) == (len(expected), open_cases)
    page, total, cases = selectors.red_flags(organisation_id=organisation_id, limit=2)
    assert [supplier.pk for supplier in page] == expected[:2]
    assert (total, cases) == (len(expected), open_cases)


def test_requisition_risk_lists_the_cases_of_quarters_above_the_threshold_in_local_time(
    requisition_world, director, settings
):
    settings.DASHBOARD_LIST_SIZE = 2
    baseline, shown = figures(director)
    # The three second-quarter cases, first created first: 3 days ago, then 2 (the 1 April one), then 1.
    first_two = [requisition_world[0].case_id, requisition_world[2].case_id]
    assert shown["requisition_cases"] == baseline["requisition_cases"] == first_two
    assert shown["requisition_total"] == baseline["requisition_total"] == 3


def test_baseline_and_dashboard_agree_on_every_figure_and_cover_them_all(
    execution_world, requisition_world, flag_world, director, settings
):
    settings.DASHBOARD_LIST_SIZE = 2
    now = timezone.now()
    organisation_id = director.organisation_id
    dashboard = selectors.dashboard_for(user=director, now=now)
    shown = dashboard_sql.figures_of_dashboard(dashboard)
    baseline = dashboard_sql.dashboard_figures(organisation_id=organisation_id, now=now)
    base = dashboard_sql.base_table_figures(organisation_id=organisation_id, now=now)

    assert not set(dashboard) - dashboard_sql.COVERED_KEYS - {"now"}
    assert baseline.keys() == shown.keys() == base.keys()
    assert dashboard_sql.differences(baseline, shown) == []
    # From the base tables the need-to-signature percentiles are exact to the second, not to the minute.
    assert [key for key in dashboard_sql.differences(base, baseline) if key != "time_to_contract"] == []
    assert base["time_to_contract"][0] == baseline["time_to_contract"][0]
    # The data reaches the figures compared (nothing agrees by being empty).
    assert (shown["flagged_total"], shown["flagged_cases"], shown["requisition_total"]) == (3, 3, 3)
    assert shown["execution"][execution_world][1:] == (6000, 4900, 4000, 400, 3000, 2000)
