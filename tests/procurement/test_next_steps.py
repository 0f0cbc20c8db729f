"""The case's "Next steps" (norm results and checklist) refresh in place: an htmx answer that may change them sets
`HX-Trigger: checklist-changed`, and the block fetches itself again from procurement:case_next_steps."""

import json

import pytest
from django.urls import reverse
from django.utils.html import escape

from procurement.models import ConformityCheck
from tests.factories import conformity_form_data, make_case

HTMX = {"HX-Request": "true"}


@pytest.fixture
def incomplete_case(buyer):
    """At the norm check, its only offer's check incomplete: starting the negotiation is blocked."""
    return make_case(buyer, "norm_check", verdict="incomplete")


def next_steps(client, case):
    return client.get(reverse("procurement:case_next_steps", args=[case.pk]), headers=HTMX)


def start_negotiation(response) -> dict:
    return next(item for item in response.context["checklist"] if item["name"] == "start_negotiation")


@pytest.mark.django_db
def test_the_case_page_block_listens_for_the_event(client, buyer, incomplete_case):
    client.force_login(buyer)
    body = client.get(incomplete_case.get_absolute_url()).content.decode()
    url = reverse("procurement:case_next_steps", args=[incomplete_case.pk])
    assert f'hx-get="{url}"' in body
    assert 'hx-trigger="checklist-changed from:body"' in body


@pytest.mark.django_db
def test_the_partial_is_the_next_steps_alone_with_their_blockers(client, buyer, incomplete_case):
    client.force_login(buyer)
    response = next_steps(client, incomplete_case)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="next-steps"')
    blockers = start_negotiation(response)["blockers"]
    assert blockers
    assert all(escape(blocker) in body for blocker in blockers)
    assert "norm-results" in body  # which offers pass the norm check


@pytest.mark.django_db
def test_the_partial_is_not_found_for_another_organisation(client, outsider, incomplete_case):
    client.force_login(outsider)
    assert next_steps(client, incomplete_case).status_code == 404


@pytest.mark.django_db
def test_a_conformity_check_posted_by_htmx_refreshes_the_next_steps(client, buyer, incomplete_case):
    offer = incomplete_case.offers.get()
    client.force_login(buyer)
    page = client.get(reverse("procurement:conformity_create", args=[offer.pk]))
    # The conformity page shows the case's next steps beside the form, listening for the event.
    assert start_negotiation(page)["blockers"]
    assert 'hx-trigger="checklist-changed from:body"' in page.content.decode()

    response = client.post(
        reverse("procurement:conformity_create", args=[offer.pk]), conformity_form_data(offer), headers=HTMX
    )
    assert response.status_code == 200
    assert ConformityCheck.objects.filter(offer=offer).last().verdict == ConformityCheck.Verdict.CONFORM
    assert "checklist-changed" in json.loads(response["HX-Trigger"])
    # What the refreshed block then shows: nothing blocks the negotiation any more.
    assert start_negotiation(next_steps(client, incomplete_case))["blockers"] == []


@pytest.mark.django_db
def test_a_plain_conformity_post_still_redirects_without_the_event(client, buyer, incomplete_case):
    offer = incomplete_case.offers.get()
    client.force_login(buyer)
    response = client.post(reverse("procurement:conformity_create", args=[offer.pk]), conformity_form_data(offer))
    assert response.status_code == 302
    assert "HX-Trigger" not in response
