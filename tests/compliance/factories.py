"""Builders of compliance facts with sensible defaults, so each test states only
what it is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from ivr.compliance.facts import (
    CallFacts,
    CampaignPolicy,
    ContactHistory,
    DebtFacts,
    DebtorFacts,
    ExtraHoliday,
    PastAttempt,
    PhoneFacts,
    WeeklyRange,
)

SAO_PAULO = "America/Sao_Paulo"
NEW_YORK = "America/New_York"

ALL_WEEK = tuple(WeeklyRange(day, time(0), time(0)) for day in range(7))


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """An instant given by its wall-clock reading in `zone`, as UTC."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)  # type: ignore[misc]


def open_campaign(**changes: object) -> CampaignPolicy:
    """A running campaign that narrows nothing and paces nothing."""
    campaign = CampaignPolicy(
        windows=ALL_WEEK,
        min_minutes_between_attempts=0,
        retry_no_answer_minutes=0,
        retry_busy_minutes=0,
        retry_machine_minutes=0,
    )
    return replace(campaign, **changes)  # type: ignore[arg-type]


def br_facts(
    state: str | None = "SP",
    zones: frozenset[str] = frozenset({SAO_PAULO}),
    *,
    city: str | None = None,
    attempts: tuple[PastAttempt, ...] = (),
    campaign: CampaignPolicy | None = None,
    extra_holidays: frozenset[ExtraHoliday] = frozenset(),
    **debtor_changes: object,
) -> CallFacts:
    debtor = DebtorFacts(id=1, country="BR", zones=zones, state=state, city=city)
    return CallFacts(
        debtor=replace(debtor, **debtor_changes),  # type: ignore[arg-type]
        phone=PhoneFacts("+5511987654321", line_type="mobile"),
        debt=DebtFacts(id=10),
        history=ContactHistory(attempts=attempts),
        campaign=campaign if campaign is not None else open_campaign(),
        extra_holidays=extra_holidays,
    )


def us_facts(
    state: str | None = "NY",
    zones: frozenset[str] = frozenset({NEW_YORK}),
    *,
    attempts: tuple[PastAttempt, ...] = (),
    campaign: CampaignPolicy | None = None,
    requested_callback_at: datetime | None = None,
    **debtor_changes: object,
) -> CallFacts:
    debtor = DebtorFacts(id=2, country="US", zones=zones, state=state)
    return CallFacts(
        debtor=replace(debtor, **debtor_changes),  # type: ignore[arg-type]
        phone=PhoneFacts("+12125550100", line_type="mobile", robocall_consent=True),
        debt=DebtFacts(id=20),
        history=ContactHistory(attempts=attempts),
        campaign=campaign if campaign is not None else open_campaign(),
        requested_callback_at=requested_callback_at,
    )


def rule_ids(decision: object) -> set[str]:
    return {reason.rule_id for reason in decision.reasons}  # type: ignore[attr-defined]
