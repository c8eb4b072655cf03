"""Property-based tests of the rules over random windows, presets, holidays, zones,
instants and contact histories.

The oracle below restates the rules of COMPLIANCE.md naively, straight from their
definitions (each plausible zone's wall clock via astimezone, day counts by local
date), without the engine's interval arithmetic; the engine must agree with it
at every instant, and its next allowed instant must be allowed with no allowed
instant before it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.compliance.decision import decide, next_slots, window_open_at
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
from ivr.compliance.windows import EffectiveWindow

ZONES = (
    "America/Sao_Paulo",
    "America/Noronha",
    "America/Manaus",
    "America/Rio_Branco",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)
STATES = {
    "BR": ("SP", "AL", "RJ", "AM", "AC", "PE", "BA", None),
    "US": ("MA", "NY", "CA", "HI", None),
}
DEBT_ID = 10

# The legal windows of COMPLIANCE.md, restated: weekday -> (start, end) minutes.
WEEKDAYS_8_20_SAT_8_14 = {**{d: (480, 1200) for d in range(5)}, 5: (480, 840)}
LEGAL_HOURS = {
    "SP": ("BR-SP-HOURS", WEEKDAYS_8_20_SAT_8_14),
    "AL": ("BR-SP-HOURS", WEEKDAYS_8_20_SAT_8_14),
    "RJ": ("BR-RJ-HOURS", {d: (540, 1140) for d in range(5)}),
    "BR": ("BR-DEFAULT", WEEKDAYS_8_20_SAT_8_14),
    "US": ("US-REGF-HOURS", {d: (480, 1260) for d in range(7)}),
}

# Interesting moments: daylight-saving changes (US) and holidays (BR, US), 2024-2027.
PIVOTS = [
    datetime(2024, 3, 10, 7, tzinfo=UTC),
    datetime(2024, 11, 3, 6, tzinfo=UTC),
    datetime(2025, 3, 9, 7, tzinfo=UTC),
    datetime(2025, 11, 2, 6, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2027, 3, 14, 7, tzinfo=UTC),
    datetime(2026, 11, 20, 12, tzinfo=UTC),
    datetime(2026, 12, 25, 12, tzinfo=UTC),
    datetime(2026, 7, 9, 12, tzinfo=UTC),
    datetime(2026, 6, 4, 12, tzinfo=UTC),
    datetime(2025, 11, 27, 12, tzinfo=UTC),
    datetime(2026, 4, 20, 12, tzinfo=UTC),
]

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies ----------------------------------------------------------------

quarter = st.integers(0, 95).map(lambda q: time(q // 4, q % 4 * 15))


@st.composite
def instants(draw: st.DrawFn, daytime_zone: str = "America/Sao_Paulo") -> datetime:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        base = draw(st.sampled_from(PIVOTS))
        return base + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    if kind == 1:
        # Daytime in one of the debtor's zones, where most windows are open.
        day = draw(st.dates(min_value=date(2024, 1, 8), max_value=date(2027, 12, 20)))
        wall = datetime.combine(day, time(7)) + timedelta(minutes=draw(st.integers(0, 14 * 60)))
        return wall.replace(tzinfo=ZoneInfo(daytime_zone)).astimezone(UTC)
    moment = draw(
        st.datetimes(min_value=datetime(2024, 1, 8), max_value=datetime(2027, 12, 20))
    ).replace(tzinfo=UTC)
    # Keep many instants on the minute, where window edges lie.
    return moment if draw(st.booleans()) else moment.replace(second=0, microsecond=0)


@st.composite
def weekly_ranges(draw: st.DrawFn) -> WeeklyRange:
    start = draw(st.integers(0, 95))
    end = draw(st.integers(start + 1, 96))
    return WeeklyRange(
        draw(st.integers(0, 6)),
        time(start // 4, start % 4 * 15),
        time(0) if end == 96 else time(end // 4, end % 4 * 15),
    )


@st.composite
def campaigns(draw: st.DrawFn) -> CampaignPolicy | None:
    if draw(st.integers(0, 4)) == 0:
        return None
    windows = draw(st.lists(weekly_ranges(), max_size=8))
    if draw(st.integers(0, 2)) > 0:
        windows += [WeeklyRange(d, time(0), time(0)) for d in range(7)]
    optional_cap = st.sampled_from([None, None, None, None, 0, 1, 2, 4])
    minutes = st.sampled_from([0, 0, 0, 30, 60, 240, 1440])
    return CampaignPolicy(
        windows=tuple(windows),
        max_per_day=draw(optional_cap),
        max_per_week=draw(optional_cap),
        min_minutes_between_attempts=draw(minutes),
        retry_no_answer_minutes=draw(minutes),
        retry_busy_minutes=draw(minutes),
        retry_machine_minutes=draw(minutes),
        closed_on_holidays=draw(st.booleans()),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[CallFacts, datetime]:
    country = draw(st.sampled_from(["BR", "US"]))
    state = draw(st.sampled_from(STATES[country]))
    city = draw(st.sampled_from([None, "São Paulo", "Campinas"])) if country == "BR" else None
    zones = frozenset(draw(st.sets(st.sampled_from(ZONES), min_size=1, max_size=3)))
    now = draw(instants(daytime_zone=sorted(zones)[0]))
    preferred = draw(st.none() | st.tuples(st.none() | quarter, st.none() | quarter))
    # Without a state, the states the phones' area codes serve (their laws all apply).
    plausible = (
        frozenset(draw(st.sets(st.sampled_from([s for s in STATES[country] if s]), max_size=2)))
        if state is None
        else frozenset()
    )
    debtor = DebtorFacts(
        id=1,
        country=country,
        zones=zones,
        state=state,
        city=city,
        plausible_states=plausible,
        zone_uncertain=len(zones) > 1,
        preferred_start=preferred[0] if preferred else None,
        preferred_end=preferred[1] if preferred else None,
    )
    attempts = tuple(
        PastAttempt(
            at=now - timedelta(minutes=draw(st.integers(0, 10 * 1440))),
            debt_id=draw(st.sampled_from([DEBT_ID, DEBT_ID, 11, None])),
            outcome=draw(
                st.sampled_from(["completed", "busy", "no-answer", "machine", "failed", None])
            ),
            conversation=draw(st.integers(0, 3)) == 0,
        )
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 5, 8])))
    )
    listed = frozenset(
        ExtraHoliday(
            day=now.date() + timedelta(days=draw(st.integers(-2, 4))),
            country=country,
            state=draw(st.sampled_from([None, state, "XX"])),
            city=draw(st.sampled_from([None, city, "Elsewhere"])),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    callback = draw(st.none() | st.integers(0, 9 * 1440).map(lambda m: now - timedelta(minutes=m)))
    facts = CallFacts(
        debtor=debtor,
        phone=PhoneFacts("+5511987654321", line_type="landline"),
        debt=DebtFacts(DEBT_ID),
        history=ContactHistory(attempts=attempts),
        campaign=draw(campaigns()),
        extra_holidays=listed,
        requested_callback_at=callback,
    )
    return facts, now


# --- the oracle ----------------------------------------------------------------


def places(debtor: DebtorFacts) -> list[str | None]:
    """The states whose laws bind: the address's, else the country default (None) and
    every state the phones serve."""
    return [debtor.state] if debtor.state else [None, *sorted(debtor.plausible_states)]


def legal_hours(debtor: DebtorFacts) -> list[tuple[str, dict[int, tuple[int, int]]]]:
    if debtor.country == "US":
        return [LEGAL_HOURS["US"]]
    return [LEGAL_HOURS.get(place or "", LEGAL_HOURS["BR"]) for place in places(debtor)]


def minute(value: time, end: bool = False) -> int:
    return 1440 if end and value == time(0) else value.hour * 60 + value.minute


def is_holiday(facts: CallFacts, day: date) -> bool | None:
    """True/False, or None when no holiday rule applies at all."""
    debtor, campaign = facts.debtor, facts.campaign
    for listed in facts.extra_holidays:
        if (
            listed.day == day
            and listed.country == debtor.country
            and listed.state in (None, *places(debtor))
            and listed.city in (None, debtor.city)
        ):
            return True
    closes = debtor.country == "BR" or (campaign is not None and campaign.closed_on_holidays)
    if not closes:
        return False
    calendars = [holidays.country_holidays(debtor.country, years=day.year)]
    for place in places(debtor):
        if place:
            calendars.append(
                holidays.country_holidays(debtor.country, subdiv=place, years=day.year)
            )
    if debtor.city == "São Paulo" and debtor.state == "SP":
        calendars.append(
            holidays.country_holidays("BR", subdiv="São Paulo Capital", years=day.year)
        )
    return any(day in calendar for calendar in calendars)


def window_blocks(facts: CallFacts, t: datetime) -> set[str]:
    debtor, campaign = facts.debtor, facts.campaign
    blocked: set[str] = set()
    for key in debtor.zones:
        wall = t.astimezone(ZoneInfo(key))
        m, weekday = wall.hour * 60 + wall.minute, wall.weekday()
        for rule, week in legal_hours(debtor):
            start, end = week.get(weekday, (0, 0))
            if not start <= m < end:
                blocked.add(rule)
        if campaign is not None and not any(
            w.weekday == weekday and minute(w.start) <= m < minute(w.end, end=True)
            for w in campaign.windows
        ):
            blocked.add("CAMPAIGN-WINDOW")
        ps, pe = debtor.preferred_start, debtor.preferred_end
        if ps is not None or pe is not None:
            low = minute(ps) if ps is not None else 0
            high = minute(pe, end=True) if pe is not None else 1440
            if low < high:
                inside = low <= m < high
            elif ps is not None and pe is not None and ps > pe:
                inside = m >= low or m < high
            else:
                inside = False
            if not inside:
                blocked.add("DEBTOR-PREFERENCE")
        if is_holiday(facts, wall.date()):
            blocked.add("HOLIDAY")
    return blocked


def in_period(debtor: DebtorFacts, then: datetime, t: datetime, days: int) -> set[str]:
    """The zones in which `then` is within the rolling `days` ending at t."""
    return {
        key
        for key in debtor.zones
        if t - then < timedelta(days=days)
        or then.astimezone(ZoneInfo(key)).date() + timedelta(days=days - 1)
        >= t.astimezone(ZoneInfo(key)).date()
    }


def over(
    debtor: DebtorFacts, attempts: list[datetime], t: datetime, limit: int, days: int | None
) -> bool:
    for key in debtor.zones:
        if days is None:
            today = t.astimezone(ZoneInfo(key)).date()
            count = sum(a.astimezone(ZoneInfo(key)).date() == today for a in attempts)
        else:
            count = sum(key in in_period(debtor, a, t, days) for a in attempts)
        if count >= limit:
            return True
    return False


def cap_blocks(facts: CallFacts, t: datetime) -> set[str]:
    debtor, campaign = facts.debtor, facts.campaign
    attempts = facts.history.attempts
    every = [a.at for a in attempts]
    this_debt = [a.at for a in attempts if a.debt_id in (DEBT_ID, None)]
    blocked: set[str] = set()
    if debtor.country == "BR":
        if over(debtor, every, t, 1, None) or over(debtor, every, t, 3, 7):
            blocked.add("BR-FREQ")
    else:
        r = facts.requested_callback_at
        waived = r is not None and r <= t < r + timedelta(days=7)
        talks = [a.at for a in attempts if a.conversation and a.debt_id in (DEBT_ID, None)]
        if not waived and (
            over(debtor, this_debt, t, 7, 7) or any(in_period(debtor, c, t, 7) for c in talks)
        ):
            blocked.add("US-REGF-7IN7")
        if "MA" in places(debtor) and over(debtor, this_debt, t, 2, 7):
            blocked.add("US-MA-2IN7")
    if campaign is not None:
        for limit, days in ((campaign.max_per_day, None), (campaign.max_per_week, 7)):
            if limit is not None and over(debtor, every, t, limit, days):
                blocked.add("CAMPAIGN-CAP")
        if attempts and facts.requested_callback_at is None:
            last = max(attempts, key=lambda a: a.at)
            if t - last.at < timedelta(minutes=campaign.min_minutes_between_attempts):
                blocked.add("MIN-INTERVAL")
            retry = {
                "no-answer": campaign.retry_no_answer_minutes,
                "busy": campaign.retry_busy_minutes,
                "machine": campaign.retry_machine_minutes,
            }.get(last.outcome or "")
            if retry is not None and t - last.at < timedelta(minutes=retry):
                blocked.add("RETRY-DELAY")
    return blocked


def oracle(facts: CallFacts, t: datetime) -> set[str]:
    return window_blocks(facts, t) | cap_blocks(facts, t)


# --- properties ----------------------------------------------------------------


@FAST
@given(scenarios())
def test_decision_agrees_with_the_rules_restated(scenario):
    facts, now = scenario
    decision = decide(facts, now)
    expected = oracle(facts, now)
    assert {r.rule_id for r in decision.reasons} == expected
    assert decision.allowed == (not expected)


@FAST
@given(scenarios())
def test_allowed_call_is_inside_the_window_in_every_zone_and_under_every_cap(scenario):
    facts, now = scenario
    decision = decide(facts, now)
    if decision.allowed:
        assert window_open_at(facts, now)
        assert not window_blocks(facts, now)
        assert not cap_blocks(facts, now)
        if facts.debtor.country == "BR":
            for key in facts.debtor.zones:
                wall = now.astimezone(ZoneInfo(key))
                assert wall.weekday() != 6
                assert not is_holiday(facts, wall.date())


@SLOW
@given(scenarios(), st.sampled_from([timedelta(days=2), timedelta(days=4)]))
def test_next_allowed_at_is_allowed_and_nothing_earlier_is(scenario, horizon):
    facts, now = scenario
    decision = decide(facts, now, horizon=horizon)
    found = decision.next_allowed_at
    if decision.allowed:
        assert found == now
        return
    step = timedelta(minutes=20)
    end = found if found is not None else now + horizon
    grid = now + step
    while grid < end:
        assert not decide(facts, grid).allowed, f"allowed at {grid} before {found}"
        grid += step
    if found is not None:
        assert now <= found < now + horizon
        assert decide(facts, found).allowed
        assert not oracle(facts, found)
        # It is the earliest: a moment before it is still blocked.
        if found - timedelta(seconds=1) >= now:
            assert not decide(facts, found - timedelta(seconds=1)).allowed


@FAST
@given(scenarios())
def test_each_rule_lifts_when_its_reasons_say(scenario):
    facts, now = scenario
    lifts: dict[str, datetime | None] = {}
    for reason in decide(facts, now).reasons:
        if reason.until is not None:
            assert reason.until > now
        previous = lifts.get(reason.rule_id, now)
        lifts[reason.rule_id] = (
            None if previous is None or reason.until is None else max(previous, reason.until)
        )
    for rule_id, until in lifts.items():
        if until is not None:
            # A rule with several clauses (day and week) lifts when the last one does.
            assert rule_id not in oracle(facts, until)


@FAST
@given(scenarios())
def test_a_campaign_never_widens_the_preset(scenario):
    facts, now = scenario
    without_campaign = replace(facts, campaign=None)
    if decide(facts, now).allowed:
        assert decide(without_campaign, now).allowed
    legal_rules = {rule for rule, _ in legal_hours(facts.debtor)}
    if legal_rules & {r.rule_id for r in decide(without_campaign, now).reasons}:
        assert not decide(facts, now).allowed


@SLOW
@given(scenarios(), st.sampled_from([15, 30, 60]), st.integers(1, 4))
def test_callback_slots_lie_wholly_inside_the_window(scenario, slot_minutes, count):
    facts, after = scenario
    slots = next_slots(facts, after, count, slot_minutes, horizon=timedelta(days=4))
    assert slots == sorted(set(slots))
    assert len(slots) <= count
    booked = replace(facts, requested_callback_at=facts.requested_callback_at or after)
    for start in slots:
        assert start >= after
        assert decide(booked, start).allowed
        probe = start
        while probe < start + timedelta(minutes=slot_minutes):
            assert window_open_at(facts, probe)
            probe += timedelta(minutes=5)
        assert window_open_at(facts, start + timedelta(minutes=slot_minutes, seconds=-1))


@FAST
@given(scenarios(), st.lists(st.integers(0, 2 * 1440 * 60 - 1), min_size=1, max_size=20))
def test_window_spans_agree_with_the_wall_clock_at_every_instant(scenario, offsets):
    facts, now = scenario
    window = EffectiveWindow(facts.debtor, facts.campaign, facts.extra_holidays)
    spans = window.open_intervals(now, now + timedelta(days=2))
    for seconds in offsets:
        instant = now + timedelta(seconds=seconds)
        inside = any(low <= instant < high for low, high in spans)
        assert inside == window.is_open(instant) == (not window_blocks(facts, instant))
