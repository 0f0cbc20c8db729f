"""A step refused on the contract page (conflict, service validation, invalid form) shows the page again (422) with
what the user typed, never a redirect that loses it; hidden fingerprints are the current ones, never the posted."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from contracts import services
from contracts.models import CLAUSES, Contract, ContractStatus
from tests.factories import make_contract

COMMENT = "Prix renégocié avec le fournisseur le 3 mars, voir courriel."


def transition(client, contract, action, data):
    url = reverse("contracts:transition", args=[contract.pk, action])
    return client.post(url, {f"{action}-{name}": value for name, value in data.items()})


def bound_value(response, action, field):
    return response.context["actions"][action]["form"][field].value()


@pytest.fixture
def draft(buyer, jurist):
    return make_contract(buyer, "draft", jurist=jurist)


@pytest.mark.django_db
def test_an_amend_refused_as_a_conflict_keeps_the_comment_and_carries_the_current_terms_version(
    client, buyer, buyer2, draft
):
    draft.case.buyers.add(buyer2)
    services.contract_amend(
        contract=draft, actor=buyer2, quantity=90_000, unit_price=draft.unit_price, comment="Autre.", terms_version=1
    )
    client.force_login(buyer)
    response = transition(
        client, draft, "amend", {"quantity": 70_000, "unit_price": "0.80", "comment": COMMENT, "terms_version": 1}
    )
    assert response.status_code == 422
    assert escape(COMMENT) in response.content.decode()
    assert bound_value(response, "amend", "comment") == COMMENT
    assert bound_value(response, "amend", "quantity") == "70000"
    assert bound_value(response, "amend", "terms_version") == "2"  # the page shows version 2 of the terms
    draft.refresh_from_db()
    assert draft.quantity == 90_000


@pytest.mark.django_db
def test_an_amend_refused_by_the_service_shows_why_on_the_form(client, buyer, draft):
    client.force_login(buyer)
    response = transition(
        client, draft, "amend", {"quantity": 100_001, "unit_price": "0.80", "comment": COMMENT, "terms_version": 1}
    )
    assert response.status_code == 422
    form = response.context["actions"]["amend"]["form"]
    assert form.errors  # the service's reason, on the form next to the fields
    for message in form.non_field_errors():
        assert escape(message) in response.content.decode()
    assert bound_value(response, "amend", "comment") == COMMENT
    draft.refresh_from_db()
    assert draft.terms_version == 1


@pytest.fixture
def in_review(buyer, jurist):
    return make_contract(buyer, "legal_review", jurist=jurist)


@pytest.mark.django_db
def test_an_approval_of_a_stale_version_comes_back_with_the_current_fingerprint(client, jurist, in_review):
    current = in_review.current_document.sha256
    client.force_login(jurist)
    response = transition(client, in_review, "approve", {"clauses": list(CLAUSES), "rendered_sha256": "a" * 64})
    assert response.status_code == 422
    assert bound_value(response, "approve", "rendered_sha256") == current
    assert f'value="{current}"' in response.content.decode()
    assert "a" * 64 not in response.content.decode()
    assert bound_value(response, "approve", "clauses") == list(CLAUSES)  # the ticked clauses stay ticked
    assert Contract.objects.get(pk=in_review.pk).status == ContractStatus.LEGAL_REVIEW
    # Posting the page shown approves the version it shows.
    response = transition(client, in_review, "approve", {"clauses": list(CLAUSES), "rendered_sha256": current})
    assert response.status_code == 302
    assert Contract.objects.get(pk=in_review.pk).status == ContractStatus.APPROVED


@pytest.mark.django_db
def test_an_invalid_approval_form_never_echoes_the_posted_fingerprint(client, jurist, in_review):
    client.force_login(jurist)
    response = transition(client, in_review, "approve", {"clauses": ["parties"], "rendered_sha256": "stale"})
    assert response.status_code == 422
    assert bound_value(response, "approve", "rendered_sha256") == in_review.current_document.sha256
    assert bound_value(response, "approve", "clauses") == ["parties"]
