"""Wallboard numbers and the id bisection that keeps them cheap on a large log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_console.wallboard import first_id_since, floor_snapshot, hourly_chart, ratio_chart
from ivr.db import Database
from ivr.models import ContactEvent, Debtor

START = datetime(2026, 11, 1, tzinfo=UTC)


# One database for all examples on purpose: each example writes a later day, so ids keep
# growing with time across examples, as they do in production.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=500), min_size=0, max_size=40),
    cut=st.integers(min_value=-5, max_value=505),
)
def test_first_id_since_finds_the_first_event_at_or_after_an_instant(
    sqlite_url: str, offsets: list[int], cut: int
) -> None:
    db = Database(sqlite_url)
    try:
        with db.session() as session:
            debtor = session.query(Debtor).first()
            if debtor is None:
                debtor = Debtor(
                    external_id="X", full_name="X Y", document_kind="cpf", document="52998224725"
                )
                session.add(debtor)
                session.flush()
            base = session.query(ContactEvent).count()
            for minutes in sorted(offsets):
                session.add(
                    ContactEvent(
                        debtor_id=debtor.id,
                        kind="k",
                        occurred_at=START + timedelta(days=base, minutes=minutes),
                    )
                )
        with db.session() as session:
            instant = START + timedelta(days=base, minutes=cut)
            bound = first_id_since(session, ContactEvent, ContactEvent.occurred_at, instant)
            rows = session.query(ContactEvent.id, ContactEvent.occurred_at).all()
            assert {i for i, at in rows if i >= bound} == {i for i, at in rows if at >= instant}
    finally:
        db.dispose()


def test_empty_floor(sqlite_runtime) -> None:
    with sqlite_runtime.db.session() as session:
        snapshot = floor_snapshot(session, sqlite_runtime.clock.now())
    assert snapshot.attempts == 0 and snapshot.answer_rate == 0 and snapshot.short_calls == ()
    assert len(snapshot.hours) == 12
    chart = hourly_chart(snapshot.hours)
    assert len(chart.bars) == 12 and all(bar.height == 0 for bar in chart.bars)
    assert ratio_chart(()).bars == ()
