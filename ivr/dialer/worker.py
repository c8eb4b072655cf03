"""`cordial dialer`: a worker process. APScheduler runs the periodic tick, an
exact-time job for each callback that falls due before the next look-ahead, and
a daily job that deletes personal audio no call used for a while."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from ivr.dialer.dialer import Dialer
from ivr.models import Callback
from ivr.speech.call_audio import personal_audio_retention, prune_call_audio

log = logging.getLogger(__name__)

LOOK_AHEAD = timedelta(minutes=2)
PRUNE_EVERY = timedelta(days=1)


class DialerWorker:
    def __init__(self, dialer: Dialer) -> None:
        self.dialer = dialer
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.stopped = threading.Event()
        self.ticks = 0
        # One tick at a time in a worker: the periodic one and a callback's exact-time one
        # would otherwise each claim and pace on their own.
        self._ticking = threading.Lock()

    def _tick(self) -> None:
        if not self._ticking.acquire(blocking=False):
            return  # a tick is running: it, or the next one, takes the callback
        try:
            self._run_tick()
        finally:
            self._ticking.release()

    def _run_tick(self) -> None:
        try:
            report = self.dialer.tick()
            self.ticks += 1
            if report.claimed or report.reconciled:
                log.info("tick: considered=%s claimed=%s placed=%s reconciled=%s blocked=%s", report.considered,
                         report.claimed, report.placed, report.reconciled, report.blocked)
            self._schedule_callbacks()
        except Exception:  # a bad tick must not kill the worker; the next one retries
            log.exception("dialer tick failed")

    def _prune_audio(self) -> None:
        try:
            prune_call_audio(self.dialer.runtime)
        except Exception:  # the next day retries; calls go on meanwhile
            log.exception("pruning personal audio failed")

    def _schedule_callbacks(self) -> None:
        now = self.dialer.runtime.clock.now()
        with self.dialer.runtime.db.session() as session:
            due = session.execute(
                select(Callback.id, Callback.due_at).where(
                    Callback.status == "scheduled", Callback.due_at <= now + LOOK_AHEAD, Callback.due_at > now)
            ).all()
        for callback_id, due_at in due:
            # The job only runs a tick at the booked instant; the tick re-checks the rules.
            self.scheduler.add_job(self._tick, "date", run_date=due_at, id=f"callback-{callback_id}",
                                   replace_existing=True, misfire_grace_time=60)

    def run(self, max_ticks: int | None = None) -> None:
        personal_audio_retention(self.dialer.runtime.config)  # a bad setting stops the start
        now = self.dialer.runtime.clock.now()
        self.scheduler.add_job(self._tick, "interval", seconds=self.dialer.tick_seconds, id="tick",
                               max_instances=1, coalesce=True, next_run_time=now)
        # At start, then daily; APScheduler keeps real time whatever the runtime's clock.
        self.scheduler.add_job(self._prune_audio, "interval", seconds=PRUNE_EVERY.total_seconds(),
                               id="prune-audio", max_instances=1, coalesce=True,
                               next_run_time=datetime.now(UTC))
        self.scheduler.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread (tests)
                signal.signal(sig, lambda *_: self.stopped.set())
        try:
            while not self.stopped.wait(0.2):
                if max_ticks is not None and self.ticks >= max_ticks:
                    break
        finally:
            self.scheduler.shutdown(wait=True)
