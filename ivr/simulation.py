"""A campaign run on a virtual clock: the real dialer, the real voice flow and the
local carrier emulator with its personas, a whole day in seconds. Used by
`cordial simulate` (forecasts), `cordial demo` and the benchmarks; ends with an
independent audit of the contact log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ivr.app import create_app
from ivr.audit import AuditReport, audit_contact_log
from ivr.clock import VirtualClock
from ivr.dialer.dialer import Dialer, TickReport
from ivr.dialer.facts import evaluate_candidates
from ivr.models import Attempt, Debtor, Phone
from ivr.runtime import Runtime
from ivr.telephony.emulator import CarrierEmulator, PersonaChooser, WsgiTransport
from ivr.telephony.emulator.personas import person_facts


@dataclass
class Progress:
    now: datetime
    ticks: int
    claimed: int
    placed: int
    live: int
    blocked: dict[str, int]
    wall_seconds: float


@dataclass
class SimulationResult:
    start: datetime
    end: datetime
    ticks: int
    wall_seconds: float
    audit: AuditReport
    blocked: dict[str, int] = field(default_factory=dict)

    @property
    def calls_per_wall_second(self) -> float:
        return self.audit.calls_placed / self.wall_seconds if self.wall_seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "ticks": self.ticks,
            "wall_seconds": round(self.wall_seconds, 2),
            "calls_per_wall_second": round(self.calls_per_wall_second, 1),
            "blocked_decisions": self.blocked,
            **self.audit.as_dict(),
        }


def called_person_facts(runtime: Runtime) -> Callable[[str], dict[str, str] | None]:
    """Who picks up a number being dialled: the debtor of the attempt in progress on it,
    who knows their own birth year and document (a second factor). What the dialer knows
    is given to the emulator per call; the emulator never reads the database."""

    def facts_for(number: str) -> dict[str, str] | None:
        with runtime.db.session() as session:
            called = session.execute(
                select(Debtor.birth_date, Debtor.document)
                .join(Attempt, Attempt.debtor_id == Debtor.id)
                .join(Phone, Phone.id == Attempt.phone_id)
                .where(Phone.number == number, Attempt.active.is_(True))
                .order_by(Attempt.id.desc())
                .limit(1)
            ).first()
        return None if called is None else person_facts(birth_date=called.birth_date, document=called.document)

    return facts_for


def run_campaign(
    runtime: Runtime,
    *,
    hours: float,
    tick_seconds: float = 10.0,
    seed: str = "cordial",
    personas: PersonaChooser | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> SimulationResult:
    """Dial for `hours` of virtual time from the runtime clock's instant, then let the
    last calls finish and audit everything."""
    clock = runtime.clock
    if not isinstance(clock, VirtualClock):
        raise TypeError("run_campaign needs a runtime on a VirtualClock")
    start = clock.now()
    end = start + timedelta(hours=hours)
    app = create_app(runtime=runtime)
    # Personas hear what the played prompt audio says (a second factor's question).
    prompt_audio = runtime.extras.get("prompt_audio")
    emulator = CarrierEmulator(clock=clock, transport=WsgiTransport(app),
                               personas=personas or PersonaChooser.default(
                                   seed=seed, vary_by_attempt=True, facts_for=called_person_facts(runtime)),
                               seed=seed,
                               play_captions=prompt_audio.caption_for if prompt_audio is not None else None)
    carrier = emulator.carrier()
    runtime.extras["carrier"] = carrier
    dialer = Dialer(runtime, carrier, evaluate_candidates, worker_id="simulation", tick_seconds=tick_seconds,
                    pace=lambda _seconds: None)
    totals = TickReport()
    ticks = 0
    began = time.perf_counter()
    while clock.now() < end:
        report = dialer.tick()
        ticks += 1
        totals.claimed += report.claimed
        totals.placed += report.placed
        for rule, n in report.blocked.items():
            totals.blocked[rule] = totals.blocked.get(rule, 0) + n
        emulator.run_until(min(clock.now() + timedelta(seconds=tick_seconds), end))
        if progress is not None:
            with runtime.db.session() as session:
                live = session.scalar(select(func.count()).select_from(Attempt).where(Attempt.active.is_(True))) or 0
            progress(Progress(clock.now(), ticks, totals.claimed, totals.placed, live, dict(totals.blocked),
                              time.perf_counter() - began))
    # No new calls after the end; the ones on the line finish as they would.
    emulator.run_until_idle()
    dialer.reconcile()
    wall = time.perf_counter() - began
    with runtime.db.session() as session:
        audit = audit_contact_log(session, list(emulator.calls.values()))
    return SimulationResult(start=start, end=end, ticks=ticks, wall_seconds=wall, audit=audit,
                            blocked=dict(totals.blocked))
