"""Shared guard rails and fixtures.

Guard rails: warnings are errors and undefined template variables fail (pyproject addopts); every test
writes files under its own temporary directory; service-bound tests skip (locally) when PostgreSQL or
Redis is unreachable — with TANDEM_REQUIRE_SERVICES=1 the settings import already fails instead.
"""

from datetime import timedelta
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from tests import factories

_SERVICE_MARKERS = {
    "postgres": ("POSTGRES_AVAILABLE", "PostgreSQL is unreachable (tests run on the SQLite fallback)"),
    "redis": ("REDIS_AVAILABLE", "Redis is unreachable"),
    "worker": ("REDIS_AVAILABLE", "Redis is unreachable: no Celery worker can run"),
}


def pytest_configure(config):
    # WeasyPrint 70 opens its sRGB ICC profile for PDF/A and never closes it (weasyprint/pdf/__init__.py:151):
    # a third-party leak, ignored precisely so that every other ResourceWarning still fails the test.
    config.addinivalue_line(
        "filterwarnings",
        r"ignore:unclosed file <_io.BufferedReader name='[^']*weasyprint/pdf/sRGB2014\.icc'>:ResourceWarning",
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker, (flag, reason) in _SERVICE_MARKERS.items():
            if item.get_closest_marker(marker) and not getattr(settings, flag, False):
                item.add_marker(pytest.mark.skip(reason=f"{reason}; set TANDEM_REQUIRE_SERVICES=1 to make it fail"))


@pytest.fixture(autouse=True)
def empty_cache():
    """No kept page (procurement.list_cache) from one test reaches the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    """Uploaded and rendered files go to a temporary directory per test, never to var/."""
    root = tmp_path / "private"
    root.mkdir()
    settings.PRIVATE_STORAGE_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


# --- organisations and users -------------------------------------------------------------------
@pytest.fixture
def org(db):
    return factories.OrganisationFactory(name="Région Sud")


@pytest.fixture
def other_org(db):
    return factories.OrganisationFactory(name="Autre Région")


@pytest.fixture
def buyer(org):
    """The buyer who owns the cases built in tests."""
    return factories.UserFactory(username="acheteur", organisation=org, roles=["buyer"])


@pytest.fixture
def buyer2(org):
    """Another buyer of the same organisation, not assigned to the case."""
    return factories.UserFactory(username="acheteuse2", organisation=org, roles=["buyer"])


@pytest.fixture
def jurist(org):
    return factories.UserFactory(username="juriste", organisation=org, roles=["jurist"])


@pytest.fixture
def director(org):
    return factories.UserFactory(username="directeur", organisation=org, roles=["director"])


@pytest.fixture
def admin_user(org):
    """Tandem's administrator role (not a Django superuser)."""
    return factories.UserFactory(username="admin", organisation=org, roles=["admin"])


@pytest.fixture
def outsider(other_org):
    """A buyer of another organisation."""
    return factories.UserFactory(username="acheteur-autre", organisation=other_org, roles=["buyer"])


@pytest.fixture
def norole(org):
    return factories.UserFactory(username="sansrole", organisation=org, roles=[])


@pytest.fixture
def delegation(director):
    today = timezone.localdate()
    return factories.SignatureDelegationFactory(
        organisation=director.organisation,
        delegate=director,
        amount_ceiling=Decimal("10000000"),
        valid_from=today - timedelta(days=30),
        valid_until=today + timedelta(days=365),
    )


# Reference data the migrations seed (role groups, thresholds, reference prices, norms catalogue, notified
# bodies). A transactional test flushes the database when it ends, taking that data with it; each seeding
# function is idempotent, so transactional tests put it back first.
MIGRATION_DATA = [
    ("accounts.migrations.0002_roles", "create_groups"),
    ("procurement.migrations.0002_thresholds_and_audit_trigger", "seed_thresholds"),
    ("procurement.migrations.0004_reference_prices", "seed"),
    ("procurement.migrations.0006_norms_catalogue_data", "seed"),
    ("procurement.migrations.0007_notified_bodies", "seed"),
    ("procurement.migrations.0008_notified_until", "set_ends"),
]


@pytest.fixture(autouse=True)
def reference_data(request):
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or {
        "transactional_db",
        "live_server",
    } & set(request.fixturenames)
    if transactional:
        request.getfixturevalue("transactional_db")
        for module, function in MIGRATION_DATA:
            getattr(import_module(module), function)(apps, None)
