"""Database engine, sessions and migrations.

SQLite (a file in the instance folder) is the embedded default; PostgreSQL is
selected by DATABASE_URL. Migrations are Alembic's, applied programmatically
so that the first run of any command creates the database by itself.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Executable,
    Result,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from ivr.config import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` and `postgres://` URLs and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


# How long a SQLite writer waits for the database (the writer lock, then SQLite's own
# busy handler) before it gives up with "database is locked".
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0


def make_engine(url: str, *, busy_timeout: float = SQLITE_BUSY_TIMEOUT_SECONDS, **kwargs) -> Engine:
    """An engine for DATABASE_URL. `busy_timeout` (seconds, SQLite only): how long a write
    transaction waits for another to end before it fails."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {
            "timeout": busy_timeout,
            "check_same_thread": False,
            "factory": _SqliteConnection,
        }
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(
            engine, "connect", lambda dbapi, record: _sqlite_pragmas(dbapi, record, busy_timeout)
        )
        event.listen(engine, "begin", _sqlite_begin)
        if parsed.database and parsed.database != ":memory:":
            database = str(Path(parsed.database).resolve())
            event.listen(engine, "checkout", lambda *_: WalCheckpointer.for_database(database))
        return engine
    if parsed.get_backend_name() == "postgresql":
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 10)
            kwargs.setdefault("max_overflow", 20)
        # No pre-ping: it would cost a round trip on every checkout, and webhooks check
        # out twice. After a server restart the first statement that meets a dead
        # connection fails, which invalidates the whole pool; `Database.read` retries it.
        return create_engine(url, **kwargs)
    raise ConfigError(
        f"DATABASE_URL={parsed.render_as_string(hide_password=True)!r} names a database "
        f"Cordial does not support ({parsed.get_backend_name()}); expected "
        "sqlite:///path/to/cordial.db or postgresql+psycopg://user:password@host/dbname"
    )


class WriterLockTimeout(sqlite3.OperationalError):
    """A SQLite write transaction could not start: another one held the writer lock for
    the whole busy timeout (a stuck or very long writer)."""


# A writer that finds the lock taken tries again after 0.1 ms, then twice as long each
# time, up to this: it starts at most this late after the lock comes free.
_WRITER_LOCK_POLL_MAX_SECONDS = 0.002


class _SqliteConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue on an flock of a file beside
    the database (`<database>-writer`) before BEGIN IMMEDIATE.

    SQLite makes a writer that finds the database locked poll with sleeps of 1, 2, 5,
    10 ... 100 ms; under load those sleeps, not the work, make the slowest webhooks
    and leave cores idle. A writer that finds the flock taken tries again every
    fraction of a millisecond at first, never more than _WRITER_LOCK_POLL_MAX_SECONDS
    apart, so it starts almost the moment the previous transaction ends, in this
    process or another. It gives up after `lock_timeout` (SQLite's busy timeout) with
    WriterLockTimeout, "database is locked" as SQLite says it: a stuck writer makes the
    others fail, not hang. The lock is released as soon as the transaction commits or
    rolls back. Only write transactions take it: reads (`Database.read`,
    `Database.read_session`) never do, and in WAL mode never wait for a writer. A
    second write transaction of a thread that already holds one (a nested unit of
    work) does not wait on the flock, which would never come free; it meets SQLite's
    busy timeout as it would without this class. Other programs writing the file
    still just get SQLite's own locking."""

    lock_path: str | None = None
    lock_timeout = SQLITE_BUSY_TIMEOUT_SECONDS
    _lock_fd: int | None = None
    _lock_pid = 0
    _held_by: list[int] | None = None  # the holding thread's count of held write locks

    def take_write_lock(self) -> None:
        if self.lock_path is None or self._held_by is not None:
            return
        held = _thread_write_locks()
        if held[0]:
            return
        if self._lock_fd is None or self._lock_pid != os.getpid():
            # A connection inherited through fork() shares the parent's lock: reopen.
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_pid = os.getpid()
        if not _try_flock(self._lock_fd):
            self._wait_for_write_lock(self._lock_fd)
        held[0] += 1
        self._held_by = held

    def _wait_for_write_lock(self, fd: int) -> None:
        deadline = time.monotonic() + self.lock_timeout
        pause = 0.0001
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WriterLockTimeout(
                    f"database is locked: another write transaction held {self.lock_path} "
                    f"for {self.lock_timeout:g} s (the busy timeout); this one was not started"
                )
            time.sleep(min(pause, remaining))
            if _try_flock(fd):
                return
            pause = min(pause * 2, _WRITER_LOCK_POLL_MAX_SECONDS)

    def release_write_lock(self) -> None:
        held, self._held_by = self._held_by, None
        if held is not None:
            held[0] -= 1
            if self._lock_fd is not None and self._lock_pid == os.getpid():
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.release_write_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.release_write_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release_write_lock()
            if self._lock_fd is not None and self._lock_pid == os.getpid():
                os.close(self._lock_fd)
            self._lock_fd = None


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


_threads = threading.local()


def _thread_write_locks() -> list[int]:
    held = getattr(_threads, "write_locks", None)
    if held is None:
        held = _threads.write_locks = [0]
    return held


def _sqlite_pragmas(dbapi_connection, _record, busy_timeout: float) -> None:
    # Let SQLAlchemy (not pysqlite) decide when transactions begin, so BEGIN
    # IMMEDIATE below takes the write lock up front: two dialer processes on one
    # SQLite file then serialise their claims instead of deadlocking.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    database = cursor.execute("PRAGMA database_list").fetchone()[2]
    cursor.close()
    if database and isinstance(dbapi_connection, _SqliteConnection):  # "" = in memory
        dbapi_connection.lock_path = database + "-writer"
        dbapi_connection.lock_timeout = busy_timeout


# A commit that finds the WAL over SQLite's default 1,000 pages checkpoints it there and
# then, fsync included: a few milliseconds added to one request in a few hundred. The
# background checkpointer below keeps the WAL short instead; this is the safety net.
WAL_AUTOCHECKPOINT_PAGES = 10_000
WAL_CHECKPOINT_SECONDS = 1.0
WAL_CHECKPOINTER_IDLE_ROUNDS = 60


class WalCheckpointer:
    """A daemon thread per process and SQLite file that copies the WAL back into the
    database every WAL_CHECKPOINT_SECONDS (PASSIVE: it never waits for, nor blocks,
    readers and writers), so that no request pays for a checkpoint."""

    _running: dict[tuple[int, str], WalCheckpointer] = {}
    _lock = threading.Lock()

    def __init__(self, database: str, interval: float = WAL_CHECKPOINT_SECONDS) -> None:
        self.database = database
        self.interval = interval
        self.checkpoints = 0  # rounds that found new frames to copy
        self._last: tuple[int, int] = (-1, -1)
        self.stopped = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"wal-checkpoint {database}", daemon=True
        )

    @classmethod
    def for_database(cls, database: str) -> WalCheckpointer:
        key = (os.getpid(), database)  # threads do not survive fork(): one per process
        running = cls._running.get(key)  # every checkout asks: no lock while it runs
        if running is not None and running.thread.is_alive():
            return running
        with cls._lock:
            running = cls._running.get(key)
            if running is None or not running.thread.is_alive():
                running = cls._running[key] = cls(database)
                running.thread.start()
            return running

    def checkpoint_once(self) -> bool:
        """One passive checkpoint; whether it found frames written since the last one."""
        # mode=rw: never create the file again if it was just deleted.
        connection = sqlite3.connect(f"file:{quote(self.database)}?mode=rw", uri=True, timeout=1)
        try:
            _busy, log_frames, copied = connection.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
        finally:
            connection.close()
        # (frames in the WAL, frames of it already in the database): the same pair again
        # means nothing was written meanwhile.
        found = (log_frames, copied) != self._last and log_frames > 0
        self._last = (log_frames, copied)
        if found:
            self.checkpoints += 1
        return found

    def _run(self) -> None:
        idle = 0
        # Ends when the file is gone or after a quiet minute; the next checkout of a
        # connection to the file starts it again.
        while idle < WAL_CHECKPOINTER_IDLE_ROUNDS and not self.stopped.wait(self.interval):
            if not os.path.exists(self.database):
                return
            try:
                idle = 0 if self.checkpoint_once() else idle + 1
            except sqlite3.Error:
                log.debug("WAL checkpoint of %s skipped", self.database, exc_info=True)


_READ_ONLY = "cordial_read_only"  # each statement by itself, outside any transaction
_READ_SNAPSHOT = "cordial_read_snapshot"  # a read transaction: one snapshot, no write lock


def _sqlite_begin(connection) -> None:
    options = connection.get_execution_options()
    if options.get(_READ_ONLY):
        return  # one statement, its own snapshot (the driver is in autocommit mode)
    driver = connection.connection.driver_connection
    if options.get(_READ_SNAPSHOT):
        # Deferred: in WAL mode a read transaction neither takes nor waits for the write
        # lock, and its snapshot holds from its first read to its end.
        driver.execute("BEGIN DEFERRED")
        return
    _begin_sqlite_write(driver)


def _begin_sqlite_write(driver: sqlite3.Connection) -> None:
    """Queue on the writer lock, then BEGIN IMMEDIATE (straight to the driver: this runs
    before every write transaction)."""
    if isinstance(driver, _SqliteConnection):
        driver.take_write_lock()
    try:
        driver.execute("BEGIN IMMEDIATE")
    except BaseException:
        if isinstance(driver, _SqliteConnection):
            driver.release_write_lock()
        raise


_DRIVER_STATEMENTS_KEPT = 256


class DriverStatement:
    """A Core statement compiled once for a dialect and run on the driver: on a cursor of
    its own (SQLite), or by libpq's prepared-statement calls (PostgreSQL, ivr.libpq).

    For the few statements every voice webhook runs: there SQLAlchemy's work per
    execution (a Connection, an execution context, events, a Result) costs several
    times what the database does. The parameters and the columns still go through the
    type processors SQLAlchemy would apply (dates as SQLite stores them, money in
    cents, JSON), so the values read and written are the same as through a Session."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        # A Core statement is a ClauseElement, and compiles to an SQLCompiler.
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
        self.sql = compiled.string
        self._dialect = dialect
        # Binds with a value of their own (a literal compared in a WHERE); the rest come
        # from the caller.
        self._fixed = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        order = compiled.positiontup if dialect.positional else list(compiled.binds)
        self._binds = [(name, processors[name]) for name in order or ()]
        self._positional = dialect.positional
        columns = getattr(statement, "selected_columns", None)
        self._column_types = [column.type.dialect_impl(dialect) for column in columns or ()]
        self._results: list[tuple[int, Callable[[Any], Any]]] | None = None  # columns to convert
        self._libpq = None
        if dialect.name == "postgresql":
            from ivr.libpq import LibpqStatement

            self._libpq = LibpqStatement(self.sql)

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters for one execution."""
        if self._fixed:
            values = {**self._fixed, **values}
        if self._positional:
            return tuple(
                values[name] if process is None else process(values[name])
                for name, process in self._binds
            )
        return {
            name: values[name] if process is None else process(values[name])
            for name, process in self._binds
        }

    def _named(self, values: dict[str, Any]) -> dict[str, Any]:
        """The parameters by name, as psycopg's paramstyle has them."""
        parameters = self.parameters(values)
        assert isinstance(parameters, dict), "PostgreSQL's parameters are named"
        return parameters

    def execute(self, driver: Any, values: dict[str, Any] | list[dict[str, Any]]) -> Any:
        """Run on a driver connection (one set of values, or several: executemany);
        return the cursor."""
        cursor = driver.cursor()
        if isinstance(values, list):
            cursor.executemany(self.sql, [self.parameters(v) for v in values])
        else:
            cursor.execute(self.sql, self.parameters(values))
        return cursor

    def run(self, raw: Any, values: dict[str, Any]) -> None:
        """On PostgreSQL, run one statement by itself, outside any transaction (it commits
        by itself), through libpq (ivr.libpq). `raw`: a pooled connection
        (PoolProxiedConnection). SQLite's writes take the writer lock first (write_driver)."""
        assert self._libpq is not None, "a statement runs by itself on PostgreSQL only"
        self._libpq.run(raw.info, raw.driver_connection, self._named(values))

    def first(self, raw: Any, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a SELECT run outside any transaction (on PostgreSQL through
        libpq, see `run`), its values as SQLAlchemy would give them."""
        if self._libpq is not None:
            row, type_codes = self._libpq.first(
                raw.info, raw.driver_connection, self._named(values)
            )
        else:
            cursor = self.execute(raw.driver_connection, values)
            try:
                row = cursor.fetchone()
                type_codes = [description[1] for description in cursor.description]
            finally:
                cursor.close()
        if row is None:
            return None
        if self._results is None:
            # A processor may depend on the driver's type code (PostgreSQL's numerics).
            processors = (
                kind.result_processor(self._dialect, type_code)
                for kind, type_code in zip(self._column_types, type_codes, strict=True)
            )
            self._results = [(i, p) for i, p in enumerate(processors) if p is not None]
        if not self._results:
            return tuple(row)
        converted = list(row)
        for index, process in self._results:
            converted[index] = process(converted[index])
        return tuple(converted)


class DriverLease:
    """A pooled connection taken once for a few driver statements in a row (a voice
    webhook's read, then its write), so that they pay one pool checkout instead of one
    each. Between statements the connection holds no transaction. `close` gives it back;
    after a failed statement it is given back (or discarded, when the server dropped it)
    at once, and the next statement takes a fresh one."""

    def __init__(self, db: Database, *, keep: bool = True) -> None:
        self._db = db
        self._keep = keep  # False: give the connection back after each statement
        self._raw: Any = None

    def connection(self) -> Any:
        if self._raw is None:
            self._raw = self._db.engine.raw_connection()
        return self._raw

    def done(self) -> None:
        """A statement ended well: keep the connection for the next, unless not kept."""
        if not self._keep:
            self.close()

    def forget(self) -> None:
        """The connection was invalidated (the server dropped it): already back in the pool."""
        self._raw = None

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            raw.close()

    def __enter__(self) -> DriverLease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def rows_changed(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE run through a Session changed (its CursorResult's
    rowcount; SQLAlchemy types `Session.execute` as returning any Result)."""
    return cast(CursorResult[Any], result).rowcount


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def alembic_config(url: str):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


# PostgreSQL advisory lock key of the migrations ("cord").
MIGRATION_LOCK_KEY = 0x636F7264


def ensure_schema(engine: Engine) -> None:
    """Bring the database to the newest schema; creates it on first run.

    Processes that start together on a new database (gunicorn workers, dialers) migrate
    one at a time, behind a lock: the first creates the schema, the others find it done
    and go on. Without the lock both would create the same tables, and one would fail
    to start."""
    url = engine.url.render_as_string(hide_password=False)
    head = head_revision(url)
    if current_revision(engine) == head:
        return  # every start but the first: no lock
    with _migration_lock(engine):
        if current_revision(engine) == head:
            return  # another process migrated it while this one waited
        has_tables = bool(inspect(engine).get_table_names())
        log.info(
            "database %s: applying migrations (%s)",
            engine.url.render_as_string(),
            "upgrade" if has_tables else "create",
        )
        upgrade(url)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Held by one process at a time per database: an flock of `<database>-migrate`
    beside a SQLite file, a session advisory lock on PostgreSQL."""
    if is_postgres(engine):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield  # a database of this process alone
        return
    fd = os.open(f"{database}-migrate", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def _refuse_to_write(session: Session, *_args: object) -> None:
    raise RuntimeError("a read session cannot write: use Database.session for a unit of work")


class Database:
    """An engine and its session factory; one per process."""

    def __init__(self, url: str, **engine_kwargs) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._driver_statements: dict[Executable, DriverStatement] = {}
        # Called after a commit that wrote contact events outside a Session (the voice
        # webhooks' writes): the console's live streams wake on it.
        self.contact_events_listeners: list[Callable[[], None]] = []

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A Session for reads only, all in one snapshot, that never blocks a writer
        however long it lasts (a report over the whole portfolio): on SQLite a deferred
        read transaction, which takes no write lock; on PostgreSQL a READ ONLY REPEATABLE
        READ transaction. Rolled back at the end; a flush of ORM changes raises. Do not
        hold one across a slow client (a streamed download): read in chunks with `read`."""
        with self.engine.connect() as conn:
            if is_postgres(self.engine):
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            else:
                conn.execution_options(**{_READ_SNAPSHOT: True})
            session = Session(bind=conn, expire_on_commit=False)
            event.listen(session, "before_flush", _refuse_to_write)
            try:
                yield session
            finally:
                session.close()

    def read(self, query: Callable[[Connection], T]) -> T:
        """Run a read of ONE statement outside any transaction: it sees a consistent
        snapshot, takes no write lock (SQLite) and costs no BEGIN/COMMIT round trips
        (PostgreSQL). Retried once when it met a connection the server had dropped."""
        for retry in (False, True):
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(**self._read_options)
                    return query(conn)
            except DBAPIError as error:
                if retry or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.engine)

    def driver_statement(self, statement: Executable) -> DriverStatement:
        """`statement` compiled for this database, once (keep the statement object)."""
        compiled = self._driver_statements.get(statement)
        if compiled is None:
            if len(self._driver_statements) >= _DRIVER_STATEMENTS_KEPT:
                self._driver_statements.clear()  # statements rebuilt elsewhere: start afresh
            compiled = self._driver_statements[statement] = DriverStatement(
                statement, self.engine.dialect
            )
        return compiled

    def lease(self) -> DriverLease:
        """One pooled connection for several driver statements in a row (see DriverLease)."""
        return DriverLease(self)

    def read_first(
        self, statement: Executable, values: dict[str, Any], lease: DriverLease | None = None
    ) -> tuple | None:
        """Like `read`, for one SELECT run on the driver (see DriverStatement): its first
        row, outside any transaction. Retried once when the server had dropped the
        connection. On `lease`'s connection when given, else on one of its own."""
        compiled = self.driver_statement(statement)
        lease = lease or DriverLease(self, keep=False)
        for retry in (False, True):
            raw = lease.connection()
            try:
                row = compiled.first(raw, values)  # no BEGIN, no COMMIT
            except self.engine.dialect.loaded_dbapi.Error as error:
                if self._forget_if_dropped(raw, error):
                    lease.forget()
                    if not retry:
                        continue
                else:
                    lease.close()
                raise
            except BaseException:
                lease.close()
                raise
            lease.done()
            return row
        raise AssertionError("unreachable")

    def write_driver(
        self, steps: list[tuple[Executable, dict | list[dict]]], lease: DriverLease | None = None
    ) -> None:
        """Run `steps` (a statement and its values, a list of values for several rows)
        on the driver in one transaction: on SQLite behind the writer lock, as every
        write; on PostgreSQL a single statement runs in autocommit mode, by itself atomic
        (an INSERT carrying an UPDATE in a data-modifying WITH). On `lease`'s connection
        when given, else on one of its own."""
        compiled = [(self.driver_statement(statement), values) for statement, values in steps]
        lease = lease or DriverLease(self, keep=False)
        raw = lease.connection()
        try:
            driver = raw.driver_connection
            if self.is_postgres and len(compiled) == 1 and not isinstance(compiled[0][1], list):
                compiled[0][0].run(raw, compiled[0][1])  # one statement commits by itself
            else:
                if not self.is_postgres:
                    _begin_sqlite_write(driver)
                try:
                    for statement, values in compiled:
                        statement.execute(driver, values).close()
                    driver.commit()
                except BaseException:
                    if not getattr(driver, "closed", False):
                        driver.rollback()
                    raise
        except self.engine.dialect.loaded_dbapi.Error as error:
            if self._forget_if_dropped(raw, error):
                lease.forget()
            else:
                lease.close()
            raise  # a write is never retried: the server may have done it
        except BaseException:
            lease.close()
            raise
        lease.done()

    def _forget_if_dropped(self, raw: Any, error: Any) -> bool:
        """When `error` says the server dropped the connection: discard it and the idle
        ones pooled with it (a restarted server dropped them all), and say so."""
        if not self.engine.dialect.is_disconnect(error, raw.dbapi_connection, None):
            return False
        raw.invalidate(error)  # returns it to the pool as a dead record
        # A new pool: the old one's idle connections go with it, and connections other
        # threads hold now are discarded when they come back (Engine.dispose).
        self.engine.dispose(close=False)
        return True

    def contact_events_written(self) -> None:
        for listener in self.contact_events_listeners:
            listener()

    @property
    def _read_options(self) -> dict[str, object]:
        if is_postgres(self.engine):
            return {"isolation_level": "AUTOCOMMIT"}
        return {_READ_ONLY: True}

    def dispose(self) -> None:
        self.engine.dispose()
