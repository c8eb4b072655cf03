"""One dialer worker's tick: reconcile, claim, place.

Any number of workers may run against one database. The claim is one
transaction: due candidates are selected (locked with SKIP LOCKED on
PostgreSQL), the rules decide, allowed ones become attempt rows (the database
refuses a second active attempt per debtor), and every candidate's place in
the queue moves to when the rules next allow it. Placing a call then takes a
lease on the attempt (claimed -> dialing, re-checking opt-out, pause and debt
status in the same UPDATE) and asks the carrier with the attempt's idempotency
key. A worker killed anywhere leaves rows the next tick of any worker
reconciles with the carrier.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Insert, and_, bindparam, case, exists, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.compliance.reason import HISTORY_UNAVAILABLE, LIVE_ATTEMPT
from ivr.db import is_postgres, rows_changed
from ivr.dialer.id_lists import one_of
from ivr.dialer.queue import Candidate, due_callbacks, due_debtors
from ivr.models import (
    Attempt,
    AttemptState,
    BlockListEntry,
    Callback,
    Campaign,
    ContactEvent,
    Debt,
    Debtor,
    Phone,
    table_of,
)
from ivr.runtime import Runtime
from ivr.telephony.carrier import (
    CallInfo,
    CallRequest,
    Carrier,
    CarrierError,
    CarrierOutcomeUnknown,
)
from ivr.voice.call_status import apply_call_status
from ivr.voice.disclosure import recording_required
from ivr.voice.urls import answer_url, status_url

log = logging.getLogger(__name__)

# A placed call with no terminal status after this long is asked about.
STALE_CALL = timedelta(minutes=20)
RECONCILE_EVERY = timedelta(minutes=5)  # between two questions about one live call
NOT_PLACED = "not-placed"  # the outcome of an attempt the carrier never saw (ivr.dialer.facts)
# PostgreSQL: how long a claim waits for another worker's locks, and how long a claim's
# transaction may sit idle (its worker stalled) before the server ends it.
CLAIM_LOCK_TIMEOUT_MS = 5_000
CLAIM_IDLE_TIMEOUT_MS = 30_000
# How far before a claim the calls recorded on other attempts to the same number are
# gathered for the carrier lookup to pass over (it reaches back only by its clock skew).
KNOWN_CALLS_REACH = timedelta(hours=1)
# Blocks that lift by themselves without the rules knowing when: look again soon.
RECHECK_SOON = frozenset({LIVE_ATTEMPT, HISTORY_UNAVAILABLE})
# A booked callback blocked for a moment (the debtor's other call still live, a rule that
# lifts within minutes) waits this long past its time before it counts as missed.
CALLBACK_GRACE = timedelta(minutes=15)

CARRIER_TERMINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


# Written as the partial indexes' own WHERE (ix_attempt_live_campaign): SQLite uses a
# partial index only when the query names its condition term for term ("active", not
# "active = 1" nor "active IS 1").
LIVE_ATTEMPT_CONDITION = text("attempt.active")


@cache
def _claim_insert(postgres: bool) -> Insert:
    """The attempt INSERT of a claim, one statement executed with many rows (compiled once,
    batched by SQLAlchemy's insertmanyvalues) rather than a VALUES list recompiled per tick.

    The partial unique index is the last word on "one live call per debtor": a debtor
    another worker claimed meanwhile is skipped, not an error (and returns no row).
    """
    dialect = postgresql if postgres else sqlite
    return (
        dialect.insert(table_of(Attempt))
        .on_conflict_do_nothing(index_elements=["debtor_id"], index_where=text("active"))
        .returning(Attempt.id, Attempt.debtor_id, Attempt.phone_id, Attempt.campaign_id,
                   Attempt.idempotency_key, Attempt.callback_id)
    )


@dataclass(frozen=True)
class Verdict:
    """What the rules say about one candidate at one instant."""

    candidate: Candidate
    allowed: bool
    next_allowed_at: datetime | None
    phone_id: int | None = None
    debt_id: int | None = None
    campaign_id: int | None = None
    rule_ids: tuple[str, ...] = ()


# (session, candidates, now, placing_within) -> one verdict per candidate
Evaluator = Callable[[Session, list[Candidate], datetime, timedelta], list[Verdict]]


@dataclass
class TickReport:
    reconciled: int = 0
    considered: int = 0
    claimed: int = 0
    placed: int = 0
    not_placed: int = 0
    blocked: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    attempt_id: int
    debtor_id: int
    campaign_id: int
    to: str
    caller_id: str
    idempotency_key: str
    created_at: datetime
    record: bool  # BR-RECORD: the debtor's state requires recording
    language: str



@cache
def _lease_statement() -> Any:
    """claimed -> dialing for attempt :lease_attempt claimed at or after :claimed_after, if
    nothing that forbids the call changed since. Built once (its cache key too): it runs for
    every call placed."""
    attempt = table_of(Attempt)
    other, other_phone, this_phone = attempt.alias("other"), table_of(Phone).alias(), table_of(Phone).alias()
    still_allowed = and_(
        exists().where(Campaign.id == attempt.c.campaign_id, Campaign.status == "running"),
        exists().where(Debtor.id == attempt.c.debtor_id, Debtor.voice_opt_out_at.is_(None)),
        exists().where(Phone.id == attempt.c.phone_id, Phone.voice_opt_out_at.is_(None),
                       Phone.wrong_number_at.is_(None)),
        (attempt.c.debt_id.is_(None))
        | exists().where(Debt.id == attempt.c.debt_id, Debt.status == "open", Debt.payment_pending.is_(False)),
        # A number or document put on a block list since the claim.
        ~exists().where(Phone.id == attempt.c.phone_id, BlockListEntry.kind == "phone",
                        BlockListEntry.value == Phone.number),
        ~exists().where(Debtor.id == attempt.c.debtor_id, BlockListEntry.kind == "document",
                        BlockListEntry.value == Debtor.document),
        # A call to the same number (another debtor on a shared line) started since.
        ~exists().where(other.c.active.is_(True), other.c.id != attempt.c.id,
                        other.c.state != AttemptState.CLAIMED.value, other_phone.c.id == other.c.phone_id,
                        other_phone.c.number == this_phone.c.number, this_phone.c.id == attempt.c.phone_id),
    )
    return (
        update(attempt)
        .where(attempt.c.id == bindparam("lease_attempt"), attempt.c.state == AttemptState.CLAIMED.value,
               attempt.c.created_at >= bindparam("claimed_after"), still_allowed)
        .values(state=AttemptState.DIALING.value)
    )


def _locked(session: Session, attempt_id: int) -> Attempt | None:
    """The attempt, its row locked until the session ends (PostgreSQL; SQLite's writes are
    one at a time already), as the status webhook locks it: what is decided from it is not
    undone by a callback or another worker's reconciliation deciding at the same time."""
    return session.get(Attempt, attempt_id, with_for_update={"key_share": True}, populate_existing=True)

class Dialer:
    def __init__(
        self,
        runtime: Runtime,
        carrier: Carrier,
        evaluate: Evaluator,
        worker_id: str | None = None,
        batch: int | None = None,
        tick_seconds: float | None = None,
        pace: Callable[[float], None] = time.sleep,
        prepare_audio: Callable[[Runtime, list[int]], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.carrier = carrier
        self.evaluate = evaluate
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:8]}"
        self.batch = batch or runtime.config.get_int("CORDIAL_DIALER_BATCH")
        self.tick_seconds = tick_seconds or runtime.config.get_float("CORDIAL_DIALER_TICK_SECONDS")
        self.pace = pace
        # Renders each claimed call's personal sentences before it is placed, so no
        # TTS ever runs inside a webhook (ivr.speech.call_audio.prepare_call_audio).
        self.prepare_audio = prepare_audio
        self.place_lease = timedelta(seconds=runtime.config.get_float("CORDIAL_DIALER_PLACE_LEASE_SECONDS"))
        self.requeue = timedelta(seconds=runtime.config.get_float("CORDIAL_DIALER_REQUEUE_SECONDS"))
        # A tick places what it claimed within one tick (its budget is pace x tick); the
        # margin covers the carrier's latency. Claims are only made when the window stays
        # open that long, and the lease refuses to place a call any later.
        self.place_horizon = timedelta(seconds=self.tick_seconds + 5)

    # -- the tick -----------------------------------------------------------

    def tick(self) -> TickReport:
        report = TickReport()
        report.reconciled = self.reconcile()
        claims = self.claim(report)
        self.place(claims, report)
        return report

    # -- claim ----------------------------------------------------------------

    def claim(self, report: TickReport | None = None) -> list[Claim]:
        report = report or TickReport()
        now = self.runtime.clock.now()
        with self.runtime.db.session() as session:
            if is_postgres(session.get_bind()):
                # A worker stalled mid-claim (stopped, cut off) must not hold the campaign
                # rows for good: the server ends its transaction, and a claim that waits on
                # such a lock gives up and is retried at the next tick.
                session.execute(text(f"SET LOCAL lock_timeout = '{CLAIM_LOCK_TIMEOUT_MS}ms'"))
                session.execute(text(
                    f"SET LOCAL idle_in_transaction_session_timeout = '{CLAIM_IDLE_TIMEOUT_MS}ms'"))
            candidates = due_callbacks(session, now, self.batch)
            taken = {c.debtor_id for c in candidates}
            candidates += due_debtors(session, now, self.batch - len(candidates), exclude=taken)
            report.considered = len(candidates)
            if not candidates:
                return []
            verdicts = self.evaluate(session, candidates, now, self.place_horizon)
            budgets = self._budgets(session, {v.campaign_id for v in verdicts if v.allowed and v.campaign_id})
            chosen: list[Verdict] = []
            for verdict in verdicts:
                campaign_id = verdict.campaign_id
                if verdict.allowed and campaign_id is not None and budgets.get(campaign_id, 0) > 0:
                    budgets[campaign_id] -= 1
                    chosen.append(verdict)
                elif not verdict.allowed:
                    for rule in verdict.rule_ids:
                        report.blocked[rule] = report.blocked.get(rule, 0) + 1
            chosen = self._one_per_number(session, chosen)
            claims = self._insert_attempts(session, chosen, now)
            claimed_debtors = {c.debtor_id for c in claims}
            self._requeue(session, verdicts, claimed_debtors, now)
            report.claimed = len(claims)
        if claims and self.prepare_audio is not None:
            self.prepare_audio(self.runtime, [c.attempt_id for c in claims])
        return claims

    @staticmethod
    def _one_per_number(session: Session, chosen: list[Verdict]) -> list[Verdict]:
        """At most one call per number in a batch: debtors who share a home line are
        called one after the other (the others wait for the next tick)."""
        numbers = dict(session.execute(
            select(Phone.id, Phone.number).where(Phone.id.in_({v.phone_id for v in chosen if v.phone_id}))
        ).tuples().all())
        seen: set[str] = set()
        kept = []
        for verdict in chosen:
            number = numbers.get(verdict.phone_id) if verdict.phone_id else None
            if number is not None and number in seen:
                continue
            if number is not None:
                seen.add(number)
            kept.append(verdict)
        return kept

    def _budgets(self, session: Session, campaign_ids: set[int]) -> dict[int, int]:
        """How many new calls each campaign may start this tick (pace and concurrency).

        The campaign rows are locked so that workers claiming at once share one budget.
        """
        if not campaign_ids:
            return {}
        query = (select(Campaign).where(Campaign.id.in_(campaign_ids), Campaign.status == "running")
                 .order_by(Campaign.id))  # workers lock campaigns in one order: no deadlock
        if is_postgres(session.get_bind()):
            # NO KEY UPDATE: rows that merely reference the campaign (attempts, callbacks,
            # debts, events: their foreign-key checks take KEY SHARE) are not held up.
            query = query.with_for_update(key_share=True)
        campaigns = session.scalars(query).all()
        # Live calls, and of them those claimed within the last tick by any worker: the
        # pace is the campaign's, shared by every worker (each claims while holding the
        # campaign's row, and commits before letting go of it).
        recent = Attempt.created_at > self.runtime.clock.now() - timedelta(seconds=self.tick_seconds)
        counts = {
            campaign_id: (live, just_claimed or 0)
            for campaign_id, live, just_claimed in session.execute(
                select(Attempt.campaign_id, func.count(), func.sum(case((recent, 1), else_=0)))
                .where(LIVE_ATTEMPT_CONDITION, Attempt.campaign_id.in_(campaign_ids))
                .group_by(Attempt.campaign_id)
            ).tuples()
        }
        budgets = {}
        for c in campaigns:
            live, just_claimed = counts.get(c.id, (0, 0))
            pace = math.ceil(c.calls_per_second * self.tick_seconds) - just_claimed
            budgets[c.id] = max(0, min(c.max_concurrent - live, pace))
        return budgets

    def _insert_attempts(self, session: Session, chosen: list[Verdict], now: datetime) -> list[Claim]:
        if not chosen:
            return []
        rows: list[dict[str, Any]] = [
            {
                "debtor_id": v.candidate.debtor_id,
                "phone_id": v.phone_id,
                "debt_id": v.debt_id,
                "campaign_id": v.campaign_id,
                "callback_id": v.candidate.callback_id,
                "state": AttemptState.CLAIMED.value,
                "active": True,
                "idempotency_key": uuid.uuid4().hex,
                "worker": self.worker_id,
                "created_at": now,
            }
            for v in chosen
        ]
        postgres = is_postgres(session.get_bind())
        inserted = session.execute(_claim_insert(postgres), rows).all()
        if not inserted:
            return []
        phones = dict(session.execute(select(Phone.id, Phone.number).where(
            one_of(Phone.id, {r.phone_id for r in inserted}, postgres))).tuples().all())
        caller_ids = dict(session.execute(select(Campaign.id, Campaign.caller_id).where(
            Campaign.id.in_({r.campaign_id for r in inserted}))).tuples().all())
        places = {row.id: row for row in session.execute(select(
            Debtor.id, Debtor.country, Debtor.state, Debtor.language).where(
            one_of(Debtor.id, {r.debtor_id for r in inserted}, postgres)))}
        callback_ids = [r.callback_id for r in inserted if r.callback_id]
        if callback_ids:
            session.execute(update(Callback).where(one_of(Callback.id, callback_ids, postgres))
                            .values(status="dialing"))
        session.execute(
            table_of(ContactEvent).insert(),
            [
                {"debtor_id": r.debtor_id, "attempt_id": r.id, "phone_id": r.phone_id, "kind": "attempt.claimed",
                 "channel": "voice", "actor": self.worker_id, "occurred_at": now,
                 "data": {"campaign_id": r.campaign_id, "callback_id": r.callback_id}}
                for r in inserted
            ],
        )
        return [
            Claim(attempt_id=r.id, debtor_id=r.debtor_id, campaign_id=r.campaign_id, to=phones[r.phone_id],
                  caller_id=caller_ids[r.campaign_id], idempotency_key=r.idempotency_key, created_at=now,
                  record=recording_required(places[r.debtor_id].country, places[r.debtor_id].state),
                  language=places[r.debtor_id].language)
            for r in inserted
        ]

    @staticmethod
    def _callback_can_wait(verdict: Verdict, next_try: datetime | None, now: datetime) -> bool:
        """A blocked callback stays booked (and is tried again) while its block lifts within
        CALLBACK_GRACE of its time."""
        due_at = verdict.candidate.callback_due_at
        if due_at is None or next_try is None:
            return False
        due_at = due_at if due_at.tzinfo else due_at.replace(tzinfo=now.tzinfo)
        last_chance = due_at + CALLBACK_GRACE
        return now < last_chance and next_try < last_chance

    def _requeue(self, session: Session, verdicts: list[Verdict], claimed: set[int], now: datetime) -> None:
        """Move every considered debtor to when the rules next allow a call."""
        by_time: dict[datetime | None, list[int]] = {}
        missed_callbacks: list[int] = []
        for v in verdicts:
            debtor_id = v.candidate.debtor_id
            if debtor_id in claimed:
                when: datetime | None = now + self.requeue
            elif v.allowed:
                when = now + timedelta(seconds=self.tick_seconds)  # over budget: next tick
            else:
                when = v.next_allowed_at
                if when is None and RECHECK_SOON.intersection(v.rule_ids):
                    when = now + self.requeue
                if v.candidate.callback_id and not self._callback_can_wait(v, when, now):
                    missed_callbacks.append(v.candidate.callback_id)
            if v.candidate.callback_id and debtor_id not in claimed:
                # A callback's verdict is about its own phone, debt and campaign: it says
                # nothing of when the debtor's other debts may be called.
                continue
            by_time.setdefault(when, []).append(debtor_id)
        postgres = is_postgres(session.get_bind())
        for when, ids in by_time.items():
            session.execute(update(Debtor).where(one_of(Debtor.id, ids, postgres)).values(next_call_at=when))
        if missed_callbacks:
            session.execute(update(Callback).where(one_of(Callback.id, missed_callbacks, postgres))
                            .values(status="missed"))

    # -- place ----------------------------------------------------------------

    def place(self, claims: list[Claim], report: TickReport | None = None) -> None:
        report = report or TickReport()
        spacing: dict[int, float] = {}
        if claims:
            with self.runtime.db.session() as session:
                spacing = {c.id: 1.0 / max(c.calls_per_second, 0.001) for c in session.scalars(
                    select(Campaign).where(Campaign.id.in_({c.campaign_id for c in claims})))}
        last_at: dict[int, float] = {}
        for claim in claims:
            wait = last_at.get(claim.campaign_id, -math.inf) + spacing.get(claim.campaign_id, 0) - time.monotonic()
            if wait > 0:
                self.pace(wait)
            last_at[claim.campaign_id] = time.monotonic()
            try:
                placed = self.place_one(claim)
            except Exception:  # the others' windows are running out: go on with them
                # The attempt stays claimed or dialing: reconciliation settles it.
                log.exception("attempt %s: placing failed", claim.attempt_id)
                placed = False
            if placed:
                report.placed += 1
            else:
                report.not_placed += 1

    def place_one(self, claim: Claim) -> bool:
        now = self.runtime.clock.now()
        with self.runtime.db.session() as session:
            if not self._take_lease(session, claim.attempt_id, now - self.place_horizon):
                self._finish(session, claim.attempt_id, AttemptState.CANCELED, now, outcome=NOT_PLACED,
                             kind="attempt.not_placed", data={"why": "blocked-before-placing"},
                             only_from=AttemptState.CLAIMED.value)
                return False
            known = self._calls_of_other_attempts(session, claim.to, claim.attempt_id, claim.created_at)
        config = self.runtime.config
        request = CallRequest(
            to=claim.to, from_=claim.caller_id, url=answer_url(config, claim.attempt_id, claim.language),
            status_callback=status_url(config, claim.attempt_id), idempotency_key=claim.idempotency_key,
            machine_detection=True, record=claim.record, not_before=claim.created_at, known_call_sids=known,
            # The claim's checks (the window above all) hold for place_horizon after it.
            place_by=claim.created_at + self.place_horizon,
        )
        try:
            info = self.carrier.place_call(request)
        except CarrierOutcomeUnknown as exc:
            # The call may exist: the attempt stays live (dialing), so the debtor gets no
            # second call, and reconciliation adopts the call or fails the attempt.
            log.warning("attempt %s: the carrier may have placed the call: %s", claim.attempt_id, exc)
            with self.runtime.db.session() as session:
                attempt = session.get(Attempt, claim.attempt_id)
                if attempt is not None:
                    session.add(ContactEvent(debtor_id=attempt.debtor_id, attempt_id=attempt.id,
                                             phone_id=attempt.phone_id, kind="attempt.placement_unknown",
                                             actor=self.worker_id, occurred_at=self.runtime.clock.now(),
                                             data={"error": str(exc)[:300]}))
            return False
        except CarrierError as exc:
            log.warning("attempt %s: carrier refused the call: %s", claim.attempt_id, exc)
            with self.runtime.db.session() as session:
                self._finish(session, claim.attempt_id, AttemptState.FAILED, self.runtime.clock.now(),
                             outcome="carrier-error", kind="attempt.failed", data={"error": str(exc)[:300]},
                             only_from=AttemptState.DIALING.value)
            return False
        with self.runtime.db.session() as session:
            self._adopt(session, claim.attempt_id, info, self.runtime.clock.now())
        return True

    def _take_lease(self, session: Session, attempt_id: int, claimed_after: datetime) -> bool:
        """claimed -> dialing, only if nothing changed that forbids the call since the claim
        and the claim is recent enough that its window check still holds."""
        if is_postgres(session.get_bind()):
            # Leases of one number, in any worker, one at a time until their transaction ends:
            # each sees the other's call (the check above reads only committed rows).
            session.execute(text(
                "SELECT pg_advisory_xact_lock(hashtextextended(p.number, 0)) "
                "FROM attempt a JOIN phone p ON p.id = a.phone_id WHERE a.id = :id"), {"id": attempt_id})
        result = session.execute(_lease_statement(), {"lease_attempt": attempt_id, "claimed_after": claimed_after})
        return rows_changed(result) == 1

    @staticmethod
    def _calls_of_other_attempts(session: Session, number: str, attempt_id: int,
                                 claimed_at: datetime) -> frozenset[str]:
        """The calls to `number` recorded on other attempts around this claim. A lookup
        for this attempt's call (before a retry, or by reconciliation) reaches back a
        little before the claim, where the debtor's previous call may still be."""
        return frozenset(session.scalars(
            select(Attempt.carrier_call_sid).join(Phone, Phone.id == Attempt.phone_id)
            .where(Phone.number == number, Attempt.id != attempt_id, Attempt.carrier_call_sid.is_not(None),
                   Attempt.placed_at >= claimed_at - KNOWN_CALLS_REACH)
        ))

    def _adopt(self, session: Session, attempt_id: int, info: CallInfo, now: datetime) -> None:
        """Record the carrier's call on the attempt (placed, or found by reconciliation)."""
        attempt = _locked(session, attempt_id)
        if attempt is None:
            return
        attempt.carrier_call_sid = info.sid
        attempt.placed_at = attempt.placed_at or now
        if attempt.state in (AttemptState.CLAIMED, AttemptState.DIALING):
            attempt.state = AttemptState.QUEUED.value
        session.add(ContactEvent(debtor_id=attempt.debtor_id, attempt_id=attempt.id, phone_id=attempt.phone_id,
                                 kind="attempt.placed", actor=self.worker_id, occurred_at=now,
                                 data={"call_sid": info.sid}))
        if info.status in CARRIER_TERMINAL:
            self._apply_terminal(session, attempt, info, now)

    def _finish(self, session: Session, attempt_id: int, state: AttemptState, now: datetime, *, outcome: str,
                kind: str, data: dict[str, Any], only_from: str) -> None:
        """End the attempt as `state`, if it is still in the state `only_from` this worker
        saw: a status callback, or another worker's reconciliation, may have moved it on
        meanwhile (the phone ringing), and then it is theirs."""
        attempt = _locked(session, attempt_id)
        if attempt is None or not attempt.active or attempt.state != only_from:
            return
        attempt.state = state.value
        attempt.active = False
        attempt.ended_at = now
        attempt.outcome = outcome
        if attempt.callback_id:
            session.execute(update(Callback).where(Callback.id == attempt.callback_id, Callback.status == "dialing")
                            .values(status="missed"))
        session.add(ContactEvent(debtor_id=attempt.debtor_id, attempt_id=attempt.id, phone_id=attempt.phone_id,
                                 kind=kind, actor=self.worker_id, occurred_at=now, data=data))

    def _apply_terminal(self, session: Session, attempt: Attempt, info: CallInfo, now: datetime) -> None:
        apply_call_status(session, attempt, info.status, now=info.end_time or now, call_sid=info.sid,
                          duration_seconds=info.duration_seconds, answered_by=info.answered_by,
                          actor=self.worker_id)

    # -- reconcile ------------------------------------------------------------

    def reconcile(self, limit: int = 100) -> int:
        """Settle attempts left behind by dead workers or lost status callbacks."""
        now = self.runtime.clock.now()
        done = 0
        with self.runtime.db.session() as session:
            before_placing = [AttemptState.CLAIMED.value, AttemptState.DIALING.value]
            unplaced = list(session.scalars(
                select(Attempt).where(Attempt.active.is_(True), Attempt.state.in_(before_placing),
                                      Attempt.created_at < now - self.place_lease).limit(limit)
            ))
            # A worker that died between placing and recording the call leaves an attempt that
            # status callbacks moved on (their call id, no placed_at); when the call's last
            # callback was lost too, only its age tells that it is over.
            # Each is asked about at most every RECONCILE_EVERY (a long agent call is not
            # fetched at every tick), the longest unasked first (none is starved), and by one
            # worker (the others skip the rows it took; its mark is committed with them).
            due = func.coalesce(Attempt.reconcile_after, Attempt.placed_at, Attempt.created_at)
            query = (select(Attempt)
                     .where(Attempt.active.is_(True), Attempt.carrier_call_sid.is_not(None),
                            func.coalesce(Attempt.placed_at, Attempt.created_at) < now - STALE_CALL,
                            (Attempt.reconcile_after.is_(None)) | (Attempt.reconcile_after <= now))
                     .order_by(due, Attempt.id).limit(limit))
            if is_postgres(session.get_bind()):
                query = query.with_for_update(skip_locked=True, key_share=True)
            stale = session.scalars(query).all()
            for row in stale:
                row.reconcile_after = now + RECONCILE_EVERY
            # Moved on by a callback that carried no call id: look its call up as for a lost worker.
            unplaced += session.scalars(
                select(Attempt).where(Attempt.active.is_(True), Attempt.state.not_in(before_placing),
                                      Attempt.carrier_call_sid.is_(None),
                                      Attempt.created_at < now - STALE_CALL).limit(limit)
            ).all()
            pending = [(a.id, a.state, a.carrier_call_sid, self._request_for(session, a)) for a in unplaced]
            stale_sids = [(a.id, a.carrier_call_sid) for a in stale if a.carrier_call_sid]
        for attempt_id, state, _sid, request in pending:
            try:
                found = self.carrier.find_call(request) if state != AttemptState.CLAIMED.value else None
            except CarrierError as exc:
                log.warning("attempt %s: cannot reconcile yet: %s", attempt_id, exc)
                continue
            with self.runtime.db.session() as session:
                if found:
                    self._adopt(session, attempt_id, found, now)
                else:
                    if state in (AttemptState.CLAIMED.value, AttemptState.DIALING.value):
                        self._finish(session, attempt_id, AttemptState.FAILED, now, outcome=NOT_PLACED,
                                     kind="attempt.not_placed", data={"why": "worker-lost-before-placing"},
                                     only_from=state)
                    else:  # a status callback came for it: there was a call, which counts
                        self._finish(session, attempt_id, AttemptState.FAILED, now, outcome="call-lost",
                                     kind="attempt.failed", data={"why": "call-not-found"}, only_from=state)
            done += 1
        for attempt_id, sid in stale_sids:
            try:
                info = self.carrier.fetch_call(sid)
            except CarrierError as exc:
                log.warning("attempt %s: cannot fetch call %s: %s", attempt_id, sid, exc)
                continue
            if info.status in CARRIER_TERMINAL:
                with self.runtime.db.session() as session:
                    ended = _locked(session, attempt_id)
                    if ended is not None:
                        self._apply_terminal(session, ended, info, now)
                done += 1
        return done

    def _request_for(self, session: Session, attempt: Attempt) -> CallRequest:
        phone = session.get(Phone, attempt.phone_id)
        campaign = session.get(Campaign, attempt.campaign_id) if attempt.campaign_id else None
        config = self.runtime.config
        number = phone.number if phone else ""
        return CallRequest(
            to=number, from_=campaign.caller_id if campaign else "",
            url=answer_url(config, attempt.id), status_callback=status_url(config, attempt.id),
            idempotency_key=attempt.idempotency_key, not_before=attempt.created_at,
            known_call_sids=self._calls_of_other_attempts(session, number, attempt.id, attempt.created_at),
        )
