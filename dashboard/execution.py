"""The execution figures of the director's dashboard: quantities per product from the order to the payment.

Read-only; on PostgreSQL one statement (a grouped branch per figure), elsewhere one grouped query per figure,
whatever the number of contracts."""

from django.db import connection
from django.db.models import Sum

from contracts.models import SIGNED_STATUSES, Contract
from dashboard import figures
from execution.models import ADMITTED, Allocation, Invoice, Payment, Reception, Shipment
from procurement.catalogue import Product

FIGURES = ("ordered", "shipped", "received", "admitted", "allocated", "invoiced", "paid")

# The execution rows (few: those of delivered contracts) with their contract, then the organisation's signed
# contracts among them, in one statement (planned once, not once per figure).
EXECUTION_SQL = """
SELECT n.product, f.figure, sum(f.quantity)
FROM (
    SELECT l.contract_id, 'shipped' AS figure, s.quantity FROM execution_shipment s
    JOIN execution_deliverylot l ON l.id = s.lot_id
    UNION ALL
    SELECT l.contract_id, 'received', r.quantity_received FROM execution_reception r
    JOIN execution_shipment s ON s.id = r.shipment_id JOIN execution_deliverylot l ON l.id = s.lot_id
    UNION ALL
    SELECT l.contract_id, 'admitted', r.quantity_received FROM execution_reception r
    JOIN execution_shipment s ON s.id = r.shipment_id JOIN execution_deliverylot l ON l.id = s.lot_id
    WHERE r.status = ANY(%(admitted)s)
    UNION ALL
    SELECT contract_id, 'allocated', quantity FROM execution_allocation
    UNION ALL
    SELECT contract_id, 'invoiced', quantity FROM execution_invoice
    UNION ALL
    SELECT i.contract_id, 'paid', p.quantity FROM execution_payment p JOIN execution_invoice i ON i.id = p.invoice_id
) f
JOIN contracts_contract k ON k.id = f.contract_id
JOIN procurement_purchasecase c ON c.id = k.case_id
JOIN procurement_offer o ON o.id = k.offer_id
JOIN procurement_needline n ON n.id = o.need_line_id
WHERE c.organisation_id = %(org)s AND k.status = ANY(%(signed)s)
GROUP BY n.product, f.figure
"""


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


def _sums_in_one_statement(organisation_id) -> dict[str, dict]:
    """figure → {product: quantity} for every figure but "ordered" (PostgreSQL: one statement)."""
    sums = {name: {} for name in FIGURES[1:]}
    with connection.cursor() as cursor:
        cursor.execute(
            EXECUTION_SQL,
            {
                "org": organisation_id,
                "signed": [str(status) for status in SIGNED_STATUSES],
                "admitted": [str(status) for status in ADMITTED],
            },
        )
        for product, figure, total in cursor.fetchall():
            sums[figure][product] = total or 0
    return sums


def execution_quantities(*, organisation_id, products: dict | None = None) -> list[dict]:
    """Per product of the organisation's signed contracts: ordered, shipped, received, admitted, allocated,
    invoiced and paid quantities, in the catalogue's order. On PostgreSQL the ordered units come from the
    figures kept per product and the rest from one statement; elsewhere one grouped query per figure."""
    if connection.vendor == "postgresql":  # kept per product by triggers (dashboard.figures)
        ordered = {
            product: row["ordered"]
            for product, row in (products or figures.per_product(organisation_id=organisation_id)).items()
            if row["signed_count"]
        }
        sums = {"ordered": ordered, **_sums_in_one_statement(organisation_id)}
    else:
        sums = _sums_in_queries(organisation_id)
    products = set().union(*(figure.keys() for figure in sums.values()))
    order = {value: index for index, value in enumerate(Product.values)}
    result = []
    for product in sorted(products, key=lambda value: order.get(value, len(order))):
        line = {"product": product, **{name: sums[name].get(product, 0) for name in FIGURES}}
        line["label"] = Product(product).label if product in Product.values else product
        result.append(line)
    return result


def _sums_in_queries(organisation_id) -> dict[str, dict]:
    """figure → {product: quantity}, one grouped query per figure."""
    ordered = dict(
        Contract.objects.for_organisation(organisation_id)
        .filter(status__in=SIGNED_STATUSES)
        .order_by()
        .values("offer__need_line__product")
        .annotate(total=Sum("quantity"))
        .values_list("offer__need_line__product", "total")
    )
    return {
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
