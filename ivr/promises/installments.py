"""The installment simulator: what a debtor pays, and when, for a down payment and
a number of monthly installments. Pure arithmetic, exact to the cent: Decimal amounts,
computed through exact fractions.

The financed part (balance minus down payment) is paid in equal monthly installments
whose present value at the monthly interest rate, each discounted by the whole months
from the plan's start (`start_date`) to its due date, is exactly the financed part:
interest runs only for the time each installment is actually outstanding. With a
down payment on the start date the installments fall 1 to n months later (the Price
table); without one the first installment is due on the start date and bears no
interest (0 to n - 1 months). Plain division when the rate is zero. Every
installment but the last is rounded down to the cent; the last one takes the
rounding remainder, so down payment + installments == total exactly and the last
installment is never smaller than the others.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

CENT = Decimal("0.01")

# The legal ceiling on a late fee (multa), per country: (rate, rule id). A law, not a
# setting: configuration may lower the rate offered, never raise it past this.
LATE_FEE_CAPS: dict[str, tuple[Decimal, str]] = {"BR": (Decimal("0.02"), "BR-CDC-52")}


class PlanError(ValueError):
    """A plan the simulator refuses. `field` names the input to fix; `code` and
    `values` let a user interface say the same thing in the reader's language."""

    def __init__(
        self, field: str, message: str, code: str = "invalid", /, **values: object
    ) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.values = values


@dataclass(frozen=True, slots=True)
class PlanRequest:
    balance: Decimal  # what is owed today (the debt's total)
    down_payment: Decimal
    installments: int
    monthly_interest_rate: Decimal  # a fraction: 0.01 is 1 % a month
    late_fee_rate: Decimal  # a fraction of a late installment
    # The plan's start: the down payment's due date, or the first installment's without
    # one. Installments are discounted from here, so a payment due on it bears no interest.
    start_date: date
    country: str = "BR"
    max_installments: int = 60
    min_installment: Decimal = CENT


@dataclass(frozen=True, slots=True)
class Installment:
    number: int
    due_date: date
    amount: Decimal
    late_fee: Decimal  # charged once if this installment is paid late


@dataclass(frozen=True, slots=True)
class InstallmentPlan:
    balance: Decimal
    down_payment: Decimal
    down_payment_due: date | None
    financed: Decimal
    installments: tuple[Installment, ...]
    total: Decimal  # down payment + every installment
    monthly_interest_rate: Decimal
    late_fee_rate: Decimal

    @property
    def interest(self) -> Decimal:
        return self.total - self.balance

    @property
    def installment_amount(self) -> Decimal:
        """The regular installment (the last one may be a few cents more)."""
        return self.installments[0].amount

    @property
    def first_due_date(self) -> date:
        return self.down_payment_due or self.installments[0].due_date

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, with amounts and rates as exact decimal strings."""
        return {
            "balance": str(self.balance),
            "down_payment": str(self.down_payment),
            "down_payment_due": self.down_payment_due.isoformat()
            if self.down_payment_due
            else None,
            "financed": str(self.financed),
            "monthly_interest_rate": str(self.monthly_interest_rate),
            "late_fee_rate": str(self.late_fee_rate),
            "total": str(self.total),
            "interest": str(self.interest),
            "installments": [
                {
                    "number": item.number,
                    "due_date": item.due_date.isoformat(),
                    "amount": str(item.amount),
                    "late_fee": str(item.late_fee),
                }
                for item in self.installments
            ],
        }


def add_months(start: date, months: int) -> date:
    """The same day `months` later, or that month's last day when it is shorter."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def late_fee_cap(country: str) -> tuple[Decimal, str] | None:
    return LATE_FEE_CAPS.get(country)


def check_late_fee_rate(rate: Decimal, country: str) -> None:
    """Refuse a negative rate, or one above the country's legal cap (naming the cap)."""
    if rate < 0:
        raise PlanError(
            "late_fee_rate",
            f"late fee rate {_percent(rate)} is negative; expected 0 % or more",
            "negative",
        )
    cap = late_fee_cap(country)
    if cap and rate > cap[0]:
        raise PlanError(
            "late_fee_rate",
            f"late fee rate {_percent(rate)} is above the legal cap of {_percent(cap[0])} "
            f"of the installment ({cap[1]}); expected at most {_percent(cap[0])}",
            "late_fee_above_cap",
            rate=_percent(rate),
            cap=_percent(cap[0]),
            rule=cap[1],
        )


def simulate_plan(request: PlanRequest) -> InstallmentPlan:
    """The plan for `request`, or PlanError naming the input that cannot work."""
    balance = _cents(request.balance)
    down = _cents(request.down_payment)
    rate = request.monthly_interest_rate
    if balance <= 0:
        raise PlanError(
            "balance",
            f"balance {balance} leaves nothing to pay; expected an amount above zero",
            "not_positive",
        )
    if down < 0:
        raise PlanError(
            "down_payment", f"down payment {down} is negative; expected 0 or more", "negative"
        )
    if down >= balance:
        raise PlanError(
            "down_payment",
            f"down payment {down} is not less than the balance {balance}; "
            "for a single payment use one installment and no down payment",
            "down_payment_too_high",
            balance=balance,
        )
    if not 1 <= request.installments <= request.max_installments:
        raise PlanError(
            "installments",
            f"{request.installments} installments is out of range; expected 1 to {request.max_installments}",
            "installments_out_of_range",
            maximum=request.max_installments,
        )
    if rate < 0:
        raise PlanError(
            "monthly_interest_rate",
            f"monthly interest rate {_percent(rate)} is negative",
            "negative",
        )
    check_late_fee_rate(request.late_fee_rate, request.country)

    count = request.installments
    financed = balance - down
    # Months from the start to each installment: a down payment takes the start date
    # and the installments follow monthly; without one the first is due at the start.
    first_offset = 1 if down else 0
    offsets = range(first_offset, first_offset + count)
    payment = _level_payment(financed, rate, offsets)
    regular = _cents_rounded_down(payment)
    payable = _cents_rounded_half_up(payment * count)
    last = payable - regular * (count - 1)
    if regular < _cents(request.min_installment):
        raise PlanError(
            "installments",
            f"{count} installments of {regular} are below the minimum installment of "
            f"{_cents(request.min_installment)}; expected fewer installments or a smaller down payment",
            "installment_below_minimum",
            amount=regular,
            minimum=_cents(request.min_installment),
        )

    # Counted from the start date each time, so a 31st stays the 31st where the month has one.
    items = tuple(
        Installment(
            number=number,
            due_date=add_months(request.start_date, offset),
            amount=amount,
            late_fee=(amount * request.late_fee_rate).quantize(CENT, rounding=ROUND_DOWN),
        )
        for number, (offset, amount) in enumerate(
            zip(offsets, [regular] * (count - 1) + [last], strict=True), start=1
        )
    )
    return InstallmentPlan(
        balance=balance,
        down_payment=down,
        down_payment_due=request.start_date if down else None,
        financed=financed,
        installments=items,
        total=down + payable,
        monthly_interest_rate=rate,
        late_fee_rate=request.late_fee_rate,
    )


def _level_payment(financed: Decimal, rate: Decimal, offsets: Sequence[int]) -> Fraction:
    """The exact (unrounded) equal payment, one due `offset` months after the start for
    each offset, whose present value at `rate` a month is `financed`.

    Rational arithmetic, so that a payment falling exactly on a cent is not rounded
    down a cent by an approximation of the discount factors.
    """
    discount = 1 / (1 + Fraction(rate))
    return Fraction(financed) / sum((discount**offset for offset in offsets), Fraction(0))


def _cents_rounded_down(amount: Fraction) -> Decimal:
    return Decimal(math.floor(amount * 100)).scaleb(-2)


def _cents_rounded_half_up(amount: Fraction) -> Decimal:
    # floor(x + 1/2) is half-up for the positive amounts a plan has.
    return Decimal(math.floor(amount * 100 + Fraction(1, 2))).scaleb(-2)


def _cents(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


__all__ = [
    "LATE_FEE_CAPS",
    "Installment",
    "InstallmentPlan",
    "PlanError",
    "PlanRequest",
    "add_months",
    "check_late_fee_rate",
    "late_fee_cap",
    "simulate_plan",
]
