"""Shared fixtures: databases (SQLite and a real PostgreSQL), runtime, app, CLI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from ivr.app import create_app
from ivr.clock import VirtualClock
from ivr.db import upgrade
from ivr.runtime import Runtime, build_runtime

from .pg_cluster import ThrowawayPostgres

# A Tuesday, 12:00 in São Paulo: inside every calling window.
DEFAULT_INSTANT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of the `postgres` database on a real PostgreSQL server."""
    configured = os.environ.get("CORDIAL_TEST_PG_URL")
    if configured:
        yield configured
        return
    server = ThrowawayPostgres()
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> str:
    """Name of a database with the current schema, cloned for each test."""
    name = f"cordial_tpl_{uuid.uuid4().hex[:8]}"
    _admin(pg_server, f'CREATE DATABASE "{name}"')
    upgrade(pg_server.rsplit("/", 1)[0] + "/" + name)
    return name


def _new_pg_database(pg_server: str, template: str | None = None) -> str:
    name = f"cordial_t_{uuid.uuid4().hex[:12]}"
    _admin(pg_server, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return pg_server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cordial.db'}"
    return _new_pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with the current schema, on each engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cordial.db'}"
        upgrade(url)
        return url
    return _new_pg_database(request.getfixturevalue("pg_server"), request.getfixturevalue("pg_template"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cordial.db'}"
    upgrade(url)
    return url


@pytest.fixture
def pg_url(pg_server: str, pg_template: str) -> str:
    return _new_pg_database(pg_server, pg_template)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(DEFAULT_INSTANT)


def make_runtime(url: str, instance: Path, clock: VirtualClock, **overrides: str) -> Runtime:
    settings = {"DATABASE_URL": url, "CORDIAL_INSTANCE_PATH": str(instance), **overrides}
    return build_runtime(settings, clock=clock, env_file=None)


@pytest.fixture
def runtime(db_url: str, tmp_path: Path, clock: VirtualClock) -> Iterator[Runtime]:
    rt = make_runtime(db_url, tmp_path / "instance", clock)
    yield rt
    rt.close()


@pytest.fixture
def sqlite_runtime(sqlite_url: str, tmp_path: Path, clock: VirtualClock) -> Iterator[Runtime]:
    rt = make_runtime(sqlite_url, tmp_path / "instance", clock)
    yield rt
    rt.close()


@pytest.fixture
def app(sqlite_runtime: Runtime):
    application = create_app({"TESTING": True}, runtime=sqlite_runtime)
    yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run `cordial ...` in-process against a fresh SQLite instance folder."""
    instance = tmp_path / "cli-instance"
    monkeypatch.setenv("CORDIAL_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    from ivr.cli import main

    runner = CliRunner()

    def invoke(*args: str, **kwargs):
        return runner.invoke(main, list(args), catch_exceptions=False, **kwargs)

    invoke.instance = instance  # type: ignore[attr-defined]
    return invoke
