"""The dialer worker's own jobs: the personal audio it deletes (LGPD)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from ivr.clock import SystemClock
from ivr.config import ConfigError
from ivr.dialer.dialer import Dialer
from ivr.dialer.facts import evaluate_candidates
from ivr.dialer.worker import DialerWorker
from ivr.runtime import build_runtime
from ivr.speech.personal import PERSONAL_DIR, RENDERINGS_DIR
from ivr.telephony.emulator import CarrierEmulator


def _worker(db_url: str, tmp_path: Path, **settings: str) -> DialerWorker:
    runtime = build_runtime(
        {
            "DATABASE_URL": db_url,
            "CORDIAL_INSTANCE_PATH": str(tmp_path / "instance"),
            "CORDIAL_AUDIO_DIR": str(tmp_path / "audio"),
            **settings,
        },
        clock=SystemClock(),
        env_file=None,
    )
    carrier = CarrierEmulator(clock=runtime.clock).carrier()
    return DialerWorker(Dialer(runtime, carrier, evaluate_candidates, tick_seconds=1, pace=lambda s: None))


def _personal_file(audio: Path, name: str, unused_for: timedelta) -> Path:
    path = audio / PERSONAL_DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")
    when = (SystemClock().now() - unused_for).timestamp()
    os.utime(path, (when, when))
    return path


def test_a_dialer_deletes_personal_audio_unused_for_the_configured_days_when_it_starts(sqlite_url, tmp_path):
    audio = tmp_path / "audio"
    stale = _personal_file(audio, "stale.wav", timedelta(days=4))
    stale_rendering = _personal_file(audio, f"{RENDERINGS_DIR}/stale.wav", timedelta(days=4))
    fresh = _personal_file(audio, "fresh.wav", timedelta(days=2))
    worker = _worker(sqlite_url, tmp_path, CORDIAL_PERSONAL_AUDIO_DAYS="3")
    try:
        worker.run(max_ticks=1)
    finally:
        worker.dialer.runtime.close()
    assert not stale.exists() and not stale_rendering.exists()
    assert fresh.is_file()


@pytest.mark.parametrize(("days", "expected"), [("0", "expected 1 or more days"), ("week", "not a whole number")])
def test_a_bad_retention_stops_the_dialer_before_anything_is_deleted(sqlite_url, tmp_path, days, expected):
    kept = _personal_file(tmp_path / "audio", "old.wav", timedelta(days=400))
    worker = _worker(sqlite_url, tmp_path, CORDIAL_PERSONAL_AUDIO_DAYS=days)
    try:
        with pytest.raises(ConfigError, match=f"CORDIAL_PERSONAL_AUDIO_DAYS.*{expected}"):
            worker.run(max_ticks=1)
    finally:
        worker.dialer.runtime.close()
    assert kept.is_file() and worker.ticks == 0


def test_a_callbacks_exact_time_tick_does_not_run_beside_the_periodic_one(sqlite_url, tmp_path):
    """Both are the worker's one tick: run at once they would each claim and pace on their
    own, doubling the campaign's calls per second."""
    import threading

    worker = _worker(sqlite_url, tmp_path)
    inside, release, ticks = threading.Event(), threading.Event(), []
    real_tick = worker.dialer.tick

    def held_tick():
        ticks.append(threading.current_thread().name)
        inside.set()
        release.wait(10)
        return real_tick()

    worker.dialer.tick = held_tick  # type: ignore[method-assign]
    periodic = threading.Thread(target=worker._tick, name="periodic")
    periodic.start()
    assert inside.wait(10)
    worker._tick()  # the callback's job, while the periodic tick runs: nothing
    assert ticks == ["periodic"]
    release.set()
    periodic.join(10)
    assert worker.ticks == 1
    worker._tick()  # once the periodic tick is over, a callback's tick runs
    assert ticks == ["periodic", "MainThread"] and worker.ticks == 2
    worker.dialer.runtime.close()
