"""What a supervisor may change about a campaign, read from a form: every field
checked at once (so the form shows all mistakes together), then applied. Starting,
pausing and the calling windows go through ivr.dialer.campaigns, the one place
that does them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console.forms import (
    FieldError,
    parse_choice,
    parse_date,
    parse_e164,
    parse_int,
    parse_number,
    parse_optional_int,
    require_text,
)
from ivr.dialer.campaigns import WEEKDAYS, CampaignError, parse_window, set_windows
from ivr.models import Campaign, Holiday

SECOND_FACTORS = ("none", "birth_year", "cpf_digits")
COUNTRIES = ("BR", "US")


def read_campaign_form(
    form: Mapping[str, str], *, with_name: bool
) -> tuple[dict[str, Any], list[FieldError]]:
    """The settings the form asks for, and every field error found."""
    readers = {
        "caller_id": lambda raw: parse_e164(raw, "caller_id"),
        "calls_per_second": lambda raw: parse_number(
            raw, "calls_per_second", minimum=0.05, maximum=50
        ),
        "max_concurrent": lambda raw: parse_int(raw, "max_concurrent", minimum=1, maximum=1000),
        "max_per_day": lambda raw: parse_optional_int(raw, "max_per_day", minimum=1, maximum=20),
        "max_per_week": lambda raw: parse_optional_int(raw, "max_per_week", minimum=1, maximum=100),
        "min_minutes_between_attempts": lambda raw: parse_int(
            raw, "min_minutes_between_attempts", minimum=0, maximum=10080
        ),
        "retry_no_answer_minutes": lambda raw: parse_int(
            raw, "retry_no_answer_minutes", minimum=1, maximum=10080
        ),
        "retry_busy_minutes": lambda raw: parse_int(
            raw, "retry_busy_minutes", minimum=1, maximum=10080
        ),
        "retry_machine_minutes": lambda raw: parse_int(
            raw, "retry_machine_minutes", minimum=1, maximum=10080
        ),
        "second_factor": lambda raw: parse_choice(raw, "second_factor", SECOND_FACTORS),
        "transfer_timeout_seconds": lambda raw: parse_int(
            raw, "transfer_timeout_seconds", minimum=10, maximum=600
        ),
    }
    if with_name:
        readers = {"name": lambda raw: require_text(raw, "name", max_length=120), **readers}
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, reader in readers.items():
        try:
            values[name] = reader(form.get(name))
        except FieldError as exc:
            errors.append(exc)
    return values, errors


def create_campaign(session: Session, values: dict[str, Any], now: datetime) -> Campaign:
    if (
        session.scalars(select(Campaign.id).where(Campaign.name == values["name"])).first()
        is not None
    ):
        raise FieldError("name", "taken", value=values["name"])
    campaign = Campaign(status="draft", created_at=now, **values)
    session.add(campaign)
    session.flush()
    return campaign


def update_campaign(campaign: Campaign, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name != "name":
            setattr(campaign, name, value)


def window_text(campaign: Campaign) -> dict[str, str]:
    """The campaign's windows as one text per weekday: `08:00-12:00, 13:00-18:00`."""
    texts: dict[str, list[str]] = {day: [] for day in WEEKDAYS}
    for window in campaign.windows:
        texts[WEEKDAYS[window.weekday]].append(f"{window.start:%H:%M}-{window.end:%H:%M}")
    return {day: ", ".join(ranges) for day, ranges in texts.items()}


def read_windows(
    form: Mapping[str, str],
) -> tuple[list[tuple[int, time, time]], list[tuple[str, str]]]:
    """Windows from one text field per weekday; errors as (weekday, message) pairs."""
    windows: list[tuple[int, time, time]] = []
    errors: list[tuple[str, str]] = []
    for day in WEEKDAYS:
        text = (form.get(f"window_{day}") or "").strip()
        day_ranges: list[tuple[time, time]] = []
        for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
            try:
                weekday, start, end = parse_window(f"{day} {part}")
            except CampaignError:
                errors.append((day, part))
                continue
            if any(
                start < other_end and other_start < end for other_start, other_end in day_ranges
            ):
                errors.append((day, part))
                continue
            day_ranges.append((start, end))
            windows.append((weekday, start, end))
    return windows, errors


def replace_windows(
    session: Session, campaign: Campaign, windows: list[tuple[int, time, time]]
) -> None:
    set_windows(session, campaign, windows)


def read_holiday_form(form: Mapping[str, str]) -> tuple[dict[str, Any], list[FieldError]]:
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    steps = {
        "country": lambda raw: parse_choice((raw or "").upper(), "country", COUNTRIES),
        "state": lambda raw: _optional_state(raw),
        "city": lambda raw: (raw or "").strip()[:120] or None,
        "day": lambda raw: parse_date(raw, "day"),
        "name": lambda raw: require_text(raw, "holiday_name", max_length=120),
    }
    for name, step in steps.items():
        try:
            values[name] = step(form.get(name))
        except FieldError as exc:
            errors.append(exc)
    if not errors and values["city"] and not values["state"]:
        errors.append(FieldError("state", "state_for_city"))
    return values, errors


def _optional_state(raw: str | None) -> str | None:
    text = (raw or "").strip().upper()
    if not text:
        return None
    if len(text) != 2 or not text.isalpha():
        raise FieldError("state", "state", value=raw or "")
    return text


def add_holiday(session: Session, values: dict[str, Any]) -> Holiday:
    duplicate = session.scalars(
        select(Holiday.id).where(
            Holiday.country == values["country"],
            Holiday.state.is_(None)
            if values["state"] is None
            else Holiday.state == values["state"],
            Holiday.city.is_(None) if values["city"] is None else Holiday.city == values["city"],
            Holiday.day == values["day"],
        )
    ).first()
    if duplicate is not None:
        raise FieldError("day", "holiday_taken", value=values["day"].isoformat())
    holiday = Holiday(**values)
    session.add(holiday)
    session.flush()
    return holiday


def upcoming_holidays(session: Session, today: date) -> list[Holiday]:
    return list(session.scalars(select(Holiday).order_by(Holiday.day.desc()).limit(500)))


__all__ = [
    "SECOND_FACTORS",
    "add_holiday",
    "create_campaign",
    "read_campaign_form",
    "read_holiday_form",
    "read_windows",
    "replace_windows",
    "update_campaign",
    "upcoming_holidays",
    "window_text",
]
