"""Issue 8: forms keep what the user typed when a step is refused, with the error tied to its field; links and
inputs have an accessible name or description; htmx answers put their status message in the page's live region
and keep the focus where the user was — while the same forms still work without JavaScript (POST + redirect)."""

import pytest
from django.conf import settings
from django.test.html import Element, parse_html
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from notifications.models import Notification
from notifications.services import notify
from procurement.models import CaseEvent, CaseStatus, ConformityCheck, PurchaseCase
from tests.factories import conformity_form_data, make_case, render_pending, sign_contract

HX = {"HX-Request": "true"}


# --- reading the HTML as a screen reader would find it ---------------------------------------------
def _elements(node) -> list[Element]:
    found = []
    for child in getattr(node, "children", []):
        if isinstance(child, Element):
            found.append(child)
            found.extend(_elements(child))
    return found


def find_all(root: str | Element, tag: str | None = None, **attributes) -> list[Element]:
    """Elements of `tag` (any tag if None) in an HTML text or under an element, having every attribute given
    (attribute_name → value; True only asks for the attribute; underscores stand for dashes)."""
    wanted = {name.replace("_", "-"): value for name, value in attributes.items()}
    return [
        element
        for element in _elements(parse_html(root) if isinstance(root, str) else root)
        if (tag is None or element.name == tag)
        and all(
            name in attrs(element) and (value is True or attrs(element)[name] == value)
            for name, value in wanted.items()
        )
    ]


def find(root: str | Element, tag: str | None = None, **attributes) -> Element:
    found = find_all(root, tag, **attributes)
    assert len(found) == 1, (tag, attributes, len(found))
    return found[0]


def attrs(element: Element) -> dict:
    return dict(element.attributes)


def text(element) -> str:
    if isinstance(element, str):
        return element
    return " ".join(" ".join(text(child) for child in element.children).split())


def described_by(html: str, element: Element) -> list[str]:
    """The texts an input's aria-describedby points to (each id must exist in the page)."""
    return [text(find(html, id=ident)) for ident in attrs(element).get("aria-describedby", "").split()]


def translated(message: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return gettext(message)


# --- 1. a refused case step shows its form again, with what was typed -------------------------------------
LONG = "Le fournisseur ne tient plus son délai de livraison. " * 40  # over the 2,000 characters a comment may have

STEPS = {
    # step: (case state, who takes it, URL, payload, the field in error)
    "cancel": ("need", "director", "contracts:case_cancel", {"comment": "Besoin couvert par l'État."}, "confirm"),
    "reopen_negotiation": ("contract", "buyer", "contracts:case_reopen", {"comment": LONG}, "comment"),
    "back_to_vetting": ("norm_check", "jurist", "procurement:case_transition", {"comment": LONG}, "comment"),
}


def _step_url(name, case):
    url_name = STEPS[name][2]
    args = [case.pk, name] if url_name == "procurement:case_transition" else [case.pk]
    return reverse(url_name, args=args)


@pytest.mark.parametrize("name", list(STEPS))
def test_an_invalid_case_step_keeps_the_comment_typed_with_the_error_next_to_its_field(
    client, request, buyer, jurist, director, name
):
    state, actor, _url_name, data, invalid = STEPS[name]
    case = make_case(buyer, state)
    client.force_login(request.getfixturevalue(actor))

    response = client.post(_step_url(name, case), data)

    assert response.status_code == 422
    html = response.content.decode()
    comment = find(html, "textarea", id=f"id_{name}-comment")
    assert text(comment) == " ".join(data["comment"].split())
    field = find(html, id=f"id_{name}-{invalid}")
    assert attrs(field)["aria-invalid"] == "true"
    assert f"id_{name}-{invalid}_error" in attrs(field)["aria-describedby"].split()
    assert all(described_by(html, field)), "each description it points to exists and says something"
    assert translated("Please correct the errors below.") in text(find(html, id="messages"))
    assert PurchaseCase.objects.get(pk=case.pk).status == state
    assert not CaseEvent.objects.filter(case=case, verb=name).exists()


def test_a_cancel_the_service_refuses_keeps_the_reason_typed(client, buyer, jurist, director, delegation):
    case = make_case(buyer, "contract")
    # A signed contract: the case can no longer be cancelled (the step shows why it is blocked).
    sign_contract(case.contracts.get(), buyer, jurist, director)
    client.force_login(director)
    reason = "Besoin couvert par la dotation de l'État."

    response = client.post(reverse("contracts:case_cancel", args=[case.pk]), {"comment": reason, "confirm": "on"})

    assert response.status_code == 422
    html = response.content.decode()
    assert text(find(html, "textarea", id="id_cancel-comment")) == reason
    form = find(html, "form", action=reverse("contracts:case_cancel", args=[case.pk]))
    assert "disabled" in attrs(find(form, "button")), "blocked: the text is kept, the step cannot be taken"
    assert PurchaseCase.objects.get(pk=case.pk).status == "contract"
    assert not CaseEvent.objects.filter(case=case, verb="cancel").exists()


def test_a_case_step_without_javascript_still_posts_and_redirects(client, buyer, director):
    case = make_case(buyer, "need")
    client.force_login(director)
    data = {"comment": "Besoin couvert par l'État.", "confirm": "on"}
    response = client.post(reverse("contracts:case_cancel", args=[case.pk]), data)
    assert response.status_code == 302
    assert response["Location"] == case.get_absolute_url()
    assert PurchaseCase.objects.get(pk=case.pk).status == "cancelled"


# --- 2. the dashboard's figures say what they count ------------------------------------------------------
def test_each_stage_link_of_the_dashboard_names_its_stage(client, buyer, director):
    make_case(buyer, "need")
    make_case(buyer, "vetting")
    late = make_case(buyer, "need")
    PurchaseCase.objects.filter(pk=late.pk).update(stage_entered_at=late.stage_entered_at.replace(year=2020))
    client.force_login(director)

    html = client.get(reverse("dashboard:index")).content.decode()

    case_list = reverse("procurement:case_list")
    links = [link for link in find_all(html, "a", href=True) if attrs(link)["href"].startswith(f"{case_list}?status=")]
    assert len(links) >= len(CaseStatus.values) + 1  # one per stage, and the overdue need cases
    with translation.override(settings.LANGUAGE_CODE):
        labels = {value: str(label) for value, label in CaseStatus.choices}
    for link in links:
        status = attrs(link)["href"].split("status=")[1].split("&")[0]
        assert labels[status] in text(link), text(link)
    overdue = find(html, "a", href=f"{case_list}?status=need&overdue=1")
    assert text(overdue).startswith("1 ")


# --- 3. the award page: errors and blockers tied to the quantity inputs ----------------------------------
def test_the_award_errors_are_tied_to_their_inputs(client, buyer):
    case = make_case(buyer, "negotiation")
    offer = case.offers.get()
    client.force_login(buyer)
    url = reverse("contracts:case_award", args=[case.pk])

    html = client.post(url, {f"offer_{offer.pk}": "-1", "reason": ""}).content.decode()
    for ident in (f"id_offer_{offer.pk}", "id_reason"):
        field = find(html, id=ident)
        assert attrs(field)["aria-invalid"] == "true"
        assert f"{ident}_error" in attrs(field)["aria-describedby"].split()
        assert described_by(html, field)

    reason = "Seule offre conforme livrable à temps."
    response = client.post(url, {f"offer_{offer.pk}": str(offer.need_line.quantity + 1), "reason": reason})
    assert response.status_code == 422
    html = response.content.decode()
    quantity = find(html, "input", id=f"id_offer_{offer.pk}")
    # Why the award is blocked (more than the need) is read with the quantity input, not only at the top.
    blockers = text(find(html, id="award-blockers"))
    assert blockers in described_by(html, quantity)
    assert offer.need_line.get_product_display() in blockers
    assert text(find(html, "textarea", id="id_reason")) == reason
    assert PurchaseCase.objects.get(pk=case.pk).status == "negotiation"


# --- 4. htmx answers: the message in the live region, the focus kept ----------------------------------------
def _unread(user, n=2):
    return [
        notify(recipients=[user], verb="contract_to_review", text=f"Le contrat C{i} attend votre revue.")[0]
        for i in range(n)
    ]


def test_marking_a_notification_read_with_htmx_announces_it_and_keeps_the_focus(client, jurist):
    first, second = _unread(jurist)
    client.force_login(jurist)

    response = client.post(reverse("notifications:mark_read", args=[first.pk]), headers=HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html, "htmx gets the inbox only"
    live = find(html, id="messages")
    assert attrs(live)["hx-swap-oob"] == "innerHTML"  # the content of the page's live region, not the region
    assert translated("Notification marked as read.") in text(live)
    assert text(find(html, id="unread-count")) == "1"
    assert attrs(find(html, id="inbox"))  # the swapped block
    focused = find(html, autofocus=True)
    assert first.text in text(focused)
    assert attrs(focused)["tabindex"] == "-1"
    # The other notification is still to mark, by htmx or by a plain post.
    form = find(html, "form", action=reverse("notifications:mark_read", args=[second.pk]))
    assert attrs(form)["hx-post"] == attrs(form)["action"]
    assert attrs(form)["hx-target"] == "#inbox"
    assert Notification.objects.get(pk=first.pk).read_at is not None


def test_marking_all_read_with_htmx_announces_how_many(client, jurist):
    _unread(jurist, 3)
    client.force_login(jurist)
    html = client.post(reverse("notifications:mark_all_read"), headers=HX).content.decode()
    assert translated("%(count)d notification(s) marked as read.") % {"count": 3} in text(find(html, id="messages"))
    assert text(find(html, id="unread-count")) == "0"
    assert find(html, "h1", autofocus=True)


def test_the_inbox_without_javascript_posts_and_redirects(client, jurist):
    first, _second = _unread(jurist)
    client.force_login(jurist)
    response = client.post(reverse("notifications:mark_read", args=[first.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("notifications:inbox")
    html = client.get(response["Location"]).content.decode()
    live = find(html, id="messages")
    assert attrs(live)["role"] == "status"
    assert attrs(live)["aria-live"] == "polite"
    assert translated("Notification marked as read.") in text(live)
    assert not find_all(html, autofocus=True), "a page loaded normally leaves the focus to the browser"


def test_a_conformity_check_posted_with_htmx_announces_its_verdict(client, buyer):
    case = make_case(buyer, "norm_check")
    offer = case.offers.get()
    client.force_login(buyer)
    url = reverse("procurement:conformity_create", args=[offer.pk])

    page = client.get(url).content.decode()
    select = find(page, "select", id="id_claim-norm_class")
    # Another class swaps the content of the thresholds box, which stays in place as a live region.
    assert attrs(select)["hx-swap"] == "innerHTML"
    assert attrs(select)["hx-select"] == "#class-thresholds > *"
    assert attrs(find(page, id="class-thresholds"))["aria-live"] == "polite"

    html = client.post(url, conformity_form_data(offer), headers=HX).content.decode()

    live = find(html, id="messages")
    assert attrs(live)["hx-swap-oob"] == "innerHTML"
    check = ConformityCheck.objects.filter(offer=offer).latest("pk")
    with translation.override(settings.LANGUAGE_CODE):
        message = gettext("Conformity check recorded: %(verdict)s.") % {"verdict": check.get_verdict_display()}
    assert message in text(live)
    assert attrs(find(html, autofocus=True))["id"] == f"verdict-{check.pk}"


def test_the_contract_page_says_when_the_polled_pdf_is_ready(client, buyer):
    case = make_case(buyer, "contract", render=False)
    contract = case.contracts.get()
    client.force_login(buyer)
    url = reverse("contracts:detail", args=[contract.pk])
    polled = client.get(url, {"part": "documents"}, headers=HX)
    assert 'role="status"' in polled.content.decode()  # still being generated
    render_pending(case)

    done = client.get(url, {"part": "documents"}, headers=HX)

    assert done["HX-Refresh"] == "true"
    html = client.get(url).content.decode()
    message = translated("Version %(version)s of the contract is ready.") % {"version": 1}
    assert message in text(find(html, id="messages"))
