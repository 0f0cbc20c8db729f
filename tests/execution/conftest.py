from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from tests.factories import make_contract

PARIS = ZoneInfo("Europe/Paris")


def paris(year, month, day, hour=9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def contract(buyer, jurist, director, delegation):
    """A signed contract today: 100 000 masks at 0.85 € (85 000 € excl. VAT)."""
    return make_contract(buyer, "signed", jurist=jurist, signer=director)


@pytest.fixture
def today():
    return timezone.localdate()
