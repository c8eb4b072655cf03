"""PostgreSQL statements run by libpq's own calls on a psycopg connection, for the few
statements every voice webhook runs (ivr.db.DriverStatement).

A psycopg cursor does, on every execution, work a webhook does not need: it converts
the query's placeholders, looks the query up in its prepared-statement manager, builds
a cursor and its result state. On the benchmark machine that was about 45 µs of the
90 µs of CPU a webhook's read cost its process. Here a statement is prepared once per
connection (PQprepare) and then run with PQexecPrepared; the parameters are dumped and
the rows loaded by psycopg's own Transformer, so values have exactly the types a cursor
gives them.

Only for one statement outside any transaction (it commits by itself), which is how the
webhooks read and write. The connection must hold no transaction: this module never
opens or ends one.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

# Prepared statements kept per connection; beyond, statements run unprepared (a bound on
# the server's memory should a caller build statements without end).
PREPARED_KEPT = 200
# invalid_sql_statement_name: psycopg sends DEALLOCATE ALL after a ROLLBACK on a
# connection where it prepared statements of its own, which drops ours too.
_UNKNOWN_PREPARED = b"26000"
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_IDLE = pq.TransactionStatus.IDLE
_BAD = pq.ConnStatus.BAD
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_names = itertools.count(1)


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
    """What one connection knows: its Transformer and the statements prepared on it."""

    __slots__ = ("driver", "transformer", "prepared", "encoding")

    def __init__(self, driver: psycopg.Connection) -> None:
        self.driver = driver
        self.transformer = Transformer(driver)
        self.prepared: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
        self.encoding = driver.info.encoding


class LibpqStatement:
    """One statement in psycopg's `%(name)s` style, run by libpq on a psycopg connection."""

    __slots__ = ("sql", "names", "_formats")

    def __init__(self, pyformat_sql: str) -> None:
        sql, self.names = numbered(pyformat_sql)
        self.sql = sql.encode()
        self._formats = [PyFormat.TEXT] * len(self.names)

    def run(
        self, info: dict[Any, Any], driver: psycopg.Connection, params: dict[str, Any]
    ) -> Transformer:
        """Run with `params` (values by name, already through SQLAlchemy's bind processors).
        `info`: a dictionary that lives as long as the connection (the pool's
        `ConnectionFairy.info`), where what was prepared on it is kept. Returns the
        Transformer holding the result (`pgresult`), for `first`. Raises psycopg's
        exceptions, as a cursor would."""
        session = info.get(_Session)
        if session is None or session.driver is not driver:
            session = info[_Session] = _Session(driver)
        pgconn = driver.pgconn
        if pgconn.transaction_status != _IDLE:
            raise psycopg.ProgrammingError(
                "a statement run through libpq needs a connection with no transaction open"
            )
        transformer = session.transformer
        values = transformer.dump_sequence([params[name] for name in self.names], self._formats)
        key = (self.sql, transformer.types)
        for retry in (False, True):
            name = session.prepared.get(key)
            if name is None and len(session.prepared) < PREPARED_KEPT:
                name = f"cordial_{next(_names)}".encode()
                _checked(pgconn.prepare(name, self.sql, transformer.types), session)
                session.prepared[key] = name
            if name is None:
                result = pgconn.exec_params(self.sql, values, transformer.types)
            else:
                result = pgconn.exec_prepared(name, values)
            if result.status in _OK:
                transformer.set_pgresult(result)
                return transformer
            if (
                not retry
                and name
                and result.error_field(pq.DiagnosticField.SQLSTATE) == _UNKNOWN_PREPARED
            ):
                session.prepared.clear()  # deallocated behind our back: prepare again
                continue
            raise _error(result, session)
        raise AssertionError("unreachable")

    def first(
        self, info: dict[Any, Any], driver: psycopg.Connection, params: dict[str, Any]
    ) -> tuple[tuple[Any, ...] | None, list[int]]:
        """The first row of a SELECT, as psycopg loads it, and its columns' type OIDs."""
        transformer = self.run(info, driver, params)
        result = transformer.pgresult
        assert result is not None
        row = transformer.load_row(0, tuple) if result.ntuples else None
        return row, [result.ftype(i) for i in range(result.nfields)]


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


__all__ = ["LibpqStatement", "PREPARED_KEPT", "numbered"]
