"""The webhook pool's gunicorn worker (ivr.webhook_worker), in a real gunicorn: one idle
worker woken per connection, the same one while it is idle; a second worker whenever the
first is busy; signed webhooks answered; a clean stop on SIGTERM."""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ivr import webhook_worker
from ivr.webhook_worker import WebhookWorker, exclusive_wakeups_available

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
WORKER = "ivr.webhook_worker.WebhookWorker"
SERVER_LIFETIME_SECONDS = 120  # a server a crashed test leaves behind stops by itself

linux_only = pytest.mark.skipif(
    not (sys.platform == "linux" and exclusive_wakeups_available()),
    reason="EPOLLEXCLUSIVE and /proc/<pid>/syscall are Linux's",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


class Gunicorn:
    """gunicorn on 127.0.0.1 under `timeout`, which passes a SIGTERM on to it."""

    def __init__(
        self,
        app: str,
        workers: int,
        env: dict[str, str],
        log: Path,
        worker: str = WORKER,
    ):
        self.port = _free_port()
        self.log = log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            [
                "timeout",
                "--signal=TERM",
                str(SERVER_LIFETIME_SECONDS),
                GUNICORN,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                worker,
                # Longer than `stop` waits: a worker that ignores SIGTERM fails the test
                # instead of being killed by the arbiter.
                "--graceful-timeout",
                "60",
                # gunicorn's heartbeat wakes an idle worker every timeout/2: longer than
                # a meeting, so only a real wakeup gets a connection to a sleeping worker.
                "--timeout",
                "120",
                "--chdir",
                str(ROOT),
                app,
            ],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            start_new_session=True,
        )
        self.workers = workers

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def master(self) -> int:
        return _children(self.process.pid)[0]

    def worker_pids(self) -> list[int]:
        """The workers, once all of them have started."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                pids = _children(self.master())
            except (IndexError, OSError):
                pids = []
            if len(pids) == self.workers:
                return pids
            time.sleep(0.05)
        raise AssertionError(f"gunicorn did not start {self.workers} workers")

    def wait_until_serving(self, path: str = "/pid") -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url(path), timeout=5):
                    return
            except OSError:
                assert self.process.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM, and gunicorn's exit status; a server still running 30 s later is
        killed and fails the test."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
                raise
        finally:
            self._log_file.close()


@contextmanager
def _meeting_gunicorn(folder: Path, worker: str) -> Iterator[Gunicorn]:
    """The meeting app in 2 workers of `worker`, answering."""
    server = Gunicorn(
        "tests.serving.meeting_app:app",
        workers=2,
        env={"MEETING_DIR": str(folder)},
        log=folder / "gunicorn.log",
        worker=worker,
    )
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.stop()


@pytest.fixture
def meeting_server(tmp_path: Path) -> Iterator[Gunicorn]:
    with _meeting_gunicorn(tmp_path, "tests.serving.meeting_app.PatientWorker") as server:
        yield server


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@linux_only
def test_a_connection_that_arrives_while_a_worker_is_busy_wakes_another_worker(
    meeting_server: Gunicorn,
) -> None:
    """Each request waits for the other: both answer only if two workers took them."""
    answers: dict[str, tuple[int, str]] = {}

    def meet(me: str, other: str) -> None:
        answers[me] = _get(meeting_server.url(f"/meet?me={me}&other={other}"))

    threads = [
        threading.Thread(target=meet, args=("a", "b")),
        threading.Thread(target=meet, args=("b", "a")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert answers["a"][0] == 200 and answers["b"][0] == 200, answers
    assert answers["a"][1] != answers["b"][1]  # two workers
    assert {int(answers["a"][1]), int(answers["b"][1])} == set(meeting_server.worker_pids())


def _syscall_of_an_idle_epoll() -> str:
    """The number /proc/<pid>/syscall shows for a process asleep in epoll's wait (it
    differs between architectures): read off a process that is."""
    sleeper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import select, sys; e = select.epoll(); print('ready', flush=True); e.poll(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert sleeper.stdout.readline().strip() == b"ready"
        return _wait_for_sleep(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


def _wait_for_sleep(pid: int, syscall: str | None = None) -> str:
    """Wait until `pid` sleeps in a system call (in `syscall`, when given); return it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        current = Path(f"/proc/{pid}/syscall").read_text().split()[0]
        if _state(pid) == "S" and current == (syscall or current) and current.isdigit():
            return current
        time.sleep(0.002)
    raise AssertionError(f"process {pid} never slept in system call {syscall}")


@linux_only
def test_idle_workers_are_woken_one_at_a_time_and_always_the_same_first(
    meeting_server: Gunicorn,
) -> None:
    """With every worker asleep when a connection arrives, gunicorn's sync worker wakes all
    of them and any may take it; this one wakes only the first in the kernel's queue, so
    one warm process serves a light load. (An idle worker also wakes by itself once a
    second: a connection arriving in that instant may go to the other one.)"""
    epoll_wait = _syscall_of_an_idle_epoll()
    workers = meeting_server.worker_pids()
    served = []
    for _ in range(40):
        for pid in workers:
            _wait_for_sleep(pid, epoll_wait)
        status, body = _get(meeting_server.url("/pid"))
        assert status == 200
        served.append(int(body))
    first, times = Counter(served).most_common(1)[0]
    assert times >= 38, Counter(served)
    assert first in workers


def _voluntary_switches(pid: int) -> int:
    """How many times `pid` has given up the processor: it grows by at least one each
    time the process is woken and sleeps again."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no voluntary_ctxt_switches for {pid}")


@linux_only
@pytest.mark.parametrize(
    ("worker", "woken"),
    [("tests.serving.meeting_app.PatientWorker", 1), ("sync", 2)],
    ids=["webhook-worker", "stock-sync"],
)
def test_a_connection_to_idle_workers_wakes_one_webhook_worker_but_every_sync_worker(
    tmp_path: Path, worker: str, woken: int
) -> None:
    """The comparison that makes the test above mean something: with both workers asleep,
    gunicorn's own sync worker is woken twice per connection (both wake, one accepts, the
    other finds nothing and sleeps again); the webhook worker once. (Neither wakes by
    itself during the test: gunicorn's heartbeat comes every timeout/2 = 60 s and the
    patient worker has no once-a-second look.)"""
    with _meeting_gunicorn(tmp_path, worker) as server:
        workers = server.worker_pids()
        counts = []
        for _ in range(10):
            for pid in workers:
                _wait_for_sleep(pid)
            before = {pid: _voluntary_switches(pid) for pid in workers}
            assert _get(server.url("/pid"))[0] == 200
            for pid in workers:
                _wait_for_sleep(pid)
            counts.append(sum(_voluntary_switches(pid) != before[pid] for pid in workers))
    assert counts == [woken] * 10


@linux_only
def test_sigterm_stops_the_master_and_its_workers(meeting_server: Gunicorn) -> None:
    workers = meeting_server.worker_pids()
    assert meeting_server.stop() == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or _state(pid) == "Z"


def test_voice_webhooks_under_the_worker(tmp_path: Path) -> None:
    """Cordial's app in the worker: a signed webhook gets TwiML, a forged one 403."""
    from ivr.voice.signatures import sign

    base = "https://cordial.example.com"
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cordial.db'}",
        "CORDIAL_INSTANCE_PATH": str(tmp_path),
        "CORDIAL_PUBLIC_BASE_URL": base,
        "CORDIAL_LOG_LEVEL": "WARNING",
    }
    server = Gunicorn("ivr:create_app()", workers=2, env=env, log=tmp_path / "gunicorn.log")
    try:
        server.wait_until_serving("/healthz")
        path = "/voice/answer?attempt=999999&lang=en-US"
        form = {"CallSid": "CA" + "0" * 32, "CallStatus": "in-progress"}
        from ivr.config import load_config

        signature = sign(load_config(env, env_file=None), base + path, form)
        body = "&".join(f"{k}={v}" for k, v in form.items()).encode()

        def post(signature: str) -> tuple[int, str]:
            request = urllib.request.Request(
                server.url(path), data=body, headers={"X-Twilio-Signature": signature}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, answer.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()

        status, twiml = post(signature)
        assert status == 200
        assert twiml.startswith("<?xml") and "<Hangup />" in twiml  # no such call: goodbye
        assert post("forged")[0] == 403
    finally:
        stopped = server.stop()
    assert stopped == 0


def test_without_exclusive_wakeups_it_is_the_sync_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where epoll or EPOLLEXCLUSIVE is missing (not Linux, old kernels' Python builds),
    the worker runs gunicorn's own sync loop."""
    ran = []
    monkeypatch.setattr(webhook_worker, "exclusive_wakeups_available", lambda: False)
    monkeypatch.setattr(
        webhook_worker.SyncWorker, "run_for_one", lambda self, timeout: ran.append(timeout)
    )
    listener = socket.socket()
    try:
        worker = object.__new__(WebhookWorker)
        worker.sockets, worker.PIPE = [listener], (-1, -1)
        worker.run_for_one(7.5)
    finally:
        listener.close()
    assert ran == [7.5]


def test_a_kernel_that_refuses_exclusive_wakeups_gets_the_sync_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the kernel refuses EPOLLEXCLUSIVE, epoll_ctl fails with EINVAL, as it does
    for EPOLLEXCLUSIVE with EPOLLONESHOT, which stands in for such a kernel here."""
    if not exclusive_wakeups_available():
        pytest.skip("no epoll here: the test above covers the fallback")
    monkeypatch.setattr(
        webhook_worker.select, "EPOLLEXCLUSIVE", select.EPOLLEXCLUSIVE | select.EPOLLONESHOT
    )
    ran = []
    monkeypatch.setattr(
        webhook_worker.SyncWorker, "run_for_one", lambda self, timeout: ran.append(timeout)
    )
    listener, wakeup_read, wakeup_write = socket.socket(), *os.pipe()
    try:
        worker = object.__new__(WebhookWorker)
        worker.sockets, worker.PIPE = [listener], (wakeup_read, wakeup_write)
        worker.run_for_one(7.5)
    finally:
        listener.close()
        os.close(wakeup_read)
        os.close(wakeup_write)
    assert ran == [7.5]


# -- polling for the database's answers after an idle wait ----------------------------------


def _accepts_in_turn(script: list[str], budgets: list[float], worker: WebhookWorker):
    """A stand-in for SyncWorker.accept that plays `script`: "none" (no connection waiting:
    EAGAIN), "serve" (a request served: the poll budget it had is noted), "stop"."""
    from ivr import libpq

    def accept(_listener) -> None:
        step = script.pop(0)
        if step == "none":
            raise BlockingIOError(errno.EAGAIN, "nothing to accept")
        budgets.append(libpq._poll_seconds)
        if step == "stop":
            worker.alive = False

    return accept


@linux_only
def test_only_a_request_that_found_the_worker_idle_polls_for_database_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ivr import libpq

    monkeypatch.setattr(webhook_worker, "idle_poll_seconds", lambda _app: 0.0003)
    listener, wakeup_read, wakeup_write = socket.socket(), *os.pipe()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    budgets: list[float] = []
    try:
        worker = object.__new__(WebhookWorker)
        worker.sockets, worker.PIPE, worker.wsgi = [listener], (wakeup_read, wakeup_write), None
        worker.alive, worker.longest_sleep_seconds = True, 0.001
        worker.notify = lambda: None
        worker.is_parent_alive = lambda: True
        # first request after start; two queued behind it; an idle wait; one more; a queued one.
        script = ["serve", "serve", "serve", "none", "serve", "stop"]
        worker.accept = _accepts_in_turn(script, budgets, worker)
        worker.run_for_one(1.0)
    finally:
        listener.close()
        os.close(wakeup_read)
        os.close(wakeup_write)
        libpq.poll_for_answers(0)
    assert budgets == [0.0003, 0.0, 0.0, 0.0003, 0.0]


@pytest.mark.postgres
def test_the_poll_budget_is_the_setting_on_postgresql_and_none_elsewhere(
    tmp_path: Path, pg_url: str
) -> None:
    from benchmarks.minimal_app import create_minimal_app
    from ivr.app import create_app, runtime_of
    from ivr.config import ConfigError, load_config
    from ivr.webhook_worker import idle_poll_seconds

    apps = []

    def poll_seconds(url: str, **settings: str) -> float:
        apps.append(
            create_app({"DATABASE_URL": url, "CORDIAL_INSTANCE_PATH": str(tmp_path), **settings})
        )
        return idle_poll_seconds(apps[-1])

    sqlite = f"sqlite:///{tmp_path / 'cordial.db'}"
    try:
        assert poll_seconds(pg_url) == 0.0003  # the default, 300 µs
        assert poll_seconds(pg_url, CORDIAL_WEBHOOK_POLL_MICROSECONDS="0") == 0.0
        assert poll_seconds(pg_url, CORDIAL_WEBHOOK_POLL_MICROSECONDS="1500") == 0.0015
        assert poll_seconds(sqlite, CORDIAL_WEBHOOK_POLL_MICROSECONDS="1500") == 0.0
    finally:
        for app in apps:
            runtime_of(app).close()

    assert idle_poll_seconds(create_minimal_app({})) == 0.0
    for bad in ("-5", "0.5", "lots"):
        with pytest.raises(
            ConfigError, match=f"CORDIAL_WEBHOOK_POLL_MICROSECONDS={bad!r}.*whole number"
        ):
            load_config({"CORDIAL_WEBHOOK_POLL_MICROSECONDS": bad}, env_file=None)
