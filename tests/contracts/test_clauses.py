"""The jurist's clause checklist comes filled with the data each clause checks, and says what to look at."""

import pytest
from django.utils import timezone, translation

from contracts import clauses
from tests.factories import make_contract


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def rows_by_key(contract):
    return {row["key"]: row for row in clauses.clause_rows(contract, timezone.localdate())}


@pytest.mark.django_db
def test_every_clause_has_its_data(buyer, jurist, delegation):
    contract = make_contract(buyer, "legal_review", jurist=jurist)
    rows = rows_by_key(contract)
    assert list(rows) == list(clauses.CLAUSES)
    assert contract.supplier.siret in rows["parties"]["data"]
    assert rows["parties"]["ok"]
    assert "R2122-1" in rows["legal_basis"]["data"]
    assert rows["legal_basis"]["ok"]
    assert contract.offer.need_line.cpv_code in rows["object"]["data"]
    assert "100,000 ×" in rows["quantities_prices"]["data"]
    assert rows["norms"]["ok"]
    assert rows["payment"]["ok"]
    assert delegation.reference in rows["signatory"]["data"]
    assert rows["signatory"]["ok"]


@pytest.mark.django_db
def test_what_fails_the_checks_is_marked(buyer, jurist):
    contract = make_contract(buyer, "legal_review", jurist=jurist)
    rows = rows_by_key(contract)
    assert rows["signatory"]["ok"] is False  # nobody holds a delegation in this organisation
    assert "No delegation" in rows["signatory"]["data"]
    assert rows["checks"]["ok"] is None  # a clause of the template: nothing to compute


@pytest.mark.django_db
def test_the_review_page_shows_the_filled_checklist(client, buyer, jurist, delegation):
    contract = make_contract(buyer, "legal_review", jurist=jurist)
    client.force_login(jurist)
    body = client.get(contract.get_absolute_url()).content.decode()
    assert 'id="clause-parties"' in body
    assert contract.supplier.siret in body
    assert delegation.reference in body
