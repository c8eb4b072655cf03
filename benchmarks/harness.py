"""What every benchmark shares: where caches live, a PostgreSQL server to measure on,
percentiles, and tables printed the same way."""

from __future__ import annotations

import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = Path(
    os.environ.get("CORDIAL_BENCH_WORKDIR", Path(tempfile.gettempdir()) / "cordial-bench")
)
PG_URL_ENV = "CORDIAL_BENCH_PG_URL"

_started = time.monotonic()


def note(message: str) -> None:
    """Progress on stderr, so that stdout holds only the tables."""
    print(f"[{time.monotonic() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return (
        f"{os.cpu_count()} CPUs, load average {load:.1f} at start, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], notes: Sequence[str] = ()
) -> None:
    """A plain-text table on stdout: text columns left-aligned, numbers right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    print(f"\n{title}")
    print(line(list(headers)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
    for text in notes:
        print(f"  {text}")
    sys.stdout.flush()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


@contextmanager
def postgres_server(pg_url: str | None) -> Iterator[str]:
    """URL of a PostgreSQL server's `postgres` database: the one given (--pg-url or
    $CORDIAL_BENCH_PG_URL), else a throwaway cluster started for this run, reached
    through its Unix socket, as a server on the same machine is in production (it
    listens on 127.0.0.1 too: `over_tcp`)."""
    given = pg_url or os.environ.get(PG_URL_ENV)
    if given:
        yield _psycopg_url(given)
        return
    sys.path.insert(0, str(ROOT))
    from tests.pg_cluster import ThrowawayPostgres

    cluster = ThrowawayPostgres()
    cluster.start()
    url = f"postgresql+psycopg://postgres@/postgres?host={cluster.root}&port={cluster.port}"
    note(
        f"started a throwaway PostgreSQL (fsync=off) on the Unix socket in {cluster.root}"
        f" and 127.0.0.1:{cluster.port}"
    )
    try:
        yield url
    finally:
        cluster.stop()


def _psycopg_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def pg_admin(server_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


def pg_database_exists(server_url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(server_url.replace("+psycopg", ""), autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


def pg_database_url(server_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _socket_folder(parsed) -> str | None:
    """The Unix socket's folder a parsed URL names (`?host=/...`), else None."""
    folder = parsed.query.get("host")
    return folder if isinstance(folder, str) and folder.startswith("/") else None


def over_tcp(url: str) -> str:
    """`url` through loopback TCP when it names a Unix socket's folder (`?host=/...`)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if _socket_folder(parsed) is None:
        return url
    port = parsed.query.get("port")
    tcp = parsed.difference_update_query(["host", "port"]).set(
        host="127.0.0.1", port=int(port) if isinstance(port, str) else parsed.port
    )
    return tcp.render_as_string(hide_password=False)


def pg_transport(url: str) -> str:
    """How `url` reaches its server, for reports: "Unix socket" or "TCP <host>"."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if _socket_folder(parsed) is not None or not parsed.host:
        return "Unix socket"
    return f"TCP {parsed.host}"


def fresh_pg_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server; its URL."""
    pg_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_admin(server_url, f'CREATE DATABASE "{name}"')
    return pg_database_url(server_url, name)


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
