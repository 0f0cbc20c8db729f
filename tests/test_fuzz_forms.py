"""Every form a page posts, fed garbage: never a 500, and a refused post writes nothing at all.

The permission matrix (tests/test_permissions.py) lists every POST URL with a builder that sets up the objects
and returns a valid payload. Here, as a role allowed to post it, Hypothesis mutates that payload: random unicode
(NUL and other control characters, right-to-left overrides, astral planes), 100 000-character strings, values of
the wrong type or repeated, fields removed, unknown fields added (mass-assignment attempts such as `status`).

For each example:
- the answer is never a server error (the test client re-raises an exception raised by a view);
- a refused post (no success message, or no state change where the page gives none) leaves the database exactly
  as it was: every table's content is fingerprinted before and after, not only the entry's own state snapshot;
- an accepted post stores the input in a shape the next page can show: following its redirect never fails.

Each example runs inside a savepoint rolled back at its end, so the examples of one URL share one built world.
Profiles: "tandem-fuzz" (default, 15 examples per URL: the module runs in about a minute) and "tandem-fuzz-deep"
(TANDEM_FUZZ_PROFILE=tandem-fuzz-deep, for a longer run). The number of examples run per URL is recorded as the
`hypothesis_examples` property of each test in the JUnit XML report (`--junitxml=…`).
"""

import os
from contextlib import contextmanager

import pytest
from django.apps import apps
from django.contrib.messages import SUCCESS, get_messages
from django.db import connection, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_permissions import MATRIX, World, url_name

settings.register_profile(
    "tandem-fuzz",
    max_examples=15,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.register_profile("tandem-fuzz-deep", parent=settings.get_profile("tandem-fuzz"), max_examples=200)
PROFILE = settings.get_profile(os.environ.get("TANDEM_FUZZ_PROFILE", "tandem-fuzz"))

# The logout ends the session every other example of its URL needs, and takes no field.
FUZZED = [key for key, entry in MATRIX.items() if entry.method == "post" and key != "accounts:logout"]

# Tables a refused post may legitimately touch: the session (its idle deadline pushed back, IdleSessionMiddleware),
# django-axes' records, and the sanctions screenings a vetting page re-runs when stale before anything is decided
# (kept whatever the decision, procurement.services.vetting_assess).
VOLATILE_TABLES = {"django_session", "axes_accessattempt", "axes_accesslog", "axes_accessfailurelog"}
VOLATILE_MODELS = {"suppliers.SanctionsScreening"}

HUGE = 100_000
NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "abc\x00def",
    "\x01\x02\x1b[31m\x7f",
    "\u202eevil\u202c",  # right-to-left override
    "\ufeffBOM",
    "\u200b\u200d",
    "𝕏𝔸𝕄 🦠",
    "é" * 3,
    "\r\n\r\n",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../../../etc/passwd",
    "%00%0d%0a",
    "１２３",  # full-width digits: int() accepts them
    "٣",  # Arabic-Indic digit
    "1e309",
    "NaN",
    "Infinity",
    "-0",
    "-1",
    "0",
    "9" * 40,
    "0x10",
    " 7 ",
    "2020-02-30",
    "99999-12-31",
    "0000-00-00",
    "true",
    "None",
    "[]",
    "{}",
]
MASS_ASSIGNMENT = ["status", "organisation", "organisation_id", "owner", "is_staff", "pk", "id", "terms_version"]


# --- the database fingerprint ------------------------------------------------------------------
def _tables() -> list[str]:
    volatile = {apps.get_model(label)._meta.db_table for label in VOLATILE_MODELS}
    tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }
    return sorted(tables - VOLATILE_TABLES - volatile)


def fingerprint(tables: list[str]) -> dict[str, tuple[int, str]]:
    """Row count and digest of every row of every table, in one query: any insert, update or delete shows."""
    quote = connection.ops.quote_name
    parts = [
        f"SELECT %s, COUNT(*), MD5(COALESCE(STRING_AGG(MD5(t::text), '' ORDER BY MD5(t::text)), '')) FROM {quote(table)} t"
        for table in tables
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), tables)
        return {table: (count, digest) for table, count, digest in cursor.fetchall()}


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(table for table in before if before[table] != after[table])


@contextmanager
def rolled_back():
    """A savepoint undone at the end: each example starts from the same world."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- mutations ---------------------------------------------------------------------------------
text_values = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=40),  # any code point but surrogates: control characters and NUL included
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Mn"]), max_size=20),
)
huge_values = st.sampled_from(["a", "é", "𝕏", "9", "<", "\u202e"]).map(lambda char: char * HUGE)
wrong_types = st.one_of(
    st.lists(text_values, min_size=2, max_size=3),  # the field sent several times
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates().map(lambda d: d.isoformat()),
)


@st.composite
def mutated(draw, valid: dict):
    """The valid payload with a few fields replaced, removed, repeated, plus unknown ones."""
    data = dict(valid)
    keys = sorted(valid)
    operations = draw(st.integers(min_value=1, max_value=4))
    for _ in range(operations):
        kind = draw(st.sampled_from(["text", "huge", "wrong", "missing", "extra"] if keys else ["extra"]))
        if kind == "extra":
            prefix = draw(st.sampled_from(sorted({key.rsplit("-", 1)[0] + "-" for key in keys if "-" in key}) + [""]))
            name = prefix + draw(st.sampled_from(MASS_ASSIGNMENT) | st.text(min_size=1, max_size=12))
            data[name] = draw(text_values)
            continue
        key = draw(st.sampled_from(keys))
        if kind == "missing":
            data.pop(key, None)
        else:
            data[key] = draw({"text": text_values, "huge": huge_values, "wrong": wrong_types}[kind])
    return data


# --- the test ----------------------------------------------------------------------------------
@pytest.fixture
def users(buyer, buyer2, jurist, director, admin_user, outsider, norole):
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    return {
        "anonymous": None,
        "case_buyer": buyer,
        "other_buyer": buyer2,
        "jurist": jurist,
        "director": director,
        "admin": admin_user,
        "outsider": outsider,
        "norole": norole,
    }


def _role(entry) -> str:
    """A role allowed to post the form (the case's buyer when it is one), so the form is actually read."""
    return "case_buyer" if "case_buyer" in entry.changes_for or not entry.changes_for else sorted(entry.changes_for)[0]


def _rewind(data: dict) -> None:
    for value in data.values():
        if hasattr(value, "seek"):
            value.seek(0)  # an uploaded file is read again by the next post


def _succeeded(response) -> bool:
    return response.status_code == 302 and any(m.level == SUCCESS for m in get_messages(response.wsgi_request))


def _post(client, url, data):
    _rewind(data)
    response = client.post(url, data)
    assert response.status_code < 500, response.status_code
    return response


@pytest.mark.postgres
@pytest.mark.parametrize("key", FUZZED)
def test_fuzzed_form_never_fails_nor_writes_half(client, users, key, request):
    entry = MATRIX[key]
    world = World(users=users, role=_role(entry))
    kwargs, valid = entry.build(world)
    url = reverse(url_name(key), kwargs=kwargs or None)
    client.force_login(world.actor)
    tables = _tables()
    state = entry.state(world) if entry.state else None
    database = fingerprint(tables)

    # The payload as built is accepted; tells whether this page confirms success with a message.
    with rolled_back():
        response = _post(client, url, valid)
        assert response.status_code == 302, response.status_code
        says_success = _succeeded(response)
        if world.role in entry.changes_for:
            assert entry.state(world) != state, "the valid payload changed nothing"
    assert fingerprint(tables) == database

    examples = []

    @PROFILE
    @given(data=mutated(valid))
    def fuzz(data):
        examples.append(data)
        with rolled_back():
            response = _post(client, url, data)
            after = entry.state(world) if entry.state else None
            if says_success:
                accepted = _succeeded(response)
            else:
                accepted = response.status_code == 302 and after != state
            if accepted:
                # The stored input renders: the page the user is sent to does not fail.
                page = client.get(response["Location"])
                assert page.status_code < 500, page.status_code
            else:
                assert after == state, f"refused, yet the state changed: {state!r} → {after!r}"
                assert _changed(database, fingerprint(tables)) == [], "refused, yet rows were written"
        client.cookies.pop("messages", None)  # messages of one example are not shown to the next

    fuzz()
    request.node.user_properties.append(("hypothesis_examples", len(examples)))  # shown by --junitxml
    assert len(examples) >= min(PROFILE.max_examples, 5)
    assert fingerprint(tables) == database
