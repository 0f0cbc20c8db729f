"""Browser tests: Playwright drives Debian's chromium (never a downloaded browser) against live_server."""

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Screenshots of the key pages, kept as test artefacts (TANDEM_SCREENSHOTS, by default var/screenshots/).
SCREENSHOTS = Path(os.environ.get("TANDEM_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "var" / "screenshots")
# The journeys' browser: a laptop screen, in French.
JOURNEY_CONTEXT = {"viewport": {"width": 1280, "height": 800}, "locale": "fr-FR"}


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("TANDEM_REQUIRE_SERVICES") == "1":
            pytest.fail("Debian chromium is required for browser tests (apt-get install chromium)")
        pytest.skip("Debian chromium is not installed")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


@pytest.fixture
def axe_check():
    """Run axe-core in the page; fail on any serious or critical WCAG 2.1 A/AA violation."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page):
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
        serious = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        assert serious == [], "\n".join(
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}" for v in serious
        )
        return results

    return check


@pytest.fixture
def login(live_server):
    def do_login(page, username: str, password: str):
        page.goto(f"{live_server.url}/comptes/connexion/")
        page.get_by_label("Nom d’utilisateur").or_(page.locator("#id_username")).first.fill(username)
        page.locator("#id_password").fill(password)
        page.locator("form [type=submit]").first.click()
        page.wait_for_load_state()

    return do_login
