"""An independent audit of the contact log against the invariants of COMPLIANCE.md.

It does not ask the dialer or the rules engine whether a call was allowed: it
re-reads what happened (attempts, contact events, and, when given, what the
carrier emulator saw on the line) and recounts windows, caps, opt-outs and
disclosures on its own, so a bug in the dialer shows up here as a violation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holiday_package
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.compliance.presets import jurisdictions_for
from ivr.compliance.zones import plausible_states, resolve_zones
from ivr.models import Attempt, BlockListEntry, Campaign, ContactEvent, Debt, Debtor, Holiday, Phone

MIN_HUMAN_SECONDS = 6


@dataclass
class AuditReport:
    outcomes: dict[str, int] = field(default_factory=dict)  # attempts per outcome (or state)
    contacts: dict[str, int] = field(default_factory=dict)  # what the calls did, from the log
    violations: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    calls_placed: int = 0

    def add(self, invariant: int, rule: str, attempt_id: int | None, detail: str) -> None:
        self.violations.append({"invariant": invariant, "rule": rule, "attempt": attempt_id, "detail": detail})

    def as_dict(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "calls_placed": self.calls_placed, "outcomes": self.outcomes,
                "contacts": self.contacts, "violations": self.violations}


def _minute(local: datetime) -> int:
    return local.hour * 60 + local.minute


def _open_in(ranges: Iterable[tuple[int, int]], minute: int) -> bool:
    return any(start <= minute < end for start, end in ranges)


def audit_contact_log(session: Session, emulated_calls: Iterable[Any] = ()) -> AuditReport:
    report = AuditReport()
    attempts = list(session.scalars(select(Attempt).order_by(Attempt.debtor_id, Attempt.created_at)))
    debtors = {d.id: d for d in session.scalars(select(Debtor).where(
        Debtor.id.in_({a.debtor_id for a in attempts})))}
    phones = {p.id: p for p in session.scalars(select(Phone).where(Phone.debtor_id.in_(debtors)))}
    campaigns: dict[int | None, Campaign] = {c.id: c for c in session.scalars(select(Campaign))}
    debts = {d.id: d for d in session.scalars(select(Debt).where(Debt.debtor_id.in_(debtors)))}
    blocked = {(b.kind, b.value): b.created_at for b in session.scalars(select(BlockListEntry))}
    city_holidays = {(h.country, h.state, (h.city or "").lower(), h.day) for h in session.scalars(select(Holiday))}
    events: dict[int | None, list[ContactEvent]] = defaultdict(list)
    opt_outs: dict[int, datetime] = {}
    for e in session.scalars(select(ContactEvent).order_by(ContactEvent.occurred_at, ContactEvent.id)):
        events[e.attempt_id].append(e)
        # Only a voice opt-out stops calls; one without a channel is taken as voice.
        voice = (e.data or {}).get("opted_out_channel", "voice") == "voice"
        if e.kind == "opt_out" and voice and e.debtor_id not in opt_outs:
            opt_outs[e.debtor_id] = e.occurred_at

    report.attempts = len(attempts)
    report.outcomes = dict(Counter(a.outcome or a.state for a in attempts))
    kinds = Counter(e.kind for es in events.values() for e in es)
    report.contacts = {
        "right_party_contacts": kinds["ivr.right_party"], "sms_sent": kinds["sms.sent"],
        "callbacks_booked": kinds["callback.booked"], "transfers_requested": kinds["transfer.requested"],
        "opt_outs": kinds["opt_out"], "voicemails": kinds["voicemail.left"],
    }
    placed = [a for a in attempts if a.carrier_call_sid]
    report.calls_placed = len(placed)

    by_debtor: dict[int, list[Attempt]] = defaultdict(list)
    for a in attempts:
        by_debtor[a.debtor_id].append(a)
    phones_of: dict[int, list[Phone]] = defaultdict(list)
    for p in phones.values():
        phones_of[p.debtor_id].append(p)

    for debtor_id, rows in by_debtor.items():
        debtor = debtors[debtor_id]
        debtor_phones = phones_of[debtor_id]
        zones = resolve_zones(country=debtor.country, state=debtor.state, city=debtor.city, zip_code=debtor.zip_code,
                              timezone_override=debtor.timezone_override,
                              phone_numbers=[p.number for p in debtor_phones]).zones
        # Without a state in the address, the laws of every state the phones serve apply.
        plausible = plausible_states(debtor.country, debtor.state, [p.number for p in debtor_phones])
        jurisdictions = jurisdictions_for(debtor.country, debtor.state, debtor.city, plausible)
        # Invariant 6: never two live calls to one debtor.
        for earlier, later in zip(rows, rows[1:], strict=False):
            if earlier.ended_at is None or later.created_at < earlier.ended_at:
                report.add(6, "LIVE-ATTEMPT", later.id, f"debtor {debtor.external_id}: attempt {later.id} began "
                           f"before attempt {earlier.id} ended")
        calls = [a for a in rows if a.carrier_call_sid]
        for a in calls:
            when = a.placed_at or a.created_at
            _check_window(report, a, when, zones, jurisdictions, campaigns.get(a.campaign_id), debtor,
                          city_holidays)
            phone = phones.get(a.phone_id)
            if debtor_id in opt_outs and when > opt_outs[debtor_id]:
                report.add(4, "OPT-OUT", a.id, f"called {when.isoformat()} after the opt-out of "
                           f"{opt_outs[debtor_id].isoformat()}")
            if phone and phone.wrong_number_at and when > phone.wrong_number_at:
                report.add(4, "WRONG-NUMBER", a.id, "called a number marked wrong-number")
            for kind, value in (("phone", phone.number if phone else ""), ("document", debtor.document)):
                listed_at = blocked.get((kind, value))
                if listed_at is not None and when > listed_at:
                    report.add(4, "BLOCK-LIST", a.id, f"called {when.isoformat()}, after the {kind} was put on "
                               f"a block list ({listed_at.isoformat()})")
            debt = debts.get(a.debt_id) if a.debt_id else None
            if debt is not None and debt.status != "open" and debt.status_changed_at and when > debt.status_changed_at:
                report.add(5, "BR-CDC-42-UNDUE", a.id, f"called about a debt {debt.status} since "
                           f"{debt.status_changed_at.isoformat()}")
            _check_disclosure(report, a, events.get(a.id, []))
        caps = tuple(dict.fromkeys(cap for j in jurisdictions for cap in j.frequency_caps))
        _check_caps(report, debtor, calls, zones, caps, campaigns)
    for a in attempts:
        if a.active:
            report.add(9, "UNFINISHED", a.id, f"attempt still {a.state} at the end")
    _check_line(report, emulated_calls, {a.carrier_call_sid: a for a in placed}, debts, debtors)
    return report


def _check_window(report: AuditReport, attempt: Attempt, when: datetime, zones: Iterable[str],
                  jurisdictions: tuple[Any, ...], campaign: Campaign | None, debtor: Debtor,
                  city_holidays: set) -> None:
    for zone in zones:
        local = when.astimezone(ZoneInfo(zone))
        minute, weekday, day = _minute(local), local.weekday(), local.date()
        for hours in dict.fromkeys(j.calling_hours for j in jurisdictions):
            if not _open_in(hours.week[weekday], minute):
                report.add(1, hours.rule_id, attempt.id, f"placed at {local:%a %H:%M} in {zone}, outside the "
                           "legal hours")
        if campaign is not None and not any(
                w.weekday == weekday and _minute_of(w.start) <= minute < _minute_of(w.end, end=True)
                for w in campaign.windows):
            report.add(1, "CAMPAIGN-WINDOW", attempt.id, f"placed at {local:%a %H:%M} in {zone}, outside the "
                       "campaign's windows")
        if debtor.preferred_start and debtor.preferred_end and not (
                _minute_of(debtor.preferred_start) <= minute < _minute_of(debtor.preferred_end, end=True)):
            report.add(1, "DEBTOR-PREFERENCE", attempt.id, f"placed at {local:%H:%M}, outside the debtor's hours")
        states = {j.state for j in jurisdictions}
        if any(j.calling_hours.closed_on_holidays and day in holiday_package.country_holidays(
                debtor.country, subdiv=j.state, years=day.year) for j in jurisdictions):
            report.add(1, "HOLIDAY", attempt.id, f"placed on a holiday ({day}) in {zone}")
        if any(c == debtor.country and (s is None or s in states)
               and (not city or city == (debtor.city or "").lower())
               and d == day for c, s, city, d in city_holidays):
            report.add(1, "HOLIDAY", attempt.id, f"placed on a supervisor-listed holiday ({day})")


def _minute_of(value, end: bool = False) -> int:
    minutes = value.hour * 60 + value.minute
    return 24 * 60 if end and minutes == 0 else minutes


def _check_caps(report: AuditReport, debtor: Debtor, calls: list[Attempt], zones: Iterable[str],
                caps: tuple[Any, ...], campaigns: dict[int | None, Campaign]) -> None:
    """Invariant 2: recount every cap from the log, per debtor across all phones and campaigns."""
    for cap in caps:
        groups: dict[Any, list[Attempt]] = defaultdict(list)
        for a in calls:
            if cap.waived_by_requested_callback and a.callback_id:
                continue
            groups[a.debt_id if cap.per_debt else None].append(a)
        for group in groups.values():
            times = sorted(a.created_at for a in group)
            if cap.per_local_day is not None:
                for zone in zones:
                    per_day = Counter(t.astimezone(ZoneInfo(zone)).date() for t in times)
                    for day, n in per_day.items():
                        if n > cap.per_local_day:
                            report.add(2, cap.rule_id, group[0].id, f"debtor {debtor.external_id}: {n} calls on "
                                       f"{day} in {zone}, cap {cap.per_local_day}/day")
            if cap.per_rolling_days is not None:
                window = timedelta(days=cap.rolling_days)
                for i, t in enumerate(times):
                    n = sum(1 for u in times[: i + 1] if t - u < window)
                    if n > cap.per_rolling_days:
                        report.add(2, cap.rule_id, group[0].id, f"debtor {debtor.external_id}: {n} calls in "
                                   f"{cap.rolling_days} days up to {t.isoformat()}, cap {cap.per_rolling_days}")
                        break
        if cap.quiet_days_after_conversation is not None:
            _check_quiet_days(report, debtor, calls, zones, cap)
    for campaign_id in {a.campaign_id for a in calls if a.campaign_id}:
        c = campaigns[campaign_id]
        if c.max_per_day is not None:
            for zone in zones:
                per_day = Counter(a.created_at.astimezone(ZoneInfo(zone)).date() for a in calls)
                if max(per_day.values(), default=0) > c.max_per_day:
                    report.add(2, "CAMPAIGN-CAP", None, f"debtor {debtor.external_id}: over the campaign's "
                               f"{c.max_per_day}/day")


def _quiet_until(at: datetime, zone: str, days: int) -> datetime:
    """The end of the quiet period after a conversation at `at`: `days` times 24 hours, and
    the rest of the last of `days` local calendar days, whichever is later."""
    tz = ZoneInfo(zone)
    last_day_over = datetime.combine(at.astimezone(tz).date() + timedelta(days=days), time(0), tz)
    return max(at + timedelta(days=days), last_day_over)


def _check_quiet_days(report: AuditReport, debtor: Debtor, calls: list[Attempt], zones: Iterable[str],
                      cap: Any) -> None:
    """Invariant 2: no call within the quiet days after a conversation with the debtor (a call
    the debtor asked for is exempt when the rule says so)."""
    days = cap.quiet_days_after_conversation
    spoken = [a for a in calls if a.conversation]
    for a in calls:
        if cap.waived_by_requested_callback and a.callback_id:
            continue
        for earlier in spoken:
            if earlier.created_at >= a.created_at:
                continue
            if cap.per_debt and None not in (a.debt_id, earlier.debt_id) and a.debt_id != earlier.debt_id:
                continue
            if any(a.created_at < _quiet_until(earlier.created_at, zone, days) for zone in zones):
                report.add(2, cap.rule_id, a.id, f"debtor {debtor.external_id}: called "
                           f"{a.created_at.isoformat()}, within {days} days of the conversation of attempt "
                           f"{earlier.id}")
                break


def _check_disclosure(report: AuditReport, attempt: Attempt, events: list[ContactEvent]) -> None:
    """Invariant 3: nothing about the debt before the right-party check; never to a machine."""
    verified = False
    for e in events:
        if e.kind == "ivr.right_party":
            verified = True
        if e.kind == "ivr.disclosed" and not verified:
            report.add(3, "US-FDCPA-DISCLOSE", attempt.id, "disclosed before the right-party check")
        if e.kind == "ivr.disclosed" and attempt.answered_by == "machine":
            report.add(3, "US-REGF-LCM", attempt.id, "disclosed to an answering machine")


def _check_line(report: AuditReport, emulated_calls: Iterable[Any], attempts_by_sid: dict[str | None, Attempt],
                debts: dict[int, Debt], debtors: dict[int, Debtor]) -> None:
    """What the carrier saw: every call has its attempt (9), no human hung up on
    in under 6 s (8), no voicemail that says anything about a debt (3)."""
    for call in emulated_calls:
        if call.parent_call_sid:
            continue  # an agent's leg
        attempt = attempts_by_sid.get(call.sid)
        if attempt is None:
            report.add(9, "LOST-ATTEMPT", None, f"call {call.sid} to the carrier has no attempt record")
            continue
        human = (call.answered_by or "human") == "human" and call.answered_at is not None
        if human and call.hangup_source == "twiml" and call.duration is not None and call.duration < MIN_HUMAN_SECONDS:
            report.add(8, "BR-ANATEL-SHORT", attempt.id, f"hung up on a person after {call.duration} s")
        if (call.answered_by or "").startswith(("machine", "fax")):
            debt = debts.get(attempt.debt_id) if attempt.debt_id else None
            heard = " ".join(call.transcript).lower()
            words = ["dívida", "débito", "debt", "owe", "devendo"]
            if debt is not None:
                words.append(debt.creditor.name.lower())
            said = [w for w in words if w in heard]
            if said:
                report.add(3, "US-REGF-LCM", attempt.id, f"voicemail mentioned {said}")
