"""The offers of a case side by side, on their latest terms, with verdicts and red flags."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from procurement import services
from tests.factories import add_offer, check_conformity, make_case, round_data


@pytest.fixture
def case(buyer):
    case = make_case(buyer, "negotiation", suppliers=2)
    cheap, dear = case.offers.order_by("pk")
    services.negotiation_round_add(offer=cheap, actor=buyer, **{**round_data(cheap), "unit_price": Decimal("0.7000")})
    return case


@pytest.mark.django_db
def test_offers_are_compared_on_their_latest_terms(client, buyer, case):
    client.force_login(buyer)
    response = client.get(reverse("procurement:offer_comparison", args=[case.pk]))
    assert response.status_code == 200
    [group] = response.context["lines"]
    cheap, dear = group["columns"]
    assert cheap["terms"].unit_price == Decimal("0.7000")  # the second round, not the offer as received
    assert cheap["round"] == 2
    assert cheap["lowest_price"]
    assert not dear["lowest_price"]
    assert cheap["total"] == (Decimal("0.7000") * cheap["terms"].quantity).quantize(Decimal("0.01"))
    assert cheap["conform"]
    assert dear["conform"]
    body = response.content.decode()
    assert body.count("Conforme") >= 2


@pytest.mark.django_db
def test_a_non_conform_offer_and_its_red_flags_show(client, buyer, case):
    expensive = add_offer(case, buyer, unit_price=Decimal("9.0000"))
    check_conformity(expensive, buyer, verdict="non_conform")
    client.force_login(buyer)
    response = client.get(reverse("procurement:offer_comparison", args=[case.pk]))
    column = next(c for c in response.context["lines"][0]["columns"] if c["offer"] == expensive)
    assert not column["conform"]
    assert "price_above_reference" in {flag.code for flag in column["red_flags"]}


@pytest.mark.django_db
def test_comparison_queries_do_not_grow_with_offers(client, buyer):
    client.force_login(buyer)

    def queries(case):
        with CaptureQueriesContext(connection) as captured:
            client.get(reverse("procurement:offer_comparison", args=[case.pk]))
        return len(captured)

    small, large = make_case(buyer, "negotiation", suppliers=1), make_case(buyer, "negotiation", suppliers=4)
    queries(small)
    assert queries(large) == queries(small)
