"""The supervisor's live wallboard: what the floor is doing now and in the last
24 hours, and the geometry of its charts (drawn as inline SVG by the template).

The attempt and contact-event tables have no index on time alone, but their ids
grow with time; the first id of a period is found by bisecting on the primary
key (a few dozen point lookups), and every count is then a primary-key range.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.models import Attempt, Campaign, ContactEvent

PERIOD = timedelta(hours=24)
HOURS_CHARTED = 12
SHORT_CALL_SECONDS = 6  # BR-ANATEL-SHORT
LIVE_STATES = ("queued", "ringing", "in-progress")


@dataclass(frozen=True, slots=True)
class HourBucket:
    start: datetime
    attempts: int
    answered: int


@dataclass(frozen=True, slots=True)
class CallerIdShortCalls:
    caller_id: str
    ended: int
    short: int

    @property
    def ratio(self) -> float:
        return self.short / self.ended if self.ended else 0.0


@dataclass(frozen=True, slots=True)
class FloorSnapshot:
    at: datetime
    calls_in_progress: int
    waiting_transfers: int
    attempts: int
    answered: int
    human_answered: int
    right_party: int
    transfers: int
    transfers_taken: int
    promises: int
    opt_outs: int
    hours: tuple[HourBucket, ...]
    short_calls: tuple[CallerIdShortCalls, ...]

    @property
    def answer_rate(self) -> float:
        return self.answered / self.attempts if self.attempts else 0.0

    @property
    def right_party_rate(self) -> float:
        return self.right_party / self.human_answered if self.human_answered else 0.0


def first_id_since(session: Session, model: Any, time_column: Any, instant: datetime) -> int:
    """A bound such that `id >= bound` selects the rows whose time is at or after
    `instant`, found by bisection on the primary key (ids grow with time)."""
    low = session.scalar(select(func.min(model.id)))
    high = session.scalar(select(func.max(model.id)))
    if low is None or high is None:
        return 0
    high += 1
    while low < high:
        middle = (low + high) // 2
        row = session.execute(
            select(model.id, time_column).where(model.id >= middle).order_by(model.id).limit(1)
        ).first()
        if row is not None and row[1] < instant:
            low = row[0] + 1
        else:
            # No id in [middle, row.id) exists, so `id >= middle` means `id >= row.id`.
            high = middle
    return low


def floor_snapshot(session: Session, now: datetime, waiting_transfers: int = 0) -> FloorSnapshot:
    since = now - PERIOD
    first_attempt = first_id_since(session, Attempt, Attempt.created_at, since)
    first_event = first_id_since(session, ContactEvent, ContactEvent.occurred_at, since)

    in_progress = (
        session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(Attempt.active.is_(True), Attempt.state.in_(LIVE_STATES))
        )
        or 0
    )

    chart_start = (now - timedelta(hours=HOURS_CHARTED - 1)).replace(
        minute=0, second=0, microsecond=0
    )
    per_hour: dict[datetime, list[int]] = {
        chart_start + timedelta(hours=h): [0, 0] for h in range(HOURS_CHARTED)
    }
    attempts = answered = human = right_party = 0
    short: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = session.execute(
        select(
            Attempt.created_at,
            Attempt.answered_at,
            Attempt.answered_by,
            Attempt.right_party_verified,
            Attempt.active,
            Attempt.duration_seconds,
            Attempt.state,
            Campaign.caller_id,
        )
        .outerjoin(Campaign, Campaign.id == Attempt.campaign_id)
        .where(Attempt.id >= first_attempt, Attempt.created_at >= since)
    )
    for created, answered_at, answered_by, verified, active, duration, state, caller_id in rows:
        if state == "claimed":
            continue  # never reached the carrier
        attempts += 1
        answered += answered_at is not None
        human += answered_by == "human"
        right_party += bool(verified)
        bucket = created.replace(minute=0, second=0, microsecond=0)
        if bucket in per_hour:
            per_hour[bucket][0] += 1
            per_hour[bucket][1] += answered_at is not None
        if not active:
            counts = short[caller_id or "—"]
            counts[0] += 1
            counts[1] += (duration or 0) <= SHORT_CALL_SECONDS

    kinds: dict[str, int] = dict(
        session.execute(
            select(ContactEvent.kind, func.count())
            .where(
                ContactEvent.id >= first_event,
                ContactEvent.occurred_at >= since,
                ContactEvent.kind.in_(
                    ("transfer.requested", "transfer.taken", "promise.made", "opt_out")
                ),
            )
            .group_by(ContactEvent.kind)
        ).tuples().all()
    )
    return FloorSnapshot(
        at=now,
        calls_in_progress=in_progress,
        waiting_transfers=waiting_transfers,
        attempts=attempts,
        answered=answered,
        human_answered=human,
        right_party=right_party,
        transfers=kinds.get("transfer.requested", 0),
        transfers_taken=kinds.get("transfer.taken", 0),
        promises=kinds.get("promise.made", 0),
        opt_outs=kinds.get("opt_out", 0),
        hours=tuple(HourBucket(start, *counts) for start, counts in sorted(per_hour.items())),
        short_calls=tuple(
            sorted(
                (CallerIdShortCalls(cid, *counts) for cid, counts in short.items()),
                key=lambda c: -c.ratio,
            )
        ),
    )


# -- chart geometry (the template draws it) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    overlay: tuple[Bar, ...]  # a second, narrower series drawn over the first
    ticks: tuple[tuple[float, str], ...]  # (y, label) of horizontal grid lines
    baseline: float


def hourly_chart(hours: tuple[HourBucket, ...], *, width: int = 560, height: int = 180) -> Chart:
    """Attempts per hour as bars, answered calls as narrower bars over them."""
    left, bottom, top = 36.0, 22.0, 8.0
    plot_height = height - bottom - top
    peak = max([b.attempts for b in hours] + [4])  # at least 0-2-4 on the axis
    scale = _nice_ceiling(peak)
    step = (width - left) / max(len(hours), 1)
    bars: list[Bar] = []
    overlay: list[Bar] = []
    for i, bucket in enumerate(hours):
        x = left + i * step
        for series, value, inset in (
            (bars, bucket.attempts, 0.12),
            (overlay, bucket.answered, 0.3),
        ):
            h = plot_height * value / scale
            series.append(
                Bar(
                    x + step * inset,
                    top + plot_height - h,
                    step * (1 - 2 * inset),
                    h,
                    value,
                    bucket.start.strftime("%H"),
                )
            )
    ticks = tuple((top + plot_height - plot_height * f, str(round(scale * f))) for f in (0, 0.5, 1))
    return Chart(width, height, tuple(bars), tuple(overlay), ticks, top + plot_height)


def ratio_chart(
    rows: tuple[CallerIdShortCalls, ...], *, width: int = 560, row_height: int = 26
) -> Chart:
    """Short-call ratio per caller ID as horizontal bars (0..100 %)."""
    left = 150.0
    height = max(len(rows), 1) * row_height + 8
    bars = tuple(
        Bar(
            left,
            4 + i * row_height,
            (width - left - 60) * row.ratio,
            row_height - 8,
            row.ratio,
            row.caller_id,
        )
        for i, row in enumerate(rows)
    )
    return Chart(width, height, bars, (), (), height)


def _nice_ceiling(value: int) -> int:
    for nice in (4, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000):
        if value <= nice:
            return nice
    return value


__all__ = [
    "Bar",
    "CallerIdShortCalls",
    "Chart",
    "FloorSnapshot",
    "HourBucket",
    "first_id_since",
    "floor_snapshot",
    "hourly_chart",
    "ratio_chart",
]
