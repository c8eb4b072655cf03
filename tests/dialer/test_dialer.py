"""The dialer's tick on both databases: claims only what the rules allow, paces,
and never places a call that became forbidden after the claim."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from ivr.app import create_app
from ivr.dialer.campaigns import pause_campaign, start_campaign
from ivr.dialer.dialer import Claim, Dialer, TickReport
from ivr.dialer.facts import evaluate_candidates
from ivr.dialer.queue import Candidate
from ivr.models import (
    Attempt,
    BlockListEntry,
    Callback,
    Campaign,
    ContactEvent,
    Debt,
    Debtor,
    Phone,
)
from ivr.telephony.emulator import CarrierEmulator, WsgiTransport
from ivr.telephony.emulator.personas import Persona
from tests import factories

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 12:00 in São Paulo


class Network:
    """The local carrier emulator, reached through the twilio SDK in-process. Its network
    side is run only where a test gives it the app to reach: these tests are about what
    the dialer asks of the carrier."""

    def __init__(self, runtime, **emulator_options) -> None:
        self.emulator = CarrierEmulator(clock=runtime.clock, **emulator_options)
        self.carrier = self.emulator.carrier()

    @property
    def calls(self):
        return self.emulator.calls

    def numbers_called(self) -> list[str]:
        return [c.to for c in self.emulator.calls.values()]


def make_dialer(runtime, network: Network | None = None, **kwargs) -> tuple[Dialer, Network]:
    network = network or Network(runtime)
    return Dialer(runtime, network.carrier, evaluate_candidates, worker_id="t1", tick_seconds=1,
                  pace=lambda s: None, **kwargs), network


def attempts(runtime) -> list[Attempt]:
    with runtime.db.session() as s:
        return list(s.scalars(select(Attempt).order_by(Attempt.id)))


def test_tick_places_one_call_per_allowed_debtor_with_events(runtime) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        ids = [factories.debtor(s, camp, next_call_at=NOW).id for _ in range(5)]
    dialer, carrier = make_dialer(runtime)
    report = dialer.tick()
    assert (report.claimed, report.placed) == (5, 5)
    rows = attempts(runtime)
    assert sorted(a.debtor_id for a in rows) == sorted(ids)
    assert all(a.state == "queued" and a.active and a.carrier_call_sid for a in rows)
    assert len(set(carrier.numbers_called())) == 5
    assert {c.url for c in carrier.calls.values()} == {
        f"http://127.0.0.1:5000/voice/answer?attempt={a.id}&lang=pt-BR" for a in rows}
    assert all(c.record for c in carrier.calls.values())  # São Paulo: BR-RECORD
    with runtime.db.session() as s:
        kinds = s.scalars(select(ContactEvent.kind)).all()
    assert kinds.count("attempt.claimed") == 5 and kinds.count("attempt.placed") == 5


def test_a_debtor_with_a_live_call_is_not_called_again(runtime, clock) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        factories.debtor(s, camp, next_call_at=NOW)
    dialer, carrier = make_dialer(runtime)
    dialer.tick()
    clock.advance(timedelta(minutes=10))  # past the re-queue delay; the call is still live
    report = dialer.tick()
    assert report.claimed == 0 and len(carrier.calls) == 1
    with runtime.db.session() as s:
        assert s.scalar(select(Debtor.next_call_at)) > clock.now()


def test_blocked_debtors_are_never_claimed_and_wait_for_their_next_allowed_instant(runtime, clock) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        opted = factories.debtor(s, camp, next_call_at=NOW, voice_opt_out_at=NOW - timedelta(days=1))
        paid = factories.debtor(s, camp, next_call_at=NOW, status="paid")
        wrong = factories.debtor(s, camp, next_call_at=NOW)
        s.execute(update(Phone).where(Phone.debtor_id == wrong.id).values(wrong_number_at=NOW))
        listed = factories.debtor(s, camp, next_call_at=NOW)
        s.add(BlockListEntry(kind="phone", value=s.scalar(select(Phone.number).where(Phone.debtor_id == listed.id)),
                             source="procon-sp"))
        ok = factories.debtor(s, camp, next_call_at=NOW)
    clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # 20:30 in São Paulo: window closed
    dialer, carrier = make_dialer(runtime)
    assert dialer.tick().claimed == 0
    with runtime.db.session() as s:
        queue = dict(s.execute(select(Debtor.id, Debtor.next_call_at)).tuples().all())
    # The allowed debtor waits for 08:00 tomorrow in São Paulo; the others for a change of facts.
    assert queue[ok.id] == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    assert queue[opted.id] is None and queue[wrong.id] is None and queue[listed.id] is None
    assert paid.id not in {a.debtor_id for a in attempts(runtime)}
    clock.set(queue[ok.id])
    assert dialer.tick().claimed == 1
    assert carrier.numbers_called() == [s_number(runtime, ok.id)]


def s_number(runtime, debtor_id: int) -> str:
    with runtime.db.session() as s:
        return s.scalar(select(Phone.number).where(Phone.debtor_id == debtor_id))


@pytest.mark.parametrize(
    "change", ["pause", "opt_out", "paid", "wrong_number", "blocked_number", "blocked_document"]
)
def test_a_call_forbidden_between_claim_and_placing_is_not_placed(runtime, change: str) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        d = factories.debtor(s, camp, next_call_at=NOW)
    dialer, carrier = make_dialer(runtime)
    claims = dialer.claim()
    assert len(claims) == 1
    with runtime.db.session() as s:
        if change == "pause":
            pause_campaign(s, "Test")
        elif change == "opt_out":
            s.get(Debtor, d.id).voice_opt_out_at = NOW
        elif change == "paid":
            s.execute(update(Debt).where(Debt.debtor_id == d.id).values(status="paid"))
        elif change == "blocked_number":
            s.add(BlockListEntry(kind="phone", value=s_number(runtime, d.id), source="procon-sp"))
        elif change == "blocked_document":
            s.add(BlockListEntry(kind="document", value=s.get(Debtor, d.id).document))
        else:
            s.execute(update(Phone).where(Phone.debtor_id == d.id).values(wrong_number_at=NOW))
    dialer.place(claims)
    assert carrier.calls == {}
    (attempt,) = attempts(runtime)
    assert (attempt.state, attempt.active, attempt.outcome) == ("canceled", False, "not-placed")


def test_pausing_a_campaign_stops_new_claims_and_starting_it_requeues(runtime, clock) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        for _ in range(3):
            factories.debtor(s, camp, next_call_at=None)
    dialer, carrier = make_dialer(runtime)
    assert dialer.tick().claimed == 0  # nobody queued until the campaign starts
    with runtime.db.session() as s:
        start_campaign(s, "Test", clock.now())
        pause_campaign(s, "Test")
    assert dialer.tick().claimed == 0
    with runtime.db.session() as s:
        start_campaign(s, "Test", clock.now())
    # the pause pushed them out of the queue; starting puts them back
    assert dialer.tick().claimed == 3


def test_max_concurrent_and_calls_per_second_bound_each_tick(runtime) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s, max_concurrent=2)
        for _ in range(5):
            factories.debtor(s, camp, next_call_at=NOW)
        slow = factories.campaign(s, name="Slow", cps=1.0)
        for _ in range(4):
            factories.debtor(s, slow, next_call_at=NOW)
    dialer, carrier = make_dialer(runtime)
    report = dialer.tick()
    by_campaign: dict[int, int] = {}
    for a in attempts(runtime):
        by_campaign[a.campaign_id] = by_campaign.get(a.campaign_id, 0) + 1
    assert sorted(by_campaign.values()) == [1, 2]  # 1 cps x 1 s tick; 2 concurrent
    assert report.placed == 3


def test_carrier_refusal_fails_the_attempt_and_frees_the_debtor(runtime) -> None:
    with runtime.db.session() as s:
        factories.debtor(s, factories.campaign(s), next_call_at=NOW)
    network = Network(runtime)
    network.emulator.faults.fail_next("calls.create", count=1, status=400)  # e.g. an invalid caller ID
    dialer, _ = make_dialer(runtime, network)
    report = dialer.tick()
    assert (report.claimed, report.placed, report.not_placed) == (1, 0, 1)
    (attempt,) = attempts(runtime)
    assert (attempt.state, attempt.active, attempt.outcome) == ("failed", False, "carrier-error")


def test_a_placement_the_carrier_may_have_made_stays_live_until_reconciled(runtime, clock) -> None:
    """The carrier failed every try, the last one after creating the call: the attempt is
    not failed (that would free the debtor for a second call while the first rings); it
    stays dialing until reconciliation finds the call."""
    with runtime.db.session() as s:
        factories.debtor(s, factories.campaign(s, min_minutes_between_attempts=0), next_call_at=NOW)
    network = Network(runtime)
    network.emulator.faults.fail_next("calls.create", count=4, status=503)
    network.emulator.faults.fail_next("calls.create", count=1, status=500, after_effect=True)
    dialer, _ = make_dialer(runtime, network)
    report = dialer.tick()
    assert (report.claimed, report.placed, report.not_placed) == (1, 0, 1)
    (attempt,) = attempts(runtime)
    assert (attempt.state, attempt.active, attempt.carrier_call_sid) == ("dialing", True, None)
    with runtime.db.session() as s:
        kinds = s.scalars(select(ContactEvent.kind).where(ContactEvent.attempt_id == attempt.id)).all()
    assert "attempt.placement_unknown" in kinds and "attempt.failed" not in kinds
    clock.advance(timedelta(seconds=30))
    assert dialer.claim() == []  # the debtor's call may be ringing: no second one
    clock.advance(dialer.place_lease)
    assert dialer.reconcile() == 1
    (attempt,) = attempts(runtime)
    [call] = network.calls.values()
    assert (attempt.state, attempt.active, attempt.carrier_call_sid) == ("queued", True, call.sid)


def test_the_carrier_is_told_to_place_the_call_only_while_the_claims_checks_hold(runtime, clock) -> None:
    with runtime.db.session() as s:
        factories.debtor(s, factories.campaign(s), next_call_at=NOW)
    dialer, network = make_dialer(runtime)
    asked = []
    place_call = network.carrier.place_call
    network.carrier.place_call = lambda request: asked.append(request) or place_call(request)
    assert dialer.tick().placed == 1
    (attempt,) = attempts(runtime)
    assert [r.place_by for r in asked] == [attempt.created_at + dialer.place_horizon]


def test_a_debtor_without_a_state_is_called_under_the_law_of_the_state_their_phone_serves(
    runtime, clock
) -> None:
    """No state in the address, a Rio number: Rio's law (no calls on Saturdays) binds."""
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        factories.debtor(s, camp, state=None, number="+5521987650001", next_call_at=NOW)
        factories.debtor(s, camp, state=None, number="+5511987650002", next_call_at=NOW)
    clock.set(datetime(2026, 11, 28, 13, 0, tzinfo=UTC))  # Saturday 10:00 in Rio and São Paulo
    dialer, network = make_dialer(runtime)
    report = dialer.tick()
    assert network.numbers_called() == ["+5511987650002"]
    assert report.blocked == {"BR-RJ-HOURS": 1}


def test_reconcile_adopts_a_call_placed_by_a_worker_that_died_and_fails_unplaced_claims(runtime, clock) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        factories.debtor(s, camp, next_call_at=NOW)
        factories.debtor(s, camp, next_call_at=NOW)
    dialer, carrier = make_dialer(runtime)
    first, second = dialer.claim()
    # Worker 1 took the lease and reached the carrier, then died before recording it.
    with runtime.db.session() as s:
        assert dialer._take_lease(s, first.attempt_id, clock.now() - dialer.place_horizon)
    from ivr.telephony.carrier import CallRequest
    from ivr.voice.urls import answer_url, status_url

    carrier.carrier.place_call(CallRequest(
        to=first.to, from_=first.caller_id, url=answer_url(runtime.config, first.attempt_id),
        status_callback=status_url(runtime.config, first.attempt_id), idempotency_key=first.idempotency_key,
        not_before=first.created_at))
    # The second claim never reached the carrier.
    clock.advance(dialer.place_lease + timedelta(seconds=1))
    other = Dialer(runtime, carrier.carrier, evaluate_candidates, worker_id="t2", tick_seconds=1,
                   pace=lambda s: None)
    assert other.reconcile() == 2
    rows = {a.id: a for a in attempts(runtime)}
    assert rows[first.attempt_id].carrier_call_sid and rows[first.attempt_id].state == "queued"
    assert (rows[second.attempt_id].state, rows[second.attempt_id].active) == ("failed", False)
    assert len(carrier.calls) == 1  # nothing was placed twice


def test_reconcile_settles_a_call_whose_worker_died_after_its_first_callback(runtime, clock) -> None:
    """The worker placed the call and died before recording it; the carrier's "ringing"
    callback gave the attempt its call id (no placed_at), and the call's last callback was
    lost. Reconciliation still finds it by age: the debtor is not blocked for good."""
    from ivr.telephony.carrier import CallRequest
    from ivr.voice.call_status import apply_call_status
    from ivr.voice.urls import answer_url, status_url

    with runtime.db.session() as s:
        factories.debtor(s, factories.campaign(s), next_call_at=NOW)
    dialer, network = make_dialer(runtime)
    (claim,) = dialer.claim()
    with runtime.db.session() as s:
        assert dialer._take_lease(s, claim.attempt_id, clock.now() - dialer.place_horizon)
    info = network.carrier.place_call(CallRequest(
        to=claim.to, from_=claim.caller_id, url=answer_url(runtime.config, claim.attempt_id),
        status_callback=status_url(runtime.config, claim.attempt_id),
        idempotency_key=claim.idempotency_key, not_before=claim.created_at))
    with runtime.db.session() as s:  # the status webhook, as the "ringing" callback arrives
        apply_call_status(s, s.get_one(Attempt, claim.attempt_id), "ringing", now=clock.now(),
                          call_sid=info.sid)
    network.carrier.end_call(info.sid)  # hung up while ringing; its last callback is lost
    clock.advance(timedelta(minutes=5))
    assert dialer.reconcile() == 0  # a call may well ring and talk this long
    clock.advance(timedelta(hours=1))
    assert dialer.reconcile() == 1
    (attempt,) = attempts(runtime)
    assert (attempt.state, attempt.active, attempt.carrier_call_sid) == ("canceled", False, info.sid)
    assert attempt.placed_at is not None


def test_reconcile_leaves_an_attempt_a_status_callback_moved_on_meanwhile(runtime, clock) -> None:
    """The carrier's call list lags: reconciliation's look-up misses the call while its
    "ringing" callback arrives. The attempt is the callback's now: failing it would free
    the debtor for a second call while the phone rings."""
    from ivr.voice.call_status import apply_call_status

    with runtime.db.session() as s:
        factories.debtor(s, factories.campaign(s), next_call_at=NOW)
    dialer, network = make_dialer(runtime)
    (claim,) = dialer.claim()
    with runtime.db.session() as s:
        assert dialer._take_lease(s, claim.attempt_id, clock.now() - dialer.place_horizon)
    clock.advance(dialer.place_lease + timedelta(seconds=1))

    def lagging_lookup(request):
        with runtime.db.session() as s:  # the status webhook, meanwhile
            apply_call_status(s, s.get_one(Attempt, claim.attempt_id), "ringing", now=clock.now(),
                              call_sid="CA" + "7" * 32)
        return None

    network.carrier.find_call = lagging_lookup
    dialer.reconcile()
    (attempt,) = attempts(runtime)
    assert (attempt.state, attempt.active, attempt.outcome) == ("ringing", True, None)
    with runtime.db.session() as s:
        kinds = s.scalars(select(ContactEvent.kind).where(ContactEvent.attempt_id == attempt.id)).all()
    assert "attempt.not_placed" not in kinds


def test_reconciliation_reaches_every_live_call_and_asks_about_each_one_every_few_minutes(
    runtime, clock
) -> None:
    """120 long agent calls still in progress and one call whose last callback was lost:
    the lost one is settled within two ticks (the longest unasked first), and a call just
    asked about is not asked about again at every tick."""
    from ivr.dialer.dialer import RECONCILE_EVERY
    from ivr.telephony.carrier import CallInfo

    with runtime.db.session() as s:
        camp = factories.campaign(s)
        debtors = [factories.debtor(s, camp) for _ in range(121)]
        s.flush()
        for i, d in enumerate(debtors):
            phone_id = s.scalar(select(Phone.id).where(Phone.debtor_id == d.id))
            s.add(Attempt(debtor_id=d.id, phone_id=phone_id, campaign_id=camp.id, state="in-progress",
                          active=True, idempotency_key=f"long-{i}", carrier_call_sid=f"CA{i:032d}",
                          created_at=NOW - timedelta(hours=1, minutes=i % 7),
                          placed_at=NOW - timedelta(hours=1, minutes=i % 7)))
    lost = f"CA{120:032d}"
    dialer, network = make_dialer(runtime)
    asked: list[str] = []

    def fetch_call(sid: str) -> CallInfo:
        asked.append(sid)
        status = "completed" if sid == lost else "in-progress"
        return CallInfo(sid=sid, status=status, to="", from_="", duration_seconds=60 if sid == lost else None)

    network.carrier.fetch_call = fetch_call
    dialer.reconcile()
    clock.advance(timedelta(seconds=2))
    dialer.reconcile()
    assert lost in asked and len(asked) == len(set(asked)) == 121  # each asked once
    with runtime.db.session() as s:
        assert s.scalar(select(Attempt.state).where(Attempt.carrier_call_sid == lost)) == "completed"
    asked.clear()
    clock.advance(timedelta(seconds=2))
    dialer.reconcile()
    assert asked == []  # nothing is due again yet
    clock.advance(RECONCILE_EVERY)
    dialer.reconcile()
    assert len(asked) == 100  # asked about again, a batch at a time


def _recalled_a_second_after_a_busy_call(runtime, clock) -> tuple[Dialer, Network, str, Claim]:
    """A debtor whose first call got a busy signal at once, claimed again one second
    later (the campaign re-calls busy numbers at once): the first call is younger than
    the carrier lookup's allowance for clock skew (2 s)."""
    with runtime.db.session() as s:
        camp = factories.campaign(s, min_minutes_between_attempts=0, retry_busy_minutes=0)
        factories.debtor(s, camp, country="US", state="TX", consent=True, next_call_at=NOW)
    network = Network(runtime, transport=WsgiTransport(create_app({"TESTING": True}, runtime=runtime)))
    dialer, _ = make_dialer(runtime, network)
    dialer.requeue = timedelta(seconds=1)  # as with CORDIAL_DIALER_REQUEUE_SECONDS=1
    with runtime.db.session() as s:
        number = s.scalar(select(Phone.number))
    network.emulator.assign_persona(number, Persona("busy-at-once", answer="busy", ring_seconds=0))
    assert dialer.tick().placed == 1
    network.emulator.run_until_idle()
    (first,) = attempts(runtime)
    assert (first.state, first.active) == ("busy", False)
    clock.advance(timedelta(seconds=1))
    (claim,) = dialer.claim()
    return dialer, network, first.carrier_call_sid, claim


def test_reconcile_never_takes_the_debtors_previous_call_for_a_lost_claim(runtime, clock) -> None:
    dialer, network, first_sid, claim = _recalled_a_second_after_a_busy_call(runtime, clock)
    # The worker took the lease, then died before reaching the carrier.
    with runtime.db.session() as s:
        assert dialer._take_lease(s, claim.attempt_id, clock.now() - dialer.place_horizon)
    clock.advance(dialer.place_lease + timedelta(seconds=1))
    assert dialer.reconcile() == 1
    rows = {a.id: a for a in attempts(runtime)}
    second = rows[claim.attempt_id]
    assert (second.state, second.active, second.outcome, second.carrier_call_sid) == (
        "failed", False, "not-placed", None)
    assert [a.carrier_call_sid for a in rows.values() if a.carrier_call_sid] == [first_sid]
    assert len(network.calls) == 1


def test_a_retried_placement_never_takes_the_debtors_previous_call_for_its_own(runtime, clock) -> None:
    dialer, network, first_sid, claim = _recalled_a_second_after_a_busy_call(runtime, clock)
    network.emulator.faults.fail_next("calls.create", count=1, status=503)  # nothing created
    dialer.place([claim])
    second = {a.id: a for a in attempts(runtime)}[claim.attempt_id]
    assert second.carrier_call_sid not in (None, first_sid)
    assert second.state == "queued" and second.active
    assert len(network.calls) == 2 and second.carrier_call_sid in network.calls


def test_due_callback_is_called_first_on_its_phone(runtime, clock) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s, cps=1.0)
        queued = factories.debtor(s, camp, next_call_at=NOW - timedelta(hours=1), priority=9)
        asked = factories.debtor(s, camp, next_call_at=None, priority=0)
        phone_id = s.scalar(select(Phone.id).where(Phone.debtor_id == asked.id))
        s.add(Callback(debtor_id=asked.id, phone_id=phone_id, campaign_id=camp.id, due_at=NOW,
                       created_at=NOW - timedelta(days=1)))
    dialer, carrier = make_dialer(runtime)
    dialer.tick()  # 1 call per tick: the callback wins over the most urgent debtor
    (attempt,) = attempts(runtime)
    assert attempt.debtor_id == asked.id and attempt.callback_id is not None
    with runtime.db.session() as s:
        assert s.scalar(select(Callback.status)) == "dialing"
    assert queued.id != asked.id


def test_a_callback_blocked_for_a_moment_waits_and_is_then_called(runtime, clock) -> None:
    """The debtor's previous call is still live when the callback comes due: the callback
    stays booked and is placed once that call ends; blocked past its grace, it is missed."""
    from ivr.dialer.dialer import CALLBACK_GRACE

    with runtime.db.session() as s:
        camp = factories.campaign(s, min_minutes_between_attempts=0)
        asked = factories.debtor(s, camp, country="US", state="TX", consent=True, next_call_at=None)
        phone_id = s.scalar(select(Phone.id).where(Phone.debtor_id == asked.id))
        s.add(Callback(debtor_id=asked.id, phone_id=phone_id, campaign_id=camp.id, due_at=NOW,
                       created_at=NOW - timedelta(days=1)))
        live = Attempt(debtor_id=asked.id, phone_id=phone_id, campaign_id=camp.id, state="in-progress",
                       active=True, idempotency_key="still-live", created_at=NOW - timedelta(minutes=3))
        s.add(live)
        s.flush()
        live_id = live.id
    dialer, network = make_dialer(runtime)
    assert dialer.tick().claimed == 0
    with runtime.db.session() as s:
        assert s.scalar(select(Callback.status)) == "scheduled"
        s.execute(update(Attempt).where(Attempt.id == live_id)
                  .values(active=False, state="completed", ended_at=NOW))
    clock.advance(timedelta(minutes=2))
    assert dialer.tick().placed == 1
    with runtime.db.session() as s:
        assert s.scalar(select(Callback.status)) == "dialing"

    # Another booked callback, blocked for longer than its grace: missed.
    with runtime.db.session() as s:
        s.execute(update(Attempt).where(Attempt.id != live_id).values(active=False, state="completed"))
        s.execute(update(Attempt).values(active=True, state="in-progress", ended_at=None)
                  .where(Attempt.id == live_id))
        s.execute(update(Callback).values(status="done"))
        s.add(Callback(debtor_id=asked.id, phone_id=phone_id, campaign_id=camp.id, due_at=clock.now(),
                       created_at=NOW))
    dialer.tick()
    clock.advance(CALLBACK_GRACE)
    dialer.tick()
    with runtime.db.session() as s:
        assert sorted(s.scalars(select(Callback.status))) == ["done", "missed"]


def test_a_callback_about_a_paid_debt_does_not_take_the_debtor_out_of_the_queue(runtime, clock) -> None:
    """The callback was booked about a debt paid since: it is missed, and the debtor's
    other open debt is called as the queue has it."""
    from decimal import Decimal

    with runtime.db.session() as s:
        camp = factories.campaign(s, min_minutes_between_attempts=0)
        asked = factories.debtor(s, camp, next_call_at=NOW)
        paid = s.scalar(select(Debt).where(Debt.debtor_id == asked.id))
        s.add(Debt(external_id="OTHER-1", debtor_id=asked.id, creditor_id=paid.creditor_id,
                   campaign_id=camp.id, currency="BRL", principal=Decimal("80"),
                   due_date=paid.due_date, status="open"))
        paid.status = "paid"
        phone_id = s.scalar(select(Phone.id).where(Phone.debtor_id == asked.id))
        s.add(Callback(debtor_id=asked.id, phone_id=phone_id, debt_id=paid.id, campaign_id=camp.id,
                       due_at=NOW, created_at=NOW - timedelta(days=1)))
    dialer, network = make_dialer(runtime)
    assert dialer.tick().placed == 0  # the callback's own verdict: its debt is not open
    with runtime.db.session() as s:
        assert s.scalar(select(Callback.status)) == "missed"
        assert s.get_one(Debtor, asked.id).next_call_at is not None
    clock.advance(timedelta(seconds=1))
    assert dialer.tick().placed == 1
    (attempt,) = attempts(runtime)
    assert attempt.debtor_id == asked.id and attempt.callback_id is None


@pytest.mark.postgres
def test_a_claim_in_progress_does_not_hold_up_writes_that_only_reference_its_rows(
    pg_url, tmp_path, clock
) -> None:
    """While a worker claims (its debtor and campaign rows locked), a webhook records the
    debtor's contact events and books a callback on the campaign: their foreign-key checks
    must not wait for the claim. With FOR UPDATE they did, and two workers (one taking a
    callback, one the queue) deadlocked on them."""
    from sqlalchemy import text

    from ivr.dialer.queue import due_debtors
    from tests.conftest import make_runtime

    runtime = make_runtime(pg_url, tmp_path / "instance", clock)
    try:
        with runtime.db.session() as s:
            camp = factories.campaign(s)
            debtor = factories.debtor(s, camp, next_call_at=NOW)
            ids = (debtor.id, camp.id, s.scalar(select(Phone.id).where(Phone.debtor_id == debtor.id)))
        dialer, _ = make_dialer(runtime)
        with runtime.db.session() as claiming:
            assert [c.debtor_id for c in due_debtors(claiming, NOW, 10)] == [ids[0]]
            assert ids[1] in dialer._budgets(claiming, {ids[1]})  # the campaign row locked
            with runtime.db.engine.connect() as webhook:
                webhook.execute(text("SET lock_timeout = '2s'"))
                webhook.execute(ContactEvent.__table__.insert().values(
                    debtor_id=ids[0], phone_id=ids[2], kind="note", actor="test", occurred_at=NOW, data={}))
                webhook.execute(Callback.__table__.insert().values(
                    debtor_id=ids[0], phone_id=ids[2], campaign_id=ids[1], due_at=NOW, created_at=NOW,
                    status="scheduled"))
                webhook.commit()
    finally:
        runtime.close()


@pytest.mark.postgres
def test_a_claim_gives_up_on_a_campaign_a_stalled_worker_holds(pg_url, tmp_path, clock, monkeypatch) -> None:
    """Another worker stopped mid-claim with the campaign row locked: this one's claim gives
    up after CLAIM_LOCK_TIMEOUT_MS (the next tick retries) instead of waiting for good."""
    import time as wall

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, OperationalError

    from ivr.dialer import dialer as dialer_module
    from tests.conftest import make_runtime

    monkeypatch.setattr(dialer_module, "CLAIM_LOCK_TIMEOUT_MS", 300)
    monkeypatch.setattr(dialer_module, "CLAIM_IDLE_TIMEOUT_MS", 300)
    runtime = make_runtime(pg_url, tmp_path / "instance", clock)
    try:
        with runtime.db.session() as s:
            camp_id = factories.campaign(s).id
            factories.debtor(s, s.get_one(Campaign, camp_id), next_call_at=NOW)
        dialer, _ = make_dialer(runtime)
        with runtime.db.engine.connect() as stalled:
            stalled.execute(text("SELECT id FROM campaign WHERE id = :id FOR UPDATE"), {"id": camp_id})
            with pytest.raises(OperationalError, match="lock timeout"):
                dialer.claim()
        # A claim whose own worker stalls in the middle (here in the rules' evaluation) is
        # ended by the server, its locks released for the others.
        evaluate = dialer.evaluate

        def stalled_evaluation(*args, **kwargs):
            wall.sleep(1.0)  # three times the idle limit set above
            return evaluate(*args, **kwargs)

        dialer.evaluate = stalled_evaluation
        with pytest.raises(DBAPIError, match="idle-in-transaction timeout"):
            dialer.claim()
        dialer.evaluate = evaluate
        assert len(dialer.claim()) == 1
    finally:
        runtime.close()


def test_debtors_who_share_a_line_are_called_one_at_a_time(runtime, clock) -> None:
    """Three debtors on one home line: one call at a time to the number, never a second
    ringing a phone already in a call; the next debtor's call comes once it ended."""
    with runtime.db.session() as s:
        camp = factories.campaign(s, min_minutes_between_attempts=0)
        ids = [factories.debtor(s, camp, number="+5511955550000", next_call_at=NOW).id for _ in range(3)]
    dialer, network = make_dialer(runtime)
    report = dialer.tick()
    assert report.placed == 1 and network.numbers_called() == ["+5511955550000"]
    clock.advance(timedelta(seconds=30))
    report = dialer.tick()
    assert report.placed == 0 and report.blocked.get("LIVE-ATTEMPT") == 2
    with runtime.db.session() as s:
        s.execute(update(Attempt).values(active=False, state="completed", ended_at=clock.now()))
    clock.advance(dialer.requeue)
    assert dialer.tick().placed == 1
    called = [a.debtor_id for a in attempts(runtime)]
    assert len(called) == 2 and len(set(called)) == 2 and set(called) <= set(ids)


def test_a_lease_is_refused_when_a_call_to_the_same_number_started_since_the_claim(runtime, clock) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s, min_minutes_between_attempts=0)
        first = factories.debtor(s, camp, number="+5511955550001", next_call_at=NOW)
        factories.debtor(s, camp, number="+5511955550001", next_call_at=None)
    dialer, network = make_dialer(runtime)
    (claim,) = dialer.claim()
    assert claim.debtor_id == first.id
    with runtime.db.session() as s:  # another worker's call to the other debtor on the line
        other = s.scalar(select(Debtor).where(Debtor.id != first.id))
        phone_id = s.scalar(select(Phone.id).where(Phone.debtor_id == other.id))
        s.add(Attempt(debtor_id=other.id, phone_id=phone_id, campaign_id=camp.id, state="ringing",
                      active=True, idempotency_key="other-worker", created_at=NOW))
    dialer.place([claim])
    assert network.numbers_called() == []
    with runtime.db.session() as s:
        assert s.get_one(Attempt, claim.attempt_id).state == "canceled"


def test_a_claim_never_placed_does_not_use_up_the_debtors_calls_for_the_day(runtime, clock) -> None:
    """The worker fell behind and the claim's lease was refused (its window check had gone
    stale): nobody's phone rang, so the debtor is called at the next chance, not blocked by
    the one-call-a-day cap (BR-FREQ) or the interval between attempts."""
    with runtime.db.session() as s:
        factories.debtor(s, factories.campaign(s), next_call_at=NOW)
    dialer, network = make_dialer(runtime)
    (claim,) = dialer.claim()
    clock.advance(dialer.place_horizon + timedelta(seconds=1))
    dialer.place([claim])
    (attempt,) = attempts(runtime)
    assert (attempt.state, attempt.outcome) == ("canceled", "not-placed")
    clock.advance(dialer.requeue)
    assert dialer.tick().placed == 1
    assert network.numbers_called() != []


def test_a_claim_that_fails_to_place_does_not_hold_up_the_others(runtime, clock) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        for _ in range(3):
            factories.debtor(s, camp, next_call_at=NOW)
    dialer, network = make_dialer(runtime)
    claims = dialer.claim()
    take_lease, failed = dialer._take_lease, []

    def flaky_lease(session, attempt_id, claimed_after):
        if not failed:
            failed.append(attempt_id)
            raise RuntimeError("the database went away for a moment (test)")
        return take_lease(session, attempt_id, claimed_after)

    dialer._take_lease = flaky_lease
    report = TickReport()
    dialer.place(claims, report)
    assert (report.placed, report.not_placed) == (2, 1) and len(network.numbers_called()) == 2
    (stuck,) = [a for a in attempts(runtime) if a.id == failed[0]]
    assert (stuck.state, stuck.active) == ("claimed", True)  # reconciliation settles it
    clock.advance(dialer.place_lease + timedelta(seconds=1))
    assert dialer.reconcile() == 1


def test_a_campaigns_pace_is_shared_by_every_worker(runtime, clock) -> None:
    """1 call a second, ticks of 2 s: two calls per tick for the campaign, however many
    workers claim at that moment (each took its own full budget: with a backlog larger
    than a worker's batch, each worker considers debtors of its own)."""
    with runtime.db.session() as s:
        camp = factories.campaign(s, cps=1.0)
        for _ in range(10):
            factories.debtor(s, camp, next_call_at=NOW)
    first, network = make_dialer(runtime)
    first.tick_seconds, first.batch = 2, 3
    second = Dialer(runtime, network.carrier, evaluate_candidates, worker_id="t2", tick_seconds=2,
                    pace=lambda s: None)
    second.batch = 3
    assert len(first.claim()) == 2
    assert second.claim() == []  # the campaign's two calls for this tick are taken
    clock.advance(timedelta(seconds=2))
    assert len(second.claim()) == 2


def test_candidate_selection_ignores_debtors_not_yet_due(runtime) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        factories.debtor(s, camp, next_call_at=NOW + timedelta(minutes=1))
        factories.debtor(s, camp, next_call_at=None)
    dialer, carrier = make_dialer(runtime)
    assert dialer.tick().considered == 0


def test_verdicts_cover_every_candidate_in_one_batch(runtime) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        ids = [factories.debtor(s, camp, next_call_at=NOW).id for _ in range(30)]
        verdicts = evaluate_candidates(s, [Candidate(i) for i in ids], NOW)
        assert [v.candidate.debtor_id for v in verdicts] == ids
        assert all(v.allowed for v in verdicts)
        assert s.scalar(select(func.count()).select_from(Attempt)) == 0


def test_no_claim_when_the_window_closes_before_the_call_could_be_placed(runtime, clock) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        d = factories.debtor(s, camp, next_call_at=NOW)
    clock.set(datetime(2026, 11, 24, 22, 59, 58, tzinfo=UTC))  # 19:59:58 in São Paulo, window ends at 20:00
    dialer, carrier = make_dialer(runtime)
    report = dialer.tick()
    assert report.claimed == 0 and report.blocked == {"WINDOW-CLOSING": 1}
    with runtime.db.session() as s:
        assert s.get(Debtor, d.id).next_call_at == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


def test_a_claim_older_than_the_placing_horizon_is_never_placed(runtime, clock) -> None:
    with runtime.db.session() as s:
        factories.debtor(s, factories.campaign(s), next_call_at=NOW)
    dialer, carrier = make_dialer(runtime)
    claims = dialer.claim()
    clock.advance(dialer.place_horizon + timedelta(seconds=1))  # e.g. the worker stalled
    dialer.place(claims)
    assert carrier.calls == {}
    (attempt,) = attempts(runtime)
    assert (attempt.state, attempt.active) == ("canceled", False)


def test_personal_audio_is_prepared_for_the_claimed_calls_before_any_is_placed(runtime) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        for _ in range(3):
            factories.debtor(s, camp, next_call_at=NOW)
    seen: list[tuple[list[int], int]] = []
    network = Network(runtime)
    dialer = Dialer(runtime, network.carrier, evaluate_candidates, tick_seconds=1, pace=lambda s: None,
                    prepare_audio=lambda rt, ids: seen.append((sorted(ids), len(network.calls))))
    dialer.tick()
    assert seen == [(sorted(a.id for a in attempts(runtime)), 0)]


def test_one_batch_decides_each_debtor_by_its_own_zone_hours_and_campaign(runtime) -> None:
    # 08:30 in São Paulo, 06:30 in Acre (UTC-5): the rules share windows between equal
    # facts within a batch, never between debtors whose zone, hours or campaign differ.
    early = datetime(2026, 11, 24, 11, 30, tzinfo=UTC)
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        afternoons = factories.campaign(s, "Afternoons", windows=[(d, time(14), time(18)) for d in range(7)])
        sp = factories.debtor(s, camp, next_call_at=early)
        acre = factories.debtor(s, camp, state="AC", number="+5568991234567", next_call_at=early)
        sp_again = factories.debtor(s, camp, next_call_at=early)
        late_riser = factories.debtor(s, camp, next_call_at=early, preferred_start=time(10))
        in_afternoons = factories.debtor(s, afternoons, next_call_at=early)
        ids = [sp.id, acre.id, sp_again.id, late_riser.id, in_afternoons.id]
        verdicts = {v.candidate.debtor_id: v for v in evaluate_candidates(s, [Candidate(i) for i in ids], early)}
    assert verdicts[sp.id].allowed and verdicts[sp_again.id].allowed
    assert not verdicts[acre.id].allowed
    assert verdicts[acre.id].next_allowed_at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 08:00 in Acre
    assert verdicts[late_riser.id].rule_ids == ("DEBTOR-PREFERENCE",)
    assert verdicts[late_riser.id].next_allowed_at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 10:00 in SP
    assert verdicts[in_afternoons.id].rule_ids == ("CAMPAIGN-WINDOW",)
    assert verdicts[in_afternoons.id].next_allowed_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def test_a_debtor_is_called_on_the_first_phone_the_rules_allow(runtime) -> None:
    with runtime.db.session() as s:
        camp = factories.campaign(s)
        d = factories.debtor(s, camp, next_call_at=NOW)
        first = s.scalar(select(Phone).where(Phone.debtor_id == d.id))
        first.voice_opt_out_at = NOW - timedelta(days=1)
        second = Phone(debtor_id=d.id, number="+5511955554444", line_type="mobile", priority=1)
        third = Phone(debtor_id=d.id, number="+5511955553333", line_type="mobile", priority=2)
        s.add_all([second, third])
        s.flush()
        [verdict] = evaluate_candidates(s, [Candidate(d.id)], NOW)
    assert verdict.allowed and verdict.phone_id == second.id
