"""Issue 7 §2 — logging in: passwords of 12 characters or more, a lockout per account and address after repeated
failures (with a French message, lifted after the cool-off), and a session that ends when the browser closes
or after the idle time."""

import os
import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import IdleSessionMiddleware
from accounts.models import User
from tests import factories

PASSWORD = "correct horse battery staple"
OFFICE_IP = "203.0.113.10"  # a council's office: every agent leaves through this one address
HOME_IP = "198.51.100.20"
PROXY_IP = "10.0.0.2"


# --- passwords ---------------------------------------------------------------------------------
def _codes(password, user=None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as error:
        return {e.code for e in error.error_list}
    return set()


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Kx7#mq2!Lp9", "password_too_short"),  # 11 characters, however random
        ("qwerty123456", "password_too_common"),
        ("418273645091", "password_entirely_numeric"),
    ],
)
def test_weak_passwords_are_refused(password, code):
    assert code in _codes(password)


def test_a_password_of_twelve_characters_or_more_is_accepted():
    assert _codes("Kx7#mq2!Lp9z") == set()
    assert _codes(PASSWORD) == set()


def test_a_password_close_to_the_username_is_refused(db):
    user = User(username="marie.dupont-acheteuse", email="marie.dupont@region-sud.example")
    assert "password_too_similar" in _codes("marie.dupont-acheteuse1", user)


@pytest.mark.django_db
def test_the_admin_cannot_create_an_account_with_a_short_password(client, org):
    """Accounts are created in the admin: its form applies the same validators."""
    admin = factories.UserFactory(username="root", organisation=org, is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(
        reverse("admin:accounts_user_add"),
        {"username": "nouvel.agent", "usable_password": "true", "password1": "Kx7#mq2!Lp9", "password2": "Kx7#mq2!Lp9"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="nouvel.agent").exists()
    assert "12" in " ".join(response.context["adminform"].form.errors["password2"])


# --- lockout -----------------------------------------------------------------------------------
@pytest.fixture
def agent(org):
    user = factories.UserFactory(username="agent", organisation=org, roles=["buyer"])
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def colleague(org):
    user = factories.UserFactory(username="collegue", organisation=org, roles=["buyer"])
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(client, username, password, ip, **headers):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, REMOTE_ADDR=ip, **headers
    )


def _logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == reverse(settings.LOGIN_REDIRECT_URL)


def _is_lockout(response) -> bool:
    body = response.content.decode()
    return response.status_code == 429 and "Compte verrouillé" in body and "Trop de tentatives" in body


def _fail_until_locked(client, username, ip, **headers):
    for attempt in range(1, settings.AXES_FAILURE_LIMIT):
        response = _login(client, username, "wrong password", ip, **headers)
        assert response.status_code == 200, f"attempt {attempt} already locked"
        assert "form" in response.context
    assert _is_lockout(_login(client, username, "wrong password", ip, **headers))


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_from_that_address_with_a_french_message(client, agent):
    assert settings.AXES_FAILURE_LIMIT >= 3  # a typo or two never locks anyone out
    _fail_until_locked(client, "agent", OFFICE_IP)
    # Even the right password is refused now: the attacker cannot tell when they have found it.
    response = _login(client, "agent", PASSWORD, OFFICE_IP)
    assert _is_lockout(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_colleague_behind_the_same_office_address_still_logs_in(client, agent, colleague):
    """The lock is per account and address: someone hammering one account does not shut the office out."""
    _fail_until_locked(client, "agent", OFFICE_IP)
    assert _logged_in(_login(client, "collegue", PASSWORD, OFFICE_IP))


@pytest.mark.django_db
def test_the_owner_still_logs_in_from_another_address(client, agent):
    """An attacker cannot lock a user out of their own account from afar (per account + address)."""
    _fail_until_locked(client, "agent", OFFICE_IP)
    assert _logged_in(_login(client, "agent", PASSWORD, HOME_IP))


@pytest.mark.django_db
def test_a_forged_forwarded_for_header_does_not_escape_the_lock(client, agent):
    """X-Forwarded-For counts only from a trusted proxy; otherwise each forged value would be a fresh address."""
    _fail_until_locked(client, "agent", OFFICE_IP)
    response = _login(client, "agent", PASSWORD, OFFICE_IP, HTTP_X_FORWARDED_FOR="192.0.2.77")
    assert _is_lockout(response)


@pytest.mark.django_db
def test_behind_the_trusted_proxy_the_lock_is_per_client_not_per_proxy(client, agent, settings):
    settings.TRUSTED_PROXIES = [PROXY_IP]
    _fail_until_locked(client, "agent", PROXY_IP, HTTP_X_FORWARDED_FOR=OFFICE_IP)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {OFFICE_IP}
    assert _logged_in(_login(client, "agent", PASSWORD, PROXY_IP, HTTP_X_FORWARDED_FOR=HOME_IP))


@pytest.mark.django_db
def test_the_lock_is_lifted_after_the_cool_off(client, agent):
    """Never locked forever (django-axes' default): after AXES_COOLOFF_TIME the right password works again."""
    _fail_until_locked(client, "agent", OFFICE_IP)
    cool_off = settings.AXES_COOLOFF_TIME
    assert timedelta(0) < cool_off <= timedelta(hours=1)
    AccessAttempt.objects.update(attempt_time=timezone.now() - cool_off - timedelta(seconds=1))
    assert _logged_in(_login(client, "agent", PASSWORD, OFFICE_IP))


@pytest.mark.django_db
def test_a_success_resets_the_failure_count(client, agent):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "agent", "wrong password", OFFICE_IP)
    assert _logged_in(_login(client, "agent", PASSWORD, OFFICE_IP))
    client.post(reverse("accounts:logout"))
    response = _login(client, "agent", "wrong password", OFFICE_IP)
    assert response.status_code == 200
    assert not _is_lockout(response)


# --- session -----------------------------------------------------------------------------------
def _session(client) -> Session:
    return Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


@pytest.mark.django_db
def test_the_session_cookie_ends_with_the_browser(client, agent):
    response = _login(client, "agent", PASSWORD, OFFICE_IP)
    assert _logged_in(response)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    # No Expires / Max-Age: the browser drops the cookie when it closes.
    assert cookie["expires"] == ""
    assert cookie["max-age"] == ""
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


@pytest.mark.django_db
def test_the_session_expires_after_the_idle_time(client, agent):
    # SESSION_IDLE_SECONDS, 30 minutes unless the deployment says otherwise.
    assert settings.SESSION_COOKIE_AGE == int(os.environ.get("SESSION_IDLE_SECONDS", 30 * 60))
    idle = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert _logged_in(_login(client, "agent", PASSWORD, OFFICE_IP))
    session = _session(client)
    remaining = session.expire_date - timezone.now()
    assert idle - timedelta(minutes=1) < remaining <= idle
    # Idle past the limit: the server no longer knows the session, whatever the browser keeps.
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("procurement:case_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def _last_refreshed(client, seconds_ago: int) -> None:
    """As if the idle deadline had last been pushed back `seconds_ago` seconds ago."""
    store = client.session
    store[IdleSessionMiddleware.REFRESHED_AT] = int(time.time()) - seconds_ago
    store.save()


@pytest.mark.django_db
def test_activity_pushes_the_idle_deadline_back(client, agent):
    assert _logged_in(_login(client, "agent", PASSWORD, OFFICE_IP))
    _last_refreshed(client, settings.SESSION_REFRESH_SECONDS + 1)
    session = _session(client)
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + timedelta(minutes=1))
    assert client.get(reverse("accounts:profile")).status_code == 200
    assert _session(client).expire_date - timezone.now() > timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


@pytest.mark.django_db
def test_the_session_is_written_at_most_once_a_minute(client, agent):
    assert _logged_in(_login(client, "agent", PASSWORD, OFFICE_IP))
    _last_refreshed(client, settings.SESSION_REFRESH_SECONDS - 5)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("accounts:profile")).status_code == 200
    assert not [q for q in queries.captured_queries if "django_session" in q["sql"] and "SELECT" not in q["sql"]]
    _last_refreshed(client, settings.SESSION_REFRESH_SECONDS + 1)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("accounts:profile")).status_code == 200
    assert [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "django_session"')]


@pytest.mark.django_db
def test_anonymous_requests_and_a_logout_leave_no_session_behind(client, agent):
    assert client.get(reverse("health")).status_code == 200
    assert client.get(reverse("accounts:login")).status_code == 200
    assert not Session.objects.exists()
    assert _logged_in(_login(client, "agent", PASSWORD, OFFICE_IP))
    assert Session.objects.count() == 1
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("health")).status_code == 200
    assert not Session.objects.exists()


# --- roles read with the user -------------------------------------------------------------------
@pytest.mark.django_db
def test_a_page_reads_the_user_and_their_roles_in_one_query(client, agent):
    assert _logged_in(_login(client, "agent", PASSWORD, OFFICE_IP))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("accounts:profile")).status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if '"accounts_user"' in q["sql"]]
    assert len(reads) == 1
    assert "auth_group" in reads[0]
    assert not [q for q in queries.captured_queries if q["sql"].startswith('SELECT "auth_group"."name"')]


@pytest.mark.django_db
def test_a_role_withdrawn_applies_at_the_next_request(client, agent, org):
    assert _logged_in(_login(client, "agent", PASSWORD, OFFICE_IP))
    assert client.get(reverse("procurement:case_create")).status_code == 200
    agent.groups.clear()
    assert client.get(reverse("procurement:case_create")).status_code == 403


@pytest.mark.django_db
def test_a_user_without_any_role_is_still_recognised(client, org):
    user = factories.UserFactory(username="sans.role", organisation=org, roles=[])
    user.set_password(PASSWORD)
    user.save()
    assert _login(client, "sans.role", PASSWORD, OFFICE_IP).status_code == 302
    response = client.get(reverse("accounts:profile"))
    assert response.wsgi_request.user == user
    assert response.wsgi_request.user.role_names == frozenset()


@pytest.mark.django_db
def test_the_lockout_page_says_the_configured_wait(client, agent, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=40)
    _fail_until_locked(client, "agent", OFFICE_IP)
    body = _login(client, "agent", PASSWORD, OFFICE_IP).content.decode()
    assert "réessayez dans 40 min." in body
    assert "15" not in body.split("réessayez dans", 1)[1].split("<", 1)[0]
