"""A campaign on the virtual clock through the real dialer, voice flow and carrier
emulator, audited independently; and proof that the audit catches violations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ivr.audit import audit_contact_log
from ivr.clock import VirtualClock
from ivr.demo import prepare_campaign
from ivr.models import Attempt, ContactEvent, Debtor
from ivr.simulation import run_campaign
from tests.conftest import make_runtime

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # Tuesday 09:00 in São Paulo


def test_a_simulated_morning_uses_every_path_and_violates_nothing(tmp_path) -> None:
    runtime = make_runtime(f"sqlite:///{tmp_path / 'sim.db'}", tmp_path, VirtualClock(START))
    prepare_campaign(runtime, debtors=150, seed=7, cps=20, max_concurrent=200)
    result = run_campaign(runtime, hours=3, seed="7")
    out = result.audit.outcomes
    assert result.audit.violations == []
    assert result.audit.calls_placed > 100
    for outcome in ("voicemail", "second-copy-sent", "callback-booked", "opted-out", "wrong-number", "no-answer"):
        assert out.get(outcome, 0) > 0, outcome
    contacts = result.audit.contacts
    assert contacts["right_party_contacts"] > 0 and contacts["transfers_requested"] > 0
    assert sum(out.values()) == result.audit.attempts  # one outcome per attempt, nothing else
    with runtime.db.session() as s:
        assert s.scalar(select(Attempt).where(Attempt.active.is_(True))) is None
    runtime.close()


def test_the_audit_reports_calls_outside_the_window_over_caps_and_after_opt_out(tmp_path) -> None:
    runtime = make_runtime(f"sqlite:///{tmp_path / 'sim.db'}", tmp_path, VirtualClock(START))
    prepare_campaign(runtime, debtors=20, seed=3, cps=20, max_concurrent=200)
    run_campaign(runtime, hours=1, seed="3")
    with runtime.db.session() as s:
        called = s.scalars(select(Attempt).where(Attempt.carrier_call_sid.is_not(None))).first()
        debtor = s.get(Debtor, called.debtor_id)
        night = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 23:00 in São Paulo, and a second call that day
        s.add(ContactEvent(debtor_id=debtor.id, kind="opt_out", occurred_at=START + timedelta(hours=2)))
        s.add(Attempt(debtor_id=debtor.id, phone_id=called.phone_id, debt_id=called.debt_id,
                      campaign_id=called.campaign_id, state="completed", active=False, idempotency_key="forged",
                      carrier_call_sid="CAforged", created_at=night, placed_at=night,
                      ended_at=night + timedelta(minutes=1)))
    with runtime.db.session() as s:
        report = audit_contact_log(s)
    rules = {v["rule"] for v in report.violations}
    assert {"BR-SP-HOURS", "CAMPAIGN-WINDOW", "OPT-OUT"} <= rules or {"BR-DEFAULT", "CAMPAIGN-WINDOW", "OPT-OUT"} <= rules
    assert any(v["invariant"] == 2 for v in report.violations)  # BR-FREQ counted the forged second call
    runtime.close()


def test_simulate_command_prints_outcomes_and_violations_as_json(cli) -> None:
    result = cli("simulate", "--start", "2026-11-24T09:00-03:00", "--hours", "1", "--debtors", "40", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["violations"] == []
    assert payload["calls_placed"] > 0 and isinstance(payload["outcomes"], dict)
    assert sum(payload["outcomes"].values()) == payload["attempts"]
    assert set(payload["contacts"]) == {
        "right_party_contacts", "sms_sent", "callbacks_booked", "transfers_requested", "opt_outs", "voicemails",
    }


def test_simulate_rejects_a_bad_start_instant(cli) -> None:
    result = cli("simulate", "--start", "tomorrow morning", "--hours", "1")
    assert result.exit_code == 2
    assert "ISO 8601" in result.output
