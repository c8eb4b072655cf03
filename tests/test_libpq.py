"""Statements run by libpq's own prepared-statement calls (ivr.libpq), on a real
PostgreSQL server: the values a cursor would give, the exceptions a cursor would raise,
and statements dropped behind its back."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest

from ivr import libpq
from ivr.libpq import LibpqStatement, numbered

pytestmark = pytest.mark.postgres


@pytest.fixture
def conn(pg_server: str):
    with psycopg.connect(pg_server.replace("+psycopg", ""), autocommit=True) as connection:
        yield connection


def _prepared_on_server(conn: psycopg.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM pg_prepared_statements")}


def test_placeholders_become_numbered_and_a_repeated_name_keeps_its_number():
    sql, names = numbered("SELECT %(b)s, %(a)s WHERE x = %(b)s AND y LIKE 'p%%'")
    assert sql == "SELECT $1, $2 WHERE x = $1 AND y LIKE 'p%'"
    assert names == ("b", "a")
    assert numbered("SELECT 1") == ("SELECT 1", ())


def test_a_row_has_the_values_and_types_a_cursor_gives(conn):
    query = (
        "SELECT %(n)s::integer + 1, %(text)s::text, %(day)s::date, %(at)s::timestamptz,"
        " %(money)s::numeric, %(flag)s::boolean, %(nothing)s::text"
    )
    params = {
        "n": 41,
        "text": "João Ñandú",
        "day": date(1980, 2, 29),
        "at": datetime(2026, 11, 24, 15, 0, 0, 123456, tzinfo=UTC),
        "money": Decimal("1234.56"),
        "flag": True,
        "nothing": None,
    }
    row, type_codes = LibpqStatement(query).first({}, conn, params)
    through_cursor = conn.execute(query, params).fetchone()
    assert row == through_cursor
    assert [type(v) for v in row] == [type(v) for v in through_cursor]
    assert row[0] == 42 and row[6] is None
    assert type_codes == [23, 25, 1082, 1184, 1700, 16, 25]


def test_a_statement_is_prepared_once_per_connection_and_no_row_is_none(conn):
    info: dict = {}
    statement = LibpqStatement("SELECT %(n)s::integer WHERE %(n)s::integer > 0")
    assert statement.first(info, conn, {"n": 5})[0] == (5,)
    assert statement.first(info, conn, {"n": -5})[0] is None
    assert len([n for n in _prepared_on_server(conn) if n.startswith("cordial_")]) == 1


def test_statements_psycopg_deallocated_after_a_rollback_are_prepared_again(pg_server, conn):
    """psycopg sends DEALLOCATE ALL after a ROLLBACK on a connection where it prepared
    statements of its own: that drops ours too, and the next run prepares again."""
    info: dict = {}
    statement = LibpqStatement("SELECT %(n)s::integer * 2")
    assert statement.first(info, conn, {"n": 2})[0] == (4,)
    conn.autocommit = False
    conn.execute("SELECT 1", prepare=True)  # a statement psycopg prepared itself
    conn.execute("SELECT 1")
    conn.rollback()
    conn.autocommit = True
    assert not [n for n in _prepared_on_server(conn) if n.startswith("cordial_")]
    assert statement.first(info, conn, {"n": 3})[0] == (6,)


def test_a_failed_statement_raises_what_a_cursor_raises_and_leaves_the_connection_usable(
    conn,
):
    statement = LibpqStatement("SELECT 1 / %(n)s::integer")
    with pytest.raises(psycopg.errors.DivisionByZero, match="division by zero"):
        statement.run({}, conn, {"n": 0})
    assert statement.first({}, conn, {"n": 1})[0] == (1,)
    with pytest.raises(psycopg.errors.UndefinedTable):
        LibpqStatement("SELECT * FROM no_such_table").run({}, conn, {})
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_connection_inside_a_transaction_is_refused_and_nothing_runs(conn):
    conn.execute("CREATE TEMPORARY TABLE t (n integer)")
    conn.autocommit = False
    conn.execute("SELECT 1")  # psycopg opened a transaction
    with pytest.raises(psycopg.ProgrammingError, match="no transaction open"):
        LibpqStatement("INSERT INTO t VALUES (%(n)s::integer)").run({}, conn, {"n": 1})
    conn.rollback()
    conn.autocommit = True
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_beyond_the_kept_prepared_statements_the_rest_run_unprepared(conn, monkeypatch):
    monkeypatch.setattr(libpq, "PREPARED_KEPT", 2)
    info: dict = {}
    for n in range(4):
        row, _ = LibpqStatement(f"SELECT {n} + %(n)s::integer").first(info, conn, {"n": 1})
        assert row == (n + 1,)
    assert len([n for n in _prepared_on_server(conn) if n.startswith("cordial_")]) == 2


def test_a_dropped_connection_raises_an_operational_error(pg_server, conn):
    statement = LibpqStatement("SELECT %(n)s::integer")
    statement.run({}, conn, {"n": 1})
    with psycopg.connect(pg_server.replace("+psycopg", ""), autocommit=True) as admin:
        pid = conn.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            admin.execute("SELECT pg_sleep(0.01)")
    with pytest.raises(psycopg.OperationalError):
        statement.run({}, conn, {"n": 1})
    assert conn.closed


def test_one_statement_takes_values_of_every_integer_width_and_null(conn):
    info: dict = {}
    statement = LibpqStatement("SELECT %(n)s::bigint, pg_typeof(%(n)s::bigint)::text")
    for n in (1, 70_000, 2**40, None):
        assert statement.first(info, conn, {"n": n})[0] == (n, "bigint")


def test_a_plan_a_migration_invalidated_is_prepared_again(pg_server, conn):
    """A column the statement reads changed type: the server refuses the cached plan
    ("cached plan must not change result type") before running it; it is prepared again."""
    conn.execute("CREATE TEMPORARY TABLE t (id integer, name varchar(10))")
    conn.execute("INSERT INTO t VALUES (1, 'Ana')")
    info: dict = {}
    statement = LibpqStatement("SELECT id, name FROM t WHERE id = %(id)s::integer")
    assert statement.first(info, conn, {"id": 1})[0] == (1, "Ana")
    conn.execute("ALTER TABLE t ALTER COLUMN name TYPE text")
    assert statement.first(info, conn, {"id": 1}) == ((1, "Ana"), [23, 25])
    assert len([n for n in _prepared_on_server(conn) if n.startswith("cordial_")]) == 1


def test_with_psycopgs_prepare_threshold_off_nothing_is_prepared(conn):
    conn.prepare_threshold = None  # psycopg's switch for PgBouncer in transaction mode
    assert LibpqStatement("SELECT %(n)s::integer").first({}, conn, {"n": 7})[0] == (7,)
    assert not _prepared_on_server(conn)


def test_a_connection_closed_or_cut_raises_an_operational_error(pg_server):
    import socket

    statement = LibpqStatement("SELECT %(n)s::integer")
    with psycopg.connect(pg_server.replace("+psycopg", ""), autocommit=True) as cut:
        statement.run({}, cut, {"n": 1})
        # The network fails under the connection: an error with no SQLSTATE.
        socket.socket(fileno=os.dup(cut.pgconn.socket)).shutdown(socket.SHUT_RDWR)
        with pytest.raises(psycopg.OperationalError):
            statement.run({}, cut, {"n": 1})
        assert cut.closed
    closed = psycopg.connect(pg_server.replace("+psycopg", ""), autocommit=True)
    closed.close()
    with pytest.raises(psycopg.OperationalError, match="closed"):
        statement.run({}, closed, {"n": 1})


def test_the_webhook_statements_run_through_libpq_and_leave_pooled_connections_idle(pg_url):
    """Through Database (pooled connections, not in autocommit mode): the read and the
    write run as prepared statements of ours, and the connection holds no transaction."""
    from sqlalchemy import bindparam, insert, select, text

    from ivr.db import Database
    from ivr.models import Creditor

    db = Database(pg_url)
    try:
        with db.lease() as lease:
            columns = {name: bindparam(name) for name in ("name", "legal_id", "country")}
            row = {"name": "ACME", "legal_id": "1", "country": "BR"}
            db.write_driver([(insert(Creditor.__table__).values(columns), row)], lease)
            query = select(Creditor.__table__.c.name).where(Creditor.__table__.c.legal_id == "1")
            assert db.read_first(query, {}, lease) == ("ACME",)
            driver = lease.connection().driver_connection
            assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            names = [r[0] for r in driver.execute("SELECT name FROM pg_prepared_statements")]
            assert len([n for n in names if n.startswith("cordial_")]) == 2
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM creditor")).scalar() == 1
    finally:
        db.dispose()


# -- waiting for the answer (ivr.libpq.poll_for_answers) ------------------------------------


class _Recorder:
    """Stands in for os.sched_yield and select.poll in ivr.libpq, counting their calls and
    doing what they do."""

    def __init__(self) -> None:
        import select

        self.yields = 0
        self.sleeps = 0
        self._poll = select.poll
        self._yield = os.sched_yield

    def sched_yield(self) -> None:
        self.yields += 1
        self._yield()

    def poll(self):
        recorder, waiting = self, self._poll()

        class Counted:
            def register(self, fd, events):
                waiting.register(fd, events)

            def poll(self, *args):
                recorder.sleeps += 1
                return waiting.poll(*args)

        return Counted()


@pytest.fixture
def waits(monkeypatch):
    recorder = _Recorder()
    monkeypatch.setattr(libpq.os, "sched_yield", recorder.sched_yield)
    monkeypatch.setattr(libpq.select, "poll", recorder.poll)
    yield recorder
    libpq.poll_for_answers(0)


@pytest.mark.parametrize("budget", [0.0, 30.0])
def test_answers_are_the_same_whether_awaited_by_polling_or_sleeping(conn, waits, budget):
    libpq.poll_for_answers(budget)
    statement = LibpqStatement("SELECT %(n)s::integer * 3, pg_sleep(0.02)::text")
    assert statement.first({}, conn, {"n": 5}) == ((15, ""), [23, 25])
    with pytest.raises(psycopg.errors.DivisionByZero):
        LibpqStatement("SELECT 1 / %(n)s::integer FROM pg_sleep(0.02)").run({}, conn, {"n": 0})
    assert statement.first({}, conn, {"n": 2})[0] == (6, "")
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_without_a_budget_a_statement_sleeps_until_its_answer_and_never_polls(conn, waits):
    libpq.poll_for_answers(0)
    LibpqStatement("SELECT pg_sleep(0.05)").run({}, conn, {})
    assert waits.yields == 0 and waits.sleeps >= 1


def test_with_a_budget_longer_than_the_statement_it_polls_and_never_sleeps(conn, waits):
    libpq.poll_for_answers(30.0)  # the server answers after 50 ms, far inside it
    LibpqStatement("SELECT pg_sleep(0.05)").run({}, conn, {})
    assert waits.yields >= 1 and waits.sleeps == 0


def test_a_statement_longer_than_the_budget_polls_then_sleeps(conn, waits):
    libpq.poll_for_answers(1e-6)  # 1 µs: over before a 50 ms statement could answer
    assert LibpqStatement("SELECT 7 FROM pg_sleep(0.05)").first({}, conn, {})[0] == (7,)
    assert waits.sleeps >= 1


def test_a_negative_budget_is_no_budget(conn, waits):
    libpq.poll_for_answers(-5)
    LibpqStatement("SELECT pg_sleep(0.01)").run({}, conn, {})
    assert waits.yields == 0


def test_ctrl_c_interrupts_a_statement_waiting_for_its_answer_and_closes_the_connection(
    pg_server,
):
    """libpq's own calls cannot be interrupted; the wait here can (a signal's handler
    raises during poll()). The connection is closed: its statement may still be running."""
    import signal

    class Interrupted(Exception):
        pass

    def interrupt(*_args):
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with psycopg.connect(pg_server.replace("+psycopg", ""), autocommit=True) as slow:
            statement = LibpqStatement("SELECT pg_sleep(30)")
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            with pytest.raises(Interrupted):
                statement.run({}, slow, {})
            assert slow.closed
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
