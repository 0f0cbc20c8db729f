"""The execution figures of the director's dashboard: quantities per product from the order to the payment.

Read-only; one grouped query per figure, whatever the number of contracts."""

from django.db import connection
from django.db.models import Sum

from contracts.models import SIGNED_STATUSES, Contract
from dashboard import figures
from execution.models import ADMITTED, Allocation, Invoice, Payment, Reception, Shipment
from procurement.catalogue import Product

FIGURES = ("ordered", "shipped", "received", "admitted", "allocated", "invoiced", "paid")


def _per_product(queryset, contract: str, field: str, organisation_id) -> dict:
    """Sum of `field` per product over rows of `queryset` whose contract (path `contract`) is signed."""
    rows = (
        queryset.filter(
            **{f"{contract}__case__organisation_id": organisation_id, f"{contract}__status__in": SIGNED_STATUSES}
        )
        .order_by()
        .values(f"{contract}__offer__need_line__product")
        .annotate(total=Sum(field))
        .values_list(f"{contract}__offer__need_line__product", "total")
    )
    return {product: total or 0 for product, total in rows}


def execution_quantities(*, organisation_id, products: dict | None = None) -> list[dict]:
    """Per product of the organisation's signed contracts: ordered, shipped, received, admitted, allocated,
    invoiced and paid quantities, in the catalogue's order. One grouped query per figure (seven), whatever the
    number of contracts."""
    if connection.vendor == "postgresql":  # kept per product by triggers (dashboard.figures)
        ordered = {
            product: row["ordered"]
            for product, row in (products or figures.per_product(organisation_id=organisation_id)).items()
            if row["signed_count"]
        }
    else:
        ordered = dict(
            Contract.objects.for_organisation(organisation_id)
            .filter(status__in=SIGNED_STATUSES)
            .order_by()
            .values("offer__need_line__product")
            .annotate(total=Sum("quantity"))
            .values_list("offer__need_line__product", "total")
        )
    sums = {
        "ordered": ordered,
        "shipped": _per_product(Shipment.objects.all(), "lot__contract", "quantity", organisation_id),
        "received": _per_product(
            Reception.objects.all(), "shipment__lot__contract", "quantity_received", organisation_id
        ),
        "admitted": _per_product(
            Reception.objects.filter(status__in=ADMITTED),
            "shipment__lot__contract",
            "quantity_received",
            organisation_id,
        ),
        "allocated": _per_product(Allocation.objects.all(), "contract", "quantity", organisation_id),
        "invoiced": _per_product(Invoice.objects.all(), "contract", "quantity", organisation_id),
        "paid": _per_product(Payment.objects.all(), "invoice__contract", "quantity", organisation_id),
    }
    products = set().union(*(figure.keys() for figure in sums.values()))
    order = {value: index for index, value in enumerate(Product.values)}
    result = []
    for product in sorted(products, key=lambda value: order.get(value, len(order))):
        line = {"product": product, **{name: sums[name].get(product, 0) for name in FIGURES}}
        line["label"] = Product(product).label if product in Product.values else product
        result.append(line)
    return result
