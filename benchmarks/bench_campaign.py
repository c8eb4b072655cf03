#!/usr/bin/env python
"""Benchmark of a whole emulated campaign on the virtual clock: the real dialer, the
voice flow (in-process, through the WSGI app) and the local carrier emulator with its
personas, then the independent audit of the contact log. Prints calls per wall second,
the audit's violations and the outcomes; asserts nothing.

    .venv/bin/python benchmarks/bench_campaign.py [--calls 10000] [--database-url URL] [--profile]

The portfolio is sized from --calls (each debtor is called at most once a day, and
about 60 % of a seeded portfolio is callable in the campaign's hours).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import (  # noqa: E402
    WORKDIR,
    fresh_pg_database,
    machine,
    note,
    postgres_server,
    print_table,
    verdict,
)

# A Tuesday, 10:00 in São Paulo (13:00 UTC); four hours reach every US zone's morning too.
START = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
TARGET_CALLS_PER_SECOND = 50.0
CALLABLE_SHARE = 0.6


@dataclass
class CampaignRun:
    database: str
    debtors: int
    hours: float
    seed_seconds: float
    result: object  # ivr.simulation.SimulationResult
    ended: int
    audit_seconds: float
    cpu_seconds: float  # this process's CPU time for dialling and audit


def run(
    url: str,
    database: str,
    args: argparse.Namespace,
    instance: Path,
    profiler: cProfile.Profile | None,
) -> CampaignRun:
    from sqlalchemy import func, select

    from ivr.clock import VirtualClock
    from ivr.demo import prepare_campaign
    from ivr.models import Attempt
    from ivr.runtime import build_runtime
    from ivr.simulation import run_campaign

    runtime = build_runtime(
        {
            "DATABASE_URL": url,
            "CORDIAL_INSTANCE_PATH": str(instance),
            "CORDIAL_LOG_LEVEL": "WARNING",
        },
        clock=VirtualClock(START),
        env_file=None,
    )
    try:
        debtors = args.debtors or round(args.calls / CALLABLE_SHARE)
        started = time.perf_counter()
        prepare_campaign(runtime, debtors, args.seed, args.cps, args.max_concurrent)
        seed_seconds = time.perf_counter() - started
        note(
            f"{database}: seeded {debtors:,} debtors in {seed_seconds:.0f} s; dialling {args.hours:g} virtual hours"
        )
        shown = [time.perf_counter()]

        def progress(p) -> None:
            if time.perf_counter() - shown[0] >= 30:
                shown[0] = time.perf_counter()
                note(
                    f"  {p.now:%H:%M} UTC  placed {p.placed:,}  on the line {p.live}  wall {p.wall_seconds:.0f} s"
                )

        campaign = {
            "hours": args.hours,
            "tick_seconds": args.tick,
            "seed": str(args.seed),
            "progress": progress,
        }
        audit_started, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            result = profiler.runcall(run_campaign, runtime, **campaign)
        else:
            result = run_campaign(runtime, **campaign)
        cpu = time.process_time() - cpu
        # run_campaign's wall time excludes the audit; the audit is what is left.
        audit_seconds = time.perf_counter() - audit_started - result.wall_seconds
        with runtime.db.session() as session:
            ended = (
                session.scalar(
                    select(func.count())
                    .select_from(Attempt)
                    .where(Attempt.active.is_(False), Attempt.placed_at.is_not(None))
                )
                or 0
            )
        return CampaignRun(
            database, debtors, args.hours, seed_seconds, result, ended, audit_seconds, cpu
        )
    finally:
        runtime.close()


# (label, file suffix, functions): cumulative time of these, as a share of the whole run.
CAMPAIGN_PARTS = (
    ("dialer tick: claim (planning, attempts)", "ivr/dialer/dialer.py", ("claim",)),
    ("dialer tick: place (lease, SDK -> emulator REST, adopt)", "ivr/dialer/dialer.py", ("place",)),
    ("dialer tick: reconcile", "ivr/dialer/dialer.py", ("reconcile",)),
    (
        "emulator: the network between ticks (run_until, run_until_idle)",
        "ivr/telephony/emulator/emulator.py",
        ("run_until", "run_until_idle"),
    ),
    (
        "  of all: webhooks through the WSGI test client",
        "ivr/telephony/emulator/transport.py",
        ("request",),
    ),
    ("  of all: the app's voice webhooks (answer, steps)", "ivr/voice/webhooks.py", ("_run_call",)),
    ("  of all: the app's status callbacks", "ivr/voice/webhooks.py", ("status",)),
    ("  of all: signature checks in the app", "ivr/voice/signatures.py", ("is_signed_by_carrier",)),
    ("  of all: database sessions opened by ivr.db", "ivr/db.py", ("session",)),
    ("audit of the contact log", "ivr/audit.py", ("audit_contact_log",)),
)


def campaign_breakdown(profiler: cProfile.Profile) -> list[list]:
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def cumulative(suffix: str, names: tuple[str, ...]) -> float:
        return sum(
            v[3]
            for (file, _line, func), v in stats.items()
            if func in names and file.endswith(suffix)
        )

    total = cumulative("ivr/simulation.py", ("run_campaign",))
    return [
        [
            label,
            cumulative(suffix, names),
            100 * cumulative(suffix, names) / total if total else 0.0,
        ]
        for label, suffix, names in CAMPAIGN_PARTS
    ]


def print_report(runs: list[CampaignRun], args: argparse.Namespace) -> None:
    rows = []
    for r in runs:
        res = r.result
        rate = res.calls_per_wall_second
        rows.append(
            [
                r.database,
                r.debtors,
                r.hours,
                res.ticks,
                res.audit.calls_placed,
                r.ended,
                res.wall_seconds,
                rate,
                r.cpu_seconds,
                len(res.audit.violations),
                r.seed_seconds,
                r.audit_seconds,
                verdict(
                    rate >= TARGET_CALLS_PER_SECOND
                    and not res.audit.violations
                    and res.audit.calls_placed >= args.calls
                ),
            ]
        )
    print_table(
        f"Emulated campaign on the virtual clock ({machine()})",
        [
            "database",
            "debtors",
            "virtual h",
            "ticks",
            "calls placed",
            "calls ended",
            "wall s",
            "calls/s",
            "CPU s",
            "violations",
            "seed s",
            "audit s",
            f">= {args.calls:,} calls, >= {TARGET_CALLS_PER_SECOND:g}/s, 0 violations",
        ],
        rows,
        [
            f"cps {args.cps:g}, max concurrent {args.max_concurrent}, dialer tick {args.tick:g} virtual s, from "
            f"{START:%a %Y-%m-%d %H:%M} UTC; calls/s = calls placed / wall s of the dialling loop (seeding and "
            "audit not included); 'calls ended' = placed attempts that reached a final state; 'CPU s' = this "
            "process's CPU time for dialling and audit (PostgreSQL's server not included): well under wall s "
            "means the machine was busy with something else."
        ],
    )
    keys = sorted({k for r in runs for k in r.result.audit.outcomes})
    print_table(
        "Outcomes (audit)",
        ["outcome", *(r.database for r in runs)],
        [[k, *(r.result.audit.outcomes.get(k, 0) for r in runs)] for k in keys],
    )
    contacts = list(runs[0].result.audit.contacts) if runs else []
    print_table(
        "Contacts (audit)",
        ["contact", *(r.database for r in runs)],
        [[k.replace("_", " "), *(r.result.audit.contacts.get(k, 0) for r in runs)] for k in contacts],
    )
    blocked = sorted({k for r in runs for k in r.result.blocked})
    print_table(
        "Decisions that blocked a candidate (rule, count over all ticks)",
        ["rule", *(r.database for r in runs)],
        [[k, *(r.result.blocked.get(k, 0) for r in runs)] for k in blocked],
    )
    for r in runs:
        for v in r.result.audit.violations[:20]:
            print(
                f"  VIOLATION {r.database}: invariant {v['invariant']} {v['rule']} attempt {v['attempt']}: {v['detail']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--calls",
        type=int,
        default=10_000,
        help="calls wanted (sizes the portfolio; default 10,000)",
    )
    parser.add_argument(
        "--debtors", type=int, default=0, help="portfolio size (default: from --calls)"
    )
    parser.add_argument(
        "--hours", type=float, default=4.0, help="virtual hours of dialling (default 4)"
    )
    parser.add_argument(
        "--cps", type=float, default=20.0, help="campaign calls per second (default 20)"
    )
    parser.add_argument(
        "--max-concurrent", type=int, default=500, help="campaign concurrency (default 500)"
    )
    parser.add_argument(
        "--tick", type=float, default=10.0, help="virtual seconds per dialer tick (default 10)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg", action="store_true", help="also run on PostgreSQL")
    parser.add_argument(
        "--pg-url", help="PostgreSQL server (default $CORDIAL_BENCH_PG_URL or a throwaway one)"
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="print where the time goes (cProfile)"
    )
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args()

    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    args.workdir.mkdir(parents=True, exist_ok=True)
    runs: list[CampaignRun] = []
    profiles: list[tuple[str, cProfile.Profile]] = []
    with tempfile.TemporaryDirectory(prefix="campaign-", dir=args.workdir) as folder:
        if not args.skip_sqlite:
            profiler = cProfile.Profile() if args.profile else None
            url = f"sqlite:///{Path(folder) / 'campaign.db'}"
            runs.append(run(url, "SQLite", args, Path(folder) / "SQLite", profiler))
            if profiler is not None:
                profiles.append(("SQLite", profiler))
        if args.pg or args.pg_url:
            with postgres_server(args.pg_url) as server_url:
                profiler = cProfile.Profile() if args.profile else None
                url = fresh_pg_database(server_url, "cordial_bench_campaign")
                runs.append(run(url, "PostgreSQL", args, Path(folder) / "PostgreSQL", profiler))
                if profiler is not None:
                    profiles.append(("PostgreSQL", profiler))
    print_report(runs, args)
    for database, profiler in profiles:
        print_table(
            f"Where the {database} campaign's time goes (cProfile, so about twice the plain run; "
            "'of all' rows are spread over the parts above)",
            ["part", "profiled s", "% of run"],
            campaign_breakdown(profiler),
        )
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        print(f"\nTop functions by own time ({database})\n{out.getvalue()}")


if __name__ == "__main__":
    main()
