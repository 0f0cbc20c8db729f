"""The pure rules: the penalty formula, the payment deadline, late interest and the fixed fee."""

from datetime import date
from decimal import Decimal

import pytest

from execution import rules


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        (Decimal("10000"), 12, Decimal("120.00")),  # 10 000 € late 12 days: 10 000 × 12 / 1000
        (Decimal("34000.00"), 10, Decimal("340.00")),
        (Decimal("1234.56"), 3, Decimal("3.70")),  # 3.70368 rounded half up to the cent
        (Decimal("5000"), 0, Decimal("0.00")),  # on time: nothing
        (Decimal("5000"), -4, Decimal("0.00")),  # early: nothing
    ],
)
def test_late_penalty_is_value_times_days_over_a_thousand(value, days, expected):
    assert rules.late_penalty(value, days) == expected


def test_payment_is_due_thirty_days_after_the_invoice_is_received():
    assert rules.payment_due_on(date(2020, 4, 24)) == date(2020, 5, 24)
    assert rules.payment_due_on(date(2020, 2, 1)) == date(2020, 3, 2)  # leap year: 29 days in February


def test_paid_late_owes_interest_per_day_and_the_40_euro_fee(settings):
    settings.LATE_PAYMENT_RATE = Decimal("0.08")
    late = rules.late_payment(Decimal("36500.00"), due=date(2020, 5, 24), paid=date(2020, 6, 3))
    assert late.days == 10
    assert late.interest == Decimal("80.00")  # 36 500 × 8 % × 10 / 365
    assert late.fee == Decimal("40.00")
    assert late.total == Decimal("120.00")


def test_paid_on_the_due_date_owes_nothing():
    late = rules.late_payment(Decimal("36500.00"), due=date(2020, 5, 24), paid=date(2020, 5, 24))
    assert (late.days, late.interest, late.fee) == (0, Decimal("0.00"), Decimal("0.00"))


def test_the_covid_ordinance_covers_contracts_of_spring_2020_only():
    assert rules.covid_ordinance_applies(date(2020, 3, 22))
    assert rules.covid_ordinance_applies(date(2020, 7, 23))
    assert not rules.covid_ordinance_applies(date(2020, 7, 24))
    assert not rules.covid_ordinance_applies(date(2026, 1, 5))
    assert not rules.covid_ordinance_applies(None)
