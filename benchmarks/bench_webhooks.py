#!/usr/bin/env python
"""Benchmark of the voice webhooks under gunicorn: latency at a fixed open-loop rate and
the closed-loop maximum, on SQLite and PostgreSQL, against a minimal Flask + twilio app
served the same way. Prints tables; asserts nothing.

Each request is what the carrier sends for a real call: a signed POST (X-Twilio-Signature
over the public URL and the form) naming an attempt that exists, so the webhook checks
the signature, loads the attempt with one indexed query, records a contact event (one
INSERT) and answers TwiML. `answer` is a human answering (the right-party question);
`menu` is the key * at the menu (the disclosure repeated).

    .venv/bin/python benchmarks/bench_webhooks.py [--rate 200] [--seconds 15] [--pg-url URL]

PostgreSQL: --pg-url, else $CORDIAL_BENCH_PG_URL, else a throwaway cluster (tests/pg_cluster.py)
reached through its Unix socket (--pg-tcp: through 127.0.0.1).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (  # noqa: E402
    ROOT,
    WORKDIR,
    fresh_pg_database,
    machine,
    note,
    over_tcp,
    percentile,
    pg_transport,
    postgres_server,
    print_table,
    verdict,
)
from benchmarks.load import LoadResult, closed_loop, form_post, open_loop, slow_bursts  # noqa: E402

PUBLIC_BASE_URL = "https://cordial.example.com"  # what the carrier calls; signatures cover it
TARGET_P99_MS = 3.0
TARGET_SHARE_OF_MINIMAL = 0.5
SERVER_LIFETIME_SECONDS = 1800  # a server left behind by a crashed run stops by itself
WEBHOOKS = ("answer", "menu")
OPEN_RUNS = [("open", webhook) for webhook in WEBHOOKS]
CLOSED_RUNS = [("closed", webhook) for webhook in WEBHOOKS]
# At INFO the voice flow logs a line per call whose personal audio the dialer did not
# render; these attempts were not made by the dialer, so that line is an artefact here.
SERVER_LOG_LEVEL = "WARNING"
WEBHOOK_WORKER = "ivr.webhook_worker.WebhookWorker"  # the README's webhook pool


@dataclass(frozen=True)
class WebhookCall:
    """One signed request, ready to be sent to any port."""

    path: str
    form: dict[str, str]
    signature: str

    def raw(self, port: int, keep_alive: bool) -> bytes:
        headers = {"X-Twilio-Signature": self.signature}
        if not keep_alive:
            headers["Connection"] = "close"
        return form_post("127.0.0.1", port, self.path, self.form, headers)


@dataclass
class Prepared:
    calls: dict[str, list[WebhookCall]]  # webhook -> one call per attempt
    attempts: int
    debtors: int
    seconds: float


@dataclass
class Phase:
    target: str
    database: str
    webhook: str
    result: LoadResult
    server_cpu_seconds: float  # the gunicorn master and workers
    database_cpu_seconds: float  # PostgreSQL's processes (nan: SQLite, in the workers, or unknown)
    other_cores: float  # cores kept busy by everything else on the machine during the phase
    server_errors: int = 0
    recorded: int | None = None  # contact events written by the phase (None: not counted)
    round: int = 0  # closed loop: which round of the interleaved comparison (0: open loop)


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path
    log_offset: int = 0
    phases: list[Phase] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def new_errors(self) -> int:
        """Tracebacks and failures the server logged since the last call."""
        text = self.log_path.read_text(errors="replace")
        fresh, self.log_offset = text[self.log_offset :], len(text)
        return len(re.findall(r"Traceback|failed|refused|ERROR|CRITICAL", fresh))


# -- data ------------------------------------------------------------------------------


def prepare(url: str, attempts_per_webhook: int, instance: Path) -> Prepared:
    """A seeded portfolio, and attempts as a live call would have them: ringing ones for
    `answer`, right-party-verified ones at the menu for `menu`. One attempt per debtor
    (the database allows one live attempt per debtor)."""
    from sqlalchemy import func, insert, select

    from ivr.clock import SystemClock
    from ivr.dialer.campaigns import start_campaign
    from ivr.models import Attempt, Debt, Debtor, Phone
    from ivr.portfolio.importer import import_rows
    from ivr.portfolio.seed import DEMO_CAMPAIGN, ensure_demo_campaign, portfolio_rows
    from ivr.runtime import build_runtime
    from ivr.telephony.dev_credentials import EMULATOR_ACCOUNT_SID
    from ivr.voice.signatures import sign

    started = time.perf_counter()
    runtime = build_runtime(
        {
            "DATABASE_URL": url,
            "CORDIAL_INSTANCE_PATH": str(instance),
            "CORDIAL_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        },
        clock=SystemClock(),
        env_file=None,
    )
    now = runtime.clock.now()
    needed = 2 * attempts_per_webhook
    ensure_demo_campaign(runtime)
    report = import_rows(
        runtime.db,
        portfolio_rows(int(needed / 0.8) + 50, 11, now.date(), prefix="HOOK"),
        now=now,
        source="bench_webhooks",
    )
    with runtime.db.session() as session:
        campaign = start_campaign(session, DEMO_CAMPAIGN, now)
        campaign_id, caller_id = campaign.id, campaign.caller_id
    with runtime.db.session() as session:
        first_debt = (
            select(Debt.debtor_id, func.min(Debt.id).label("debt_id"))
            .where(Debt.status == "open")
            .group_by(Debt.debtor_id)
            .subquery()
        )
        first_phone = (
            select(Phone.debtor_id, func.min(Phone.id).label("phone_id"))
            .group_by(Phone.debtor_id)
            .subquery()
        )
        rows = session.execute(
            select(
                Debtor.id,
                Debtor.language,
                first_debt.c.debt_id,
                first_phone.c.phone_id,
                Phone.number,
            )
            .join(first_debt, first_debt.c.debtor_id == Debtor.id)
            .join(first_phone, first_phone.c.debtor_id == Debtor.id)
            .join(Phone, Phone.id == first_phone.c.phone_id)
            .order_by(Debtor.id)
            .limit(needed)
        ).all()
        if len(rows) < needed:
            raise SystemExit(f"only {len(rows)} debtors with an open debt; wanted {needed}")
        values = []
        for index, (debtor_id, _language, debt_id, phone_id, _number) in enumerate(rows):
            at_menu = index % 2 == 1
            values.append(
                {
                    "debtor_id": debtor_id,
                    "phone_id": phone_id,
                    "debt_id": debt_id,
                    "campaign_id": campaign_id,
                    "state": "in-progress" if at_menu else "ringing",
                    "active": True,
                    "idempotency_key": uuid.uuid4().hex,
                    "carrier_call_sid": f"CA{uuid.uuid4().hex}",
                    "worker": "bench",
                    "created_at": now,
                    "placed_at": now,
                    "answered_at": now if at_menu else None,
                    "answered_by": "human" if at_menu else None,
                    "right_party_verified": at_menu,
                    "conversation": at_menu,
                    "ivr_step": "menu" if at_menu else None,
                }
            )
        ids = session.execute(
            insert(Attempt).returning(
                Attempt.id, Attempt.carrier_call_sid, sort_by_parameter_order=True
            ),
            values,
        ).all()
    calls: dict[str, list[WebhookCall]] = {"answer": [], "menu": []}
    for (attempt_id, sid), (_debtor, language, _debt, _phone, number), value in zip(
        ids, rows, values, strict=True
    ):
        form = {
            "AccountSid": EMULATOR_ACCOUNT_SID,
            "CallSid": sid,
            "From": caller_id,
            "To": number,
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }
        if value["right_party_verified"]:
            path, webhook = f"/voice/step/menu?attempt={attempt_id}&lang={language}&tries=0", "menu"
            form["Digits"] = "*"
        else:
            path, webhook = f"/voice/answer?attempt={attempt_id}&lang={language}", "answer"
            form["AnsweredBy"] = "human"
        calls[webhook].append(
            WebhookCall(path, form, sign(runtime.config, PUBLIC_BASE_URL + path, form))
        )
    runtime.close()
    return Prepared(calls, len(ids), report.imported, time.perf_counter() - started)


def count_events(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, func, select

    from ivr.db import normalise_url
    from ivr.models import ContactEvent

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return dict(
                conn.execute(select(ContactEvent.kind, func.count()).group_by(ContactEvent.kind))
                .tuples()
                .all()
            )
    finally:
        engine.dispose()


EVENT_OF = {"answer": "ivr.answered", "menu": "ivr.key"}


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (Linux /proc)."""
    ticks, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def start_server(app: str, env: dict[str, str], args: argparse.Namespace, log_path: Path) -> Server:
    port = free_port()
    command = [
        "timeout",
        "--signal=TERM",
        str(SERVER_LIFETIME_SECONDS),
        str(Path(sys.executable).with_name("gunicorn")),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--backlog",
        "2048",
        "--keep-alive",
        "5",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log_path),
        "--chdir",
        str(ROOT),
        app,
    ]
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(process)
            raise SystemExit(
                f"gunicorn did not start ({app}); see {log_path}:\n{log_path.read_text()[-3000:]}"
            )
        time.sleep(0.2)
    # Every worker answers before anything is measured (each imports and connects lazily).
    for _ in range(4 * args.workers):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
    return Server(process, port, log_path, log_path.stat().st_size if log_path.exists() else 0)


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# -- measuring ------------------------------------------------------------------------------


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (Linux /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_seconds: float, threshold_cores: float = 0.3) -> float:
    """Wait (at most `max_seconds`) until the machine has been nearly idle for two seconds in a
    row, so that a phase measures the server rather than other jobs; the seconds waited."""
    started = time.monotonic()
    calm = 0
    while time.monotonic() - started < max_seconds and calm < 2:
        before = system_busy_seconds()
        time.sleep(1.0)
        calm = calm + 1 if system_busy_seconds() - before < threshold_cores else 0
    return time.monotonic() - started


def postgres_pid(url: str) -> int | None:
    """The postmaster of a PostgreSQL server on this machine (its backends are its children)."""
    import psycopg

    try:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            stat = Path(f"/proc/{backend}/stat").read_text()  # while the backend lives
        return int(stat[stat.rfind(")") + 2 :].split()[1])
    except (OSError, ValueError, psycopg.Error):
        return None


def measure(
    server: Server,
    target: str,
    database: str,
    requests: dict[str, list[bytes]],
    args: argparse.Namespace,
    expect: bytes,
    url: str | None,
    runs: list[tuple[str, str]],
    *,
    warm: bool = True,
    round_number: int = 0,
) -> list[Phase]:
    """Run `runs` ((mode, webhook): open or closed loop) against a server; warm it first."""
    phases = []
    for webhook in WEBHOOKS if warm else ():  # every worker and thread, both webhooks; not recorded
        # From the end of the list, so that the open loop's answers each find a fresh ringing attempt.
        open_loop(
            "127.0.0.1", server.port, requests[webhook][::-1], rate=args.rate, seconds=args.warmup
        )
    server.new_errors()
    database_pid = postgres_pid(url) if url and url.startswith("postgresql") else None
    for mode, webhook in runs:
        waited = wait_for_quiet(args.quiet_wait) if args.quiet_wait > 0 else 0.0
        before_events = count_events(url) if url else None
        before = (
            server.cpu_seconds(),
            tree_cpu_seconds(database_pid) if database_pid else 0.0,
            system_busy_seconds(),
        )
        gc.collect()
        gc.disable()
        try:
            if mode == "open":
                result = open_loop(
                    "127.0.0.1",
                    server.port,
                    requests[webhook],
                    rate=args.rate,
                    seconds=args.seconds,
                )
            else:
                result = closed_loop(
                    "127.0.0.1",
                    server.port,
                    requests[webhook],
                    concurrency=args.concurrency,
                    seconds=args.closed_seconds,
                )
        finally:
            gc.enable()
        server_cpu = server.cpu_seconds() - before[0]
        database_cpu = (
            (tree_cpu_seconds(database_pid) - before[1]) if database_pid else float("nan")
        )
        busy = system_busy_seconds() - before[2]
        others = (
            busy
            - server_cpu
            - (0.0 if database_pid is None else database_cpu)
            - result.generator_cpu_seconds
        )
        phase = Phase(
            target,
            database,
            webhook,
            result,
            server_cpu,
            database_cpu,
            max(0.0, others) / result.seconds if result.seconds else float("nan"),
            server.new_errors(),
            round=round_number,
        )
        if before_events is not None:
            after = count_events(url)
            kind = EVENT_OF[webhook]
            phase.recorded = after.get(kind, 0) - before_events.get(kind, 0)
        body = result.bodies.get(200, b"")
        if expect not in body:
            note(f"WARNING {target} {webhook}: unexpected answer {body[:300]!r}")
        label = result.mode + (f" #{round_number}" if round_number else "")
        note(
            f"{target:8} {database:10} {webhook:6} {label:14} {result.ok:6} ok "
            f"p99 {percentile(result.latencies, 0.99) * 1000:7.2f} ms  {result.throughput:7.0f} req/s  "
            f"other load {phase.other_cores:.2f} cores (waited {waited:.0f} s for a quiet machine)"
        )
        phases.append(phase)
        time.sleep(0.5)
    return phases


def start_target(
    target: str,
    app: str,
    env: dict[str, str],
    calls: dict[str, list[WebhookCall]],
    args: argparse.Namespace,
    log_path: Path,
    stack: ExitStack,
) -> tuple[Server, dict[str, list[bytes]], dict[str, bytes]]:
    """Start a server (stopped when `stack` closes), check it answers each webhook with a
    <Gather>, and give its requests and those answers."""
    server = start_server(app, env, args, log_path)
    stack.callback(stop_server, server.process)
    requests = {w: [c.raw(server.port, args.keep_alive) for c in calls[w]] for w in WEBHOOKS}
    samples = {}
    for webhook in WEBHOOKS:
        sample = open_loop("127.0.0.1", server.port, requests[webhook][-1:], rate=1, seconds=1)
        samples[webhook] = sample.bodies.get(200, b"")
        if sample.ok != 1 or b"<Gather" not in samples[webhook]:
            raise SystemExit(
                f"{target} {webhook}: unexpected answer {sample.statuses} {samples[webhook][:500]!r}"
            )
    return server, requests, samples


# -- where the time goes ----------------------------------------------------------------------

# (label, file suffix, function): cumulative time of these functions, per request.
PROFILE_PARTS = (
    ("signature check (RequestValidator)", "ivr/voice/signatures.py", "is_signed_by_carrier"),
    (
        "load the attempt (one 6-table select, plain columns)",
        "ivr/voice/call_context.py",
        "load_call",
    ),
    ("new reply (speaker, prompt parameters)", "ivr/voice/webhooks.py", "new_reply"),
    ("call flow: answer / key", "ivr/voice/flow.py", "answer"),
    ("call flow: answer / key", "ivr/voice/flow.py", "handle"),
    ("write: attempt UPDATE, event INSERT, COMMIT", "ivr/voice/call_context.py", "commit"),
    ("TwiML rendering", "ivr/voice/speaker.py", "twiml"),
)


def profile_in_process(
    url: str, instance: Path, calls: dict[str, list[WebhookCall]], count: int
) -> list[list]:
    """Serve `count` requests of each webhook through the WSGI app in this process under
    cProfile, and split the time of a request into its parts."""
    import cProfile
    import pstats

    from ivr.app import create_app
    from ivr.clock import SystemClock
    from ivr.runtime import build_runtime

    runtime = build_runtime(
        {
            "DATABASE_URL": url,
            "CORDIAL_INSTANCE_PATH": str(instance),
            "CORDIAL_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "CORDIAL_LOG_LEVEL": SERVER_LOG_LEVEL,
        },
        clock=SystemClock(),
        env_file=None,
    )
    client = create_app(runtime=runtime).test_client()
    rows = []
    try:
        for webhook in WEBHOOKS:
            chosen = calls[webhook]

            def serve(n: int, chosen: list[WebhookCall] = chosen) -> None:
                for i in range(n):
                    call = chosen[i % len(chosen)]
                    client.post(
                        call.path, data=call.form, headers={"X-Twilio-Signature": call.signature}
                    )

            serve(min(count, 200))  # warm-up
            started = time.perf_counter()
            serve(count)
            plain = (time.perf_counter() - started) / count
            profiler = cProfile.Profile()
            profiler.runcall(serve, count)
            stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

            def cumulative(suffix: str, name: str, stats: dict = stats) -> float:
                return max(
                    (
                        v[3]
                        for (file, _line, func), v in stats.items()
                        if func == name and file.endswith(suffix)
                    ),
                    default=0.0,
                )

            total = cumulative("flask/app.py", "wsgi_app")
            # The test client's own work is outside the app: keep the app's share of the plain time.
            plain *= total / max(cumulative("benchmarks/bench_webhooks.py", "serve"), total)
            parts: dict[str, float] = {}
            for label, suffix, name in PROFILE_PARTS:
                parts[label] = parts.get(label, 0.0) + cumulative(suffix, name)
            parts["Flask, Werkzeug, routing, the rest"] = total - sum(parts.values())
            rows.append([webhook, "whole request in the app (not profiled)", plain * 1000, 100.0])
            for label, seconds in parts.items():
                rows.append([webhook, label, plain * 1000 * seconds / total, 100 * seconds / total])
    finally:
        runtime.close()
    return rows


# -- report --------------------------------------------------------------------------------


def print_report(
    phases: list[Phase], args: argparse.Namespace, prepared: dict[str, Prepared]
) -> None:
    ms = 1000.0
    rows = []
    for p in phases:
        r = p.result
        lat = r.latencies
        rows.append(
            [
                p.target,
                p.database,
                p.webhook,
                r.mode + (f" #{p.round}" if p.round else ""),
                r.sent,
                r.ok,
                r.failed,
                r.throughput,
                percentile(lat, 0.50) * ms,
                percentile(lat, 0.90) * ms,
                percentile(lat, 0.99) * ms,
                percentile(lat, 0.999) * ms,
                max(lat, default=float("nan")) * ms,
                "{} in {}".format(*slow_bursts(r)) if not p.round else "-",
                p.server_cpu_seconds * ms / r.ok if r.ok else float("nan"),
                p.database_cpu_seconds * ms / r.ok if r.ok else float("nan"),
                100 * r.generator_cpu_seconds / r.seconds if r.seconds else float("nan"),
                p.other_cores,
                max(r.send_lags, default=float("nan")) * ms if r.send_lags else float("nan"),
                "-" if p.recorded is None else p.recorded,
                p.server_errors,
            ]
        )
    workers = (
        f"gunicorn --workers {args.workers} --worker-class {args.worker_class} --threads {args.threads}, "
        + ("connections kept alive" if args.keep_alive else "a new connection per request")
    )
    print_table(
        f"Voice webhooks under {workers} ({machine()})",
        [
            "app",
            "database",
            "webhook",
            "load",
            "sent",
            "200",
            "failed",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "p99 tail",
            "app CPU ms/req",
            "db CPU ms/req",
            "generator CPU %",
            "other load cores",
            "max send lag ms",
            "events",
            "server errors",
        ],
        rows,
        [
            f"open loop: {args.rate:g} requests/s for {args.seconds:g} s per row, latency from each request's "
            "scheduled send (no coordinated omission); closed loop: "
            f"{args.concurrency} connections back to back for {args.closed_seconds:g} s, in "
            f"{args.rounds} rounds (#1, #2, ...) that each take every server in turn.",
            "The load generator is one single-threaded process (non-blocking sockets and a selector) on the "
            "same cores; 'generator CPU %' is its share of one core. 'app CPU' is the gunicorn processes', "
            "'db CPU' PostgreSQL's (its server's processes on this machine), per request answered.",
            *(
                [f"PostgreSQL on the same machine, reached through its {args.pg_transport}."]
                if args.pg_transport
                else []
            ),
            "'other load cores' = CPU used meanwhile by everything else on the machine (other users' jobs): "
            f"rows with a high value were measured on a busy machine (each phase first waits up to "
            f"{args.quiet_wait:g} s for idle cores). 'max send lag' = how late the generator "
            "sent a request (counted in its latency).",
            "'p99 tail' (open loop) = the requests slower than p99, and in how many bursts they came (a "
            "slow request sent within 0.1 s of the previous one is in its burst): few bursts mean a few "
            "moments when the whole machine was slow.",
            "'events' = contact events the phase wrote (one per request: each hit a real attempt row). "
            "answer: the open loop answers each ringing attempt once (while there are enough); the closed "
            "loop cycles through them, and a repeated answer has no attempt UPDATE to write.",
            *(
                f"{db}: {p.attempts:,} attempts on {p.debtors:,} imported debts, prepared in {p.seconds:.1f} s"
                for db, p in prepared.items()
            ),
        ],
    )
    minimal = {
        (p.webhook, p.round): p.result.throughput
        for p in phases
        if p.target == "minimal" and p.round
    }
    checks = []
    shares: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for p in phases:
        if p.target != "cordial":
            continue
        if not p.round:
            p99 = percentile(p.result.latencies, 0.99) * ms
            checks.append(
                [
                    p.database,
                    p.webhook,
                    f"p99 at {args.rate:g}/s < {TARGET_P99_MS:g} ms",
                    f"{p99:.2f} ms",
                    verdict(p99 < TARGET_P99_MS and p.result.failed == 0),
                ]
            )
        else:
            floor = minimal.get((p.webhook, p.round), float("nan"))
            shares.setdefault((p.database, p.webhook), []).append(
                (p.result.throughput / floor, p.result.throughput, floor)
            )
    for (database, webhook), rounds in shares.items():
        # The median round (of an even number, the lower of the two middle ones).
        share, mine, floor = sorted(rounds)[(len(rounds) - 1) // 2]
        checks.append(
            [
                database,
                webhook,
                f"max req/s >= {TARGET_SHARE_OF_MINIMAL:.0%} of minimal app",
                f"{mine:,.0f} / {floor:,.0f} = {share:.2f} (median of "
                + ", ".join(f"{r[0]:.2f}" for r in rounds)
                + ")",
                verdict(share >= TARGET_SHARE_OF_MINIMAL),
            ]
        )
    print_table("Targets", ["database", "webhook", "target", "measured", "verdict"], checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rate", type=float, default=200.0, help="open-loop requests per second (default 200)"
    )
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="open-loop seconds per webhook (default 15)"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="warm-up seconds per webhook (default 3)"
    )
    parser.add_argument(
        "--closed-seconds", type=float, default=10.0, help="closed-loop seconds (default 10)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="closed-loop connections (default 8)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="closed-loop rounds, each taking Cordial and the minimal app in turn; the "
        "throughput verdict is the median of the rounds' ratios (default 3)",
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=4000,
        help="attempts per webhook (default 4000: the open loop answers each call once)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers (default 2: one per core)"
    )
    # The defaults are the README's voice webhook pool: processes, not threads, in Cordial's
    # worker (gunicorn's sync worker, woken one at a time: ivr.webhook_worker), for the
    # minimal app too. Two threads in a process make every short GIL-releasing database
    # call a thread switch (the README's "Scaling out" has the numbers); --worker-class
    # gthread --threads 2 measures the threaded pool the console needs, --worker-class sync
    # gunicorn's own sync worker.
    parser.add_argument(
        "--worker-class",
        default=WEBHOOK_WORKER,
        help=f"gunicorn worker class (default {WEBHOOK_WORKER})",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gunicorn worker (default 1)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="before each phase, wait up to this many seconds for other jobs to leave the "
        "cores idle (default 60; 0: don't wait)",
    )
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="reuse connections (then gunicorn may hand all of a closed loop's connections to "
        "one worker, and the maximum measured is one core's)",
    )
    parser.add_argument(
        "--pg-url", help="PostgreSQL server URL (default $CORDIAL_BENCH_PG_URL or a throwaway one)"
    )
    parser.add_argument(
        "--pg-tcp",
        action="store_true",
        help="reach PostgreSQL through loopback TCP rather than its Unix socket (when the URL "
        "names the socket's folder, as for the throwaway server)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also serve N requests per webhook in-process under cProfile (first database) "
        "and print where a request's time goes",
    )
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args()
    args.pg_transport = None  # how PostgreSQL is reached, once known (for the report)

    args.workdir.mkdir(parents=True, exist_ok=True)
    phases: list[Phase] = []
    loaded: list[tuple[str, str, Server, dict[str, list[bytes]], str | None]] = []
    prepared: dict[str, Prepared] = {}
    breakdown: list[list] = []
    breakdown_database = ""
    with ExitStack() as stack:
        folder_path = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="webhooks-", dir=args.workdir))
        )
        twiml_file = folder_path / "twiml.json"
        targets: list[tuple[str, str]] = []
        if not args.skip_sqlite:
            targets.append(("SQLite", f"sqlite:///{folder_path / 'webhooks.db'}"))
        if not args.skip_pg:
            server_url = stack.enter_context(postgres_server(args.pg_url))
            if args.pg_tcp:
                server_url = over_tcp(server_url)
            args.pg_transport = pg_transport(server_url)
            targets.append(("PostgreSQL", fresh_pg_database(server_url, "cordial_bench_webhooks")))
        for database, url in targets:
            note(f"{database}: preparing {2 * args.attempts:,} attempts")
            prepared[database] = prepare(url, args.attempts, folder_path / database)
            env = {
                "DATABASE_URL": url,
                "CORDIAL_INSTANCE_PATH": str(folder_path / database),
                "CORDIAL_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
                "CORDIAL_LOG_LEVEL": SERVER_LOG_LEVEL,
            }
            calls = prepared[database].calls
            server, requests, samples = start_target(
                "cordial",
                "ivr.app:create_app()",
                env,
                calls,
                args,
                folder_path / f"{database}.log",
                stack,
            )
            loaded.append(("cordial", database, server, requests, url))
            phases += measure(
                server, "cordial", database, requests, args, b"<Gather", url, OPEN_RUNS
            )
            if not any(target == "minimal" for target, *_ in loaded):
                # The floor, once, answering the TwiML Cordial just answered.
                twiml_file.write_text(json.dumps({w: samples[w].decode() for w in WEBHOOKS}))
                server, requests, _ = start_target(
                    "minimal",
                    "benchmarks.minimal_app:app_from_environment()",
                    {"CORDIAL_BENCH_TWIML": str(twiml_file)},
                    calls,
                    args,
                    folder_path / "minimal.log",
                    stack,
                )
                loaded.append(("minimal", "none", server, requests, None))
                phases += measure(
                    server, "minimal", "none", requests, args, b"<Gather", None, OPEN_RUNS
                )
            if args.profile and not breakdown:
                note(f"{database}: profiling {args.profile} requests per webhook in-process")
                breakdown = profile_in_process(url, folder_path / database, calls, args.profile)
                breakdown_database = database
        # The maxima, in rounds that take every server in turn: each ratio compares runs
        # minutes apart at most, whatever the shared machine's speed did meanwhile.
        for number in range(1, args.rounds + 1):
            for target, database, server, requests, url in loaded:
                phases += measure(
                    server,
                    target,
                    database,
                    requests,
                    args,
                    b"<Gather",
                    url,
                    CLOSED_RUNS,
                    warm=False,
                    round_number=number,
                )
    order = {"cordial": 0, "minimal": 1}
    phases.sort(
        key=lambda p: (
            order[p.target],
            p.database != "SQLite",
            p.result.mode.startswith("closed"),
            p.round,
        )
    )
    print_report(phases, args, prepared)
    if breakdown:
        print_table(
            f"Where a webhook request's time goes ({breakdown_database}, in-process through the WSGI app, one thread, "
            f"{args.profile} requests per webhook; cProfile's shares applied to the unprofiled time)",
            ["webhook", "part", "ms/request", "% of request"],
            breakdown,
        )


if __name__ == "__main__":
    main()
