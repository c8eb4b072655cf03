#!/usr/bin/env python
"""Benchmark of the dialer's claim-side planning on big portfolios: selecting 1,000
candidates (due callbacks, then the dial queue) and asking the rules about each, on
SQLite and PostgreSQL, for 1,000,000 and 100,000 debts. Prints tables; asserts nothing.

The portfolios are the seed's made-up debtors imported through the importer's bulk
path, then given a realistic week of history: attempts in the last 7 days for about
45 % of the callable debtors (older ones for some), a few live calls, opt-outs,
wrong numbers, block-list entries and due callbacks; paid, disputed and agreement
debts come from the seed. Built databases are kept in the work folder (SQLite) or on
the server given with --pg-url and reused until --rebuild.

Measured, each in one transaction that is rolled back, so every run sees the same
database (a warm steady state: a dialer ticks every few seconds):
- planning: `due_callbacks` + `due_debtors` (with SKIP LOCKED on PostgreSQL) and
  `evaluate_candidates` for the candidates found;
- claim: a whole `Dialer.claim()` (budgets, attempt inserts, contact events, requeue).

    .venv/bin/python benchmarks/bench_planning.py [--debts 1000000] [--small 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import pstats
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (  # noqa: E402
    WORKDIR,
    machine,
    note,
    pg_admin,
    pg_database_exists,
    pg_database_url,
    postgres_server,
    print_table,
    remove_sqlite,
    verdict,
)

# A Tuesday, 12:00 in São Paulo, 10:00 in New York: inside the Demo campaign's window.
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
IMPORTED_AT = NOW - timedelta(days=7)
BATCH = 1000
TARGET_MEDIAN_MS = 100.0
TARGET_RATIO = 1.5
BUILD_VERSION = 1  # bump when the portfolio or its history change, to rebuild cached databases

RECENT_SHARE = 0.45  # callable debtors called in the last 7 days
OLDER_SHARE = 0.15  # ... with attempts 8 to 60 days ago as well
LIVE_SHARE = 0.002  # on a call right now
OPT_OUT_SHARE = 0.02
WRONG_NUMBER_SHARE = 0.01
BLOCKED_NUMBER_SHARE = 0.005
BLOCKED_DOCUMENT_SHARE = 0.001
DUE_CALLBACKS = 50
ENDED_STATES = (("completed", 35), ("no-answer", 35), ("busy", 10), ("machine", 15), ("failed", 5))


@dataclass
class Built:
    database: str
    url: str
    debts: int
    debtors: int
    attempts: int
    seconds: float  # build time; 0 when reused


@dataclass
class Timing:
    database: str
    debts: int
    candidates: int
    selection: list[float]
    evaluation: list[float]
    planning: list[float]
    claim: list[float]
    planning_cpu: list[float]  # this process's CPU time (what a busy machine inflates least)
    claim_cpu: list[float]
    claimed: int
    allowed: int
    first_planning: float
    first_claim: float


# -- building ----------------------------------------------------------------------------------


def _runtime(url: str, instance: Path):
    from ivr.clock import VirtualClock
    from ivr.runtime import build_runtime

    return build_runtime(
        {"DATABASE_URL": url, "CORDIAL_INSTANCE_PATH": str(instance)},
        clock=VirtualClock(NOW),
        env_file=None,
    )


def build_portfolio(url: str, debts: int, instance: Path, seed: int = 3) -> tuple[int, int]:
    """Import `debts` seeded debts, start the Demo campaign, then write a week of history.
    Returns (debtors, attempts)."""
    from sqlalchemy import func, select, update

    from ivr.dialer.campaigns import start_campaign
    from ivr.models import Campaign, Debtor
    from ivr.portfolio.importer import import_rows
    from ivr.portfolio.seed import DEMO_CAMPAIGN, ensure_demo_campaign, portfolio_rows

    runtime = _runtime(url, instance)
    try:
        ensure_demo_campaign(runtime)
        started = time.perf_counter()
        rows = itertools.islice(
            portfolio_rows(debts, seed, IMPORTED_AT.date(), prefix="PLAN"), debts
        )
        shown = [0.0]

        def progress(done: int) -> None:
            if time.perf_counter() - shown[0] > 30:
                shown[0] = time.perf_counter()
                note(f"  imported {done:,} of {debts:,} debts")

        report = import_rows(
            runtime.db, rows, now=IMPORTED_AT, source="bench_planning", progress=progress
        )
        note(
            f"  imported {report.imported:,} debts ({report.rejected} rejected) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        with runtime.db.session() as session:
            start_campaign(session, DEMO_CAMPAIGN, IMPORTED_AT)
            # Fast enough that a tick's budget (calls/s x tick) is the whole batch of 1,000.
            session.execute(
                update(Campaign)
                .where(Campaign.name == DEMO_CAMPAIGN)
                .values(calls_per_second=100.0, max_concurrent=10_000)
            )
        attempts = write_history(runtime, random.Random(seed))
        with runtime.db.session() as session:
            debtors = session.scalar(select(func.count()).select_from(Debtor)) or 0
        analyze(runtime.db.engine)
        return debtors, attempts
    finally:
        runtime.close()


def _callable_debtors(session) -> list[tuple[int, int, int, str]]:
    """(debtor, first phone, first open debt, document) of every debtor in the dial queue."""
    from sqlalchemy import func, select

    from ivr.models import Debt, Debtor, Phone

    first_phone = (
        select(Phone.debtor_id, func.min(Phone.id).label("phone_id"))
        .group_by(Phone.debtor_id)
        .subquery()
    )
    first_debt = (
        select(Debt.debtor_id, func.min(Debt.id).label("debt_id"))
        .where(Debt.status == "open")
        .group_by(Debt.debtor_id)
        .subquery()
    )
    return [
        tuple(row)
        for row in session.execute(
            select(Debtor.id, first_phone.c.phone_id, first_debt.c.debt_id, Debtor.document)
            .join(first_phone, first_phone.c.debtor_id == Debtor.id)
            .join(first_debt, first_debt.c.debtor_id == Debtor.id)
            .where(Debtor.next_call_at.is_not(None))
            .order_by(Debtor.id)
        )
    ]


def write_history(runtime, rng: random.Random, chunk: int = 50_000) -> int:
    """Attempts, queue positions, opt-outs, wrong numbers, block-list entries and due callbacks."""
    from sqlalchemy import bindparam, insert, select, update

    from ivr.models import Attempt, BlockListEntry, Callback, Campaign, Debtor, Phone

    db = runtime.db
    with db.session() as session:
        debtors = _callable_debtors(session)
        campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == "Demo"))
    note(f"  writing history for {len(debtors):,} callable debtors")
    states, weights = zip(*ENDED_STATES, strict=True)
    total = 0
    day = 86_400.0
    queue_update = (
        update(Debtor.__table__)
        .where(Debtor.__table__.c.id == bindparam("b_id"))
        .values(next_call_at=bindparam("b_next"), voice_opt_out_at=bindparam("b_opt_out"))
    )
    for start in range(0, len(debtors), chunk):
        attempts: list[dict] = []
        queue: list[dict] = []
        for debtor_id, phone_id, debt_id, _document in debtors[start : start + chunk]:
            instants: list[datetime] = []
            if rng.random() < RECENT_SHARE:
                instants += [
                    NOW - timedelta(seconds=rng.uniform(600, 7 * day))
                    for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))
                ]
            if rng.random() < OLDER_SHARE:
                instants += [
                    NOW - timedelta(seconds=rng.uniform(8 * day, 60 * day))
                    for _ in range(rng.choice((1, 2, 3)))
                ]
            instants.sort()
            for at in instants:
                state = rng.choices(states, weights)[0]
                talked = state == "completed" and rng.random() < 0.3
                attempts.append(
                    _attempt(
                        rng,
                        debtor_id,
                        phone_id,
                        debt_id,
                        campaign_id,
                        at,
                        state=state,
                        active=False,
                        ended_at=at + timedelta(seconds=45),
                        answered_at=at + timedelta(seconds=8)
                        if state in ("completed", "machine")
                        else None,
                        answered_by={"completed": "human", "machine": "machine"}.get(state),
                        right_party_verified=talked,
                        conversation=talked,
                        outcome="disclosed" if talked else None,
                    )
                )
            if instants:  # where the dialer put them after the last call: 4 to 30 hours later
                next_at = instants[-1] + timedelta(hours=rng.uniform(4, 30))
            else:  # waiting since the import, oldest first
                next_at = IMPORTED_AT + timedelta(seconds=rng.uniform(0, 7 * day))
            if rng.random() < LIVE_SHARE:
                at = NOW - timedelta(seconds=rng.uniform(10, 240))
                attempts.append(
                    _attempt(
                        rng,
                        debtor_id,
                        phone_id,
                        debt_id,
                        campaign_id,
                        at,
                        state="in-progress",
                        active=True,
                        answered_at=at,
                        answered_by="human",
                    )
                )
                next_at = at + timedelta(minutes=5)
            opt_out = None
            if rng.random() < OPT_OUT_SHARE:
                opt_out = NOW - timedelta(seconds=rng.uniform(600, 30 * day))
                if rng.random() < 0.8:  # the dialer already took them out of the queue
                    next_at = None
            queue.append({"b_id": debtor_id, "b_next": next_at, "b_opt_out": opt_out})
        with db.session() as session:
            insert_rows(session, Attempt.__table__, attempts)
            session.execute(queue_update, queue)
        total += len(attempts)
        note(f"  history: {start + len(queue):,} debtors, {total:,} attempts")

    picked = rng.sample(debtors, max(1, int(len(debtors) * WRONG_NUMBER_SHARE)))
    with db.session() as session:
        session.execute(
            update(Phone.__table__)
            .where(Phone.__table__.c.id == bindparam("b_id"))
            .values(wrong_number_at=bindparam("b_at")),
            [
                {"b_id": phone_id, "b_at": NOW - timedelta(days=rng.uniform(1, 30))}
                for _, phone_id, _, _ in picked
            ],
        )
        numbers = session.scalars(
            select(Phone.number).where(
                Phone.id.in_(
                    [
                        p
                        for _, p, _, _ in rng.sample(
                            debtors, int(len(debtors) * BLOCKED_NUMBER_SHARE)
                        )
                    ]
                )
            )
        ).all()
        documents = {
            d for _, _, _, d in rng.sample(debtors, int(len(debtors) * BLOCKED_DOCUMENT_SHARE))
        }
        entries = [
            {"kind": "phone", "value": n, "source": "procon-sp", "created_at": NOW}
            for n in set(numbers)
        ]
        entries += [
            {"kind": "document", "value": d, "source": "procon-sp", "created_at": NOW}
            for d in documents
        ]
        if entries:
            session.execute(insert(BlockListEntry), entries)
        session.execute(
            insert(Callback),
            [
                {
                    "debtor_id": debtor_id,
                    "phone_id": phone_id,
                    "debt_id": debt_id,
                    "campaign_id": campaign_id,
                    "due_at": NOW - timedelta(minutes=rng.uniform(0, 30)),
                    "status": "scheduled",
                    "requested_via": "ivr",
                    "created_at": NOW - timedelta(days=1),
                }
                for debtor_id, phone_id, debt_id, _ in rng.sample(
                    debtors, min(DUE_CALLBACKS, len(debtors))
                )
            ],
        )
    return total


def _attempt(
    rng: random.Random,
    debtor_id: int,
    phone_id: int,
    debt_id: int,
    campaign_id: int,
    at: datetime,
    **fields,
) -> dict:
    """An attempt row with every column given (executemany and COPY want the same keys in every row)."""
    return {
        "debtor_id": debtor_id,
        "phone_id": phone_id,
        "debt_id": debt_id,
        "campaign_id": campaign_id,
        "idempotency_key": uuid.UUID(int=rng.getrandbits(128)).hex,
        "worker": "history",
        "created_at": at,
        "placed_at": at,
        "ended_at": None,
        "answered_at": None,
        "answered_by": None,
        "right_party_verified": False,
        "conversation": False,
        "outcome": None,
        **fields,
    }


def insert_rows(session, table, rows: list[dict]) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    columns = list(rows[0].keys())
    types = {c.name: c.type for c in table.columns}
    processors = {name: types[name].bind_processor(connection.dialect) for name in columns}
    raw = connection.connection.driver_connection  # psycopg's connection, in this transaction
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [processors[c](row.get(c)) if processors[c] else row.get(c) for c in columns]
            )


def analyze(engine) -> None:
    """PostgreSQL's autovacuum analyses a table after big writes; do it now, not mid-benchmark.
    SQLite is left as Cordial leaves it (nothing runs ANALYZE)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def ensure_built(
    database: str,
    debts: int,
    args: argparse.Namespace,
    server_url: str | None,
    reusable_server: bool,
) -> Built:
    folder = args.workdir / "planning"
    folder.mkdir(parents=True, exist_ok=True)
    instance = folder / "instance"
    tag = f"{debts}_v{BUILD_VERSION}"
    if database == "SQLite":
        path = folder / f"planning-{tag}.db"
        marker = path.with_suffix(".complete")
        url = f"sqlite:///{path}"
        if marker.exists() and not args.rebuild:
            return Built(database, url, debts, *_counts(url, instance), 0.0)
        remove_sqlite(path)
        marker.unlink(missing_ok=True)
    else:
        name = f"cordial_bench_plan_{tag}"
        url = pg_database_url(server_url, name)
        if (
            reusable_server
            and not args.rebuild
            and pg_database_exists(server_url, name)
            and _pg_complete(url)
        ):
            return Built(database, url, debts, *_counts(url, instance), 0.0)
        pg_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg_admin(server_url, f'CREATE DATABASE "{name}"')
    note(f"{database}: building a portfolio of {debts:,} debts")
    started = time.perf_counter()
    debtors, attempts = build_portfolio(url, debts, instance)
    seconds = time.perf_counter() - started
    if database == "SQLite":
        marker.write_text(f"{debtors} {attempts}\n")
    else:
        pg_admin(server_url, f"COMMENT ON DATABASE \"{name}\" IS 'cordial bench complete'")
    note(
        f"{database}: built {debts:,} debts, {debtors:,} debtors, {attempts:,} attempts in {seconds:.0f} s"
    )
    return Built(database, url, debts, debtors, attempts, seconds)


def analyzed_copy(built: Built, args: argparse.Namespace) -> Built:
    """A copy of a built SQLite database with ANALYZE's statistics, which Cordial never
    gathers: shows what the query planner does once it knows the data."""
    import shutil
    import sqlite3

    source = Path(built.url.removeprefix("sqlite:///"))
    path = source.with_name(source.stem + "-analyzed.db")
    marker = path.with_suffix(".complete")
    if args.rebuild or not marker.exists() or marker.stat().st_mtime < source.stat().st_mtime:
        remove_sqlite(path)
        marker.unlink(missing_ok=True)
        with sqlite3.connect(source) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(source, path)
        with sqlite3.connect(path) as conn:
            conn.execute("ANALYZE")
        marker.write_text("analyzed\n")
    return Built(
        "SQLite+ANALYZE", f"sqlite:///{path}", built.debts, built.debtors, built.attempts, 0.0
    )


def _pg_complete(url: str) -> bool:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    return bool(row and row[0] == "cordial bench complete")


def _counts(url: str, instance: Path) -> tuple[int, int]:
    from sqlalchemy import func, select

    from ivr.models import Attempt, Debtor

    runtime = _runtime(url, instance)
    try:
        with runtime.db.session() as session:
            return (
                session.scalar(select(func.count()).select_from(Debtor)) or 0,
                session.scalar(select(func.count()).select_from(Attempt)) or 0,
            )
    finally:
        runtime.close()


# -- measuring ---------------------------------------------------------------------------------


class RolledBackDatabase:
    """Stands in for ivr.db.Database: each session runs inside an outer transaction that is
    rolled back afterwards, so a claim can be measured again and again on the same data."""

    def __init__(self, engine) -> None:
        self.engine = engine

    @contextmanager
    def session(self) -> Iterator:
        from sqlalchemy.orm import Session

        with self.engine.connect() as connection:
            outer = connection.begin()
            session = Session(bind=connection, expire_on_commit=False)
            try:
                yield session
                session.commit()  # joins the outer transaction: nothing is committed
            finally:
                session.close()
                outer.rollback()

    def dispose(self) -> None:
        self.engine.dispose()


def plan_once(
    db: RolledBackDatabase, placing_within: timedelta
) -> tuple[float, float, float, int, int]:
    from ivr.dialer.facts import evaluate_candidates
    from ivr.dialer.queue import due_callbacks, due_debtors

    with db.session() as session:
        cpu = time.process_time()
        started = time.perf_counter()
        candidates = due_callbacks(session, NOW, BATCH)
        taken = {c.debtor_id for c in candidates}
        candidates += due_debtors(session, NOW, BATCH - len(candidates), exclude=taken)
        selected = time.perf_counter()
        verdicts = evaluate_candidates(session, candidates, NOW, placing_within)
        evaluated = time.perf_counter()
        cpu = time.process_time() - cpu
    return (
        selected - started,
        evaluated - selected,
        cpu,
        len(candidates),
        sum(v.allowed for v in verdicts),
    )


def claim_once(dialer) -> tuple[float, float, int]:
    cpu = time.process_time()
    started = time.perf_counter()
    claims = dialer.claim()
    return time.perf_counter() - started, time.process_time() - cpu, len(claims)


# (label, file suffix, function) of Dialer.claim()'s parts; cumulative time, so nested parts
# are listed after what contains them and subtracted from it.
CLAIM_PARTS = (
    (
        "select: due_callbacks + due_debtors",
        "ivr/dialer/queue.py",
        ("due_callbacks", "due_debtors"),
    ),
    ("facts: load (SQL + ORM objects)", "ivr/dialer/facts.py", ("_load",)),
    ("rules: decide() per option", "ivr/compliance/decision.py", ("decide",)),
    ("rules: window_open_at (placing horizon)", "ivr/compliance/decision.py", ("window_open_at",)),
    ("facts: CampaignPolicy per option", "ivr/dialer/facts.py", ("_policy",)),
    ("budgets (campaign rows, live calls)", "ivr/dialer/dialer.py", ("_budgets",)),
    ("insert attempts + contact events", "ivr/dialer/dialer.py", ("_insert_attempts",)),
    ("requeue UPDATEs", "ivr/dialer/dialer.py", ("_requeue",)),
)


def claim_breakdown(dialer, plain_seconds: float) -> list[list]:
    """One claim() under cProfile, split into parts; shares applied to the unprofiled median."""
    profiler = cProfile.Profile()
    profiler.runcall(dialer.claim)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def cumulative(suffix: str, names: tuple[str, ...]) -> float:
        return sum(
            v[3]
            for (file, _line, func), v in stats.items()
            if func in names and file.endswith(suffix)
        )

    total = cumulative("ivr/dialer/dialer.py", ("claim",))
    parts = {label: cumulative(suffix, names) for label, suffix, names in CLAIM_PARTS}
    options = cumulative("ivr/dialer/facts.py", ("_options", "_verdict"))
    parts["facts: building the facts, the rest of _options"] = options - sum(
        parts[label] for label, _, _ in CLAIM_PARTS[2:5]
    )
    outer = [label for label, _, _ in CLAIM_PARTS[:2] + CLAIM_PARTS[5:]]
    parts["the rest (session, commit, evaluate loop)"] = (
        total - options - sum(parts[k] for k in outer)
    )
    ms = plain_seconds * 1000 / total if total else 0.0
    return [[label, seconds * ms, 100 * seconds / total] for label, seconds in parts.items()]


def measure(
    built: Built, runs: int, instance: Path, profile: bool
) -> tuple[Timing, list[list] | None]:
    from dataclasses import replace

    from ivr.dialer.dialer import Dialer
    from ivr.dialer.facts import evaluate_candidates

    runtime = _runtime(built.url, instance)
    db = RolledBackDatabase(runtime.db.engine)
    dialer = Dialer(
        replace(runtime, db=db),
        carrier=None,
        evaluate=evaluate_candidates,  # type: ignore[arg-type]
        worker_id="bench",
        batch=BATCH,
        tick_seconds=10,
        pace=lambda _s: None,
    )
    try:
        first_selection, first_evaluation, _, candidates, allowed = plan_once(
            db, dialer.place_horizon
        )
        first_claim, _, claimed = claim_once(dialer)
        selection, evaluation, planning, claim, planning_cpu, claim_cpu = [], [], [], [], [], []
        for _ in range(runs):
            s, e, cpu, candidates, allowed = plan_once(db, dialer.place_horizon)
            selection.append(s)
            evaluation.append(e)
            planning.append(s + e)
            planning_cpu.append(cpu)
            seconds, cpu, claimed = claim_once(dialer)
            claim.append(seconds)
            claim_cpu.append(cpu)
        report = None
        report = claim_breakdown(dialer, statistics.median(claim)) if profile else None
        return Timing(
            built.database,
            built.debts,
            candidates,
            selection,
            evaluation,
            planning,
            claim,
            planning_cpu,
            claim_cpu,
            claimed,
            allowed,
            first_selection + first_evaluation,
            first_claim,
        ), report
    finally:
        runtime.close()


# -- report ------------------------------------------------------------------------------------


def print_report(timings: list[Timing], builds: list[Built], runs: int) -> None:
    ms = 1000.0

    def med(values: list[float]) -> float:
        return statistics.median(values) * ms

    rows = []
    for t in timings:
        rows.append(
            [
                t.database,
                t.debts,
                t.candidates,
                t.allowed,
                med(t.selection),
                med(t.evaluation),
                med(t.planning),
                min(t.planning) * ms,
                max(t.planning) * ms,
                med(t.planning_cpu),
                t.first_planning * ms,
                med(t.claim),
                med(t.claim_cpu),
                t.claimed,
                t.first_claim * ms,
                verdict(med(t.planning) < TARGET_MEDIAN_MS),
            ]
        )
    print_table(
        f"Dialer planning, batch of {BATCH:,} candidates, medians of {runs} runs ({machine()})",
        [
            "database",
            "debts",
            "candidates",
            "allowed",
            "select ms",
            "evaluate ms",
            "planning ms",
            "min ms",
            "max ms",
            "CPU ms",
            "first ms",
            "claim() ms",
            "claim CPU ms",
            "claimed",
            "first claim ms",
            f"planning < {TARGET_MEDIAN_MS:g} ms",
        ],
        rows,
        [
            "planning = due_callbacks + due_debtors + evaluate_candidates; claim() = Dialer.claim() whole "
            "(planning, budgets, attempt INSERT, contact events, requeue UPDATEs).",
            "Each run in a transaction rolled back afterwards (same candidates every run: warm caches); "
            "'first' = the first run after opening the database. 'CPU ms' = this process's CPU time "
            "(excludes PostgreSQL's server; close to wall time unless the machine is busy).",
            *(
                f"{b.database} {b.debts:,} debts: {b.debtors:,} debtors, {b.attempts:,} attempts"
                + (
                    f", built in {b.seconds:.0f} s"
                    if b.seconds
                    else ", reused from an earlier run (--rebuild to redo)"
                )
                for b in builds
                if b.database != "SQLite+ANALYZE"
            ),
            "SQLite+ANALYZE = the same SQLite database after ANALYZE (Cordial never runs it; PostgreSQL's "
            "autovacuum does the equivalent, done here right after the build).",
        ],
    )
    by_key = {(t.database, t.debts): t for t in timings}
    sizes = sorted({t.debts for t in timings})
    if len(sizes) < 2:
        return
    small, large = sizes[0], sizes[-1]
    rows = []
    for database in dict.fromkeys(t.database for t in timings):
        a, b = by_key.get((database, small)), by_key.get((database, large))
        if not a or not b:
            continue
        for label, get in (("planning", lambda t: t.planning), ("claim()", lambda t: t.claim)):
            ratio = med(get(b)) / med(get(a))
            rows.append(
                [database, label, med(get(a)), med(get(b)), ratio, verdict(ratio <= TARGET_RATIO)]
            )
    print_table(
        f"Growth with the portfolio ({large:,} vs {small:,} debts)",
        [
            "database",
            "measure",
            f"{small:,} ms",
            f"{large:,} ms",
            "ratio",
            f"ratio <= {TARGET_RATIO:g}",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--debts", type=int, default=1_000_000, help="the big portfolio (default 1,000,000)"
    )
    parser.add_argument(
        "--small", type=int, default=100_000, help="the small one, for the ratio (0: none)"
    )
    parser.add_argument(
        "--runs", type=int, default=7, help="measured runs per database and size (default 7)"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached portfolios")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print where one claim()'s time goes (cProfile), for the big portfolio",
    )
    parser.add_argument(
        "--pg-url", help="PostgreSQL server (default $CORDIAL_BENCH_PG_URL or a throwaway one)"
    )
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--no-analyze-copy",
        action="store_true",
        help="skip the SQLite rows measured on a copy with ANALYZE's statistics",
    )
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args()

    import logging
    import os

    logging.getLogger("alembic").setLevel(logging.WARNING)
    sizes = [s for s in dict.fromkeys((args.small, args.debts)) if s > 0]
    instance = args.workdir / "planning" / "instance"
    timings: list[Timing] = []
    builds: list[Built] = []
    profiles: list[tuple[str, list[list]]] = []
    with ExitStack() as stack:
        databases: list[tuple[str, str | None, bool]] = []
        if not args.skip_sqlite:
            databases.append(("SQLite", None, False))
        if not args.skip_pg:
            reusable = bool(args.pg_url or os.environ.get("CORDIAL_BENCH_PG_URL"))
            databases.append(
                ("PostgreSQL", stack.enter_context(postgres_server(args.pg_url)), reusable)
            )
        for database, server_url, reusable in databases:
            for debts in sizes:
                built = ensure_built(database, debts, args, server_url, reusable)
                variants = [built]
                if database == "SQLite" and not args.no_analyze_copy:
                    variants.append(analyzed_copy(built, args))
                for variant in variants:
                    builds.append(variant)
                    label = f"{variant.database} {debts:,}"
                    note(f"{label}: measuring")
                    timing, profile = measure(
                        variant, args.runs, instance, args.profile and debts == max(sizes)
                    )
                    timings.append(timing)
                    if profile:
                        profiles.append((label, profile))
                    note(
                        f"{label}: planning median {statistics.median(timing.planning) * 1000:.1f} ms, "
                        f"claim median {statistics.median(timing.claim) * 1000:.1f} ms"
                    )
    print_report(timings, builds, args.runs)
    for label, rows in profiles:
        print_table(
            f"Where a claim() of {BATCH:,} candidates spends its time ({label}; cProfile's shares of "
            "the unprofiled median)",
            ["part", "ms", "%"],
            rows,
        )


if __name__ == "__main__":
    main()
