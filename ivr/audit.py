"""An independent audit of the contact log against the invariants of COMPLIANCE.md.

It does not ask the dialer or the rules engine whether a call was allowed: it
re-reads what happened (attempts, contact events, and, when given, what the
carrier emulator saw on the line) and recounts windows, caps, opt-outs, consent,
debt status and disclosures on its own, and checks every message sent, so a bug in
the dialer shows up here as a violation. Where the rules define a term (a holiday,
the debtor's hours, a rolling week) it takes their definition, not their verdict.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.compliance.facts import DebtorFacts, ExtraHoliday
from ivr.compliance.holiday_calendar import HolidayCalendar, supervisor_holidays
from ivr.compliance.local_time import end_of_local_day, local_date
from ivr.compliance.presets import DayRanges, Jurisdiction, jurisdictions_for
from ivr.compliance.windows import preferred_ranges
from ivr.compliance.zones import plausible_states, resolve_zones
from ivr.models import Attempt, BlockListEntry, Campaign, ContactEvent, Debt, Debtor, Holiday, Phone

MIN_HUMAN_SECONDS = 6
# Words that tell a listener a voicemail is about a debt (US-REGF-LCM), in both languages.
_VOICEMAIL_DEBT_WORDS = ("dívida", "débito", "devendo", "cobrança", "boleto", "pagamento", "valor de",
                         "debt", "owe", "collect", "payment", "balance", "past due", "r$", "$")
# Numbering plan of the US and its NANP neighbours: robocalls to mobiles need consent there.
_NANP_PREFIX = "+1"
_CHANNELS = ("voice", "sms", "whatsapp")


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


@dataclass
class _OptOuts:
    """When each debtor and each phone first stopped each channel: the earlier of the
    contact log's opt-out event and the stored opt-out instant."""

    since: dict[tuple[str, int, str], datetime] = field(default_factory=dict)

    def note(self, holder: str, holder_id: int | None, channel: str, at: datetime | None) -> None:
        if holder_id is None or at is None:
            return
        key = (holder, holder_id, channel)
        if key not in self.since or at < self.since[key]:
            self.since[key] = at

    def note_event(self, event: ContactEvent) -> None:
        data = event.data or {}
        # An opt-out that names no channel is taken as voice: the stricter reading for calls.
        channel = data.get("opted_out_channel", "voice")
        scope = data.get("scope", ("debtor", "phone"))
        if "debtor" in scope:
            self.note("debtor", event.debtor_id, channel, event.occurred_at)
        if "phone" in scope:
            self.note("phone", event.phone_id, channel, event.occurred_at)

    def first(self, channel: str, debtor_id: int, phone_id: int | None) -> tuple[datetime, str] | None:
        """The first opt-out of `channel` by the debtor or the phone, and which of them."""
        found = [(self.since[key], key[0]) for key in (("debtor", debtor_id, channel), ("phone", phone_id, channel))
                 if key in self.since]
        return min(found) if found else None


def _minute(local: datetime) -> int:
    return local.hour * 60 + local.minute


def _open_in(ranges: Iterable[tuple[int, int]], minute: int) -> bool:
    return any(start <= minute < end for start, end in ranges)


def _listed_at(blocked: dict[tuple[str, str], datetime], kind: str, values: Iterable[str]) -> datetime | None:
    """When the first of `values` was put on the block list as `kind`, or None."""
    return min((blocked[kind, v] for v in values if (kind, v) in blocked), default=None)


def _number_forms(number: str) -> tuple[str, ...]:
    """A number as a block list may hold it (as the message rules look it up): E.164, or digits."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return tuple(dict.fromkeys((number, digits, "+" + digits)))


def audit_contact_log(session: Session, emulated_calls: Iterable[Any] = ()) -> AuditReport:
    report = AuditReport()
    attempts = list(session.scalars(select(Attempt).order_by(Attempt.debtor_id, Attempt.created_at, Attempt.id)))
    all_events = list(session.scalars(select(ContactEvent).order_by(ContactEvent.occurred_at, ContactEvent.id)))
    messages = [e for e in all_events if e.kind == "sms.sent"]
    debtor_ids = {a.debtor_id for a in attempts} | {e.debtor_id for e in messages}
    debtors = {d.id: d for d in session.scalars(select(Debtor).where(Debtor.id.in_(debtor_ids)))}
    phones = {p.id: p for p in session.scalars(select(Phone).where(Phone.debtor_id.in_(debtors)))}
    campaigns: dict[int | None, Campaign] = {c.id: c for c in session.scalars(select(Campaign))}
    debts = {d.id: d for d in session.scalars(select(Debt).where(Debt.debtor_id.in_(debtors)))}
    blocked: dict[tuple[str, str], datetime] = {}
    for b in session.scalars(select(BlockListEntry)):
        blocked[b.kind, b.value] = min(b.created_at, blocked.get((b.kind, b.value), b.created_at))
    listed_holidays = frozenset(ExtraHoliday(day=h.day, country=h.country, state=h.state, city=h.city, name=h.name)
                                for h in session.scalars(select(Holiday)))
    events: dict[int | None, list[ContactEvent]] = defaultdict(list)
    opt_outs = _OptOuts()
    for e in all_events:
        events[e.attempt_id].append(e)
        if e.kind == "opt_out":
            opt_outs.note_event(e)
    for channel in _CHANNELS:
        for holder, rows_by_id in (("debtor", debtors), ("phone", phones)):
            for holder_id, row in rows_by_id.items():
                opt_outs.note(holder, holder_id, channel, getattr(row, f"{channel}_opt_out_at"))

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
        calendars = _holiday_calendars(debtor, jurisdictions, listed_holidays)
        # The rules' own reading of the debtor's hours: open-ended and overnight ones included.
        preferred = preferred_ranges(DebtorFacts(id=debtor.id, country=debtor.country, zones=frozenset(),
                                                 preferred_start=debtor.preferred_start,
                                                 preferred_end=debtor.preferred_end))
        # Invariant 6: never two live calls to one debtor.
        for earlier, later in zip(rows, rows[1:], strict=False):
            if earlier.ended_at is None or later.created_at < earlier.ended_at:
                report.add(6, "LIVE-ATTEMPT", later.id, f"debtor {debtor.external_id}: attempt {later.id} began "
                           f"before attempt {earlier.id} ended")
        calls = [a for a in rows if a.carrier_call_sid]
        for a in calls:
            when = a.placed_at or a.created_at
            _check_window(report, a, when, zones, jurisdictions, campaigns.get(a.campaign_id), preferred, calendars)
            phone = phones.get(a.phone_id)
            opted_out = opt_outs.first("voice", debtor_id, a.phone_id)
            if opted_out is not None and when > opted_out[0]:
                report.add(4, "OPT-OUT", a.id, f"called {when.isoformat()} after the opt-out of "
                           f"{opted_out[0].isoformat()} ({opted_out[1]})")
            if phone and phone.wrong_number_at and when > phone.wrong_number_at:
                report.add(4, "WRONG-NUMBER", a.id, "called a number marked wrong-number")
            for kind, value in (("phone", phone.number if phone else ""), ("document", debtor.document)):
                listed_at = blocked.get((kind, value))
                if listed_at is not None and when > listed_at:
                    report.add(4, "BLOCK-LIST", a.id, f"called {when.isoformat()}, after the {kind} was put on "
                               f"a block list ({listed_at.isoformat()})")
            if phone is not None:
                _check_consent(report, a, when, debtor, phone)
            debt = debts.get(a.debt_id) if a.debt_id else None
            if debt is not None:
                _check_debt(report, a, when, debtor, debt)
            _check_disclosure(report, a, events.get(a.id, []))
        caps = tuple(dict.fromkeys(cap for j in jurisdictions for cap in j.frequency_caps))
        _check_caps(report, debtor, calls, zones, caps, campaigns)
    for a in attempts:
        if a.active:
            report.add(9, "UNFINISHED", a.id, f"attempt still {a.state} at the end")
    _check_messages(report, messages, debtors, phones, opt_outs, blocked)
    _check_line(report, emulated_calls, {a.carrier_call_sid: a for a in placed}, debts, debtors)
    return report


def _holiday_calendars(debtor: Debtor, jurisdictions: Sequence[Jurisdiction],
                       listed: frozenset[ExtraHoliday]) -> list[HolidayCalendar]:
    """The holidays that close calls to the debtor, built as the rules build them: the
    package's national, state and city ones (e.g. São Paulo's anniversary) where the law
    closes on holidays, and the supervisor's list, place names compared without accents."""
    return [
        HolidayCalendar(country=debtor.country, subdivisions=(j.state, j.holiday_city_subdivision),
                        include_package=j.calling_hours.closed_on_holidays,
                        listed=supervisor_holidays(listed, debtor.country, j.state, debtor.city))
        for j in jurisdictions
    ]


def _check_window(report: AuditReport, attempt: Attempt, when: datetime, zones: Iterable[str],
                  jurisdictions: Sequence[Jurisdiction], campaign: Campaign | None, preferred: DayRanges | None,
                  calendars: Sequence[HolidayCalendar]) -> None:
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
        if preferred is not None and not _open_in(preferred, minute):
            report.add(1, "DEBTOR-PREFERENCE", attempt.id, f"placed at {local:%H:%M}, outside the debtor's hours")
        if any(calendar.is_holiday(day) for calendar in calendars):
            report.add(1, "HOLIDAY", attempt.id, f"placed on a holiday ({day}) in {zone}")


def _minute_of(value: time, end: bool = False) -> int:
    minutes = value.hour * 60 + value.minute
    return 24 * 60 if end and minutes == 0 else minutes


def _check_consent(report: AuditReport, attempt: Attempt, when: datetime, debtor: Debtor, phone: Phone) -> None:
    """Invariant 4 (US-TCPA-CONSENT): no prerecorded call to a US mobile without consent
    at the time. A line of unknown type may be a mobile, as the rules read it; consent
    stored without its instant is taken as given all along."""
    if not (debtor.country == "US" or phone.number.startswith(_NANP_PREFIX)) or phone.line_type == "landline":
        return
    if phone.robocall_consent and (phone.consent_at is None or phone.consent_at <= when):
        return
    since = f" (given {phone.consent_at.isoformat()})" if phone.robocall_consent and phone.consent_at else ""
    report.add(4, "US-TCPA-CONSENT", attempt.id, f"called a {phone.line_type} line at {when.isoformat()} "
               f"without consent to prerecorded calls{since}")


def _check_debt(report: AuditReport, attempt: Attempt, when: datetime, debtor: Debtor, debt: Debt) -> None:
    """Invariant 5: never about a debt paid, disputed, under agreement or with a payment
    pending. A status without the instant it changed held all along, as far as we know;
    so does a pending payment, which has no instant at all."""
    rule = "DEBT-NOT-OPEN" if debtor.country == "US" else "BR-CDC-42-UNDUE"
    if debt.status != "open" and (debt.status_changed_at is None or when > debt.status_changed_at):
        since = f" since {debt.status_changed_at.isoformat()}" if debt.status_changed_at else ""
        report.add(5, rule, attempt.id, f"called about a debt {debt.status}{since}")
    if debt.payment_pending:
        report.add(5, rule, attempt.id, "called about a debt with a payment pending")


def _counts_until(at: datetime, zone: str, days: int | None) -> datetime:
    """Until when a call at `at` counts toward a cap in `zone`, as ivr.compliance.caps
    counts: the rest of its local day (days None); or a rolling period of `days`, which
    is days x 24 hours and `days` local calendar days (the call's the first), whichever
    is later."""
    day = local_date(zone, at)
    if days is None:
        return end_of_local_day(zone, day)
    return max(at + timedelta(days=days), end_of_local_day(zone, day + timedelta(days=days - 1)))


def _check_count(report: AuditReport, rule_id: str, debtor: Debtor, call: Attempt, earlier: Sequence[Attempt],
                 zones: Iterable[str], limit: int, days: int | None) -> None:
    """Report `call` if, with it, more than `limit` calls count in its period in some zone."""
    for zone in zones:
        n = 1 + sum(1 for u in earlier if call.created_at < _counts_until(u.created_at, zone, days))
        if n > limit:
            period = (f"on {local_date(zone, call.created_at)}" if days is None
                      else f"in {days} days up to {call.created_at.isoformat()}")
            report.add(2, rule_id, call.id, f"debtor {debtor.external_id}: call {n} {period} in {zone}, cap "
                       f"{limit}/{'day' if days is None else f'{days} days'}")
            return


def _check_caps(report: AuditReport, debtor: Debtor, calls: list[Attempt], zones: Iterable[str],
                caps: tuple[Any, ...], campaigns: dict[int | None, Campaign]) -> None:
    """Invariant 2: recount every cap from the log, per debtor across all phones and campaigns,
    and name each call placed over one."""
    zones = tuple(zones)
    for cap in caps:
        counted = [a for a in calls if not (cap.waived_by_requested_callback and a.callback_id)]
        for limit, days in ((cap.per_local_day, None), (cap.per_rolling_days, cap.rolling_days)):
            if limit is None:
                continue
            for i, a in enumerate(counted):
                # A per-debt cap counts the calls about the debt, and those whose debt is unknown.
                earlier = [u for u in counted[:i] if not cap.per_debt or u.debt_id is None or u.debt_id == a.debt_id]
                _check_count(report, cap.rule_id, debtor, a, earlier, zones, limit, days)
        if cap.quiet_days_after_conversation is not None:
            _check_quiet_days(report, debtor, calls, zones, cap)
    # A campaign's caps bind its own calls, counting the debtor's calls in every campaign.
    for i, a in enumerate(calls):
        campaign = campaigns.get(a.campaign_id) if a.campaign_id else None
        if campaign is None:
            continue
        for limit, days in ((campaign.max_per_day, None), (campaign.max_per_week, 7)):
            if limit is not None:
                _check_count(report, "CAMPAIGN-CAP", debtor, a, calls[:i], zones, limit, days)


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
            if any(a.created_at < _counts_until(earlier.created_at, zone, days) for zone in zones):
                report.add(2, cap.rule_id, a.id, f"debtor {debtor.external_id}: called "
                           f"{a.created_at.isoformat()}, within {days} days of the conversation of attempt "
                           f"{earlier.id}")
                break


def _check_messages(report: AuditReport, messages: Iterable[ContactEvent], debtors: dict[int, Debtor],
                    phones: dict[int, Phone], opt_outs: _OptOuts, blocked: dict[tuple[str, str], datetime]) -> None:
    """Invariant 4 for messages: none on a channel the debtor or the phone stopped, to a
    number or document on a block list, or to a number marked wrong-number."""
    for e in messages:
        debtor = debtors[e.debtor_id]
        phone = phones.get(e.phone_id) if e.phone_id is not None else None
        when, what = e.occurred_at, f"{e.channel} message (event {e.id})"
        opted_out = opt_outs.first(e.channel, e.debtor_id, e.phone_id)
        if opted_out is not None and when > opted_out[0]:
            report.add(4, "OPT-OUT", e.attempt_id, f"{what} sent {when.isoformat()} after the {opted_out[1]}'s "
                       f"{e.channel} opt-out of {opted_out[0].isoformat()}")
        for kind, values in (("phone", _number_forms(phone.number) if phone else ()), ("document", (debtor.document,))):
            listed_at = _listed_at(blocked, kind, values)
            if listed_at is not None and when > listed_at:
                report.add(4, "BLOCK-LIST", e.attempt_id, f"{what} sent {when.isoformat()}, after the {kind} was "
                           f"put on a block list ({listed_at.isoformat()})")
        if phone is not None and phone.wrong_number_at and when > phone.wrong_number_at:
            report.add(4, "WRONG-NUMBER", e.attempt_id, f"{what} sent to a number marked wrong-number")


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
        # Anyone AMD did not call a machine may be a person ("unknown" included).
        human = call.answered_at is not None and not (call.answered_by or "").startswith(("machine", "fax"))
        if human and call.hangup_source == "twiml" and call.duration is not None and call.duration < MIN_HUMAN_SECONDS:
            report.add(8, "BR-ANATEL-SHORT", attempt.id, f"hung up on a person after {call.duration} s")
        if (call.answered_by or "").startswith(("machine", "fax")):
            debt = debts.get(attempt.debt_id) if attempt.debt_id else None
            heard = " ".join(call.transcript).lower()
            words = list(_VOICEMAIL_DEBT_WORDS)
            if debt is not None:
                words.append(debt.creditor.name.lower())
            said = [w for w in words if w in heard]
            if said:
                report.add(3, "US-REGF-LCM", attempt.id, f"voicemail mentioned {said}")
