"""From the database to the rules: load the facts for a batch of debtors, ask
`ivr.compliance` for each, and explain the answers to supervisors.

This is the one place that decides whether a call may be placed: the dialer's
claim, `cordial why`, `cordial plan`, callback booking and the console all go
through it. Loading is batched (a handful of queries per batch, whatever its
size), so a tick's cost grows with the batch, not with the portfolio.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from ivr.compliance.decision import Decision, decide, next_slots, window_open_at
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
from ivr.compliance.reason import (
    NO_CAMPAIGN,
    NO_PHONE,
    Reason,
    explain,
)
from ivr.compliance.zones import ZoneResolution, plausible_states, resolve_zones
from ivr.db import is_postgres
from ivr.dialer.dialer import LIVE_ATTEMPT_CONDITION, NOT_PLACED, Verdict
from ivr.dialer.id_lists import one_of
from ivr.dialer.queue import Candidate
from ivr.models import Attempt, BlockListEntry, Callback, Campaign, Debt, Debtor, Holiday, Phone

HISTORY_DAYS = 8  # caps look back 7 days; one more covers every plausible local day


class UnknownDebtor(LookupError):
    pass


# The columns the rules and the explanations read. Loaded as plain rows, not ORM
# entities: a batch is thousands of rows, and the rules never write them back.
_DEBTOR_COLUMNS = (Debtor.id, Debtor.external_id, Debtor.full_name, Debtor.document, Debtor.country,
                   Debtor.state, Debtor.city, Debtor.zip_code, Debtor.timezone_override,
                   Debtor.preferred_start, Debtor.preferred_end, Debtor.voice_opt_out_at)
_PHONE_COLUMNS = (Phone.id, Phone.debtor_id, Phone.number, Phone.line_type, Phone.robocall_consent,
                  Phone.voice_opt_out_at, Phone.wrong_number_at)
_DEBT_COLUMNS = (Debt.id, Debt.external_id, Debt.debtor_id, Debt.campaign_id, Debt.status,
                 Debt.payment_pending, Debt.due_date)
_ATTEMPT_COLUMNS = (Attempt.debtor_id, Attempt.created_at, Attempt.debt_id, Attempt.active, Attempt.state,
                    Attempt.conversation, Attempt.outcome)
# An attempt ended NOT_PLACED never reached the carrier (its lease was refused, or its
# worker died before placing it and the carrier has no such call): nobody's phone rang,
# so it counts toward no cap and no interval.


@dataclass(frozen=True)
class Option:
    """One way to call a debtor: a phone, about a debt, in a campaign."""

    phone: Row[Any]  # _PHONE_COLUMNS
    debt: Row[Any] | None  # _DEBT_COLUMNS
    campaign: Campaign | None
    facts: CallFacts
    decision: Decision


@dataclass
class _Batch:
    debtors: dict[int, Row[Any]]  # _DEBTOR_COLUMNS
    phones: dict[int, list[Row[Any]]]
    debts: dict[int, list[Row[Any]]]
    campaigns: dict[int, Campaign]
    policies: dict[int, CampaignPolicy]  # one per campaign, shared by every decision of the batch
    history: dict[int, list[Row[Any]]]  # _ATTEMPT_COLUMNS
    blocked_numbers: set[str]
    blocked_documents: set[str]
    holidays: frozenset[ExtraHoliday]
    numbers_in_call: set[str]  # numbers with a call in progress now, whoever it is for


def _load(session: Session, debtor_ids: Sequence[int], now: datetime,
          extra_debt_ids: Iterable[int] = (), extra_campaign_ids: Iterable[int] = ()) -> _Batch:
    ids = list(dict.fromkeys(debtor_ids))
    postgres = is_postgres(session.get_bind())
    debtors = {d.id: d for d in session.execute(
        select(*_DEBTOR_COLUMNS).where(one_of(Debtor.id, ids, postgres)))}
    phones: dict[int, list[Row[Any]]] = defaultdict(list)
    for phone in session.execute(
        select(*_PHONE_COLUMNS).where(one_of(Phone.debtor_id, ids, postgres)).order_by(Phone.priority, Phone.id)
    ):
        phones[phone.debtor_id].append(phone)
    debts: dict[int, list[Row[Any]]] = defaultdict(list)
    extra = set(extra_debt_ids)
    # Every debt of the batch's debtors, filtered and sorted here: a status condition in SQL
    # lets SQLite (without ANALYZE statistics) scan every open debt through ix_debt_dialable
    # instead of looking up these debtors' few debts.
    found = session.execute(select(*_DEBT_COLUMNS).where(one_of(Debt.debtor_id, ids, postgres))).all()
    for debt in sorted(found, key=lambda d: (d.due_date, d.id)):
        if debt.status == "open" or debt.id in extra:
            debts[debt.debtor_id].append(debt)
    campaign_ids = {d.campaign_id for ds in debts.values() for d in ds if d.campaign_id} | set(extra_campaign_ids)
    campaigns = {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))}
    history: dict[int, list[Row[Any]]] = defaultdict(list)
    since = now - timedelta(days=HISTORY_DAYS)
    for attempt in session.execute(
        select(*_ATTEMPT_COLUMNS).where(one_of(Attempt.debtor_id, ids, postgres),
                                        (Attempt.created_at >= since) | Attempt.active.is_(True))
    ):
        history[attempt.debtor_id].append(attempt)
    numbers = {p.number for ps in phones.values() for p in ps}
    documents = {d.document for d in debtors.values()}
    blocked_numbers = set(session.scalars(select(BlockListEntry.value).where(
        BlockListEntry.kind == "phone", one_of(BlockListEntry.value, numbers, postgres))))
    blocked_documents = set(session.scalars(select(BlockListEntry.value).where(
        BlockListEntry.kind == "document", one_of(BlockListEntry.value, documents, postgres))))
    numbers_in_call = set(session.scalars(
        select(Phone.number).join(Attempt, Attempt.phone_id == Phone.id)
        .where(LIVE_ATTEMPT_CONDITION, one_of(Phone.number, numbers, postgres))))
    return _Batch(debtors, phones, debts, campaigns, {c.id: _policy(c) for c in campaigns.values()}, history,
                  blocked_numbers, blocked_documents, _extra_holidays(session), numbers_in_call)


def _extra_holidays(session: Session) -> frozenset[ExtraHoliday]:
    return frozenset(
        ExtraHoliday(day=h.day, country=h.country, state=h.state, city=h.city, name=h.name)
        for h in session.scalars(select(Holiday))
    )


def zones_of(debtor: Debtor | Row[Any], phones: Sequence[Phone | Row[Any]]) -> ZoneResolution:
    """The debtor's plausible zones (a Debtor and its phones, or rows with their columns)."""
    return _zones_cached(debtor.country, debtor.state, debtor.city, debtor.zip_code, debtor.timezone_override,
                         tuple(p.number for p in phones))


@lru_cache(maxsize=65536)
def _zones_cached(country: str, state: str | None, city: str | None, zip_code: str | None,
                  override: str | None, numbers: tuple[str, ...]) -> ZoneResolution:
    return resolve_zones(country=country, state=state, city=city, zip_code=zip_code,
                         timezone_override=override, phone_numbers=numbers)


def display_zone(resolution: ZoneResolution) -> str:
    """The zone to show times in: the only one, or the first of the plausible ones."""
    return sorted(resolution.zones)[0]


def _policy(campaign: Campaign) -> CampaignPolicy:
    return CampaignPolicy(
        windows=tuple(WeeklyRange(weekday=w.weekday, start=w.start, end=w.end) for w in campaign.windows),
        status=campaign.status,
        max_per_day=campaign.max_per_day,
        max_per_week=campaign.max_per_week,
        min_minutes_between_attempts=campaign.min_minutes_between_attempts,
        retry_no_answer_minutes=campaign.retry_no_answer_minutes,
        retry_busy_minutes=campaign.retry_busy_minutes,
        retry_machine_minutes=campaign.retry_machine_minutes,
    )


def _history(attempts: Sequence[Row[Any]], ignore_live: bool = False) -> ContactHistory:
    past = tuple(
        PastAttempt(at=a.created_at, debt_id=a.debt_id, outcome=None if a.active else a.state,
                    conversation=a.conversation)
        for a in attempts
        if a.active or a.outcome != NOT_PLACED
    )
    live = (not ignore_live) and any(a.active for a in attempts)
    return ContactHistory(attempts=past, live_attempt=live)


def _options(batch: _Batch, debtor_id: int, now: datetime, *, phone_id: int | None = None,
             debt_id: int | None = None, campaign_id: int | None = None,
             requested_callback_at: datetime | None = None, ignore_live: bool = False) -> Iterator[Option]:
    """The debtor's options, phone by phone, each decided when it is reached (the dialer
    stops at the first allowed one)."""
    debtor = batch.debtors[debtor_id]
    phones = batch.phones.get(debtor_id, [])
    zones = zones_of(debtor, phones)
    debtor_facts = DebtorFacts(
        id=debtor.id, country=debtor.country, zones=frozenset(zones.zones), state=debtor.state, city=debtor.city,
        zone_uncertain=zones.uncertain, preferred_start=debtor.preferred_start, preferred_end=debtor.preferred_end,
        voice_opt_out=debtor.voice_opt_out_at is not None,
        document_blocked=debtor.document in batch.blocked_documents,
        plausible_states=plausible_states(debtor.country, debtor.state, [p.number for p in phones]),
    )
    history = _history(batch.history.get(debtor_id, []), ignore_live=ignore_live)
    debts = batch.debts.get(debtor_id, [])
    if debt_id is not None:
        debts = [d for d in debts if d.id == debt_id]
    chosen_debt = next((d for d in debts if d.campaign_id and d.campaign_id in batch.campaigns
                        and batch.campaigns[d.campaign_id].status == "running"), debts[0] if debts else None)
    cid = campaign_id or (chosen_debt.campaign_id if chosen_debt else None)
    campaign = batch.campaigns.get(cid) if cid else None
    policy = batch.policies[campaign.id] if campaign else None
    debt_facts = (DebtFacts(id=chosen_debt.id, status=chosen_debt.status, payment_pending=chosen_debt.payment_pending)
                  if chosen_debt else DebtFacts(id=0, status="closed"))
    for phone in phones:
        if phone_id is not None and phone.id != phone_id:
            continue
        facts = CallFacts(
            debtor=debtor_facts,
            phone=PhoneFacts(number=phone.number, line_type=phone.line_type, robocall_consent=phone.robocall_consent,
                             voice_opt_out=phone.voice_opt_out_at is not None,
                             wrong_number=phone.wrong_number_at is not None,
                             blocked=phone.number in batch.blocked_numbers,
                             in_call=phone.number in batch.numbers_in_call and not ignore_live),
            debt=debt_facts,
            history=history,
            campaign=policy,
            extra_holidays=batch.holidays,
            requested_callback_at=requested_callback_at,
        )
        yield Option(phone, chosen_debt, campaign, facts, decide(facts, now))


def _verdict(candidate: Candidate, options: Iterable[Option], placing_within: timedelta = timedelta(0),
             now: datetime | None = None) -> Verdict:
    """The first allowed option wins, so later ones are not even decided."""
    seen: list[Option] = []
    for option in options:
        if option.decision.allowed and option.campaign is not None:
            if placing_within and now is not None and not window_open_at(option.facts, now + placing_within):
                # The window closes before the call would surely be placed: wait for the next one.
                later = decide(option.facts, now + placing_within).next_allowed_at
                return Verdict(candidate, False, later, option.phone.id, option.debt.id if option.debt else None,
                               option.campaign.id, rule_ids=("WINDOW-CLOSING",))
            return Verdict(candidate, True, None, option.phone.id, option.debt.id if option.debt else None,
                           option.campaign.id)
        seen.append(option)
    if not seen:
        return Verdict(candidate, False, None, rule_ids=(NO_PHONE,))
    if all(o.campaign is None for o in seen):
        return Verdict(candidate, False, None, rule_ids=(NO_CAMPAIGN,))
    nexts = [o.decision.next_allowed_at for o in seen if o.decision.next_allowed_at is not None]
    first = seen[0]
    rule_ids = tuple(dict.fromkeys(r.rule_id for r in first.decision.reasons))
    next_at = min(nexts) if nexts else None
    return Verdict(candidate, False, next_at, first.phone.id,
                   first.debt.id if first.debt else None, first.campaign.id if first.campaign else None,
                   rule_ids=rule_ids)


def evaluate_candidates(session: Session, candidates: list[Candidate], now: datetime,
                        placing_within: timedelta = timedelta(0)) -> list[Verdict]:
    """The dialer's evaluator: one verdict per candidate. A call is allowed only if the
    window is still open `placing_within` from now, the longest the dialer may take to
    place it (pacing); the lease refuses to place it later than that."""
    batch = _load(session, [c.debtor_id for c in candidates], now,
                  extra_debt_ids=[c.callback_debt_id for c in candidates if c.callback_debt_id],
                  extra_campaign_ids=[c.callback_campaign_id for c in candidates if c.callback_campaign_id])
    requested: dict[int | None, datetime] = {}
    callback_ids = [c.callback_id for c in candidates if c.callback_id]
    if callback_ids:
        requested = dict(session.execute(select(Callback.id, Callback.created_at).where(
            one_of(Callback.id, callback_ids, is_postgres(session.get_bind())))).tuples().all())
    verdicts = []
    for candidate in candidates:
        if candidate.debtor_id not in batch.debtors:
            continue
        options = _options(batch, candidate.debtor_id, now, phone_id=candidate.callback_phone_id,
                           debt_id=candidate.callback_debt_id, campaign_id=candidate.callback_campaign_id,
                           requested_callback_at=requested.get(candidate.callback_id))
        verdicts.append(_verdict(candidate, options, placing_within, now))
    return verdicts


# -- for supervisors, agents and the voice flow ---------------------------------


def _local(instant: datetime | None, zone: str) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z (%a)")


def _debtor_id(session: Session, external_id: str) -> int:
    found = session.scalars(select(Debtor.id).where(Debtor.external_id == external_id)).one_or_none()
    if found is None:
        raise UnknownDebtor(f"no debtor with external id {external_id!r} (the id given at import)")
    return found


def explain_debtor(session: Session, debtor: str | int, instant: datetime, language: str) -> dict[str, Any]:
    """Whether the debtor may be called at `instant`, every blocking rule, and when it can be."""
    debtor_id = debtor if isinstance(debtor, int) else _debtor_id(session, debtor)
    batch = _load(session, [debtor_id], instant)
    if debtor_id not in batch.debtors:
        raise UnknownDebtor(f"no debtor with id {debtor_id}")
    record = batch.debtors[debtor_id]
    options = list(_options(batch, debtor_id, instant))
    zones = zones_of(record, batch.phones.get(debtor_id, []))
    zone = display_zone(zones)
    verdict = _verdict(Candidate(debtor_id), options)
    option = next((o for o in options if o.phone.id == verdict.phone_id), options[0] if options else None)
    reasons: list[Reason] = list(option.decision.reasons) if option else []
    payload_reasons = [
        {"rule": r.rule_id, "explanation": explain(r, language, zone), "until": r.until,
         "until_local": _local(r.until, zone)}
        for r in reasons
    ]
    if verdict.rule_ids and verdict.rule_ids[0] in (NO_CAMPAIGN, NO_PHONE):
        payload_reasons.append({"rule": verdict.rule_ids[0], "explanation": explain(
            Reason(rule_id=verdict.rule_ids[0]), language, zone), "until": None, "until_local": None})
    return {
        "debtor": record.external_id,
        "name": record.full_name,
        "allowed": verdict.allowed,
        "at": instant.isoformat(),
        "at_local": _local(instant, zone),
        "zones": sorted(zones.zones),
        "zone_source": zones.source,
        "zone_uncertain": zones.uncertain,
        "phone": option.phone.number if option else None,
        "debt": option.debt.external_id if option and option.debt else None,
        "campaign": option.campaign.name if option and option.campaign else None,
        "reasons": payload_reasons,
        "next_allowed_at": verdict.next_allowed_at.isoformat() if verdict.next_allowed_at else
        (instant.isoformat() if verdict.allowed else None),
        "next_allowed_at_local": _local(verdict.next_allowed_at, zone) if verdict.next_allowed_at else
        (_local(instant, zone) if verdict.allowed else None),
    }


def plan_campaigns(session: Session, instant: datetime, chunk: int = 2000) -> dict[str, Any]:
    """For each running campaign: debtors, how many are callable now, how many each rule blocks."""
    plans = []
    for campaign in session.scalars(select(Campaign).where(Campaign.status == "running").order_by(Campaign.name)):
        debtor_ids = list(session.scalars(select(Debt.debtor_id).where(
            Debt.campaign_id == campaign.id, Debt.status == "open").distinct().order_by(Debt.debtor_id)))
        callable_now = 0
        blocked: dict[str, int] = defaultdict(int)
        for start in range(0, len(debtor_ids), chunk):
            part = debtor_ids[start:start + chunk]
            for verdict in evaluate_candidates(session, [Candidate(d) for d in part], instant):
                if verdict.allowed:
                    callable_now += 1
                for rule in verdict.rule_ids:
                    blocked[rule] += 1
        plans.append({"name": campaign.name, "status": campaign.status, "debtors": len(debtor_ids),
                      "callable": callable_now, "blocked": dict(blocked)})
    return {"at": instant.isoformat(), "campaigns": plans}


def callback_slots(session: Session, *, debtor_id: int, phone_id: int, campaign_id: int | None, after: datetime,
                   count: int, slot_minutes: int = 30) -> list[datetime]:
    """The next `count` callback slot starts the rules allow, for a debtor asking now."""
    batch = _load(session, [debtor_id], after, extra_campaign_ids=[campaign_id] if campaign_id else [])
    option = next(_options(batch, debtor_id, after, phone_id=phone_id, campaign_id=campaign_id,
                           requested_callback_at=after, ignore_live=True), None)
    if option is None:
        return []
    return next_slots(option.facts, after=after, count=count, slot_minutes=slot_minutes)


def decide_callback_at(session: Session, debtor_id: int, phone_id: int | None, campaign_id: int | None,
                       instant: datetime, language: str = "en-US", requested_at: datetime | None = None
                       ) -> tuple[bool, list[str]]:
    """Whether a callback booked for `instant` would be allowed then; the reasons if not."""
    batch = _load(session, [debtor_id], instant, extra_campaign_ids=[campaign_id] if campaign_id else [])
    option = next(_options(batch, debtor_id, instant, phone_id=phone_id, campaign_id=campaign_id,
                           requested_callback_at=requested_at or instant, ignore_live=True), None)
    if option is None:
        return False, [explain(Reason(rule_id=NO_PHONE), language)]
    decision = option.decision
    zone = display_zone(zones_of(batch.debtors[debtor_id], batch.phones.get(debtor_id, [])))
    return decision.allowed, [explain(r, language, zone) for r in decision.reasons]


def local_zone_for(session: Session, debtor_id: int) -> str:
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        raise UnknownDebtor(f"no debtor with id {debtor_id}")
    phones = list(session.scalars(select(Phone).where(Phone.debtor_id == debtor_id)))
    return display_zone(zones_of(debtor, phones))


def count_live_attempts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Attempt).where(Attempt.active.is_(True))) or 0
