"""`scripts/bench`: run Cordial's benchmarks one after another and sum up.

    scripts/bench                       every benchmark at full size (long: the 1M-debt builds)
    scripts/bench --quick               every benchmark at small sizes (a smoke run, a few minutes)
    scripts/bench webhooks              one benchmark; arguments after its name go to it:
    scripts/bench planning --debts 100000 --small 10000
    scripts/bench --quick webhooks,campaign
    scripts/bench --list

When a selected benchmark measures PostgreSQL and no server is given (--pg-url or
$CORDIAL_BENCH_PG_URL), one throwaway server is started for the whole run and handed
to each benchmark in $CORDIAL_BENCH_PG_URL.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass

from benchmarks.harness import PG_URL_ENV, ROOT, postgres_server, print_table


@dataclass(frozen=True)
class Benchmark:
    script: str
    about: str
    quick: tuple[str, ...] = ()
    postgres: bool = False  # reads $CORDIAL_BENCH_PG_URL


BENCHMARKS = {
    "import": Benchmark(
        "scripts/bench_import.py",
        "portfolio import, 1M rows, SQLite and PostgreSQL",
        ("--rows", "20000", "--small", "5000"),
        postgres=True,
    ),
    "tts": Benchmark(
        "scripts/bench_tts.py",
        "prompt and personal audio rendering",
        ("--prompts", "3", "--calls", "5"),
    ),
    "screen-pop": Benchmark(
        "scripts/bench_screen_pop.py", "screen pop latency in chromium", ("--pops", "5")
    ),
    "webhooks": Benchmark(
        "benchmarks/bench_webhooks.py",
        "voice webhooks under gunicorn vs a minimal app",
        (
            "--attempts",
            "300",
            "--seconds",
            "3",
            "--warmup",
            "1",
            "--closed-seconds",
            "3",
            "--quiet-wait",
            "5",
        ),
        postgres=True,
    ),
    "planning": Benchmark(
        "benchmarks/bench_planning.py",
        "dialer planning on 1M and 100k debts",
        ("--debts", "20000", "--small", "5000", "--runs", "3"),
        postgres=True,
    ),
    "campaign": Benchmark(
        "benchmarks/bench_campaign.py",
        "emulated campaign, 10,000 calls on the virtual clock",
        ("--calls", "500", "--hours", "1"),
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=__doc__.split("\n\n")[0],
        epilog="benchmarks: " + ", ".join(BENCHMARKS) + ". Each prints tables and asserts nothing.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke run of every benchmark"
    )
    parser.add_argument(
        "--pg-url",
        help=f"PostgreSQL server to measure on (default ${PG_URL_ENV} or a throwaway one)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "names", nargs="?", default="all", help="a benchmark, several joined by commas, or all"
    )
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    options = parser.parse_args()

    if options.list:
        for name, bench in BENCHMARKS.items():
            present = "" if (ROOT / bench.script).exists() else "  (not present)"
            print(f"{name:12} {bench.script:32} {bench.about}{present}")
        return 0
    names = list(BENCHMARKS) if options.names == "all" else options.names.split(",")
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark {', '.join(unknown)}; expected one of {', '.join(BENCHMARKS)} or all"
        )
    if options.args and len(names) != 1:
        parser.error("arguments can only be passed to a single benchmark")

    results = []
    with ExitStack() as stack:
        env = dict(os.environ)
        if options.pg_url:
            env[PG_URL_ENV] = options.pg_url
        wants_pg = any(
            BENCHMARKS[n].postgres and (ROOT / BENCHMARKS[n].script).exists() for n in names
        )
        if wants_pg and PG_URL_ENV not in env and "--skip-pg" not in options.args:
            env[PG_URL_ENV] = stack.enter_context(postgres_server(None))
        for name in names:
            bench = BENCHMARKS[name]
            if not (ROOT / bench.script).exists():
                results.append([name, "skipped: " + bench.script + " not present", 0.0])
                continue
            command = [
                sys.executable,
                bench.script,
                *(bench.quick if options.quick else ()),
                *options.args,
            ]
            print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
            started = time.monotonic()
            code = subprocess.run(command, cwd=ROOT, env=env).returncode
            results.append(
                [name, "ok" if code == 0 else f"failed (exit {code})", time.monotonic() - started]
            )
    print_table(
        "scripts/bench" + (" --quick" if options.quick else ""),
        ["benchmark", "status", "seconds"],
        results,
    )
    return 0 if all(r[1] == "ok" or r[1].startswith("skipped") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
