"""The installment simulator (ivr.promises.installments): exact to the cent, the
remainder on the last installment, interest only for the months an installment is
outstanding, and never a late fee above the legal cap."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ivr.promises.installments import PlanError, PlanRequest, add_months, simulate_plan

CENT = Decimal("0.01")

balances = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("250000.00"), places=2)
rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("0.12"), places=4)
late_fees = st.decimals(min_value=Decimal("0"), max_value=Decimal("0.02"), places=4)
starts = st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31))


def request(**overrides) -> PlanRequest:
    values = dict(
        balance=Decimal("1000.00"),
        down_payment=Decimal("0"),
        installments=12,
        monthly_interest_rate=Decimal("0.01"),
        late_fee_rate=Decimal("0.02"),
        start_date=date(2026, 12, 10),
        country="BR",
    )
    values.update(overrides)
    return PlanRequest(**values)


@given(
    balance=balances,
    share=st.decimals(min_value=Decimal("0"), max_value=Decimal("0.9"), places=2),
    count=st.integers(min_value=1, max_value=60),
    rate=rates,
    late_fee=late_fees,
    start=starts,
)
def test_down_payment_and_installments_add_up_to_the_total_exactly(
    balance, share, count, rate, late_fee, start
) -> None:
    down = (balance * share).quantize(CENT)
    try:
        plan = simulate_plan(
            request(
                balance=balance,
                down_payment=down,
                installments=count,
                monthly_interest_rate=rate,
                late_fee_rate=late_fee,
                start_date=start,
            )
        )
    except PlanError as exc:
        assert exc.field in (
            "installments",
            "down_payment",
        )  # too small to split, or nothing financed
        return
    amounts = [item.amount for item in plan.installments]
    assert plan.down_payment + sum(amounts) == plan.total
    assert all(a == a.quantize(CENT) and a > 0 for a in amounts)
    # The rounding remainder goes on the last installment, never making it smaller.
    assert all(a == amounts[0] for a in amounts[:-1])
    assert amounts[0] <= amounts[-1] < amounts[0] + CENT * count + CENT
    assert plan.total >= balance
    if rate == 0:
        assert plan.total == balance
    dates = [plan.down_payment_due] if plan.down_payment_due else []
    dates += [item.due_date for item in plan.installments]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)


@given(balance=balances, count=st.integers(min_value=1, max_value=24), late_fee=late_fees)
def test_late_fee_never_exceeds_two_percent_of_the_installment_in_brazil(
    balance, count, late_fee
) -> None:
    try:
        plan = simulate_plan(request(balance=balance, installments=count, late_fee_rate=late_fee))
    except PlanError:
        return
    for item in plan.installments:
        assert item.late_fee <= item.amount * Decimal("0.02")
        assert item.late_fee <= item.amount * late_fee


@given(late_fee=st.decimals(min_value=Decimal("0.0201"), max_value=Decimal("1"), places=4))
def test_a_late_fee_above_the_cap_is_refused_naming_the_cap(late_fee) -> None:
    with pytest.raises(PlanError) as refused:
        simulate_plan(request(late_fee_rate=late_fee))
    assert refused.value.field == "late_fee_rate"
    assert refused.value.code == "late_fee_above_cap"
    assert "2 %" in str(refused.value) and "BR-CDC-52" in str(refused.value)


def test_the_brazilian_cap_does_not_apply_to_a_us_debtor() -> None:
    plan = simulate_plan(
        request(country="US", late_fee_rate=Decimal("0.05"), monthly_interest_rate=Decimal("0"))
    )
    assert plan.installments[0].late_fee == (
        plan.installments[0].amount * Decimal("0.05")
    ).quantize(CENT, rounding="ROUND_DOWN")


def test_with_a_down_payment_the_installments_follow_the_price_table() -> None:
    # 1,000.00 financed at 1 % a month, paid 1 to 12 months later: the textbook Price
    # table, PMT = 88.8488, 12 x PMT = 1,066.19. Regular installments are rounded down,
    # the last one takes the 11 cents of remainder.
    plan = simulate_plan(request(balance=Decimal("1100.00"), down_payment=Decimal("100.00")))
    amounts = [item.amount for item in plan.installments]
    assert plan.financed == Decimal("1000.00")
    assert amounts[:11] == [Decimal("88.84")] * 11
    assert amounts[-1] == Decimal("88.95")
    assert plan.total == Decimal("1166.19")
    assert plan.interest == Decimal("66.19")
    assert plan.installments[0].due_date == date(2027, 1, 10)


def months_between(start: date, later: date) -> int:
    return (later.year * 12 + later.month) - (start.year * 12 + start.month)


def present_value(plan, rate: Decimal) -> Fraction:
    """Every payment discounted at `rate` by the whole months from the plan's first due
    date (the down payment's, or the first installment's) to its own due date."""
    start = plan.first_due_date
    discount = 1 / (1 + Fraction(rate))
    payments = [(start, plan.down_payment)] if plan.down_payment_due else []
    payments += [(item.due_date, item.amount) for item in plan.installments]
    return sum(
        (Fraction(amount) * discount ** months_between(start, due) for due, amount in payments),
        Fraction(0),
    )


@pytest.mark.parametrize(
    "count, total", [(1, Decimal("1000.00")), (12, Decimal("1055.63")), (24, Decimal("1118.58"))]
)
def test_without_a_down_payment_no_interest_runs_before_the_first_installment(
    count: int, total: Decimal
) -> None:
    # The first installment is due on the start date, so interest runs 0 to count - 1
    # months (an annuity-due): the payment is the ordinary Price payment / (1 + r).
    plan = simulate_plan(request(installments=count))
    assert plan.down_payment_due is None
    assert plan.installments[0].due_date == date(2026, 12, 10)
    assert plan.installments[-1].due_date == add_months(date(2026, 12, 10), count - 1)
    rate = 0.01
    price_payment = 1000 * rate / (1 - (1 + rate) ** -count)
    assert plan.total == Decimal(f"{count * price_payment / (1 + rate):.2f}") == total
    # What is quoted is worth, today, the 1,000.00 owed (rounding cents aside).
    assert abs(present_value(plan, Decimal("0.01")) - 1000) <= Fraction(count, 100)


@given(balance=balances, rate=rates, start=starts)
def test_a_single_installment_on_the_start_date_is_the_balance_without_interest(
    balance, rate, start
) -> None:
    plan = simulate_plan(
        request(balance=balance, installments=1, monthly_interest_rate=rate, start_date=start)
    )
    assert [(i.due_date, i.amount) for i in plan.installments] == [(start, balance)]
    assert plan.total == balance and plan.interest == 0


@given(
    balance=balances,
    with_down_payment=st.booleans(),
    share=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.9"), places=2),
    count=st.integers(min_value=1, max_value=60),
    rate=rates,
    start=starts,
)
def test_the_payments_are_worth_the_balance_at_the_plan_rate(
    balance, with_down_payment, share, count, rate, start
) -> None:
    # Interest only for the months each payment is outstanding: discounted at the plan's
    # rate by their actual due dates, the payments are worth exactly what is owed, less
    # at most a cent for each installment rounded down (the remainder is paid last, so
    # later) and at most half a cent more from rounding the total.
    down = (balance * share).quantize(CENT) if with_down_payment else Decimal("0")
    try:
        plan = simulate_plan(
            request(
                balance=balance,
                down_payment=down,
                installments=count,
                monthly_interest_rate=rate,
                start_date=start,
            )
        )
    except PlanError as exc:
        assert exc.field in ("installments", "down_payment")
        return
    value = present_value(plan, rate)
    assert balance - CENT * count <= value <= balance + CENT / 2
    first_installment_month = months_between(start, plan.installments[0].due_date)
    assert first_installment_month == (1 if plan.down_payment else 0)


def test_without_interest_the_balance_is_split_with_the_remainder_last() -> None:
    plan = simulate_plan(
        request(balance=Decimal("100.00"), installments=3, monthly_interest_rate=Decimal("0"))
    )
    assert [i.amount for i in plan.installments] == [
        Decimal("33.33"),
        Decimal("33.33"),
        Decimal("33.34"),
    ]


def test_with_a_down_payment_installments_start_a_month_later() -> None:
    plan = simulate_plan(
        request(down_payment=Decimal("200"), installments=2, start_date=date(2027, 1, 31))
    )
    assert plan.down_payment_due == date(2027, 1, 31)
    assert [i.due_date for i in plan.installments] == [date(2027, 2, 28), date(2027, 3, 31)]
    assert plan.first_due_date == date(2027, 1, 31)


@pytest.mark.parametrize(
    "overrides, field, code",
    [
        ({"down_payment": Decimal("-1")}, "down_payment", "negative"),
        ({"down_payment": Decimal("1000")}, "down_payment", "down_payment_too_high"),
        ({"installments": 0}, "installments", "installments_out_of_range"),
        ({"installments": 61}, "installments", "installments_out_of_range"),
        ({"balance": Decimal("0")}, "balance", "not_positive"),
        ({"late_fee_rate": Decimal("-0.01")}, "late_fee_rate", "negative"),
        (
            {"min_installment": Decimal("100"), "installments": 12},
            "installments",
            "installment_below_minimum",
        ),
    ],
)
def test_bad_inputs_are_refused_naming_the_field(overrides, field, code) -> None:
    with pytest.raises(PlanError) as refused:
        simulate_plan(request(**overrides))
    assert (refused.value.field, refused.value.code) == (field, code)


@given(start=starts, months=st.integers(min_value=0, max_value=120))
def test_add_months_keeps_the_day_or_the_month_end(start: date, months: int) -> None:
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assume(start.day <= 28)
    assert result.day == start.day


def test_plan_as_dict_is_exact_json() -> None:
    data = simulate_plan(request(installments=2)).as_dict()
    assert data["installments"][0] == {
        "number": 1,
        "due_date": "2026-12-10",
        "amount": "502.48",
        "late_fee": "10.04",
    }
    # 1,000.00 / (1 + 1 / 1.01) = 502.4875 a month; the last takes the 2 cents left over.
    assert data["installments"][1] == {
        "number": 2,
        "due_date": "2027-01-10",
        "amount": "502.50",
        "late_fee": "10.05",
    }
    assert data["total"] == "1004.98"
