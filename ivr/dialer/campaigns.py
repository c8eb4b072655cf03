"""Campaigns: create, start and pause. Pausing stops new calls at once: claims
and placement both check the campaign's status inside their transaction."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.models import CallingWindow, Campaign, Debt, Debtor

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CampaignError(ValueError):
    """A campaign request a supervisor can fix (unknown name, bad window...)."""


def get_campaign(session: Session, name: str) -> Campaign:
    campaign = session.scalars(select(Campaign).where(Campaign.name == name)).one_or_none()
    if campaign is None:
        known = ", ".join(session.scalars(select(Campaign.name).order_by(Campaign.name))) or "none yet"
        raise CampaignError(f"no campaign named {name!r}; known campaigns: {known}")
    return campaign


def start_campaign(session: Session, name: str, now: datetime) -> Campaign:
    """Mark the campaign running and put its debtors with open debts in the dial queue."""
    campaign = get_campaign(session, name)
    if not campaign.windows:
        raise CampaignError(f"campaign {name!r} has no calling windows; add at least one before starting it")
    campaign.status = "running"
    open_debtors = select(Debt.debtor_id).where(Debt.campaign_id == campaign.id, Debt.status == "open")
    session.execute(
        update(Debtor).where(Debtor.id.in_(open_debtors), Debtor.next_call_at.is_(None)).values(next_call_at=now)
    )
    return campaign


def pause_campaign(session: Session, name: str) -> Campaign:
    campaign = get_campaign(session, name)
    campaign.status = "paused"
    return campaign


def parse_window(text: str) -> tuple[int, time, time]:
    """`mon 08:00-12:00` -> (0, 08:00, 12:00)."""
    try:
        day, span = text.strip().split(maxsplit=1)
        start_text, end_text = span.replace(" ", "").split("-")
        weekday = WEEKDAYS.index(day.lower()[:3])
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError:
        raise CampaignError(
            f"calling window {text!r} is not understood; expected a weekday and a range such as 'mon 08:00-12:00'"
        ) from None
    if any(t.second or t.microsecond or t.tzinfo for t in (start, end)):
        # The rules work in whole minutes: 08:00:30-08:00:45 would be an empty window.
        raise CampaignError(
            f"calling window {text!r} is not in whole minutes; expected HH:MM times, e.g. 'mon 08:00-12:00'"
        )
    if end <= start:
        raise CampaignError(f"calling window {text!r} ends before it starts; expected start < end, e.g. 'mon 08:00-12:00'")
    return weekday, start, end


def set_windows(session: Session, campaign: Campaign, windows: list[tuple[int, time, time]]) -> None:
    """Replace the campaign's weekly windows (several ranges a day allowed)."""
    campaign.windows.clear()
    session.flush()
    for weekday, start, end in sorted(windows):
        campaign.windows.append(CallingWindow(weekday=weekday, start=start, end=end))
