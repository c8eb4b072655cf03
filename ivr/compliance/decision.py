"""The one place that decides whether a call may be placed: `decide`, and the
callback helpers built on the same rules (`window_open_at`, `next_slots`).

Pure: plain facts and an instant in, a Decision out; no clock, database or web.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from ivr.compliance.caps import allowed_spans, time_blocks, waived_at, waiver_span
from ivr.compliance.facts import CallFacts
from ivr.compliance.local_time import as_utc
from ivr.compliance.reason import (
    BLOCK_LIST,
    BR_CDC_42_UNDUE,
    BR_NAO_ME_LIGUE,
    CAMPAIGN_NOT_RUNNING,
    DEBT_NOT_OPEN,
    HISTORY_UNAVAILABLE,
    LIVE_ATTEMPT,
    OPT_OUT,
    US_REGF_OPTOUT,
    US_TCPA_CONSENT,
    WRONG_NUMBER,
    ZONE_UNKNOWN,
    Reason,
)
from ivr.compliance.windows import EffectiveWindow, effective_window

# How far ahead the next allowed instant is searched for.
SEARCH_HORIZON = timedelta(days=30)
# Numbering plan of the US (and its NANP neighbours): the TCPA consent rule applies.
_NANP_PREFIX = "+1"


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether the call may be placed now, every rule that blocks it, and when it may.

    `next_allowed_at` is the earliest instant from the decision's instant on at which
    every time-based rule allows the call if nothing else changes (the instant
    itself when allowed). None when a block only a change of facts lifts applies
    (opt-out, live attempt, paused campaign, ...), or no window opens within the
    search horizon.
    """

    allowed: bool
    reasons: tuple[Reason, ...]
    next_allowed_at: datetime | None


def standing_reasons(facts: CallFacts) -> list[Reason]:
    """The blocks that time alone never lifts."""
    debtor, phone, debt, history, campaign = (
        facts.debtor,
        facts.phone,
        facts.debt,
        facts.history,
        facts.campaign,
    )
    in_us = debtor.country == "US"
    reasons: list[Reason] = []
    if campaign is not None and campaign.status != "running":
        reasons.append(Reason(CAMPAIGN_NOT_RUNNING, clause=campaign.status))
    opt_out = US_REGF_OPTOUT if in_us else OPT_OUT
    if debtor.voice_opt_out:
        reasons.append(Reason(opt_out, clause="debtor"))
    if phone.voice_opt_out:
        reasons.append(Reason(opt_out, clause="phone"))
    block_list = BLOCK_LIST if in_us else BR_NAO_ME_LIGUE
    if debtor.document_blocked:
        reasons.append(Reason(block_list, clause="document"))
    if phone.blocked:
        reasons.append(Reason(block_list, clause="phone"))
    if phone.wrong_number:
        reasons.append(Reason(WRONG_NUMBER))
    # A line of unknown type may be a mobile: without consent it is not robocalled.
    us_number = in_us or phone.number.startswith(_NANP_PREFIX)
    if us_number and phone.line_type != "landline" and not phone.robocall_consent:
        reasons.append(Reason(US_TCPA_CONSENT, clause=phone.line_type))
    not_open = DEBT_NOT_OPEN if in_us else BR_CDC_42_UNDUE
    if debt.status != "open":
        reasons.append(Reason(not_open, clause=debt.status))
    if debt.payment_pending:
        reasons.append(Reason(not_open, clause="payment-pending"))
    if history.live_attempt:
        reasons.append(Reason(LIVE_ATTEMPT))
    if phone.in_call and not history.live_attempt:
        # One call at a time to a line, whoever it is for: a second would ring a phone
        # already in a call (several debtors may share a home line).
        reasons.append(Reason(LIVE_ATTEMPT, clause="number"))
    if not history.available:
        reasons.append(Reason(HISTORY_UNAVAILABLE))
    if not debtor.zones:
        reasons.append(Reason(ZONE_UNKNOWN))
    return reasons


def _window(facts: CallFacts) -> EffectiveWindow:
    return effective_window(facts.debtor, facts.campaign, facts.extra_holidays)


def _first_open_in(
    window: EffectiveWindow, spans: Sequence[tuple[datetime, datetime]], limit: datetime
) -> datetime | None:
    for start, end in spans:
        if start >= limit:
            break
        found = window.next_open(start, min(end, limit))
        if found is not None:
            return found
    return None


def decide(facts: CallFacts, now: datetime, *, horizon: timedelta = SEARCH_HORIZON) -> Decision:
    """May this call be placed at `now`? Reports every blocking rule, not just the first."""
    now = as_utc(now, name="now")
    reasons = standing_reasons(facts)
    standing = bool(reasons)
    if not facts.debtor.zones:
        return Decision(False, tuple(reasons), None)
    limit = now + horizon
    window = _window(facts)
    reasons.extend(window.blocking_reasons(now, limit))
    spans: list[tuple[datetime, datetime]] = []
    if facts.history.available:
        blocks = time_blocks(facts)
        waiver = waiver_span(facts)
        reasons.extend(
            block.reason()
            for block in blocks
            if block.not_before > now
            and not (block.waived_by_requested_callback and waived_at(waiver, now))
        )
        spans = allowed_spans(blocks, waiver, now)
    if not reasons:
        return Decision(True, (), now)
    next_allowed_at = None if standing else _first_open_in(window, spans, limit)
    return Decision(False, tuple(reasons), next_allowed_at)


def window_open_at(facts: CallFacts, instant: datetime) -> bool:
    """Is `instant` inside the effective window (preset ∩ campaign ∩ preference, minus
    holidays) in every plausible zone? Caps and blocks are not considered."""
    return _window(facts).is_open(as_utc(instant, name="instant"))


def next_slots(
    facts: CallFacts,
    after: datetime,
    count: int,
    slot_minutes: int,
    *,
    horizon: timedelta = SEARCH_HORIZON,
) -> list[datetime]:
    """The next `count` callback slot starts from `after`, for the debtor to choose.

    Each slot [start, start + slot_minutes) lies wholly inside the effective window in
    every plausible zone, starts on a `slot_minutes` boundary (whole hours and
    half-hours of local time for the usual lengths), and is an instant at which
    `decide` allows the call as a callback requested at `after` (unless the facts
    already carry the request). The call in progress while booking does not block.
    Empty when a standing block applies.
    """
    if count <= 0 or slot_minutes <= 0:
        raise ValueError(f"count ({count}) and slot_minutes ({slot_minutes}) must be positive")
    after = as_utc(after, name="after")
    facts = replace(
        facts,
        history=replace(facts.history, live_attempt=False),
        requested_callback_at=facts.requested_callback_at or after,
    )
    if standing_reasons(facts):
        return []
    window = _window(facts)
    spans = allowed_spans(time_blocks(facts), waiver_span(facts), after)
    step = slot_minutes * 60
    slots: list[datetime] = []
    for open_start, open_end in window.open_intervals(after, after + horizon):
        start = math.ceil(open_start.timestamp() / step) * step
        while start + step <= open_end.timestamp():
            instant = datetime.fromtimestamp(start, UTC)
            if any(low <= instant < high for low, high in spans):
                slots.append(instant)
                if len(slots) == count:
                    return slots
            start += step
    return slots
