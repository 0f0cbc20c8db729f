"""The director's figures kept incrementally (DESIGN.md §8), so that the dashboard does not read every case.

Each table holds signed deltas written by PostgreSQL triggers on cases, need lines and contracts
(migration 0002): a case entering a stage adds +1 to its stage and -1 to the one it left, a contract approved adds
its amount to its product and supplier, and so on. The triggers only insert, so concurrent transactions never wait
for each other nor deadlock on a shared counter. Every minute `compact_figures` folds the rows of each key into
one (dashboard.services); the dashboard sums the rows of each key, compacted or not, in the same statement.

`dashboard_rebuild_figures()` (SQL) recomputes every table from the base tables: it filled them on migration and
proves them in the tests. Elsewhere than on PostgreSQL (the SQLite demo) the tables stay empty and the selectors
compute from the base tables.
"""

from django.db import models


class StageCount(models.Model):
    """Cases per organisation, status and hour (UTC) at which they entered that status."""

    organisation_id = models.BigIntegerField()
    status = models.CharField(max_length=20)
    hour = models.DateTimeField()
    cases = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["organisation_id", "status", "hour"], name="stagecount_key")]

    def __str__(self) -> str:
        return f"{self.status} {self.hour:%Y-%m-%d %H} h: {self.cases:+d}"


class ProductFigures(models.Model):
    """Amounts (excl. and incl. VAT) and units per organisation and product: contracts committed (approved or
    further) and signed; need lines of open cases (estimated amount, units needed, lines without estimate)."""

    organisation_id = models.BigIntegerField()
    product = models.CharField(max_length=20)
    committed_ht = models.DecimalField(max_digits=30, decimal_places=8, default=0)
    committed_ttc = models.DecimalField(max_digits=30, decimal_places=8, default=0)
    committed_count = models.BigIntegerField(default=0)
    signed_ht = models.DecimalField(max_digits=30, decimal_places=8, default=0)
    signed_ttc = models.DecimalField(max_digits=30, decimal_places=8, default=0)
    signed_count = models.BigIntegerField(default=0)
    ordered = models.BigIntegerField(default=0)  # units of signed contracts
    estimated_ht = models.DecimalField(max_digits=30, decimal_places=8, default=0)
    needed = models.BigIntegerField(default=0)  # units of the need lines of open cases
    lines_without_estimate = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["organisation_id", "product"], name="productfigures_key")]

    def __str__(self) -> str:
        return f"{self.product}: {self.committed_count:+d} committed, {self.needed:+d} needed"


class SupplierFigures(models.Model):
    """Amount excl. VAT and number of the contracts committed (approved or further) per organisation and supplier.
    Folded rows are marked `compacted`: the largest suppliers are then read from an index, the few suppliers
    with deltas since the last folding added (dashboard.figures.suppliers)."""

    organisation_id = models.BigIntegerField()
    supplier_id = models.BigIntegerField()
    committed_ht = models.DecimalField(max_digits=30, decimal_places=8, default=0)
    contracts = models.BigIntegerField(default=0)
    compacted = models.BooleanField(default=False, db_default=False)

    class Meta:
        indexes = [
            models.Index(fields=["organisation_id", "supplier_id"], name="supplierfigures_key"),
            models.Index(
                "organisation_id",
                models.F("committed_ht").desc(),
                condition=models.Q(compacted=True),
                name="supplierfigures_largest",
            ),
            models.Index(
                fields=["organisation_id"], condition=models.Q(compacted=False), name="supplierfigures_deltas"
            ),
        ]

    def __str__(self) -> str:
        return f"supplier {self.supplier_id}: {self.contracts:+d} contracts"


class SignatureDelayHour(models.Model):
    """Signed contracts per organisation and whole hours from the need (case created) to the signature."""

    organisation_id = models.BigIntegerField()
    hours = models.IntegerField()
    contracts = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["organisation_id", "hours"], name="signaturedelayhour_key")]

    def __str__(self) -> str:
        return f"{self.hours} h: {self.contracts:+d}"


class SignatureDelayMinute(models.Model):
    """The same per whole minute: a percentile is found in the hours, then in the minutes of one hour."""

    organisation_id = models.BigIntegerField()
    minutes = models.IntegerField()
    contracts = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["organisation_id", "minutes"], name="signaturedelayminute_key")]

    def __str__(self) -> str:
        return f"{self.minutes} min: {self.contracts:+d}"


class ContractDelivery(models.Model):
    """A committed contract's delivery, from its current terms (the final round, else the latest), kept by
    triggers on contracts and negotiation rounds: the deliveries of a week are an index range."""

    contract_id = models.BigIntegerField(primary_key=True)
    organisation_id = models.BigIntegerField()
    delivery_date = models.DateField()
    delivery_place = models.CharField(max_length=200)

    class Meta:
        # In the dashboard's order, so that its first rows are the first of the index.
        indexes = [
            models.Index(fields=["organisation_id", "delivery_date", "contract_id"], name="contractdelivery_order")
        ]

    def __str__(self) -> str:
        return f"contract {self.contract_id}: {self.delivery_date}"


class PendingObligation(models.Model):
    """An obligation after signature not yet fulfilled (contracts.obligations), with its due date, kept by
    triggers on contracts, suppliers, their URSSAF certificates and the thresholds; fulfilled ones are removed."""

    contract_id = models.BigIntegerField()
    code = models.CharField(max_length=20)
    position = models.SmallIntegerField()  # the order of contracts.obligations, for equal due dates
    organisation_id = models.BigIntegerField()
    due = models.DateField()
    contract_created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contract_id", "code"], name="pendingobligation_unique")]
        # In the dashboard's order (dashboard.figures.OBLIGATIONS_SQL), so that its first rows are the index's.
        indexes = [
            models.Index(
                "organisation_id",
                "due",
                models.F("contract_created_at").desc(),
                models.F("contract_id").desc(),
                "position",
                name="pendingobligation_order",
            )
        ]

    def __str__(self) -> str:
        return f"contract {self.contract_id}: {self.code} due {self.due}"


class DeliveryDayCount(models.Model):
    """Committed contracts delivering per organisation and day (signed deltas, folded every minute)."""

    organisation_id = models.BigIntegerField()
    day = models.DateField()
    contracts = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["organisation_id", "day"], name="deliverydaycount_key")]

    def __str__(self) -> str:
        return f"{self.day}: {self.contracts:+d}"


class ObligationDayCount(models.Model):
    """Pending obligations per organisation and due day (signed deltas, folded every minute)."""

    organisation_id = models.BigIntegerField()
    day = models.DateField()
    obligations = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["organisation_id", "day"], name="obligationdaycount_key")]

    def __str__(self) -> str:
        return f"{self.day}: {self.obligations:+d}"
