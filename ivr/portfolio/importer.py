"""Portfolio import: a CSV of debts (one per row, with the debtor) into the database.

The file is streamed: rows are validated in batches and each batch is written
with one bulk upsert per table (INSERT ... ON CONFLICT DO UPDATE), so memory
does not grow with the file and a re-import updates in place. Invalid rows are
reported (line, column, value, reason) and skipped; their valid neighbours are
imported. Upserts only ever add what the file carries: a blank cell never
erases a stored value, and facts the file does not know about (opt-outs,
wrong-number flags, consent given later, a status set by an agent when the
file's status cell is blank) are left alone.

`import_portfolio` reads a file; `import_rows` takes rows as dictionaries (the
seed uses it, so generated and imported portfolios share one code path).

A million rows take about a minute on two cores: a large file is validated in
a second process while the first writes (see `_validate_in_worker`), and each
table's rows go to the database in one statement per batch (`_Upserter`).
"""

from __future__ import annotations

import codecs
import csv
import gc
import logging
import os
import pickle
import sqlite3
import subprocess
import sys
import time as timer
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple, TextIO, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Table,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from ivr.db import Database, is_postgres
from ivr.dialer.queue import priority_bucket
from ivr.models import (
    Campaign,
    Creditor,
    Debt,
    Debtor,
    DebtStatus,
    PaymentInstrument,
    Phone,
    table_of,
)
from ivr.portfolio.documents import mask_document
from ivr.portfolio.validation import (
    COLUMN_NAMES,
    DEFAULT_CURRENCY,
    DEFAULT_LANGUAGE,
    FieldError,
    HeaderError,
    Layout,
    PhoneEntry,
    PortfolioRow,
    RowValidator,
    read_header,
)

log = logging.getLogger(__name__)

DEFAULT_BATCH = 5000
# PostgreSQL: an import that wrote at least this many debts refreshes the planner's
# statistics of the tables it wrote (ANALYZE) before it returns. The dialer plans its next
# batch against those tables at once; autovacuum would get there only on its next round
# (a minute by default), and only once a table had grown by a tenth.
ANALYZE_AFTER_ROWS = 10_000
_IMPORTED_MODELS = (Creditor, Debtor, Phone, Debt, PaymentInstrument)
ERROR_COLUMNS = ("line", "column", "value", "reason", "debtor_external_id", "debt_external_id")
DELIMITERS = (",", ";", "\t")
_SCAN_CHUNK = 1 << 20


class ImportFileError(Exception):
    """The file as a whole cannot be imported: missing, empty, bad header (then nothing was
    written), or unreadable part-way (then the rows before were imported)."""


@dataclass
class ImportReport:
    """What an import did. `rejected` counts rows, `error_count` problems (a row may have several)."""

    source: str
    rows: int = 0
    imported: int = 0
    updated: int = 0
    rejected: int = 0
    error_count: int = 0
    errors: list[FieldError] = field(default_factory=list)
    error_file: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "rejected": self.rejected,
            "error_count": self.error_count,
            "errors": [_error_dict(e) for e in self.errors],
            "error_file": self.error_file,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


def _error_dict(error: FieldError) -> dict[str, Any]:
    return {
        "line": error.line,
        "column": error.column,
        "value": error.value,
        "reason": error.reason,
    }


# ---------------------------------------------------------------------------
# Reading the file


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """(encoding, warning): UTF-8 (BOM or not) when every byte decodes, else cp1252, else latin-1."""
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as raw:
                while chunk := raw.read(_SCAN_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig":
            return encoding, None
        return (
            encoding,
            f"{path.name} is not UTF-8; read it as Windows-1252 (cp1252). Save as UTF-8 to silence this.",
        )
    return (
        "latin-1",
        f"{path.name} is neither UTF-8 nor Windows-1252; read it as Latin-1. Check accented names.",
    )


def detect_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most known column names (',' on a tie)."""
    known = set(COLUMN_NAMES)

    def score(delimiter: str) -> tuple[int, int]:
        fields = next(csv.reader([header_line], delimiter=delimiter), [])
        return sum(f.strip().lower() in known for f in fields), len(fields)

    return max(DELIMITERS, key=score)


class _CsvSource:
    """The records of a CSV file with the line each starts on, and how far the reading got."""

    def __init__(self, path: Path, encoding: str | None = None) -> None:
        self.path = path
        if not path.is_file():
            raise ImportFileError(f"{path}: no such file")
        self.size = path.stat().st_size
        self.warning: str | None = None
        try:
            if encoding is None:
                encoding, self.warning = detect_encoding(path)
            self.encoding = encoding
            self.stream: TextIO = path.open("r", encoding=encoding, newline="")
        except OSError as exc:
            raise ImportFileError(f"{path}: cannot read ({exc.strerror})") from None
        first = self.stream.readline()
        self.lines_before = 1
        while first and not first.strip():
            first = self.stream.readline()
            self.lines_before += 1
        if not first.strip():
            self.stream.close()
            raise ImportFileError(f"{path}: the file is empty; expected a header line and rows")
        self.delimiter = detect_delimiter(first)
        self.header = next(csv.reader([first], delimiter=self.delimiter))
        self.reader = csv.reader(self.stream, delimiter=self.delimiter)

    def position(self) -> int:
        try:
            return self.stream.buffer.tell()
        except (OSError, ValueError):
            return 0

    def records(self) -> Iterator[tuple[int, list[str]]]:
        reader = self.reader
        before = self.lines_before
        lines_read = 0
        try:
            for cells in reader:
                start, lines_read = before + lines_read + 1, reader.line_num
                if cells and (len(cells) > 1 or cells[0].strip()):
                    yield start, cells
        except csv.Error as exc:
            raise ImportFileError(
                f"{self.path}: unreadable CSV after line {before + lines_read} ({exc})"
            ) from None

    def close(self) -> None:
        self.stream.close()


class _ErrorSink:
    """Collects rejected rows: all to the error file (when there is one), the first few in memory."""

    def __init__(self, report: ImportReport, path: Path | None, delimiter: str, keep: int) -> None:
        self.report = report
        self.path = path
        self.delimiter = delimiter
        self.keep = keep
        self._file: TextIO | None = None
        self._writer: Any = None
        if path is not None:
            try:
                path.unlink()  # a stale report from an earlier run would mislead
            except FileNotFoundError:
                pass
            except OSError as exc:
                report.warnings.append(f"cannot remove the old error file {path} ({exc.strerror})")

    def add(self, errors: list[FieldError], debtor_id: str = "", debt_id: str = "") -> None:
        report = self.report
        report.rejected += 1
        report.error_count += len(errors)
        room = self.keep - len(report.errors)
        if room > 0:
            report.errors.extend(errors[:room])
        if self.path is None:
            return
        if self._writer is None:
            # utf-8-sig and the input's delimiter: opens cleanly in the spreadsheet the file came from.
            try:
                self._file = self.path.open("w", encoding="utf-8-sig", newline="")
            except OSError as exc:
                report.warnings.append(f"cannot write the error file {self.path} ({exc.strerror})")
                self.path = None
                return
            self._writer = csv.writer(self._file, delimiter=self.delimiter)
            self._writer.writerow(ERROR_COLUMNS)
            report.error_file = str(self.path)
        for e in errors:
            self._writer.writerow((e.line, e.column, e.value, e.reason, debtor_id, debt_id))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def error_file_for(path: Path) -> Path:
    return path.with_name(f"{path.stem}.import-errors.csv")


# ---------------------------------------------------------------------------
# Writing batches


def dial_priority(days_past_due: int, open_balance_cents: int) -> int:
    """Urgency of a debtor for the dialer queue: the dialer's bucket 0..9, higher first.

    From the days past due of the oldest open debt and the open balance (see
    `ivr.dialer.queue.priority_bucket`, which owns the formula).
    """
    return priority_bucket(days_past_due, Decimal(open_balance_cents).scaleb(-2))


@dataclass
class BatchOutcome:
    imported: int = 0
    updated: int = 0
    rejected: list[tuple[PortfolioRow, list[FieldError]]] = field(default_factory=list)


class _Upserter:
    """Many-row INSERT ... ON CONFLICT DO UPDATE, the fastest way each database allows.

    SQLite: multi-row VALUES statements, as many rows as its parameter limit
    allows, with RETURNING. PostgreSQL: COPY into a temporary table, then
    INSERT ... SELECT ... ON CONFLICT. The ON CONFLICT clause is built by
    SQLAlchemy's dialect insert either way. One per transaction.
    """

    def __init__(self, writer: PortfolioWriter, conn: Connection) -> None:
        self.writer = writer
        self.conn = conn
        self.postgres = writer.postgres
        driver: Any = conn.connection.driver_connection
        self.cursor = driver.cursor()
        self._stages: set[str] = set()
        self._sql = writer._sql_by_size
        if not self.postgres:  # 32,766 since SQLite 3.32, 999 before
            self.parameters = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def upsert(
        self,
        target: Table,
        columns: tuple[str, ...],
        rows: list[tuple],
        keep: frozenset[str],
        build: Callable[[Any, frozenset[str]], Any],
        known: set[str] | None = None,
    ) -> list[tuple[int, str]]:
        """Upsert rows (tuples in `columns` order) with the ON CONFLICT clause `build` makes.

        With `known`: return (id, key) for every row, the key being the first
        column, and add to `known` the keys that were stored before.
        """
        if self.postgres:
            return self._copy_and_merge(target, columns, rows, keep, build, known)
        return self._values(target, columns, rows, keep, build, known)

    def _values(self, target, columns, rows, keep, build, known) -> list[tuple[int, str]]:
        key = columns[0]
        if known is not None:
            # Plain SQL: SQLAlchemy would build a bound parameter object per key.
            for keys in _chunks([row[0] for row in rows], self.parameters):
                marks = ",".join("?" * len(keys))
                self.cursor.execute(
                    f'SELECT "{key}" FROM "{target.name}" WHERE "{key}" IN ({marks})', keys
                )
                known.update(found for (found,) in self.cursor.fetchall())
        head, group, tail = self.writer._values_statement(
            target, columns, keep, build, known is not None
        )
        # Statement sizes are powers of two, so that SQLite's cache of prepared
        # statements holds a few shapes, not one per batch remainder.
        largest = 1 << ((self.parameters // len(columns)).bit_length() - 1)
        returned: list[tuple[int, str]] = []
        start = 0
        while start < len(rows):
            size = largest
            while size > len(rows) - start:
                size >>= 1
            chunk = rows[start : start + size]
            start += size
            sql = self._sql.get((head, tail, size))
            if sql is None:
                sql = self._sql[(head, tail, size)] = head + ",".join([group] * size) + tail
            self.cursor.execute(sql, list(chain.from_iterable(chunk)))
            if known is not None:
                returned += self.cursor.fetchall()
        return returned

    def _copy_and_merge(self, target, columns, rows, keep, build, known) -> list[tuple[int, str]]:
        stage = f"cordial_stage_{target.name}"
        listed = ", ".join(f'"{c}"' for c in columns)
        if stage not in self._stages:
            self.conn.exec_driver_sql(
                f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" ON COMMIT DROP '
                f'AS SELECT {listed} FROM "{target.name}" WITH NO DATA'
            )
            self._stages.add(stage)
        else:
            self.conn.exec_driver_sql(f'TRUNCATE "{stage}"')
        with self.cursor.copy(f'COPY "{stage}" ({listed}) FROM STDIN') as copy:
            write = copy.write_row
            for row in rows:
                write(row)
        statement = self.writer._merge_statement(
            target, stage, columns, keep, build, known is not None
        )
        result = self.conn.execute(statement)
        if known is None:
            return []
        returned = result.all()
        known.update(row[1] for row in returned if row[2])
        return [(row[0], row[1]) for row in returned]


DEBTOR_COLUMNS = (
    "external_id",
    "full_name",
    "document_kind",
    "document",
    "birth_date",
    "country",
    "state",
    "city",
    "zip_code",
    "address_line",
    "email",
    "language",
    "timezone_override",
    "preferred_start",
    "preferred_end",
    "preferred_channel",
    "created_at",
    "updated_at",
    "next_call_at",
    "dial_priority",
)
PHONE_COLUMNS = ("debtor_id", "number", "line_type", "priority", "robocall_consent", "consent_at")
DEBT_COLUMNS = (
    "external_id",
    "debtor_id",
    "creditor_id",
    "campaign_id",
    "currency",
    "principal",
    "fee",
    "interest",
    "due_date",
    "status",
    "payment_pending",
    "status_changed_at",
)
INSTRUMENT_COLUMNS = ("debt_id", "kind", "value", "expires_on")
_LANGUAGE = DEBTOR_COLUMNS.index("language")
_CHANNEL = DEBTOR_COLUMNS.index("preferred_channel")
_DEBTOR_SLICE = slice(1, 17)  # PortfolioRow's debtor fields, in DEBTOR_COLUMNS order


@dataclass
class BatchPlan:
    """A batch of valid rows arranged for the database: all the work that needs no database.

    Built by `PortfolioWriter.prepare`, applied by `PortfolioWriter.write`.
    Rows refer to each other by external ids; the writer swaps in database ids
    as it goes.
    """

    rows: list[PortfolioRow]
    debt_count: int  # distinct debts (the same debt twice: the later row wins)
    creditors: dict[str, tuple[str, str]]  # legal id -> (name, country)
    campaigns: set[str]
    debtors: dict[frozenset[str], list[tuple]]  # by the columns an update keeps
    phones: dict[frozenset[str], list[tuple]]  # (debtor external id, number, ...)
    debts: dict[
        frozenset[str], list[tuple]
    ]  # (external id, debtor external id, creditor legal id, campaign, ...)
    instruments: list[tuple]  # (debt external id, kind, value, expires on)
    debt_debtor: dict[str, str]  # debt external id -> debtor external id


def stored_instant(instant: datetime) -> str:
    """An aware instant as SQLAlchemy stores it on SQLite (naive UTC text); PostgreSQL reads it too."""
    return _STAMP(instant.astimezone(UTC).replace(tzinfo=None))


_STAMP = cast(
    Callable[[datetime], str],
    DateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect()),
)


def prepare_batch(rows: list[PortfolioRow], instant: datetime) -> BatchPlan:
    """Merge, default and arrange a batch for the database: pure, no database.

    Runs in the validation process of a large import, so that the writing
    process only swaps in ids and talks to the database.
    """
    today = instant.date()
    latest: dict[str, PortfolioRow] = {}
    for row in rows:
        latest[row.debt_external_id] = row
    debts = list(latest.values())
    now = stored_instant(instant)

    # Debtors: later rows of the same debtor win, but a blank cell keeps the earlier value.
    merged: dict[str, tuple] = {}
    for row in rows:
        values = cast(tuple[Any, ...], row[_DEBTOR_SLICE])
        earlier = merged.get(values[0])
        if earlier is None or earlier == values:
            merged[values[0]] = values
        else:
            merged[values[0]] = tuple(
                e if v is None else v for e, v in zip(earlier, values, strict=True)
            )
    # The dialer queue fields of a new debtor, from its open debts in this batch
    # (a stored debtor's are recomputed from the database: see _refresh_queue).
    open_debts: dict[str, tuple[str, int]] = {}
    for row in debts:
        if row.status is None or row.status == "open":
            total = row.principal_cents + (row.fee_cents or 0) + (row.interest_cents or 0)
            due, balance = open_debts.get(row.debtor_external_id, (row.due_date, 0))
            open_debts[row.debtor_external_id] = (min(due, row.due_date), balance + total)
    debtors: dict[frozenset[str], list[tuple]] = {}
    for external_id, values in merged.items():
        keep = _NOTHING
        if values[_LANGUAGE] is None or values[_CHANNEL] is None:
            filled = list(values)
            if values[_LANGUAGE] is None:
                keep = _KEEP_LANGUAGE
                filled[_LANGUAGE] = DEFAULT_LANGUAGE[values[5]]
            if values[_CHANNEL] is None:
                keep = keep | _KEEP_CHANNEL
                filled[_CHANNEL] = "sms"
            values = tuple(filled)
        queue = open_debts.get(external_id)
        if queue is None:
            values += (now, now, None, 0)
        else:
            days = (today - date.fromisoformat(queue[0])).days
            values += (now, now, now, dial_priority(days, queue[1]))
        debtors.setdefault(keep, []).append(values)

    # Phones, by (debtor, number).
    phones_by_key: dict[tuple[str, str], list[Any]] = {}
    merged_lists: dict[str, list[PhoneEntry]] = {}
    for row in rows:
        debtor = row.debtor_external_id
        if merged_lists.get(debtor) is row.phones:
            continue  # the validator hands a repeated debtor's rows the same list
        merged_lists[debtor] = row.phones
        for number, line_type, type_given, consent, priority in row.phones:
            earlier_phone = phones_by_key.get((debtor, number))
            if earlier_phone is None:
                phones_by_key[(debtor, number)] = [
                    debtor,
                    number,
                    line_type,
                    priority,
                    consent,
                    type_given,
                ]
                continue
            if type_given or not earlier_phone[5]:
                earlier_phone[2], earlier_phone[5] = line_type, type_given
            earlier_phone[3] = min(earlier_phone[3], priority)
            earlier_phone[4] = earlier_phone[4] or consent
    phones: dict[frozenset[str], list[tuple]] = {}
    for debtor, number, line_type, priority, consent, type_given in phones_by_key.values():
        phones.setdefault(_NOTHING if type_given else _KEEP_LINE_TYPE, []).append(
            (debtor, number, line_type, priority, consent, now if consent else None)
        )

    # Debts and their payment instruments.
    debt_groups: dict[frozenset[str], list[tuple]] = {}
    instruments: list[tuple] = []
    for row in debts:
        keep = _NOTHING
        if (
            row.currency is None
            or row.fee_cents is None
            or row.interest_cents is None
            or row.status is None
        ):
            keep = frozenset(
                name
                for name, value in (
                    ("currency", row.currency),
                    ("fee", row.fee_cents),
                    ("interest", row.interest_cents),
                    ("status", row.status),
                )
                if value is None
            )
        debt_groups.setdefault(keep, []).append(
            (
                row.debt_external_id,
                row.debtor_external_id,
                row.creditor_legal_id,
                row.campaign,
                row.currency or DEFAULT_CURRENCY[row.country],
                row.principal_cents,
                row.fee_cents or 0,
                row.interest_cents or 0,
                row.due_date,
                row.status or "open",
                False,
                now,
            )
        )
        if row.boleto:
            instruments.append((row.debt_external_id, "boleto", row.boleto, row.boleto_due))
        if row.pix:
            instruments.append((row.debt_external_id, "pix", row.pix, None))
        if row.payment_link:
            instruments.append((row.debt_external_id, "link", row.payment_link, None))

    return BatchPlan(
        rows=rows,
        debt_count=len(debts),
        creditors={
            row.creditor_legal_id: (row.creditor_name, row.creditor_country) for row in rows
        },
        campaigns={row.campaign for row in rows if row.campaign},
        debtors=debtors,
        phones=phones,
        debts=debt_groups,
        instruments=instruments,
        debt_debtor={row.debt_external_id: row.debtor_external_id for row in debts},
    )


class PortfolioWriter:
    """Upserts batches of valid rows. One per import; keeps small caches of creditors and campaigns."""

    def __init__(
        self, db: Database, now: datetime, *, create_campaigns: bool = False, caller_id: str = ""
    ) -> None:
        self.db = db
        self.now = now
        self.today = now.date()
        self.create_campaigns = create_campaigns
        self.caller_id = caller_id
        self.postgres = is_postgres(db.engine)
        self._insert = postgresql.insert if self.postgres else sqlite.insert
        self._creditors: dict[str, tuple[int, str]] = {}
        self._campaigns: dict[str, int] | None = None
        self._statements: dict[tuple[str, frozenset[str]], Any] = {}
        self._sql_by_size: dict[tuple[str, str, int], str] = {}

    # -- public

    def prepare(self, rows: list[PortfolioRow]) -> BatchPlan:
        """Merge, default and arrange a batch for the database (see `prepare_batch`)."""
        return prepare_batch(rows, self.now)

    def write(self, batch: BatchPlan | list[PortfolioRow]) -> BatchOutcome:
        """Write a batch in one transaction; if the database refuses it, find the rows it refuses."""
        plan = batch if isinstance(batch, BatchPlan) else self.prepare(batch)
        if not plan.rows:
            return BatchOutcome()
        try:
            for attempt in range(3):
                try:
                    with self.db.engine.begin() as conn:
                        return self._apply(conn, plan)
                except OperationalError as exc:
                    # A concurrent writer and this one waiting on each other
                    # (PostgreSQL aborts one): rare; the batch simply runs again.
                    if getattr(exc.orig, "sqlstate", None) != "40P01" or attempt == 2:
                        raise
                    self._forget_caches()
        except self._refusals() as exc:
            log.warning(
                "batch of %d rows refused (%s); retrying row by row", len(plan.rows), _cause(exc)
            )
            self._forget_caches()
        outcome = BatchOutcome()
        for row in plan.rows:
            try:
                with self.db.engine.begin() as conn:
                    one = self._apply(conn, self.prepare([row]))
            except self._refusals() as exc:
                self._forget_caches()
                reason = f"the database refused this row: {str(_cause(exc)).splitlines()[0]}"
                outcome.rejected.append(
                    (row, [FieldError(row.line, "(row)", row.debt_external_id, reason)])
                )
                continue
            outcome.imported += one.imported
            outcome.updated += one.updated
            outcome.rejected.extend(one.rejected)
        return outcome

    # -- internals

    def _refusals(self) -> tuple[type[Exception], ...]:
        """What a database raises when it refuses rows: through SQLAlchemy, or straight from
        the driver (the bulk upserts run on the driver's cursor and COPY)."""
        dbapi = self.db.engine.dialect.loaded_dbapi
        return (IntegrityError, DataError, dbapi.IntegrityError, dbapi.DataError)

    def _forget_caches(self) -> None:
        self._creditors.clear()
        self._campaigns = None

    def _apply(self, conn: Connection, plan: BatchPlan) -> BatchOutcome:
        outcome = BatchOutcome()
        self._refuse_identity_changes(conn, plan, outcome)
        if outcome.rejected:  # rows giving a debtor id another person's document
            refused = {id(row) for row, _ in outcome.rejected}
            kept = [row for row in plan.rows if id(row) not in refused]
            if not kept:
                return outcome
            plan = self.prepare(kept)
        campaign_ids = self._resolve_campaigns(conn, plan, outcome)
        if outcome.rejected:  # rows naming an unknown campaign: arrange the others again
            refused = {id(row) for row, _ in outcome.rejected}
            kept = [row for row in plan.rows if id(row) not in refused]
            if not kept:
                return outcome
            plan = self.prepare(kept)
        upserter = _Upserter(self, conn)
        creditor_ids = self._upsert_creditors(conn, plan.creditors)

        debtor_ids: dict[str, int] = {}
        known_debtors: set[str] = set()
        for keep, params in plan.debtors.items():
            returned = upserter.upsert(
                table_of(Debtor), DEBTOR_COLUMNS, params, keep, self._debtor_upsert, known_debtors
            )
            debtor_ids.update((external_id, debtor_id) for debtor_id, external_id in returned)

        for keep, params in plan.phones.items():
            mapped = [(debtor_ids[p[0]],) + p[1:] for p in params]
            upserter.upsert(table_of(Phone), PHONE_COLUMNS, mapped, keep, self._phone_upsert)

        debt_ids: dict[str, int] = {}
        known_debts: set[str] = set()
        for keep, params in plan.debts.items():
            mapped = [
                (
                    p[0],
                    debtor_ids[p[1]],
                    creditor_ids[p[2]],
                    campaign_ids[p[3]] if p[3] else None,
                )
                + p[4:]
                for p in params
            ]
            returned = upserter.upsert(
                table_of(Debt), DEBT_COLUMNS, mapped, keep, self._debt_upsert, known_debts
            )
            debt_ids.update((external_id, debt_id) for debt_id, external_id in returned)

        if plan.instruments:
            mapped = [(debt_ids[i[0]],) + i[1:] for i in plan.instruments]
            upserter.upsert(
                table_of(PaymentInstrument),
                INSTRUMENT_COLUMNS,
                mapped,
                _NOTHING,
                self._instrument_upsert,
            )

        # A new debtor's queue fields were computed from this batch; a debtor
        # stored before may have other debts, so ask the database.
        stale = {debtor_ids[e] for e in known_debtors}
        stale.update(debtor_ids[plan.debt_debtor[e]] for e in known_debts)
        if stale:
            self._refresh_queue(conn, sorted(stale))
        outcome.updated = len(known_debts) + len(plan.rows) - plan.debt_count
        outcome.imported = len(plan.rows) - outcome.updated
        return outcome

    def _values_statement(
        self,
        target: Table,
        columns: tuple[str, ...],
        keep: frozenset[str],
        build: Callable[[Any, frozenset[str]], Any],
        returning: bool,
    ) -> tuple[str, str, str]:
        """SQLite: the upsert's SQL split around its one VALUES group, to repeat the group."""
        key = (target.name, keep)
        parts = self._statements.get(key)
        if parts is None:
            insert = self._insert(target).values({c: bindparam(c) for c in columns})
            statement = build(insert, keep)
            if returning:
                statement = statement.returning(target.c.id, target.c[columns[0]])
            compiled = statement.compile(dialect=self.db.engine.dialect)
            # Only the VALUES may take parameters: the ON CONFLICT part is reused as it is.
            assert len(compiled.positiontup or ()) == len(columns), (
                "upsert clause must not bind values"
            )
            sql = str(compiled)
            tail = sql[sql.index(" ON CONFLICT") :]
            head = (
                f'INSERT INTO "{target.name}" ('
                + ", ".join(f'"{c}"' for c in columns)
                + ") VALUES "
            )
            group = "(" + ", ".join("?" * len(columns)) + ")"
            parts = self._statements[key] = (head, group, tail)
        return parts

    def _merge_statement(
        self,
        target: Table,
        stage: str,
        columns: tuple[str, ...],
        keep: frozenset[str],
        build: Callable[[Any, frozenset[str]], Any],
        returning: bool,
    ) -> Any:
        """PostgreSQL: INSERT ... SELECT from the stage ... ON CONFLICT."""
        key = (target.name, keep)
        statement = self._statements.get(key)
        if statement is None:
            staged = table(stage, *(column(c) for c in columns))
            insert = self._insert(target).from_select(
                list(columns), select(*(staged.c[c] for c in columns)), include_defaults=False
            )
            statement = build(insert, keep)
            if returning:
                # xmax is 0 on a row this statement inserted and set on one it
                # updated: no look-up of the keys beforehand.
                statement = statement.returning(
                    target.c.id, target.c[columns[0]], literal_column("xmax <> 0")
                )
            self._statements[key] = statement
        return statement

    def _refuse_identity_changes(
        self, conn: Connection, plan: BatchPlan, outcome: BatchOutcome
    ) -> None:
        """A debtor id names one person. A row that gives a stored debtor, or an earlier
        row of its id in this batch, another document goes to `outcome.rejected`: merged,
        one person's name, phones and debts would be mixed with another's, and the calls
        would disclose one's debt to the other."""
        first: dict[str, tuple[str, str]] = {}
        for row in plan.rows:
            first.setdefault(row.debtor_external_id, (row.document_kind, row.document))
        stored: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(list(first), 1000):
            for external_id, kind, document in conn.execute(
                select(Debtor.external_id, Debtor.document_kind, Debtor.document).where(
                    Debtor.external_id.in_(chunk)
                )
            ):
                stored[external_id] = (kind, document)
        for row in plan.rows:
            known = stored.get(row.debtor_external_id)
            expected = known or first[row.debtor_external_id]
            if (row.document_kind, row.document) == expected:
                continue
            where = "is stored" if known else "was given earlier in this file"
            reason = (
                f"debtor {row.debtor_external_id!r} {where} with another document "
                f"({mask_document(*expected)}); one debtor id cannot name two people: "
                "correct the id or the document"
            )
            outcome.rejected.append(
                (row, [FieldError(row.line, "document", row.document, reason)])
            )
        self._refuse_moved_debts(conn, plan, outcome)

    def _refuse_moved_debts(self, conn: Connection, plan: BatchPlan, outcome: BatchOutcome) -> None:
        """A debt id names one contract of one debtor with one creditor. A row that gives a
        stored debt, or an earlier row of its id in this batch, another debtor or creditor
        goes to `outcome.rejected`: upserted, the contract (its balance, its payment codes)
        would move to another person, whose calls would then disclose it."""
        refused = {id(row) for row, _ in outcome.rejected}
        first: dict[str, tuple[str, str]] = {}
        for row in plan.rows:
            first.setdefault(row.debt_external_id, (row.debtor_external_id, row.creditor_legal_id))
        stored: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(list(first), 1000):
            for debt_id, debtor_id, creditor_id in conn.execute(
                select(Debt.external_id, Debtor.external_id, Creditor.legal_id)
                .join(Debtor, Debtor.id == Debt.debtor_id)
                .join(Creditor, Creditor.id == Debt.creditor_id)
                .where(Debt.external_id.in_(chunk))
            ):
                stored[debt_id] = (debtor_id, creditor_id)
        for row in plan.rows:
            if id(row) in refused:
                continue
            known = stored.get(row.debt_external_id)
            expected = known or first[row.debt_external_id]
            if (row.debtor_external_id, row.creditor_legal_id) == expected:
                continue
            where = "is stored" if known else "was given earlier in this file"
            if row.debtor_external_id != expected[0]:
                column, value = "debtor_external_id", row.debtor_external_id
                owner = f"for debtor {expected[0]!r}"
            else:
                column, value = "creditor_document", row.creditor_legal_id
                owner = f"with creditor {expected[1]}"
            reason = (
                f"debt {row.debt_external_id!r} {where} {owner}; a debt id names one "
                "contract, which cannot move to another debtor or creditor: "
                "correct the debt id"
            )
            outcome.rejected.append((row, [FieldError(row.line, column, value, reason)]))

    def _resolve_campaigns(
        self, conn: Connection, plan: BatchPlan, outcome: BatchOutcome
    ) -> dict[str, int]:
        """Campaign ids by name; rows naming an unknown campaign go to `outcome.rejected`."""
        if not plan.campaigns:
            return {}
        if self._campaigns is None:
            self._campaigns = dict(conn.execute(select(Campaign.name, Campaign.id)).tuples().all())
        missing = plan.campaigns - self._campaigns.keys()
        if missing and self.create_campaigns:
            for name in sorted(missing):
                campaign_id = conn.execute(
                    self._insert(table_of(Campaign))
                    .values(
                        name=name, status="draft", caller_id=self.caller_id, created_at=self.now
                    )
                    .on_conflict_do_nothing(index_elements=["name"])
                    .returning(table_of(Campaign).c.id)
                ).scalar()
                if campaign_id is None:
                    campaign_id = conn.execute(
                        select(Campaign.id).where(Campaign.name == name)
                    ).scalar_one()
                self._campaigns[name] = campaign_id
            missing = set()
        if missing:
            known = ", ".join(sorted(self._campaigns)) or "none yet"
            for row in plan.rows:
                if row.campaign in missing:
                    reason = (
                        f"no campaign named {row.campaign!r} (existing: {known}); create it first, "
                        "leave the cell blank, or import with --create-campaigns"
                    )
                    outcome.rejected.append(
                        (row, [FieldError(row.line, "campaign", row.campaign, reason)])
                    )
        return self._campaigns

    def _upsert_creditors(
        self, conn: Connection, wanted: dict[str, tuple[str, str]]
    ) -> dict[str, int]:
        stale = [
            {"legal_id": legal_id, "name": name, "country": country}
            for legal_id, (name, country) in sorted(wanted.items())
            if self._creditors.get(legal_id, (0, None))[1] != name
        ]
        if stale:  # a handful per file: the plain statement is fine
            target = table_of(Creditor)
            insert = self._insert(target)
            statement = insert.on_conflict_do_update(
                index_elements=["legal_id"], set_={"name": insert.excluded.name}
            ).returning(target.c.id, target.c.legal_id)
            by_legal_id = {p["legal_id"]: p["name"] for p in stale}
            for creditor_id, legal_id in conn.execute(statement, stale):
                self._creditors[legal_id] = (creditor_id, by_legal_id[legal_id])
        return {legal_id: self._creditors[legal_id][0] for legal_id in wanted}

    @staticmethod
    def _debtor_upsert(insert: Any, keep: frozenset[str]) -> Any:
        c = insert.table.c
        x = insert.excluded
        set_: dict[str, Any] = {
            name: x[name]
            for name in ("full_name", "document_kind", "document", "country", "updated_at")
        }
        for name in (
            "birth_date",
            "state",
            "city",
            "zip_code",
            "address_line",
            "email",
            "timezone_override",
            "preferred_start",
            "preferred_end",
        ):
            set_[name] = func.coalesce(x[name], c[name])
        for name in ("language", "preferred_channel"):
            if name not in keep:
                set_[name] = x[name]
        # next_call_at and dial_priority of a stored debtor: see _refresh_queue.
        return insert.on_conflict_do_update(index_elements=["external_id"], set_=set_)

    @staticmethod
    def _phone_upsert(insert: Any, keep: frozenset[str]) -> Any:
        c = insert.table.c
        x = insert.excluded
        line_type = x.line_type
        if "line_type" in keep:
            # Inferred from the number: only fills a type nobody has stated yet.
            line_type = case(
                (c.line_type == literal_column("'unknown'"), x.line_type), else_=c.line_type
            )
        # Consent is only ever added by an import; it is revoked by an opt-out, not by a file.
        return insert.on_conflict_do_update(
            index_elements=["debtor_id", "number"],
            set_={
                "line_type": line_type,
                "priority": x.priority,
                "robocall_consent": or_(c.robocall_consent, x.robocall_consent),
                "consent_at": case((c.robocall_consent, c.consent_at), else_=x.consent_at),
            },
        )

    @staticmethod
    def _debt_upsert(insert: Any, keep: frozenset[str]) -> Any:
        c = insert.table.c
        x = insert.excluded
        set_: dict[str, Any] = {
            "debtor_id": x.debtor_id,
            "creditor_id": x.creditor_id,
            "campaign_id": func.coalesce(x.campaign_id, c.campaign_id),
            "principal": x.principal,
            "due_date": x.due_date,
        }
        for name in ("currency", "fee", "interest"):
            if name not in keep:
                set_[name] = x[name]
        if "status" not in keep:
            set_["status"] = x.status
            set_["status_changed_at"] = case(
                (c.status != x.status, x.status_changed_at), else_=c.status_changed_at
            )
        return insert.on_conflict_do_update(index_elements=["external_id"], set_=set_)

    @staticmethod
    def _instrument_upsert(insert: Any, keep: frozenset[str]) -> Any:
        x = insert.excluded
        return insert.on_conflict_do_update(
            index_elements=["debt_id", "kind"],
            set_={
                "value": x.value,
                "expires_on": func.coalesce(x.expires_on, insert.table.c.expires_on),
            },
        )

    def _refresh_queue(self, conn: Connection, debtor_ids: list[int]) -> None:
        """Recompute the dialer queue fields of these debtors from all their debts."""
        d = table_of(Debt).c
        oldest: dict[int, date] = {}
        balance: dict[int, int] = {}
        for ids in _chunks(debtor_ids):
            # Status is filtered here, not in SQL, so that both databases look the
            # debts up by ix_debt_debtor_id rather than scan the open ones.
            debts = conn.execute(
                select(
                    d.debtor_id,
                    d.due_date,
                    _cents(d.principal) + _cents(d.fee) + _cents(d.interest),
                    d.status,
                ).where(d.debtor_id.in_(ids))
            )
            for debtor_id, due_date, cents, status in debts:
                if status != DebtStatus.OPEN.value:
                    continue
                if debtor_id not in oldest or due_date < oldest[debtor_id]:
                    oldest[debtor_id] = due_date
                balance[debtor_id] = balance.get(debtor_id, 0) + cents
        callable_debtors = {
            debtor_id: dial_priority((self.today - due).days, balance[debtor_id])
            for debtor_id, due in oldest.items()
        }
        target = table_of(Debtor)
        statement = self._statements.get(("queue", _NOTHING))
        if statement is None:
            statement = self._statements[("queue", _NOTHING)] = (
                update(target)
                .where(target.c.id == bindparam("b_id"))
                .values(
                    next_call_at=case(
                        (
                            bindparam("b_open"),
                            func.coalesce(target.c.next_call_at, bindparam("b_now")),
                        ),
                        else_=None,
                    ),
                    dial_priority=bindparam("b_priority"),
                    updated_at=bindparam("b_now"),
                )
            )
        conn.execute(
            statement,
            [
                {
                    "b_id": i,
                    "b_open": i in callable_debtors,
                    "b_priority": callable_debtors.get(i, 0),
                    "b_now": self.now,
                }
                for i in debtor_ids
            ],
        )


def _cause(exc: BaseException) -> BaseException:
    """The driver's own error behind SQLAlchemy's wrapper (or the error itself)."""
    return getattr(exc, "orig", None) or exc


def _chunks(values: list[Any], size: int = 10_000) -> Iterator[list[Any]]:
    """Slices short enough for an IN list on every database (SQLite allows 32,766 parameters)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


_NOTHING: frozenset[str] = frozenset()
_KEEP_LANGUAGE = frozenset({"language"})
_KEEP_CHANNEL = frozenset({"preferred_channel"})
_KEEP_LINE_TYPE = frozenset({"line_type"})


def _cents(column: Any) -> Any:
    return type_coerce(column, BigInteger)


# ---------------------------------------------------------------------------
# Orchestration

# Below this size a validation process costs more to start than it saves.
PARALLEL_MIN_BYTES = 8 << 20


class _Validated(NamedTuple):
    """One batch out of validation: the valid rows, the rejected ones, how far the file was read."""

    rows: list[PortfolioRow] | BatchPlan  # arranged already when validated in a child process
    rejected: list[tuple[list[FieldError], str, str]]  # errors, debtor id, debt id
    read: int  # records read for this batch, valid or not
    position: int


def _validate_stream(
    records: Iterable[tuple[int, list[str]]],
    validator: RowValidator,
    size: int,
    position: Callable[[], int] = lambda: 0,
) -> Iterator[_Validated]:
    positions = validator.layout.positions
    debtor_at, debt_at = positions[_DEBTOR_ID], positions[_DEBT_ID]
    validate = validator.validate
    rows: list[PortfolioRow] = []
    rejected: list[tuple[list[FieldError], str, str]] = []
    count = 0
    try:
        for line, cells in records:
            count += 1
            result = validate(line, cells)
            if isinstance(result, list):
                width = len(cells)
                rejected.append(
                    (
                        result,
                        cells[debtor_at].strip() if debtor_at < width else "",
                        cells[debt_at].strip() if debt_at < width else "",
                    )
                )
                if len(rejected) < size:
                    continue
            else:
                rows.append(result)
                if len(rows) < size:
                    continue
            yield _Validated(rows, rejected, count, position())
            rows, rejected, count = [], [], 0
    except ImportFileError:
        # Unreadable from some line on: the rows before it are imported, as the error says.
        if count:
            yield _Validated(rows, rejected, count, position())
        raise
    if count:
        yield _Validated(rows, rejected, count, position())


def _validation_worker(path: str, encoding: str, instant: str, size: str) -> None:
    """The child process: read, validate and arrange the file; send pickled batches on stdout."""
    # Rows hold no reference cycles, and the collector's passes over a batch of
    # fresh tuples would cost more than the validation itself.
    gc.disable()
    out = sys.stdout.buffer
    try:
        now = datetime.fromisoformat(instant)
        source = _CsvSource(Path(path), encoding)
        validator = RowValidator(read_header(source.header), now.date())
        for rows, rejected, count, position in _validate_stream(
            source.records(), validator, int(size), source.position
        ):
            assert isinstance(rows, list)  # arranged here, for the writing process
            plan = prepare_batch(rows, now)
            # Plain tuples: a named tuple pickles through Python code, ten times slower (the
            # reader makes them rows again: _validate_in_worker).
            plan.rows = cast(list[PortfolioRow], list(map(tuple, rows)))
            pickle.dump(
                ("batch", plan, rejected, count, position), out, protocol=pickle.HIGHEST_PROTOCOL
            )
        pickle.dump(("end",), out)
    except ImportFileError as exc:
        pickle.dump(("file-error", str(exc)), out)
    except BrokenPipeError:  # the writer stopped early; it reports why
        return
    out.flush()


_as_row = tuple.__new__  # a named tuple from a plain one without its Python-level __new__


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (unpickling a batch makes many tuples, no cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _validate_in_worker(source: _CsvSource, now: datetime, size: int) -> Iterator[_Validated]:
    """Validated, arranged batches from a child process, so that two cores share the work.

    A plain subprocess (not multiprocessing): it neither forks a threaded host
    nor re-runs the caller's main module. The pipe's buffer bounds how far the
    child runs ahead, so memory does not grow with the file.
    """
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_root, env.get("PYTHONPATH"))))
    # Imported, not run as __main__, so that pickled classes keep their module's name.
    command = [
        sys.executable,
        "-c",
        "import sys; from ivr.portfolio.importer import _validation_worker; _validation_worker(*sys.argv[1:])",
        str(source.path),
        source.encoding,
        now.isoformat(),
        str(size),
    ]
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    assert worker.stdout is not None
    try:
        while True:
            try:
                with _gc_paused():
                    message = pickle.load(worker.stdout)
            except EOFError:
                raise RuntimeError(
                    f"the import's validation process stopped (exit code {worker.wait()})"
                ) from None
            kind = message[0]
            if kind == "batch":
                _, plan, rejected, count, position = message
                plan.rows = [_as_row(PortfolioRow, values) for values in plan.rows]
                yield _Validated(plan, rejected, count, position)
            elif kind == "file-error":
                raise ImportFileError(message[1])
            else:
                break
        worker.wait()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stdout.close()


def _write_all(
    db: Database,
    now: datetime,
    batches: Iterable[_Validated],
    report: ImportReport,
    sink: _ErrorSink,
    *,
    create_campaigns: bool,
    caller_id: str,
    progress: Callable[[int], None] | None,
) -> ImportReport:
    started = timer.perf_counter()

    def account(outcome: BatchOutcome) -> None:
        report.imported += outcome.imported
        report.updated += outcome.updated
        for row, errors in outcome.rejected:
            sink.add(errors, row.debtor_external_id, row.debt_external_id)

    writer = PortfolioWriter(db, now, create_campaigns=create_campaigns, caller_id=caller_id)
    try:
        for batch in batches:
            report.rows += batch.read
            for errors, debtor_id, debt_id in batch.rejected:
                sink.add(errors, debtor_id, debt_id)
            account(writer.write(batch.rows))
            if progress is not None:
                progress(batch.position)
    finally:
        sink.close()
    _refresh_statistics(db, report.imported + report.updated)
    report.seconds = timer.perf_counter() - started
    return report


def _refresh_statistics(db: Database, written: int) -> None:
    """ANALYZE the imported tables after a large import on PostgreSQL (see
    ANALYZE_AFTER_ROWS). The rows are committed by then: a failure here only leaves the
    statistics to autovacuum, so it is logged, not raised. SQLite is left without
    statistics, as Cordial's queries are planned there (benchmarks/bench_planning.py)."""
    if not db.is_postgres or written < ANALYZE_AFTER_ROWS:
        return
    tables = ", ".join(table_of(model).name for model in _IMPORTED_MODELS)
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE {tables}")
            conn.commit()
    except OperationalError:
        log.warning("import: could not refresh the planner's statistics", exc_info=True)
    else:
        log.info("import: planner statistics refreshed (ANALYZE %s)", tables)


def _layout(header: list[str]) -> Layout:
    try:
        return read_header(header)
    except HeaderError as exc:
        raise ImportFileError(str(exc)) from None


def import_portfolio(
    db: Database,
    path: str | Path,
    *,
    now: datetime,
    batch_size: int = DEFAULT_BATCH,
    create_campaigns: bool = False,
    caller_id: str = "",
    error_file: Path | None | bool = True,
    keep_errors: int = 100,
    progress: Callable[[int, int], None] | None = None,
    parallel: bool | None = None,
) -> ImportReport:
    """Import a portfolio CSV file; see docs/import-format.md for the columns.

    `now` is the import instant (from the runtime's clock). Rejected rows go to
    `<stem>.import-errors.csv` next to the file (or `error_file`; False for
    none). `progress(done_bytes, total_bytes)` is called after each batch.
    `parallel` validates in a second process (default: for files of 8 MB or
    more on a machine with several cores). Raises ImportFileError when the file
    cannot be imported at all; then nothing has been written.
    """
    path = Path(path)
    source = _CsvSource(path)
    try:
        layout = _layout(source.header)
        report = ImportReport(
            source=str(path),
            encoding=source.encoding.replace("-sig", ""),
            delimiter=source.delimiter,
        )
        if source.warning:
            report.warnings.append(source.warning)
        if error_file is True:
            error_path: Path | None = error_file_for(path)
        else:
            error_path = error_file or None
        if parallel is None:
            parallel = source.size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1
        if parallel:
            batches = _validate_in_worker(source, now, batch_size)
        else:
            validator = RowValidator(layout, now.date())
            batches = _validate_stream(source.records(), validator, batch_size, source.position)
        sink = _ErrorSink(report, error_path, source.delimiter, keep_errors)
        tick = (lambda done: progress(done, source.size)) if progress else None
        return _write_all(
            db,
            now,
            batches,
            report,
            sink,
            create_campaigns=create_campaigns,
            caller_id=caller_id,
            progress=tick,
        )
    finally:
        source.close()


def import_rows(
    db: Database,
    rows: Iterable[Mapping[str, str]],
    *,
    now: datetime,
    source: str = "rows",
    batch_size: int = DEFAULT_BATCH,
    create_campaigns: bool = False,
    caller_id: str = "",
    keep_errors: int = 100,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import rows given as {column: text} mappings, exactly as if they were a file's rows.

    The first row's keys are the header; line numbers count as in a file with
    that header (the first row is line 2). Rejected rows are only reported (no
    error file). Raises ImportFileError when the keys are not the format's columns.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    report = ImportReport(source=source)
    if first is None:
        return report
    header = list(first.keys())
    validator = RowValidator(_layout(header), now.date())

    def records() -> Iterator[tuple[int, list[str]]]:
        yield 2, [first.get(name, "") or "" for name in header]
        for line, row in enumerate(iterator, start=3):
            yield line, [row.get(name, "") or "" for name in header]

    sink = _ErrorSink(report, None, ",", keep_errors)
    tick = (lambda _position: progress(report.rows)) if progress else None
    return _write_all(
        db,
        now,
        _validate_stream(records(), validator, batch_size),
        report,
        sink,
        create_campaigns=create_campaigns,
        caller_id=caller_id,
        progress=tick,
    )


_DEBTOR_ID = COLUMN_NAMES.index("debtor_external_id")
_DEBT_ID = COLUMN_NAMES.index("debt_external_id")


__all__ = [
    "DEFAULT_BATCH",
    "ImportFileError",
    "ImportReport",
    "PortfolioWriter",
    "detect_delimiter",
    "detect_encoding",
    "dial_priority",
    "error_file_for",
    "import_portfolio",
    "import_rows",
]
