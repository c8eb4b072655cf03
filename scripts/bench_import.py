#!/usr/bin/env python
"""Benchmark `cordial import` on SQLite and PostgreSQL; prints a table. Not a test.

Generates an N-row portfolio CSV (the seed's generator; default 1,000,000
rows), imports it into a fresh SQLite file and a fresh PostgreSQL database,
each import in its own process so that the peak memory reported is that
import's, and repeats with a smaller file to show that memory does not grow
with the size of the file.

    .venv/bin/python scripts/bench_import.py [--rows N] [--small N] [--pg-url URL]

PostgreSQL: --pg-url, else $CORDIAL_BENCH_PG_URL, else a throwaway cluster
(tests/pg_cluster.py) started for the run. Generated files are kept in
--workdir ($CORDIAL_BENCH_WORKDIR, default /tmp/cordial-bench) for the next run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DAY = date(2026, 11, 24)
BENCH_INSTANT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def generate_csv(path: Path, rows: int, seed: int = 7) -> None:
    from ivr.portfolio.seed import SEED_COLUMNS, portfolio_rows

    tmp = path.with_suffix(".partial")
    written = 0
    started = time.perf_counter()
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SEED_COLUMNS)
        writer.writeheader()
        for row in portfolio_rows(rows, seed, BENCH_DAY, campaign=None, prefix="BENCH"):
            writer.writerow(row)
            written += 1
            if written == rows:
                break
    tmp.rename(path)
    print(
        f"generated {path.name}: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB "
        f"in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


def child(url: str, file: str, batch_size: int) -> None:
    """Run one import in this process and print its measurements as JSON."""
    from ivr.db import Database, upgrade
    from ivr.portfolio.importer import import_portfolio

    upgrade(url)
    db = Database(url)
    started = time.perf_counter()
    report = import_portfolio(db, file, now=BENCH_INSTANT, batch_size=batch_size, error_file=False)
    seconds = time.perf_counter() - started
    db.dispose()
    me = resource.getrusage(resource.RUSAGE_SELF)
    validator = resource.getrusage(resource.RUSAGE_CHILDREN)  # the validation process
    print(
        json.dumps(
            {
                "rows": report.rows,
                "imported": report.imported,
                "rejected": report.rejected,
                "seconds": seconds,
                "peak_rss_mb": me.ru_maxrss / 1024,
                "validator_rss_mb": validator.ru_maxrss / 1024,
                "cpu_seconds": me.ru_utime + me.ru_stime + validator.ru_utime + validator.ru_stime,
            }
        )
    )


def run_child(url: str, file: Path, batch_size: int, database: str | None = None) -> dict:
    """Run one import in a fresh process; with `database`, also add up the CPU time of the
    PostgreSQL server processes serving it (when the server runs on this machine)."""
    command = [sys.executable, __file__, "--child", "--url", url, "--file", str(file)]
    process = subprocess.Popen(
        [*command, "--batch-size", str(batch_size)], stdout=subprocess.PIPE, text=True
    )
    server_cpu: dict[int, float] = {}
    loads = []
    while process.poll() is None:
        if database:
            server_cpu.update(_backend_cpu(database))
        loads.append(os.getloadavg()[0])
        time.sleep(0.5)
    output = process.stdout.read() if process.stdout else ""
    if process.returncode:
        raise SystemExit(f"the import of {file} into {url} failed (exit {process.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    result["server_cpu_seconds"] = sum(server_cpu.values()) if server_cpu else None
    result["load"] = sum(loads) / len(loads) if loads else os.getloadavg()[0]
    return result


def _backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of each local PostgreSQL backend connected to `database`."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not title.startswith("postgres: ") or f" {database} " not in title:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            continue
    return found


def _pg_admin(server_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


def _mb(value: float) -> str:
    # Small files are validated in the writing process: no validator to report.
    return f"{value:.0f}" if value else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--small", type=int, default=100_000, help="second, smaller file for the memory comparison"
    )
    parser.add_argument("--pg-url", default=os.environ.get("CORDIAL_BENCH_PG_URL"))
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(
            os.environ.get("CORDIAL_BENCH_WORKDIR", Path(tempfile.gettempdir()) / "cordial-bench")
        ),
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.url, args.file, args.batch_size)
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    files = []
    for rows in dict.fromkeys((args.rows, args.small)):
        path = args.workdir / f"portfolio-{rows}.csv"
        if not path.exists():
            generate_csv(path, rows)
        files.append((rows, path))

    cluster = None
    pg_server = None
    if not args.skip_pg:
        pg_server = args.pg_url
        if not pg_server:
            from tests.pg_cluster import ThrowawayPostgres

            cluster = ThrowawayPostgres()
            pg_server = cluster.start()
            print(f"started a throwaway PostgreSQL on port {cluster.port}", file=sys.stderr)
        if "+psycopg" not in pg_server:
            pg_server = pg_server.replace("postgresql://", "postgresql+psycopg://", 1)

    results = []
    try:
        for rows, path in files:
            if not args.skip_sqlite:
                db_file = args.workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
                try:
                    result = run_child(f"sqlite:///{db_file}", path, args.batch_size)
                finally:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
                results.append(("SQLite", result))
                print(f"SQLite {rows:,}: {result['seconds']:.1f} s", file=sys.stderr)
            if pg_server:
                name = f"cordial_bench_{uuid.uuid4().hex[:8]}"
                _pg_admin(pg_server, f'CREATE DATABASE "{name}"')
                try:
                    result = run_child(
                        pg_server.rsplit("/", 1)[0] + "/" + name, path, args.batch_size, name
                    )
                finally:
                    _pg_admin(pg_server, f'DROP DATABASE IF EXISTS "{name}"')
                results.append(("PostgreSQL", result))
                print(f"PostgreSQL {rows:,}: {result['seconds']:.1f} s", file=sys.stderr)
    finally:
        if cluster is not None:
            cluster.stop()

    print(f"\nportfolio import, batch {args.batch_size}, {os.cpu_count()} CPUs")
    print(
        f"{'database':<11} {'rows':>10} {'seconds':>8} {'rows/s':>8} {'CPU s':>7} "
        f"{'server CPU s':>12} {'load':>5} {'peak RSS MB':>12} {'validator MB':>13}"
    )
    for database, r in results:
        server = r["server_cpu_seconds"]
        print(
            f"{database:<11} {r['imported']:>10,} {r['seconds']:>8.1f} {r['rows'] / r['seconds']:>8,.0f} "
            f"{r['cpu_seconds']:>7.1f} {'-' if server is None else f'{server:.1f}':>12} {r['load']:>5.1f} "
            f"{r['peak_rss_mb']:>12.0f} {_mb(r['validator_rss_mb']):>13}"
        )
    print(
        "rows: imported; CPU s: the import's processes (writer and validator); server CPU s: the "
        "PostgreSQL backends; load: the machine's mean load average during the import"
    )


if __name__ == "__main__":
    main()
