"""`cordial why`, `cordial plan` and `cordial campaign` as a supervisor uses them."""

from __future__ import annotations

import json

from sqlalchemy import select

from ivr.models import Debtor
from ivr.runtime import build_runtime


def _debtor_in(cli, state: str) -> str:
    runtime = build_runtime(env_file=None)
    try:
        with runtime.db.session() as s:
            return s.scalars(select(Debtor.external_id).where(Debtor.state == state, Debtor.country == "BR")).first()
    finally:
        runtime.close()


def test_why_explains_every_blocking_rule_with_the_next_allowed_instant(cli) -> None:
    assert cli("seed", "--debtors", "60", "--seed", "5").exit_code == 0
    assert cli("campaign", "start", "Demo").exit_code == 0
    debtor = _debtor_in(cli, "SP")
    # Sunday in São Paulo: the legal preset is closed all day.
    result = cli("why", debtor, "--at", "2026-11-29T15:00-03:00", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["allowed"] is False
    rules = {r["rule"]: r for r in report["reasons"]}
    assert "BR-SP-HOURS" in rules and rules["BR-SP-HOURS"]["explanation"]
    assert report["next_allowed_at"] is not None
    assert report["next_allowed_at_local"].startswith("2026-11-30 ")  # Monday morning
    text = cli("why", debtor, "--at", "2026-11-29T15:00-03:00", "--language", "en-US")
    assert "may not be called" in text.output and "BR-SP-HOURS" in text.output and "UTC" in text.output


def test_why_names_an_unknown_debtor_and_a_bad_instant(cli) -> None:
    cli("seed", "--debtors", "3")
    missing = cli("why", "NOPE-1")
    assert missing.exit_code == 1 and "no debtor with external id 'NOPE-1'" in missing.output
    bad = cli("why", "NOPE-1", "--at", "yesterday")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_plan_counts_callable_debtors_and_blocks_by_rule(cli) -> None:
    cli("seed", "--debtors", "80", "--seed", "2")
    assert "no running campaigns" in cli("plan").output
    cli("campaign", "start", "Demo")
    weekday = json.loads(cli("plan", "--at", "2026-11-24T10:00-03:00", "--json").output)
    sunday = json.loads(cli("plan", "--at", "2026-11-29T10:00-03:00", "--json").output)
    (monday_plan,) = weekday["campaigns"]
    (sunday_plan,) = sunday["campaigns"]
    assert monday_plan["name"] == "Demo" and monday_plan["callable"] > 0
    assert sunday_plan["callable"] < monday_plan["callable"]
    assert sum(sunday_plan["blocked"].values()) >= sunday_plan["debtors"] - sunday_plan["callable"]


def test_campaign_commands_validate_their_input(cli) -> None:
    bad = cli("campaign", "create", "X", "--caller-id", "+551140000000", "--window", "monday 8h")
    assert bad.exit_code == 2 and "expected a weekday and a range" in bad.output
    for seconds in ("tue 08:00:30-08:00:45", "tue 08:00-12:00:30", "tue 08:00+03:00-12:00"):
        refused = cli("campaign", "create", "X", "--caller-id", "+551140000000", "--window", seconds)
        assert refused.exit_code == 2 and "not in whole minutes" in refused.output, seconds
    ok = cli("campaign", "create", "X", "--caller-id", "+551140000000", "--window", "mon 08:00-12:00")
    assert ok.exit_code == 0
    assert cli("campaign", "create", "X", "--caller-id", "+551140000000").exit_code == 1
    listed = json.loads(cli("campaign", "list", "--json").output)
    assert [c["name"] for c in listed] == ["X"] and listed[0]["status"] == "draft"
    assert cli("campaign", "start", "X").exit_code == 0
    assert cli("campaign", "pause", "X").exit_code == 0
    unknown = cli("campaign", "start", "Nope")
    assert unknown.exit_code == 1 and "no campaign named 'Nope'" in unknown.output


def test_campaign_create_names_the_option_that_is_wrong(cli) -> None:
    caller = cli("campaign", "create", "X", "--caller-id", "not-a-number", "--window", "mon 08:00-12:00")
    assert caller.exit_code == 2 and "Invalid value for --caller-id: not a phone number" in caller.output
    window = cli("campaign", "create", "X", "--caller-id", "+551140000000", "--window", "monday")
    assert window.exit_code == 2 and "Invalid value for --window: calling window 'monday'" in window.output


def test_plan_keeps_no_writer_waiting_while_it_reads(cli, monkeypatch) -> None:
    """`plan` reads for minutes on a large portfolio; webhooks and dialers must go on
    writing meanwhile (on SQLite: it must not take the writer lock)."""
    import threading

    from ivr.db import Database
    from ivr.dialer import facts
    from ivr.models import ContactEvent

    cli("seed", "--debtors", "40", "--seed", "3")
    cli("campaign", "start", "Demo")
    debtor = _debtor_in(cli, "SP")
    # Another engine, as another process has; its short busy timeout turns a wait for
    # `plan` (the fault this test guards against) into an error instead of a hang.
    writer = Database(f"sqlite:///{cli.instance / 'cordial.db'}", busy_timeout=2)
    evaluate = facts.evaluate_candidates
    written_mid_way: list[bool] = []
    errors: list[BaseException] = []

    def write_a_note() -> None:
        try:
            with writer.session() as session:
                debtor_id = session.scalars(select(Debtor.id).where(Debtor.external_id == debtor)).one()
                session.add(ContactEvent(debtor_id=debtor_id, kind="note", actor="supervisor:sofia"))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    def evaluate_while_another_writes(*args, **kwargs):
        if not written_mid_way:  # `plan` is mid-way through its reads
            thread = threading.Thread(target=write_a_note, daemon=True)
            thread.start()
            thread.join(60)
            written_mid_way.append(not thread.is_alive() and not errors)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(facts, "evaluate_candidates", evaluate_while_another_writes)
    try:
        result = cli("plan", "--at", "2026-11-24T10:00-03:00", "--json")
        assert result.exit_code == 0, result.output
        assert written_mid_way == [True], errors
        notes = writer.read(
            lambda conn: conn.execute(select(ContactEvent.id).where(ContactEvent.kind == "note")).all()
        )
        assert len(notes) == 1
        (campaign,) = json.loads(result.output)["campaigns"]
        assert campaign["name"] == "Demo" and campaign["callable"] > 0
    finally:
        writer.dispose()
