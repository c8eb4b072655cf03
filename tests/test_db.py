"""ivr.db: reads outside transactions and in read sessions, SQLite writers queueing on the
writer lock (and giving up after the busy timeout), and the database URLs it accepts."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
import threading

import pytest
from sqlalchemy import func, select, text

from ivr.config import ConfigError
from ivr.db import (
    WAL_AUTOCHECKPOINT_PAGES,
    Database,
    WalCheckpointer,
    WriterLockTimeout,
    _SqliteConnection,
)
from ivr.models import Creditor


def _lock_is_free(path: str) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


@pytest.fixture
def sqlite_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'lock.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE item (name TEXT)"))
    yield db, str(tmp_path / "lock.db-writer")
    db.dispose()


def test_a_write_transaction_holds_the_writer_lock_until_it_commits(sqlite_db):
    db, lock = sqlite_db
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO item VALUES ('a')"))
        assert not _lock_is_free(lock)
    assert _lock_is_free(lock)


def test_a_failed_write_transaction_releases_the_writer_lock(sqlite_db):
    db, lock = sqlite_db
    with pytest.raises(RuntimeError), db.session() as session:
        session.execute(text("INSERT INTO item VALUES ('b')"))
        assert not _lock_is_free(lock)
        raise RuntimeError("the unit of work failed")
    assert _lock_is_free(lock)
    assert db.read(lambda conn: conn.execute(text("SELECT count(*) FROM item")).scalar()) == 0


def test_a_read_takes_no_lock_and_sees_committed_rows_while_a_writer_works(sqlite_db):
    db, lock = sqlite_db
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO item VALUES ('c')"))
    with db.engine.begin() as writer:
        writer.execute(text("INSERT INTO item VALUES ('d')"))
        seen = db.read(lambda conn: conn.execute(text("SELECT name FROM item")).scalars().all())
        assert seen == ["c"]  # not the uncommitted row, and no wait for the writer
    assert _lock_is_free(lock)


def test_writers_in_threads_queue_on_the_lock_and_all_commit(sqlite_db):
    db, _lock = sqlite_db
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(50):
                with db.session() as session:
                    session.execute(text("INSERT INTO item VALUES (:n)"), {"n": f"{n}-{i}"})
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert db.read(lambda conn: conn.execute(text("SELECT count(*) FROM item")).scalar()) == 200


def _hold_the_lock(path: str, holding, release) -> None:
    db = Database(f"sqlite:///{path}")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO item VALUES ('child')"))
        holding.set()
        release.wait(60)
    db.dispose()


def test_a_writer_in_another_process_waits_for_the_lock_then_goes_on(sqlite_db, tmp_path):
    db, lock = sqlite_db
    context = multiprocessing.get_context("spawn")
    holding, release = context.Event(), context.Event()
    child = context.Process(target=_hold_the_lock, args=(str(tmp_path / "lock.db"), holding, release))
    child.start()
    try:
        assert holding.wait(60)
        assert not _lock_is_free(lock)
        release.set()
        with db.session() as session:  # waits for the child's commit, then writes
            session.execute(text("INSERT INTO item VALUES ('parent')"))
    finally:
        release.set()
        child.join(60)
    rows = db.read(lambda conn: conn.execute(text("SELECT name FROM item ORDER BY rowid")).scalars().all())
    assert rows == ["child", "parent"]
    assert child.exitcode == 0 and _lock_is_free(lock)


def test_a_nested_write_transaction_in_one_thread_does_not_wait_on_its_own_lock(tmp_path):
    path = str(tmp_path / "nested.db")
    outer = sqlite3.connect(path, factory=_SqliteConnection, isolation_level=None, timeout=0.2)
    inner = sqlite3.connect(path, factory=_SqliteConnection, isolation_level=None, timeout=0.2)
    outer.lock_path = inner.lock_path = path + "-writer"
    outer.execute("PRAGMA journal_mode=WAL")
    outer.execute("CREATE TABLE item (name TEXT)")
    outer.take_write_lock()
    outer.execute("BEGIN IMMEDIATE")
    inner.take_write_lock()  # returns at once: this thread already holds the lock
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        inner.execute("BEGIN IMMEDIATE")  # SQLite's own busy timeout, as without the lock
    inner.rollback()
    outer.rollback()
    assert _lock_is_free(path + "-writer")
    outer.close()
    inner.close()


def test_a_background_checkpointer_keeps_the_wal_out_of_the_requests(sqlite_db, tmp_path):
    db, _lock = sqlite_db
    database = str((tmp_path / "lock.db").resolve())
    with db.engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_AUTOCHECKPOINT_PAGES
        for i in range(200):
            conn.execute(text("INSERT INTO item VALUES (:n)"), {"n": f"row {i}"})
    running = WalCheckpointer.for_database(database)  # started by the first checkout
    assert running.thread.is_alive() and running.thread.daemon
    copied = threading.Event()
    for _ in range(300):  # the thread's own rounds, once a second
        if running.checkpoints >= 1:
            copied.set()
            break
        running.stopped.wait(0.1)
    assert copied.is_set(), "the background checkpointer copied nothing in 30 s"


def test_one_checkpoint_round_tells_whether_anything_was_written_since_the_last(sqlite_db, tmp_path):
    db, _lock = sqlite_db
    checkpointer = WalCheckpointer(str((tmp_path / "lock.db").resolve()))  # not started
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO item VALUES ('x')"))
    checkpointer.checkpoint_once()
    assert checkpointer.checkpoint_once() is False  # nothing new
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO item VALUES ('y')"))
    assert checkpointer.checkpoint_once() is True


def test_a_writer_gives_up_with_a_clear_error_when_the_lock_stays_held(sqlite_db, tmp_path):
    _db, lock = sqlite_db
    path = str(tmp_path / "lock.db")
    context = multiprocessing.get_context("spawn")
    holding, release = context.Event(), context.Event()
    child = context.Process(target=_hold_the_lock, args=(path, holding, release))
    child.start()
    impatient = Database(f"sqlite:///{path}", busy_timeout=0.3)
    try:
        assert holding.wait(60)
        with pytest.raises(WriterLockTimeout) as raised, impatient.session() as session:
            session.execute(text("INSERT INTO item VALUES ('parent')"))
        assert isinstance(raised.value, sqlite3.OperationalError)  # as SQLite's own "locked"
        message = str(raised.value)
        assert message.startswith("database is locked") and lock in message and "0.3 s" in message
        release.set()
        child.join(60)
        with impatient.session() as session:  # the lock came free: writing works again
            session.execute(text("INSERT INTO item VALUES ('parent')"))
    finally:
        release.set()
        child.join(60)
        impatient.dispose()
    rows = impatient.read(
        lambda conn: conn.execute(text("SELECT name FROM item ORDER BY rowid")).scalars().all()
    )
    assert rows == ["child", "parent"]
    assert _lock_is_free(lock)


def _creditor_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Creditor))


def _add_creditor(db: Database, legal_id: str) -> None:
    with db.session() as session:
        session.add(Creditor(name="Banco Exemplo S.A.", legal_id=legal_id, country="BR"))


def test_a_read_session_reads_one_snapshot_while_a_writer_in_another_thread_commits(db_url):
    db = Database(db_url)
    # Another engine on the same database, as another process would have. Its short busy
    # timeout turns a wait for the reader (the fault this test guards against) into an
    # error instead of a hang.
    writer = Database(db_url, busy_timeout=2)
    _add_creditor(db, "11222333000100")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            _add_creditor(writer, "11222333000200")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    try:
        with db.read_session() as session:
            assert _creditor_count(session) == 1
            if not db.is_postgres:
                assert _lock_is_free(db_url.removeprefix("sqlite:///") + "-writer")
            thread = threading.Thread(target=write, daemon=True)
            thread.start()
            thread.join(60)
            assert not thread.is_alive() and not errors  # committed while the reader was mid-way
            assert writer.read(lambda conn: _creditor_count(conn)) == 2
            assert _creditor_count(session) == 1  # the read session keeps its snapshot
        with db.read_session() as session:
            assert _creditor_count(session) == 2
    finally:
        writer.dispose()
        db.dispose()


def test_a_read_session_refuses_to_write(db_url):
    db = Database(db_url)
    try:
        with pytest.raises(RuntimeError, match="read session"), db.read_session() as session:
            session.add(
                Creditor(name="Banco Exemplo S.A.", legal_id="11222333000300", country="BR")
            )
            session.flush()
        assert db.read(lambda conn: _creditor_count(conn)) == 0
    finally:
        db.dispose()


def test_an_unsupported_database_url_is_a_config_error_that_hides_the_password():
    with pytest.raises(ConfigError) as raised:
        Database("mysql://cordial:s3cret-pw@db.example.com/cordial")
    message = str(raised.value)
    assert "DATABASE_URL" in message and "mysql://cordial:***@db.example.com/cordial" in message
    assert "sqlite:///" in message and "postgresql+psycopg://" in message
    assert "s3cret-pw" not in message


def test_the_cli_names_an_unsupported_database_url_without_its_password(cli, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://cordial:s3cret-pw@db.example.com/cordial")
    result = cli("plan")
    assert result.exit_code == 1
    assert "DATABASE_URL" in result.output and "mysql://cordial:***@db.example.com" in result.output
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output
