"""The keyboard alone in chromium: Tab reaches every action of the case page, once, in reading order (skip link,
navigation, then the page), with a visible focus; the skip link jumps to the content. Cancelling a case and
signing a contract — irreversible — are refused until the user ticks an explicit confirmation, and the text
typed is still there when the browser refuses."""

import pytest
from playwright.sync_api import expect

from contracts.models import Contract
from procurement.models import PurchaseCase
from tests.factories import make_case, make_contract

PASSWORD = "un-mot-de-passe-de-test"

# Every element the keyboard can reach, in DOM order; each is numbered (data-tab-stop) to compare with what
# Tab actually focuses. A radio group is one stop; the content of a closed <details> is not rendered.
TAB_STOPS_JS = """() => {
    const candidates = "a[href], button, input, select, textarea, summary, [tabindex]";
    const radios = new Set();
    const stops = [];
    for (const el of document.querySelectorAll(candidates)) {
        if (el.disabled || el.tabIndex < 0 || el.type === "hidden" || !el.getClientRects().length) continue;
        if (getComputedStyle(el).visibility === "hidden") continue;
        if (el.type === "radio") { if (radios.has(el.name)) continue; radios.add(el.name); }
        stops.push(el);
    }
    return stops.map((el, index) => {
        el.dataset.tabStop = String(index);
        return {
            stop: index,
            region: el.closest("header") ? "header" : el.closest("main") ? "main" : el.closest("footer") ? "footer" : "",
            name: (el.innerText || el.getAttribute("aria-label") || el.name || "").trim().replace(/\\s+/g, " "),
        };
    });
}"""

FOCUSED_JS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el.dataset.tabStop === undefined) return null;
    const style = getComputedStyle(el);
    return {
        stop: Number(el.dataset.tabStop),
        focusVisible: el.matches(":focus-visible"),
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth),
        outlineColor: style.outlineColor,
    };
}"""


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # 1280×800 keeps the screenshots small; a French browser shows French date pickers.
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "locale": "fr-FR"}


def tab_through(page, expected: int) -> list[dict]:
    """Press Tab from the top of the page until focus comes back to the first stop; what each press focused."""
    focused = []
    for _ in range(expected + 5):
        page.keyboard.press("Tab")
        current = page.evaluate(FOCUSED_JS)
        if current is None:  # focus left the document (browser UI) before wrapping around
            continue
        if focused and current["stop"] == 0:
            break
        focused.append(current)
    return focused


def test_tab_reaches_every_action_of_the_case_page_in_order(page, live_server, login, buyer):
    case = make_case(buyer, "negotiation", suppliers=2)
    page.set_default_timeout(10_000)
    login(page, buyer.username, PASSWORD)
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    assert page.locator("[tabindex]:not([tabindex='0']):not([tabindex='-1'])").count() == 0  # no forced order

    stops = page.evaluate(TAB_STOPS_JS)
    focused = tab_through(page, len(stops))

    # Every stop, once, in DOM order — which is the reading order, as no tabindex reorders it.
    assert [f["stop"] for f in focused] == list(range(len(stops))), [stops[f["stop"]]["name"] for f in focused]
    assert stops[0]["name"] == "Aller au contenu"
    regions = [stop["region"] for stop in stops[1:]]
    assert regions == sorted(regions, key=["header", "main", "footer"].index)
    names = [stop["name"] for stop in stops]
    assert names.index("Se déconnecter") < names.index("Dossiers", names.index("Se déconnecter"))  # nav, then crumb
    actions = [
        "Comparer les offres",
        "Ajouter une offre",
        "Contrôler la conformité",  # per offer, in the offers table
        "Tour de négociation",
        "Attribuer les offres",  # the contracts section, empty until the award
        "Dossier pour les auditeurs",
        "Attribuer",  # the checklist, beside the content
        "Changer",  # the language, in the footer
    ]
    positions = [
        next(i for i, name in enumerate(names) if name == action or name.startswith(f"{action} —"))
        for action in actions
    ]
    assert positions == sorted(positions)

    # The focus is always visible: a solid outline of 2 px at least, white on the dark navbar.
    for current in focused:
        where = stops[current["stop"]]
        assert current["focusVisible"], where
        assert current["outlineStyle"] == "solid", where
        assert current["outlineWidth"] >= 2, where
        if where["region"] == "header":
            assert current["outlineColor"] == "rgb(255, 255, 255)", where

    # The skip link takes the keyboard straight to the content.
    page.reload()
    page.evaluate(TAB_STOPS_JS)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_visible()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("navigation", name="Fil d'Ariane").get_by_role("link", name="Dossiers")).to_be_focused()


def test_cancelling_a_case_needs_an_explicit_confirmation(page, live_server, login, buyer, director):
    case = make_case(buyer, "vetting")
    page.set_default_timeout(10_000)
    login(page, director.username, PASSWORD)
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    cancel = page.locator("section[aria-labelledby=checklist-heading] form").filter(
        has=page.get_by_role("button", name="Annuler le dossier")
    )
    comment = cancel.get_by_label("Commentaire")
    confirm = cancel.get_by_role("checkbox", name="Je confirme l'annulation")
    reason = "Besoin couvert par la dotation de l'État."

    # Keyboard only: type the reason, Tab past the confirmation to the button, Enter.
    comment.focus()
    page.keyboard.type(reason)
    page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Tab")
    expect(cancel.get_by_role("button", name="Annuler le dossier")).to_be_focused()
    page.keyboard.press("Enter")
    # Refused by the browser: focus is brought back to the confirmation, and what was typed is kept.
    expect(confirm).to_be_focused()
    assert confirm.evaluate("box => box.validity.valueMissing")
    expect(comment).to_have_value(reason)
    assert PurchaseCase.objects.get(pk=case.pk).status == "vetting"

    # Refused by the server too when the browser does not check (an old browser, a hand-made request): the page
    # comes back with the reason typed, and the error next to the confirmation, which it describes.
    cancel.evaluate("form => { form.noValidate = true; }")
    cancel.get_by_role("button", name="Annuler le dossier").click()
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("Veuillez corriger les erreurs ci-dessous.")
    expect(cancel).to_contain_text("Ce champ est obligatoire.")
    expect(confirm).to_have_attribute("aria-invalid", "true")
    expect(confirm).to_have_accessible_description("Ce champ est obligatoire.")
    expect(comment).to_have_value(reason)
    assert PurchaseCase.objects.get(pk=case.pk).status == "vetting"

    confirm.focus()
    page.keyboard.press("Space")
    expect(confirm).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("Le dossier est annulé")
    case.refresh_from_db()
    assert case.status == "cancelled"
    assert case.events.get(verb="cancel").comment == reason


def test_signing_needs_an_explicit_confirmation(page, live_server, login, buyer, jurist, director, delegation):
    contract = make_contract(buyer, "approved", jurist=jurist)
    page.set_default_timeout(10_000)
    login(page, director.username, PASSWORD)
    page.goto(f"{live_server.url}{contract.get_absolute_url()}")
    sign = page.locator("form").filter(has=page.get_by_role("button", name="Signer le contrat"))
    confirm = sign.get_by_role("checkbox", name="J'ai lu la version approuvée du contrat")
    button = sign.get_by_role("button", name="Signer le contrat")

    button.focus()
    page.keyboard.press("Enter")
    expect(confirm).to_be_focused()  # the browser refuses and points at what is missing
    assert Contract.objects.get(pk=contract.pk).status == "approved"

    sign.evaluate("form => { form.noValidate = true; }")
    button.click()
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("Veuillez corriger les erreurs ci-dessous.")
    expect(sign).to_contain_text("Ce champ est obligatoire.")
    assert Contract.objects.get(pk=contract.pk).status == "approved"

    confirm.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("Le contrat est signé.")
    contract.refresh_from_db()
    assert contract.status == "signed"
    assert contract.signed_by == director
