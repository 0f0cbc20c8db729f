"""The figures kept by PostgreSQL triggers (dashboard.models) equal, after any sequence of changes, the same
figures recomputed from the base tables; folding them changes no sum; the percentiles are exact to the minute."""

import importlib
import statistics
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from contracts.models import SIGNED_STATUSES, Contract, ContractStatus
from dashboard import figures, selectors, tasks
from dashboard.models import (
    ContractDelivery,
    DeliveryDayCount,
    ObligationDayCount,
    PendingObligation,
    ProductFigures,
    SignatureDelayHour,
    SignatureDelayMinute,
    StageCount,
    SupplierFigures,
)
from procurement.catalogue import Product
from procurement.models import OPEN_STATUSES, NeedLine, NegotiationRound, PurchaseCase, Threshold
from suppliers.models import SupplierDocument
from tests.factories import make_case, make_contract

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers exist on PostgreSQL only")

MIGRATION = importlib.import_module("dashboard.migrations.0002_figures_triggers")
KEPT_MIGRATION = importlib.import_module("dashboard.migrations.0004_deliveries_obligations_triggers")
KEYS = {
    StageCount: ("organisation_id", "status", "hour"),
    ProductFigures: ("organisation_id", "product"),
    SupplierFigures: ("organisation_id", "supplier_id"),
    SignatureDelayHour: ("organisation_id", "hours"),
    SignatureDelayMinute: ("organisation_id", "minutes"),
    DeliveryDayCount: ("organisation_id", "day"),
    ObligationDayCount: ("organisation_id", "day"),
}


def kept() -> dict:
    """Every table summed per key, the keys whose sums are all zero left out (as after folding)."""
    state = {}
    for model, key in KEYS.items():
        values = [f.name for f in model._meta.fields if f.name not in {"id", "compacted", *key}]
        sums = {}
        for row in model.objects.values(*key, *values):
            total = sums.setdefault(tuple(row[k] for k in key), dict.fromkeys(values, 0))
            for name in values:
                total[name] += row[name]
        state[model.__name__] = {k: v for k, v in sums.items() if any(v.values())}
    return state


def kept_rows() -> dict:
    """The tables kept row by row (one per contract, or per contract and obligation), as sets of rows."""
    return {
        model.__name__: {tuple(row.values()) for row in model.objects.values(*fields)}
        for model, fields in (
            (ContractDelivery, ("contract_id", "organisation_id", "delivery_date", "delivery_place")),
            (PendingObligation, ("contract_id", "code", "position", "organisation_id", "due", "contract_created_at")),
        )
    }


def assert_kept_equals_rebuilt():
    before, rows = kept(), kept_rows()
    figures.rebuild()
    assert before == kept()
    assert rows == kept_rows()
    assert before["StageCount"], "the fixtures wrote no figures: nothing was proven"
    assert rows["ContractDelivery"], "no delivery: nothing was proven"
    assert rows["PendingObligation"], "no obligation: nothing was proven"


def test_the_status_lists_of_the_triggers_are_the_models(db):
    def listed(sql_list: str) -> set[str]:
        return {item.strip(" '") for item in sql_list.strip("()").split(",")}

    assert listed(MIGRATION.OPEN_CASE) == set(OPEN_STATUSES)
    assert listed(MIGRATION.SIGNED) == {str(s) for s in SIGNED_STATUSES}
    assert listed(MIGRATION.COMMITTED) == {str(s) for s in selectors.COMMITTED_STATUSES}
    assert listed(KEPT_MIGRATION.COMMITTED) == {str(s) for s in selectors.COMMITTED_STATUSES}


def test_the_days_of_the_kept_obligations_are_those_of_the_settings(settings):
    assert settings.TIME_ZONE == KEPT_MIGRATION.TIME_ZONE


def test_every_change_is_kept_as_the_base_tables_say(buyer, jurist, director, delegation):
    signed = make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=1_000_000)
    notified = make_contract(buyer, "notified", jurist=jurist, signer=director, quantity=100_000)
    approved = make_contract(buyer, "approved", jurist=jurist, signer=director, quantity=50_000)
    make_contract(buyer, "draft", jurist=jurist, quantity=30_000)
    make_contract(buyer, "withdrawn", jurist=jurist, quantity=10_000)
    open_case = make_case(buyer, "vetting")
    assert_kept_equals_rebuilt()

    # A need line edited, then its case cancelled: it leaves the open estimate.
    NeedLine.objects.filter(case=open_case).update(
        product=Product.EXAM_GLOVES, estimated_unit_price=Decimal("0.05"), quantity=7_000
    )
    assert_kept_equals_rebuilt()
    PurchaseCase.objects.filter(pk=open_case.pk).update(status="cancelled")
    assert_kept_equals_rebuilt()
    # The signed contract's case opened earlier (its delay moves); an approved contract's price changes.
    PurchaseCase.objects.filter(pk=signed.case_id).update(created_at=signed.signed_at - timedelta(hours=50, seconds=7))
    Contract.objects.filter(pk=approved.pk).update(unit_price=Decimal("1.1234"), vat_rate=Decimal("0.055"))
    assert_kept_equals_rebuilt()
    # A notified contract goes back (as a correction would) and a case moves to another stage.
    Contract.objects.filter(pk=notified.pk).update(status=ContractStatus.APPROVED, signed_at=None)
    PurchaseCase.objects.filter(pk=approved.case_id).update(stage_entered_at=approved.created_at - timedelta(days=3))
    assert_kept_equals_rebuilt()
    # Deliveries and obligations: new final terms, an obligation fulfilled, an URSSAF certificate, a threshold.
    last = NegotiationRound.objects.filter(offer=approved.offer).order_by("-number").first()
    last.pk, last.number, last.is_final = None, last.number + 1, True
    last.delivery_date += timedelta(days=5)
    last.save()
    Contract.objects.filter(pk=notified.pk).update(decp_published_on=notified.signed_at.date())
    SupplierDocument.objects.create(
        supplier=signed.offer.supplier,
        kind=SupplierDocument.Kind.URSSAF,
        issued_on=signed.signed_at.date(),
        expires_on=signed.signed_at.date() + timedelta(days=200),
        size=1,
        uploaded_by=buyer,
    )
    assert_kept_equals_rebuilt()
    Threshold.objects.filter(kind=Threshold.Kind.VIGILANCE).update(amount=Decimal("10000000"))
    assert_kept_equals_rebuilt()
    # Rows deleted (the tests' teardown and the admin's refusal aside, the triggers follow a delete too).
    line = NeedLine.objects.create(
        case=make_case(buyer, "need"),
        product=Product.FFP2,
        quantity=5,
        cpv_code=NeedLine.objects.first().cpv_code,
        required_date=signed.created_at.date(),
        delivery_place="Marseille",
    )
    assert_kept_equals_rebuilt()
    NeedLine.objects.filter(pk=line.pk).delete()
    assert_kept_equals_rebuilt()


def test_folding_keeps_every_sum_and_leaves_one_row_per_key(buyer, jurist, director, delegation):
    for quantity in (1_000, 2_000, 3_000):
        make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=quantity)
    before = kept()
    rows = StageCount.objects.count()
    figures.compact()
    assert kept() == before
    assert StageCount.objects.count() < rows
    for model, key in KEYS.items():
        assert model.objects.count() == model.objects.values(*key).distinct().count(), model.__name__


def test_the_percentiles_are_exact_to_the_minute(buyer, jurist, director, delegation):
    contracts = [make_contract(buyer, "signed", jurist=jurist, signer=director) for _ in range(4)]
    # Delays of 59 s, 1 h 30 min 59 s, 26 h 0 min 30 s and 3 days: spread over hours, minutes and seconds.
    delays = [
        timedelta(seconds=59),
        timedelta(hours=1, minutes=30, seconds=59),
        timedelta(hours=26, seconds=30),
        timedelta(days=3),
    ]
    for contract, delay in zip(contracts, delays, strict=True):
        PurchaseCase.objects.filter(pk=contract.case_id).update(created_at=contract.signed_at - delay)
    got = selectors.time_to_contract(organisation_id=director.organisation_id)
    minutes = [delay.total_seconds() // 60 for delay in delays]
    assert got.count == 4
    assert got.median == timedelta(minutes=statistics.median(minutes))  # (90 + 1560) / 2 min
    assert got.median == timedelta(hours=13, minutes=45)
    assert got.p90 == timedelta(minutes=statistics.quantiles(minutes, n=10, method="inclusive")[8])


def test_beat_folds_the_figures_every_minute(buyer, jurist, director, delegation, settings):
    make_contract(buyer, "signed", jurist=jurist, signer=director)
    before = kept()
    entry = settings.CELERY_BEAT_SCHEDULE["compact-dashboard-figures"]
    assert (entry["task"], entry["schedule"]) == ("dashboard.tasks.compact_figures", 60.0)
    assert tasks.compact_figures.apply().get() is True
    assert kept() == before
    assert (
        StageCount.objects.count() == StageCount.objects.values("organisation_id", "status", "hour").distinct().count()
    )


def test_the_largest_suppliers_count_the_changes_since_the_folding(buyer, jurist, director, delegation):
    contracts = [
        make_contract(buyer, "signed", jurist=jurist, signer=director, quantity=quantity)
        for quantity in (3_000, 2_000, 1_000)
    ]
    assert len({c.offer.supplier_id for c in contracts}) == 3
    figures.compact()

    def largest(limit):
        return [row[0] for row in figures.suppliers(organisation_id=director.organisation_id, limit=limit)]

    assert largest(1) == [contracts[0].offer.supplier_id]
    # After the folding, the smallest becomes the largest and the largest is withdrawn: deltas only.
    Contract.objects.filter(pk=contracts[2].pk).update(quantity=9_000)
    Contract.objects.filter(pk=contracts[0].pk).update(status=ContractStatus.WITHDRAWN)
    assert SupplierFigures.objects.filter(compacted=False).exists()
    assert largest(1) == [contracts[2].offer.supplier_id]
    assert largest(5) == [contracts[2].offer.supplier_id, contracts[1].offer.supplier_id]
    total = selectors.supplier_concentration(organisation_id=director.organisation_id)[1]
    assert total == sum(c.quantity * c.unit_price for c in Contract.objects.filter(status__in=SIGNED_STATUSES))


def test_the_application_connections_run_without_jit(db):
    """JIT compiled the kept-figures queries for half a second each (their estimated cost is high, their work
    small): the connections turn it off."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
