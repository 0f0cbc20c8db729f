"""Reads of the execution, scoped to the user's organisation, and the contract's figures at a glance."""

from dataclasses import dataclass

from django.db.models import Prefetch, Sum

from contracts.selectors import contracts_for
from execution.models import (
    ADMITTED,
    Allocation,
    DeliveryLot,
    Invoice,
    Payment,
    Reception,
    Shipment,
)
from suppliers.models import SupplierDocument


@dataclass(frozen=True)
class Figures:
    ordered: int
    shipped: int
    received: int
    admitted: int
    allocated: int
    invoiced: int
    paid: int

    def as_rows(self) -> list[tuple[str, int]]:
        from django.utils.translation import gettext

        return [
            (gettext("Ordered"), self.ordered),
            (gettext("Shipped"), self.shipped),
            (gettext("Received"), self.received),
            (gettext("Admitted"), self.admitted),
            (gettext("Allocated"), self.allocated),
            (gettext("Invoiced"), self.invoiced),
            (gettext("Paid"), self.paid),
        ]


def _total(queryset, field: str) -> int:
    return queryset.aggregate(n=Sum(field))["n"] or 0


def contract_figures(contract) -> Figures:
    """Ordered / shipped / received / admitted / allocated / invoiced / paid quantities of one contract."""
    receptions = Reception.objects.filter(shipment__lot__contract=contract)
    return Figures(
        ordered=contract.quantity,
        shipped=_total(Shipment.objects.filter(lot__contract=contract), "quantity"),
        received=_total(receptions, "quantity_received"),
        admitted=_total(receptions.filter(status__in=ADMITTED), "quantity_received"),
        allocated=_total(Allocation.objects.filter(contract=contract), "quantity"),
        invoiced=_total(Invoice.objects.filter(contract=contract), "quantity"),
        paid=_total(Payment.objects.filter(invoice__contract=contract), "quantity"),
    )


def executable_contracts_for(*, user):
    return contracts_for(user=user)


def lots_of(contract):
    """The schedule with everything the execution page shows, in a fixed number of queries."""
    return (
        DeliveryLot.objects.filter(contract=contract)
        .select_related("penalty__waived_by")
        .prefetch_related(
            Prefetch(
                "shipments",
                queryset=Shipment.objects.select_related(
                    "forwarder", "carrier", "reception__decided_by", "reception__recorded_by"
                ).prefetch_related("milestones", "incidents", "reception__inspections__norm_class__norm"),
            )
        )
    )


def invoices_of(contract):
    return Invoice.objects.filter(contract=contract).prefetch_related("lots", "payments")


def latest_urssaf(supplier) -> SupplierDocument | None:
    """The supplier's most recent URSSAF vigilance certificate (D8222-5)."""
    return (
        SupplierDocument.objects.filter(supplier=supplier, kind=SupplierDocument.Kind.URSSAF)
        .order_by("-issued_on", "-pk")
        .first()
    )
