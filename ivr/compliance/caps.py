"""Frequency caps and pacing: how often a debtor (or a debt) may be called.

Counts run over the debtor's past attempts on every phone and in every campaign.
With a fixed history a count can only fall as time passes, so each rule blocks
until one instant and never again: the caps reduce to "not before" instants,
which is what lets the decision compute the next allowed instant exactly.

Days are counted conservatively across plausible zones: an attempt counts on its
local calendar day in every zone, and a cap holds only if it holds in each. A
rolling period of N days reaches back N x 24 hours and also N local calendar days
(the day of the call being the first), whichever reaches further.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ivr.compliance.facts import CallFacts, PastAttempt
from ivr.compliance.local_time import as_utc, end_of_local_day, local_date
from ivr.compliance.presets import FrequencyCap, jurisdictions_for
from ivr.compliance.reason import CAMPAIGN_CAP, MIN_INTERVAL, RETRY_DELAY, Reason

# Not-before instants of a rule that never lifts by itself (a cap of zero), and of
# one that does not bind at all.
FOREVER = datetime.max.replace(tzinfo=UTC)
EARLIEST = datetime.min.replace(tzinfo=UTC)

# A requested callback is outside Regulation F's presumption for 7 days (1006.14(b)(3)).
REQUESTED_CALLBACK_VALIDITY = timedelta(days=7)
# Attempt outcomes that put a campaign's retry delay on the next call.
_RETRY_FIELDS = {
    "no-answer": "retry_no_answer_minutes",
    "busy": "retry_busy_minutes",
    "machine": "retry_machine_minutes",
}


@dataclass(frozen=True, slots=True)
class TimedBlock:
    """A time-based rule and the instant from which it no longer blocks."""

    rule_id: str
    not_before: datetime  # FOREVER when it never lifts by itself
    clause: str | None = None
    limit: int | None = None
    waived_by_requested_callback: bool = False

    def reason(self) -> Reason:
        until = None if self.not_before == FOREVER else self.not_before
        return Reason(self.rule_id, until=until, clause=self.clause, limit=self.limit)


def _leave_day(key: str, attempt: datetime) -> datetime:
    """When an attempt stops counting toward its local day in zone `key`."""
    return end_of_local_day(key, local_date(key, attempt))


def _leave_rolling(key: str, attempt: datetime, days: int) -> datetime:
    """When an attempt leaves a rolling period of `days` (24-hour and calendar days)."""
    calendar_end = end_of_local_day(key, local_date(key, attempt) + timedelta(days=days - 1))
    return max(attempt + timedelta(days=days), calendar_end)


def _not_before(leave_times: list[datetime], limit: int) -> datetime:
    """The first instant at which fewer than `limit` attempts still count.

    An attempt counts until its leave time, so at instant t the count is the number
    of leave times after t; it drops below `limit` at the limit-th latest one.
    """
    if limit <= 0:
        return FOREVER
    if len(leave_times) < limit:
        return EARLIEST
    return sorted(leave_times, reverse=True)[limit - 1]


def _count_cap(
    rule_id: str,
    clause: str,
    attempts: Sequence[datetime],
    zones: Sequence[str],
    limit: int,
    days: int | None,
    waived: bool = False,
) -> TimedBlock:
    """A cap of `limit` attempts per local day (days None) or per rolling `days`."""
    latest = max(
        (
            _not_before(
                [
                    _leave_day(key, at) if days is None else _leave_rolling(key, at, days)
                    for at in attempts
                ],
                limit,
            )
            for key in zones
        ),
        default=EARLIEST,
    )
    return TimedBlock(rule_id, latest, clause, limit, waived)


def _attempt_instants(attempts: Sequence[PastAttempt], debt_id: int | None) -> list[datetime]:
    """Instants of the attempts that count: all, or those about one debt (or unknown debt)."""
    return [
        as_utc(a.at)
        for a in attempts
        if debt_id is None or a.debt_id is None or a.debt_id == debt_id
    ]


def time_blocks(facts: CallFacts) -> list[TimedBlock]:
    """Every cap and pacing rule that applies, each with its not-before instant.

    Rules that do not bind at all (no attempts to count) come out with an instant
    in the past; the caller keeps those after `now`.
    """
    debtor, history, campaign = facts.debtor, facts.history, facts.campaign
    zones = tuple(sorted(debtor.zones))
    blocks: list[TimedBlock] = []
    jurisdictions = jurisdictions_for(
        debtor.country, debtor.state, debtor.city, debtor.plausible_states
    )
    caps = dict.fromkeys(cap for j in jurisdictions for cap in j.frequency_caps)
    for cap in caps:  # every cap of every place the debtor may be
        blocks.extend(_preset_cap_blocks(cap, history.attempts, facts.debt.id, zones))
    if campaign is not None:
        everyone = _attempt_instants(history.attempts, None)
        if campaign.max_per_day is not None:
            blocks.append(
                _count_cap(CAMPAIGN_CAP, "day", everyone, zones, campaign.max_per_day, None)
            )
        if campaign.max_per_week is not None:
            blocks.append(
                _count_cap(CAMPAIGN_CAP, "week", everyone, zones, campaign.max_per_week, 7)
            )
        if facts.requested_callback_at is None and history.attempts:
            # Pacing is the campaign's own retry rhythm; a call the debtor asked for
            # at a time of their choosing is not a retry.
            last = max(history.attempts, key=lambda a: a.at)
            last_at = as_utc(last.at)
            blocks.append(
                TimedBlock(
                    MIN_INTERVAL,
                    last_at + timedelta(minutes=campaign.min_minutes_between_attempts),
                    limit=campaign.min_minutes_between_attempts,
                )
            )
            retry_field = _RETRY_FIELDS.get(last.outcome or "")
            if retry_field is not None:
                minutes = getattr(campaign, retry_field)
                blocks.append(
                    TimedBlock(
                        RETRY_DELAY,
                        last_at + timedelta(minutes=minutes),
                        clause=last.outcome,
                        limit=minutes,
                    )
                )
    return blocks


def _preset_cap_blocks(
    cap: FrequencyCap, attempts: Sequence[PastAttempt], debt_id: int, zones: Sequence[str]
) -> list[TimedBlock]:
    counted = _attempt_instants(attempts, debt_id if cap.per_debt else None)
    waived = cap.waived_by_requested_callback
    blocks: list[TimedBlock] = []
    if cap.per_local_day is not None:
        blocks.append(
            _count_cap(cap.rule_id, "day", counted, zones, cap.per_local_day, None, waived)
        )
    if cap.per_rolling_days is not None:
        blocks.append(
            _count_cap(
                cap.rule_id, "week", counted, zones, cap.per_rolling_days, cap.rolling_days, waived
            )
        )
    if cap.quiet_days_after_conversation is not None:
        conversations = [
            as_utc(a.at)
            for a in attempts
            if a.conversation and (a.debt_id is None or a.debt_id == debt_id or not cap.per_debt)
        ]
        quiet_days = cap.quiet_days_after_conversation
        # Blocked while any conversation is within its quiet period: a limit of one.
        blocks.append(
            _count_cap(cap.rule_id, "conversation", conversations, zones, 1, quiet_days, waived)
            if conversations
            else TimedBlock(cap.rule_id, EARLIEST, "conversation", None, waived)
        )
    return blocks


def waiver_span(facts: CallFacts) -> tuple[datetime, datetime] | None:
    """The instants at which rules waived by a requested callback do not apply."""
    if facts.requested_callback_at is None:
        return None
    requested = as_utc(facts.requested_callback_at)
    return requested, requested + REQUESTED_CALLBACK_VALIDITY


def waived_at(span: tuple[datetime, datetime] | None, instant: datetime) -> bool:
    return span is not None and span[0] <= instant < span[1]


def allowed_spans(
    blocks: Sequence[TimedBlock], span: tuple[datetime, datetime] | None, now: datetime
) -> list[tuple[datetime, datetime]]:
    """The instants from `now` on at which no time block applies, as sorted spans.

    Without a requested callback this is [latest not-before, FOREVER); with one,
    the waivable rules give way during the waiver span.
    """
    firm = max([now, *(b.not_before for b in blocks if not b.waived_by_requested_callback)])
    waivable = max([now, *(b.not_before for b in blocks if b.waived_by_requested_callback)])
    if firm == FOREVER:
        return []
    spans: list[tuple[datetime, datetime]] = []
    if span is not None and max(firm, span[0]) < span[1]:
        spans.append((max(firm, span[0]), span[1]))
    if waivable != FOREVER:
        start = max(firm, waivable)
        if spans and start <= spans[-1][1]:
            spans[-1] = (min(spans[-1][0], start), FOREVER)
        else:
            spans.append((start, FOREVER))
    return sorted(spans)
