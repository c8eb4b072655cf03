"""PostgreSQL statements run by libpq's own calls on a psycopg connection, for the few
statements every voice webhook runs (ivr.db.DriverStatement).

A psycopg cursor does, on every execution, work a webhook does not need: it converts
the query's placeholders, looks the query up in its prepared-statement manager, builds
a cursor and its result state. On the benchmark machine that was about 45 µs of the
90 µs of CPU a webhook's read cost its process. Here a statement is prepared once per
connection (PQprepare) and then sent with PQsendQueryPrepared; the parameters are dumped and
the rows loaded by psycopg's own Transformer, so values have exactly the types a cursor
gives them.

Only for one statement outside any transaction (it commits by itself), which is how the
webhooks read and write. The connection must hold no transaction: this module never
opens or ends one.

A statement is sent, then its answer awaited here rather than inside libpq, so that
Ctrl-C interrupts the wait, and so that a process with nothing else to do can poll
for the answer for a moment instead of sleeping (`poll_for_answers`): on a virtual
machine whose idle cores halt, every sleep of a few dozen microseconds costs a wake-up
and cold caches, for the process and for the server.
"""

from __future__ import annotations

import itertools
import os
import re
import select
import time
from collections import OrderedDict
from typing import Any

import psycopg
from psycopg import abc as psycopg_abc
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

# A prepared statement's identity on a connection: its SQL and its parameters' type OIDs.
StatementKey = tuple[bytes, tuple[int, ...] | None]

# Prepared statements kept per connection, the least recently used deallocated beyond
# (the same SQL gets one per set of parameter types, and psycopg picks int2, int4 or
# int8 by value).
PREPARED_KEPT = 200
# Errors raised before the statement ran, after which preparing it again is safe:
# invalid_sql_statement_name (psycopg sends DEALLOCATE ALL after a ROLLBACK on a
# connection where it prepared statements of its own, which drops ours too), and
# "cached plan must not change result type" (a migration changed a column it reads).
_UNKNOWN_PREPARED = b"26000"
_PLAN_INVALIDATED = (b"0A000", b"RevalidateCachedQuery")
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_IDLE = pq.TransactionStatus.IDLE
_CONNECTION_OK = pq.ConnStatus.OK
_BAD = pq.ConnStatus.BAD
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_names = itertools.count(1)
# How long the statements of this process poll for their answer before sleeping (seconds;
# 0: they sleep at once). Set per request by the voice webhook worker (ivr.webhook_worker).
_poll_seconds = 0.0


def poll_for_answers(seconds: float) -> None:
    """From now on in this process, a statement polls its connection for up to `seconds`
    for the server's answer, offering the CPU to anything else runnable between polls,
    before it sleeps until the answer comes (0: it sleeps at once). For a process that
    would otherwise leave its core idle for those microseconds: it costs CPU that nothing
    else wanted, and saves the wake-up."""
    global _poll_seconds
    _poll_seconds = max(0.0, seconds)


def numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """psycopg's `%(name)s` SQL with PostgreSQL's own `$1` placeholders (a name used
    twice keeps its number), and the names in the order of their numbers."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:  # "%%", a literal percent sign
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, sql), tuple(names)


class _Session:
    """What one connection knows: its Transformer and the statements prepared on it
    (least recently used first)."""

    __slots__ = ("driver", "transformer", "prepared", "encoding")

    def __init__(self, driver: psycopg.Connection) -> None:
        self.driver = driver
        self.transformer = Transformer(driver)
        self.prepared: OrderedDict[StatementKey, bytes] = OrderedDict()
        self.encoding = driver.info.encoding

    def prepared_name(self, key: StatementKey) -> bytes:
        """The name `key` (SQL, parameter types) is prepared under, preparing it now
        when needed (and deallocating the least recently used beyond PREPARED_KEPT)."""
        name = self.prepared.get(key)
        if name is not None:
            self.prepared.move_to_end(key)
            return name
        pgconn = self.driver.pgconn
        while len(self.prepared) >= PREPARED_KEPT:
            _key, old = self.prepared.popitem(last=False)
            self._deallocate(old)
        name = f"cordial_{next(_names)}".encode()
        _checked(pgconn.prepare(name, key[0], key[1]), self)
        self.prepared[key] = name
        return name

    def forget(self, key: StatementKey, result: pq.abc.PGresult) -> bool:
        """After `result` failed: whether the statement never ran because the server no
        longer has it as prepared (then it is forgotten, to be prepared again)."""
        state = result.error_field(pq.DiagnosticField.SQLSTATE)
        if state == _UNKNOWN_PREPARED:
            self.prepared.clear()  # deallocated behind our back: all of them
            return True
        if (state, result.error_field(pq.DiagnosticField.SOURCE_FUNCTION)) == _PLAN_INVALIDATED:
            self._deallocate(self.prepared.pop(key))
            return True
        return False

    def _deallocate(self, name: bytes) -> None:
        result = self.driver.pgconn.exec_(b"DEALLOCATE " + name)
        if result.error_field(pq.DiagnosticField.SQLSTATE) != _UNKNOWN_PREPARED:  # gone already
            _checked(result, self)


class LibpqStatement:
    """One statement in psycopg's `%(name)s` style, run by libpq on a psycopg connection."""

    __slots__ = ("sql", "names", "_formats")

    def __init__(self, pyformat_sql: str) -> None:
        sql, self.names = numbered(pyformat_sql)
        self.sql = sql.encode()
        self._formats = [PyFormat.TEXT] * len(self.names)

    def run(
        self, info: dict[Any, Any], driver: psycopg.Connection, params: dict[str, Any]
    ) -> psycopg_abc.Transformer:
        """Run with `params` (values by name, already through SQLAlchemy's bind processors).
        `info`: a dictionary that lives as long as the connection (the pool's
        `ConnectionFairy.info`), where what was prepared on it is kept. Returns the
        Transformer holding the result (`pgresult`), for `first`. Raises psycopg's
        exceptions, as a cursor would."""
        session = info.get(_Session)
        if session is None or session.driver is not driver:
            session = info[_Session] = _Session(driver)
        pgconn = driver.pgconn
        if pgconn.status != _CONNECTION_OK:
            raise psycopg.OperationalError("the connection is closed")
        if pgconn.transaction_status != _IDLE:
            raise psycopg.ProgrammingError(
                "a statement run through libpq needs a connection with no transaction open"
            )
        transformer = session.transformer
        values = transformer.dump_sequence([params[name] for name in self.names], self._formats)
        types = transformer.types
        if driver.prepare_threshold is None:  # psycopg's switch: never prepare (PgBouncer)
            pgconn.send_query_params(self.sql, values, types)
            return _loaded(_answer(driver), session)
        key = (self.sql, types)
        for retry in (False, True):
            pgconn.send_query_prepared(session.prepared_name(key), values)
            result = _answer(driver)
            if result.status in _OK or retry or not session.forget(key, result):
                break
        return _loaded(result, session)

    def first(
        self, info: dict[Any, Any], driver: psycopg.Connection, params: dict[str, Any]
    ) -> tuple[tuple[Any, ...] | None, list[int]]:
        """The first row of a SELECT, as psycopg loads it, and its columns' type OIDs."""
        transformer = self.run(info, driver, params)
        result = transformer.pgresult
        assert result is not None
        row = transformer.load_row(0, tuple) if result.ntuples else None
        return row, [result.ftype(i) for i in range(result.nfields)]


def _answer(driver: psycopg.Connection) -> pq.abc.PGresult:
    """The result of the one statement just sent on `driver`, once the server has answered
    (see `poll_for_answers`). Interrupted (Ctrl-C), the connection is closed: the statement
    may still be running, and nothing else can use the connection until it answers."""
    pgconn = driver.pgconn
    try:
        pgconn.consume_input()
        if pgconn.is_busy() and _poll_seconds:
            give_up = time.perf_counter() + _poll_seconds
            while pgconn.is_busy() and time.perf_counter() < give_up:
                os.sched_yield()
                pgconn.consume_input()
        if pgconn.is_busy():
            waiting = select.poll()
            waiting.register(pgconn.socket, select.POLLIN)
            while pgconn.is_busy():
                waiting.poll()
                pgconn.consume_input()
    except psycopg.Error:
        raise
    except BaseException:
        driver.close()
        raise
    result = pgconn.get_result()
    assert result is not None, "a statement sent has a result"
    while pgconn.get_result() is not None:  # one statement: nothing follows its result
        pass
    return result


def _loaded(result: pq.abc.PGresult, session: _Session) -> psycopg_abc.Transformer:
    """The session's Transformer holding `result`, or the error `result` says."""
    _checked(result, session)
    session.transformer.set_pgresult(result)
    return session.transformer


def _checked(result: pq.abc.PGresult, session: _Session) -> None:
    if result.status not in _OK:
        raise _error(result, session)


def _error(result: pq.abc.PGresult, session: _Session) -> psycopg.Error:
    """The exception a cursor would raise for `result`: by its SQLSTATE; an
    OperationalError when the server is gone (so the pool discards the connection)."""
    error = errors.error_from_result(result, encoding=session.encoding)
    if session.driver.pgconn.status == _BAD and not isinstance(error, psycopg.OperationalError):
        return psycopg.OperationalError(str(error))
    return error


__all__ = ["LibpqStatement", "PREPARED_KEPT", "numbered", "poll_for_answers"]
