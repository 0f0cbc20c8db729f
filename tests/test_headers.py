"""Issue 7 §3 — security headers on every page, and the production settings pass Django's deploy checks.

Every GET page of the permission matrix (tests/test_permissions.py) is requested by every role allowed to see
it, built the same way, and must carry a Content-Security-Policy without 'unsafe-inline' (scripts by nonce,
styles from files only), frame denial, nosniff and a strict Referrer-Policy. Its HTML must also run under that
policy: an inline script without the page's nonce, an inline style or an on* handler would be blocked by the
browser, i.e. a broken page."""

import json
import os
import re
import runpy
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from tests import factories
from tests.test_permissions import MATRIX, OK, REDIRECT, ROLES, World, url_name, users  # noqa: F401  (users: fixture)

BASE_DIR = Path(__file__).resolve().parents[1]
STRICT_REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "jscEKkOR-ySTNA_B8P4bGqxyL5ItGgI4UiFUHocoTNzz0tmutblr93DnvT2MSycT",  # dummy
    "DJANGO_ALLOWED_HOSTS": "tandem.example",
    "DATABASE_URL": "sqlite:////tmp/tandem-deploy-check.sqlite3",
}


def _shown_to(entry) -> list[str]:
    """The roles that see the page; for a page that only redirects (the root), the roles it redirects."""
    return [role for role in ROLES if entry.expect[role] == OK] or [
        role for role in ROLES if entry.expect[role] == REDIRECT
    ]


PAGES = [(key, role) for key, entry in MATRIX.items() if entry.method == "get" for role in _shown_to(entry)]


def _csp(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_security_headers(response, where: str) -> dict[str, list[str]]:
    csp = _csp(response)
    for directive in ("default-src", "script-src", "style-src"):
        assert directive in csp, f"{where}: CSP without {directive}"
        assert "'unsafe-inline'" not in csp[directive], f"{where}: {directive} allows 'unsafe-inline'"
        assert "'unsafe-eval'" not in csp[directive], f"{where}: {directive} allows 'unsafe-eval'"
    assert csp["frame-ancestors"] == ["'none'"], where
    assert csp["object-src"] == ["'none'"], where
    assert response.get("X-Frame-Options") == "DENY", where
    assert response.get("X-Content-Type-Options") == "nosniff", where
    assert response.get("Referrer-Policy") in STRICT_REFERRER_POLICIES, where
    assert response.get("Cross-Origin-Opener-Policy") == "same-origin", where
    return csp


class _InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' blocks: inline scripts (unless nonced), styles, handlers."""

    def __init__(self):
        super().__init__()
        self.script_nonces: list[str | None] = []
        self.blocked: list[str] = []
        self.htmx = False
        self.htmx_config: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes:
            self.script_nonces.append(attributes.get("nonce"))
        if tag == "script" and "htmx" in (attributes.get("src") or ""):
            self.htmx = True
        if tag == "meta" and attributes.get("name") == "htmx-config":
            self.htmx_config = json.loads(attributes["content"])
        if tag == "style":
            self.blocked.append("<style> element")
        for name, _value in attrs:
            if name == "style":
                self.blocked.append(f'style="…" on <{tag}>')
            elif name.startswith("on"):
                self.blocked.append(f"{name}=… on <{tag}>")


def assert_runs_under_the_policy(response, csp, where: str) -> None:
    if not response["Content-Type"].startswith("text/html"):
        return
    parser = _InlineCode()
    parser.feed(response.content.decode())
    assert not parser.blocked, f"{where}: blocked by the CSP: {parser.blocked}"
    nonces = {value.removeprefix("'nonce-").removesuffix("'") for value in csp["script-src"] if "nonce-" in value}
    for nonce in parser.script_nonces:
        assert nonce in nonces, f"{where}: an inline script without the page's nonce"
    if parser.htmx:
        # htmx would otherwise inject an inline <style> and reach for eval, both blocked by the policy.
        config = parser.htmx_config or {}
        assert config.get("includeIndicatorStyles") is False, where
        assert config.get("allowEval") is False, where
        assert config.get("allowScriptTags") is False, where


@pytest.mark.parametrize(("key", "role"), PAGES, ids=[f"{key}-{role}" for key, role in PAGES])
def test_every_page_carries_the_security_headers(client, users, key, role):  # noqa: F811
    entry = MATRIX[key]
    world = World(users=users, role=role)
    kwargs, _data = entry.build(world)
    if world.actor is not None:
        client.force_login(world.actor)
    response = client.get(reverse(url_name(key), kwargs=kwargs or None))
    try:
        assert response.status_code == entry.expect[role], f"{key} as {role}: {response.status_code}"
        where = f"{key} as {role}"
        csp = assert_security_headers(response, where)
        if not response.streaming:
            assert_runs_under_the_policy(response, csp, where)
    finally:
        response.close()


def test_the_crawl_covers_every_page_of_the_matrix():
    get_pages = {key for key, entry in MATRIX.items() if entry.method == "get"}
    assert {key for key, _role in PAGES} == get_pages
    assert len(PAGES) >= 2 * len(get_pages)


@pytest.mark.django_db
def test_refusals_and_redirects_carry_the_headers_too(client, buyer, norole, outsider):
    case = factories.make_case(buyer, "need")
    detail = reverse("procurement:case_detail", args=[case.pk])
    responses = {"anonymous (login redirect)": client.get(detail)}
    client.force_login(norole)
    responses["no role (403)"] = client.get(detail)
    client.force_login(outsider)
    responses["other organisation (404)"] = client.get(detail)
    responses["unknown URL (404)"] = client.get("/nulle-part/")
    assert [r.status_code for r in responses.values()] == [302, 403, 404, 404]
    for where, response in responses.items():
        assert_security_headers(response, where)


# --- production settings -----------------------------------------------------------------------
def test_the_deploy_check_passes_on_the_production_settings():
    """`manage.py check --deploy --fail-level WARNING` on config.settings.production (dummy secrets, as make lint)."""
    # As in production: without the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE (set by tests/e2e/conftest.py).
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"} | PRODUCTION_ENV
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_makefile_checks_the_same_production_environment():
    makefile = (BASE_DIR / "Makefile").read_text()
    block = re.search(r"LINT_PRODUCTION_ENV := (.*?)\n\n", makefile, re.S).group(1)
    for name, value in PRODUCTION_ENV.items():
        if name != "DJANGO_SECRET_KEY":
            assert f"{name}={value}" in block


@pytest.fixture
def production_security(monkeypatch):
    """The transport settings of config/settings/production.py, read from the file with dummy secrets."""
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    production = runpy.run_module("config.settings.production")
    names = [
        "DEBUG",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
    ]
    with override_settings(**{name: production[name] for name in names}):
        yield production


HTTPS = {"HTTP_X_FORWARDED_PROTO": "https"}  # set by the reverse proxy that terminates TLS


@pytest.mark.django_db
def test_production_redirects_http_to_https(client, production_security):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


@pytest.mark.django_db
def test_production_sends_hsts_and_secure_cookies(client, production_security, buyer):
    response = client.get(reverse("accounts:login"), **HTTPS)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    csrf = response.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["secure"] is True
    assert csrf["httponly"] is True
    assert_security_headers(response, "login page in production")

    buyer.set_password("correct horse battery staple")
    buyer.save()
    response = client.post(
        reverse("accounts:login"),
        {"username": buyer.username, "password": "correct horse battery staple"},
        **HTTPS,
    )
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["expires"] == ""
    assert session["max-age"] == ""
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
