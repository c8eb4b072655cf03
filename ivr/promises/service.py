"""Promises to pay: simulate a plan for a debt with the configured terms, and record
the one the debtor agrees to (a PromiseToPay row, a `promise.made` contact event,
and the debt put under agreement so that the dialer stops calling about it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from ivr.models import ContactEvent, Debt, DebtStatus, PromiseToPay
from ivr.promises.installments import (
    InstallmentPlan,
    PlanError,
    PlanRequest,
    check_late_fee_rate,
    simulate_plan,
)

TERMS_FILE = Path(__file__).with_name("terms.yaml")


@dataclass(frozen=True, slots=True)
class PromiseTerms:
    """What an agent may offer to a debtor of one country (see terms.yaml)."""

    country: str
    currency: str
    monthly_interest_rate: Decimal
    late_fee_rate: Decimal
    max_installments: int
    min_installment: Decimal
    max_days_to_first_payment: int


@lru_cache(maxsize=4)
def configured_terms(country: str) -> PromiseTerms:
    raw = yaml.safe_load(TERMS_FILE.read_text(encoding="utf-8"))
    if country not in raw:
        raise ValueError(
            f"{TERMS_FILE.name} has no terms for country {country!r}; expected one of {sorted(raw)}"
        )
    body = raw[country]
    try:
        terms = PromiseTerms(
            country=country,
            currency=str(body["currency"]),
            monthly_interest_rate=Decimal(str(body["monthly_interest_rate"])),
            late_fee_rate=Decimal(str(body["late_fee_rate"])),
            max_installments=int(body["max_installments"]),
            min_installment=Decimal(str(body["min_installment"])),
            max_days_to_first_payment=int(body["max_days_to_first_payment"]),
        )
    except (KeyError, InvalidOperation, ValueError) as exc:
        raise ValueError(
            f"{TERMS_FILE.name}: terms for {country} are incomplete or not numbers ({exc})"
        ) from None
    # A configured rate above the legal cap is a configuration error, found at load.
    check_late_fee_rate(terms.late_fee_rate, country)
    return terms


def terms_for_debt(debt: Debt) -> PromiseTerms:
    # The consumer's country decides which protection applies (CDC in Brazil).
    return configured_terms(debt.debtor.country)


def plan_for_debt(
    debt: Debt,
    *,
    down_payment: Decimal,
    installments: int,
    first_payment: date,
    today: date,
    late_fee_rate: Decimal | None = None,
) -> InstallmentPlan:
    """Simulate a plan for `debt` with the configured terms; PlanError names a bad input.

    `today` is the debtor's local date: the first payment may not be in the past, nor
    later than the terms allow.
    """
    if debt.status != DebtStatus.OPEN.value:
        raise PlanError(
            "debt",
            f"debt {debt.external_id} is {debt.status}; a plan is only made for an open debt",
            "debt_not_open",
            status=debt.status,
        )
    terms = terms_for_debt(debt)
    latest = today + timedelta(days=terms.max_days_to_first_payment)
    if not today <= first_payment <= latest:
        raise PlanError(
            "first_payment",
            f"first payment date {first_payment.isoformat()} is out of range; expected a date from "
            f"{today.isoformat()} to {latest.isoformat()}",
            "first_payment_out_of_range",
            earliest=today,
            latest=latest,
        )
    return simulate_plan(
        PlanRequest(
            balance=debt.total,
            down_payment=down_payment,
            installments=installments,
            monthly_interest_rate=terms.monthly_interest_rate,
            late_fee_rate=terms.late_fee_rate if late_fee_rate is None else late_fee_rate,
            start_date=first_payment,
            country=terms.country,
            max_installments=terms.max_installments,
            min_installment=terms.min_installment,
        )
    )


def record_promise(
    session: Session,
    debt: Debt,
    plan: InstallmentPlan,
    *,
    now: datetime,
    actor: str,
    user_id: int | None = None,
    attempt_id: int | None = None,
) -> PromiseToPay:
    """Store the agreed plan, log it, and put the debt under agreement (the dialer
    never calls about a debt under agreement: COMPLIANCE invariant 5)."""
    promise = PromiseToPay(
        debtor_id=debt.debtor_id,
        debt_id=debt.id,
        user_id=user_id,
        down_payment=plan.down_payment,
        installments=len(plan.installments),
        installment_amount=plan.installment_amount,
        first_due_date=plan.first_due_date,
        monthly_interest_rate=plan.monthly_interest_rate,
        late_fee_rate=plan.late_fee_rate,
        total=plan.total,
        status="active",
        plan=plan.as_dict(),
        created_at=now,
    )
    session.add(promise)
    debt.status = DebtStatus.AGREEMENT.value
    debt.status_changed_at = now
    session.flush()
    session.add(
        ContactEvent(
            debtor_id=debt.debtor_id,
            debt_id=debt.id,
            attempt_id=attempt_id,
            kind="promise.made",
            channel="agent",
            actor=actor,
            occurred_at=now,
            data={
                "promise_id": promise.id,
                "down_payment": str(plan.down_payment),
                "installments": len(plan.installments),
                "installment_amount": str(plan.installment_amount),
                "first_due_date": plan.first_due_date.isoformat(),
                "total": str(plan.total),
                "monthly_interest_rate": str(plan.monthly_interest_rate),
                "late_fee_rate": str(plan.late_fee_rate),
            },
        )
    )
    return promise


__all__ = ["PromiseTerms", "configured_terms", "plan_for_debt", "record_promise", "terms_for_debt"]
