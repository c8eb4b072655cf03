"""Several `cordial dialer` processes on one real PostgreSQL database, placing calls
through the local carrier emulator (real sockets, the twilio SDK) to the web app:
no debtor ever has two calls on the line at once, every attempt ends, no call is
placed twice; and the same when workers are killed with SIGKILL at random moments."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from ivr.app import create_app
from ivr.dialer.dialer import Dialer
from ivr.dialer.facts import evaluate_candidates
from ivr.models import Attempt
from ivr.runtime import build_runtime
from ivr.telephony.emulator import CarrierEmulator, PersonaChooser
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEBTORS = 60
TARGET_ATTEMPTS = 70  # every debtor once, and re-calls of those the rules still allow


@pytest.fixture(autouse=True)
def _quiet_http_log() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _zone_at_midday() -> str:
    """A fixed-offset zone where it is now between 10:00 and 18:00, so the US legal
    window (08:00-21:00 local) is open whatever time the suite runs."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        name = f"Etc/GMT{'+' if offset < 0 else '-'}{abs(offset)}" if offset else "Etc/GMT"
        if 10 <= now.astimezone(ZoneInfo(name)).hour < 18:
            return name
    raise AssertionError("no zone at midday")


class Stack:
    """The web app on a real socket, the carrier emulator serving in accelerated real time."""

    def __init__(self, url: str, instance: Path) -> None:
        self.url, self.instance = url, instance
        self.emulator = CarrierEmulator(time_scale=0.05,
                                        personas=PersonaChooser.default(seed="workers", vary_by_attempt=True))
        self.emulator_server = self.emulator.serve()

    def __enter__(self) -> Stack:
        self.emulator_server.__enter__()
        self._app = None
        self.server = make_server("127.0.0.1", 0, lambda env, start: self._app(env, start), threaded=True)
        self.settings = {"DATABASE_URL": self.url, "CORDIAL_INSTANCE_PATH": str(self.instance),
                         "CORDIAL_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.server.server_port}",
                         "CORDIAL_EMULATOR_URL": self.emulator_server.base_url,
                         "CORDIAL_DIALER_TICK_SECONDS": "0.3", "CORDIAL_DIALER_PLACE_LEASE_SECONDS": "2",
                         "CORDIAL_DIALER_REQUEUE_SECONDS": "1"}
        self.runtime = build_runtime(self.settings, env_file=None)
        self._app = create_app(runtime=self.runtime)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.emulator_server.__exit__(*exc)
        self.runtime.close()

    def start_worker(self, name: str) -> subprocess.Popen:
        env = {**os.environ, **self.settings, "CORDIAL_CARRIER": "emulator"}
        log = open(self.instance / f"{name}.log", "w")  # noqa: SIM115 - the worker writes it until it ends
        proc = subprocess.Popen([sys.executable, "-m", "ivr.cli", "dialer", "--worker-id", name], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = log.name  # type: ignore[attr-defined]
        return proc

    def attempts(self) -> int:
        with self.runtime.db.session() as s:
            return s.scalar(select(func.count()).select_from(Attempt)) or 0


def _portfolio(stack: Stack) -> None:
    zone = _zone_at_midday()
    with stack.runtime.db.session() as s:
        camp = factories.campaign(s, windows=[(d, clock_time(0, 0), clock_time(0, 0)) for d in range(7)],
                                  cps=50, max_concurrent=100, min_minutes_between_attempts=0,
                                  retry_no_answer_minutes=0, retry_busy_minutes=0, retry_machine_minutes=0)
        for _ in range(DEBTORS):
            factories.debtor(s, camp, country="US", state="TX", consent=True, timezone_override=zone,
                             next_call_at=datetime.now(UTC))


def _run(stack: Stack, workers: int, kill: bool) -> None:
    rng = random.Random(workers * 7 + kill)
    procs = {f"w{i}": stack.start_worker(f"w{i}") for i in range(workers)}
    deadline = time.monotonic() + 150
    spawned = workers
    try:
        while stack.attempts() < TARGET_ATTEMPTS:
            assert time.monotonic() < deadline, f"only {stack.attempts()} attempts before the deadline"
            if kill:
                time.sleep(rng.uniform(0.3, 1.5))
                victim = rng.choice(sorted(procs))
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait()
                spawned += 1
                procs[f"w{spawned}"] = stack.start_worker(f"w{spawned}")
                del procs[victim]
            else:
                time.sleep(0.3)
            for name, proc in procs.items():
                assert proc.poll() is None, f"worker {name} died: {Path(proc.log_path).read_text()[-2000:]}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"worker {name} ignored SIGTERM: {Path(proc.log_path).read_text()[-3000:]}") from None


def _settle(stack: Stack) -> None:
    """Let the calls on the line end, then reconcile what dead workers left behind."""
    emulator = stack.emulator
    assert emulator.wait_for(lambda: all(c.finalized for c in emulator.calls.values()), timeout=120)
    janitor = Dialer(stack.runtime, stack.runtime.extras["carrier"], evaluate_candidates, worker_id="janitor")
    deadline = time.monotonic() + 60
    while True:
        with stack.runtime.db.session() as s:
            active = s.scalar(select(func.count()).select_from(Attempt).where(Attempt.active.is_(True)))
        if not active:
            return
        assert time.monotonic() < deadline, f"{active} attempts never ended"
        time.sleep(0.5)  # the lease (2 s) must run out before an unplaced claim can be settled
        janitor.reconcile()


def _assert_invariants(stack: Stack) -> None:
    with stack.runtime.db.session() as s:
        attempts = list(s.scalars(select(Attempt)))
    assert all(not a.active for a in attempts)
    by_sid = defaultdict(list)
    for a in attempts:
        if a.carrier_call_sid:
            by_sid[a.carrier_call_sid].append(a.id)
    assert all(len(ids) == 1 for ids in by_sid.values())
    calls = [c for c in stack.emulator.calls.values() if not c.parent_call_sid]
    # Every call the network saw belongs to one attempt: no call was placed twice.
    assert {c.sid for c in calls} == set(by_sid)
    # Never two calls on the line to the same number at once.
    by_number = defaultdict(list)
    for c in calls:
        by_number[c.to].append((c.date_created, c.end_time))
    for number, spans in by_number.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end is not None and start >= end, f"two calls overlap on {number}"
    # In the database the unique index allowed one live attempt per debtor at a time
    # (tests/test_schema.py); the attempts' own timestamps come from different processes'
    # clock reads, so the carrier's view above is the one that proves no overlap.


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("kill", [False, True], ids=["clean", "sigkill"])
def test_concurrent_workers_never_double_call_and_finish_every_attempt(pg_url: str, tmp_path: Path,
                                                                        workers: int, kill: bool) -> None:
    with Stack(pg_url, tmp_path / "instance") as stack:
        _portfolio(stack)
        _run(stack, workers, kill)
        _settle(stack)
        assert stack.attempts() >= TARGET_ATTEMPTS
        _assert_invariants(stack)
