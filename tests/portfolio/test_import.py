"""Importing portfolio files into the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from ivr.models import Campaign, Creditor, Debt, Debtor, PaymentInstrument, Phone
from ivr.portfolio.importer import ImportFileError, error_file_for, import_portfolio, import_rows
from ivr.runtime import Runtime

SAMPLE = Path(__file__).resolve().parents[2] / "ivr" / "portfolio" / "sample_portfolio.csv"


def sample_rows() -> list[dict[str, str]]:
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(
    path: Path, rows: list[dict[str, str]], delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(runtime: Runtime, path: Path, **options):
    return import_portfolio(runtime.db, path, now=runtime.clock.now(), **options)


def count(runtime: Runtime, model) -> int:
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def debtor(runtime: Runtime, external_id: str) -> Debtor:
    with runtime.db.session() as s:
        found = s.scalars(select(Debtor).where(Debtor.external_id == external_id)).one()
        found.phones, found.debts  # noqa: B018 - load before the session closes
        for debt in found.debts:
            debt.instruments  # noqa: B018
        return found


def test_sample_file_imports_every_row(runtime: Runtime, tmp_path: Path) -> None:
    report = run(runtime, SAMPLE)
    assert (report.rows, report.imported, report.updated, report.rejected) == (21, 21, 0, 0)
    assert report.error_file is None and not error_file_for(SAMPLE).exists()
    assert count(runtime, Debtor) == 18
    assert count(runtime, Debt) == 21
    assert count(runtime, Creditor) == 4

    maria = debtor(runtime, "CLI-0001")
    assert (maria.document_kind, maria.document, maria.language, maria.zip_code) == (
        "cpf",
        "52998224725",
        "pt-BR",
        "01310100",
    )
    assert [(p.number, p.line_type, p.priority) for p in maria.phones] == [
        ("+5511987654321", "mobile", 0),
        ("+551134567890", "landline", 1),
    ]
    first = next(d for d in maria.debts if d.external_id == "CTR-0001-1")
    assert (first.principal, first.fee, first.interest, first.currency, first.status) == (
        Decimal("1234.56"),
        Decimal("24.69"),
        Decimal("37.04"),
        "BRL",
        "open",
    )
    assert {i.kind for i in first.instruments} == {"boleto", "pix", "link"}
    boleto = next(i for i in first.instruments if i.kind == "boleto")
    assert boleto.expires_on == date(2026, 12, 5)
    assert maria.next_call_at == runtime.clock.now()
    assert 0 < maria.dial_priority <= 9

    jennifer = debtor(runtime, "CLI-0015")
    assert (jennifer.country, jennifer.document_kind, jennifer.language, jennifer.state) == (
        "US",
        "ssn",
        "en-US",
        "MA",
    )
    mobile = next(p for p in jennifer.phones if p.number == "+16175550142")
    assert (mobile.line_type, mobile.robocall_consent, mobile.consent_at) == (
        "mobile",
        True,
        runtime.clock.now(),
    )
    assert {d.currency for d in jennifer.debts} == {"USD"}

    paid_only = debtor(runtime, "CLI-0010")  # its one debt is paid: nothing to call about
    assert (paid_only.next_call_at, paid_only.dial_priority) == (None, 0)


def bad_rows() -> list[tuple[dict[str, str], str, str]]:
    """(changes to a valid row, column, reason) for every kind of invalid input."""
    return [
        ({"document": "123.456.789-00"}, "document", "not a valid CPF"),
        ({"phone1": "(11) 1234"}, "phone1", "phone number"),
        ({"principal": "-120.00"}, "principal", "negative"),
        ({"due_date": "2026-13-01"}, "due_date", "no such day"),
        ({"state": "XY"}, "state", "not a Brazilian state"),
        ({"full_name": ""}, "full_name", "required value is empty"),
        ({"currency": "ARS"}, "currency", "expected BRL or USD"),
        ({"status": "overdue"}, "status", "expected open, paid"),
        ({"principal": "1.234"}, "principal", "ambiguous"),
        ({"boleto": "34191"}, "boleto", "47 digits"),
    ]


def test_every_invalid_row_is_reported_and_its_valid_neighbours_are_imported(
    runtime: Runtime, tmp_path: Path
) -> None:
    rows = sample_rows()
    cases = bad_rows()
    broken = []
    for n, (changes, _, _) in enumerate(cases):
        row = dict(rows[n + 2])
        row.update(changes, debtor_external_id=f"BAD-{n}", debt_external_id=f"BAD-C{n}")
        broken.append(row)
    # Bad rows in between good ones: line 2 and 3 are good, then the bad, then good again.
    path = write_csv(tmp_path / "portfolio.csv", rows[:2] + broken + rows[2:])
    report = run(runtime, path)

    assert report.rejected == len(cases)
    assert report.imported == len(rows)
    assert count(runtime, Debt) == len(rows)
    by_line = {e.line: e for e in report.errors}
    for n, (changes, column, reason) in enumerate(cases):
        error = by_line[4 + n]
        assert error.column == column
        assert error.value == changes[column]
        assert reason in error.reason

    error_file = tmp_path / "portfolio.import-errors.csv"
    assert report.error_file == str(error_file)
    with error_file.open(encoding="utf-8-sig", newline="") as f:
        listed = list(csv.DictReader(f))
    assert [(int(r["line"]), r["column"], r["value"]) for r in listed] == [
        (4 + n, column, changes[column]) for n, (changes, column, _) in enumerate(cases)
    ]
    assert all(r["reason"] and r["debtor_external_id"].startswith("BAD-") for r in listed)


def test_a_clean_reimport_removes_the_stale_error_file(runtime: Runtime, tmp_path: Path) -> None:
    rows = sample_rows()
    path = write_csv(
        tmp_path / "p.csv", [*rows, {**rows[0], "document": "1", "debt_external_id": "X"}]
    )
    assert run(runtime, path).rejected == 1
    assert error_file_for(path).exists()
    write_csv(path, rows)
    assert run(runtime, path).rejected == 0
    assert not error_file_for(path).exists()


def test_a_bad_header_stops_the_import_before_any_row(runtime: Runtime, tmp_path: Path) -> None:
    rows = [{("nome" if k == "full_name" else k): v for k, v in r.items()} for r in sample_rows()]
    path = write_csv(tmp_path / "p.csv", rows)
    with pytest.raises(ImportFileError) as caught:
        run(runtime, path)
    assert "unknown column 'nome'" in str(caught.value)
    assert "missing required column full_name" in str(caught.value)
    assert "Required columns: debtor_external_id, full_name" in str(caught.value)
    assert count(runtime, Debtor) == 0


def test_missing_and_empty_files_are_file_errors(runtime: Runtime, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        run(runtime, tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(ImportFileError, match="empty"):
        run(runtime, tmp_path / "empty.csv")


def test_reimport_updates_in_place_and_never_duplicates(runtime: Runtime, tmp_path: Path) -> None:
    run(runtime, SAMPLE)
    tables = {m: count(runtime, m) for m in (Debtor, Phone, Debt, Creditor, PaymentInstrument)}
    rows = sample_rows()
    rows[0]["principal"] = "1.300,00"
    rows[0]["full_name"] = rows[1]["full_name"] = "Maria Aparecida da Silva Souza"
    report = run(runtime, write_csv(tmp_path / "again.csv", rows))
    assert (report.imported, report.updated, report.rejected) == (0, 21, 0)
    assert {m: count(runtime, m) for m in tables} == tables
    maria = debtor(runtime, "CLI-0001")
    assert maria.full_name == "Maria Aparecida da Silva Souza"
    assert next(d for d in maria.debts if d.external_id == "CTR-0001-1").principal == Decimal(
        "1300.00"
    )


def test_reimport_keeps_what_the_file_does_not_carry(runtime: Runtime) -> None:
    run(runtime, SAMPLE)
    later = runtime.clock.now() + timedelta(days=2)
    with runtime.db.session() as s:
        maria = s.scalars(select(Debtor).where(Debtor.external_id == "CLI-0001")).one()
        maria.sms_opt_out_at = later
        maria.language = "en-US"  # she asked for English; the file's language cell is blank
        maria.next_call_at = later + timedelta(hours=5)  # the dialer's own scheduling
        mobile, landline = sorted(maria.phones, key=lambda p: p.priority)
        mobile.voice_opt_out_at = later
        landline.wrong_number_at = later
        carlos = s.scalars(select(Debtor).where(Debtor.external_id == "CLI-0016")).one()
        carlos.phones[0].robocall_consent = True  # consent given later, on the phone
        carlos.phones[0].consent_at = later
        # An agent recorded an agreement; the file has no status for this debt.
        s.scalars(select(Debt).where(Debt.external_id == "CTR-0001-2")).one().status = "agreement"

    rows = sample_rows()
    assert rows[1]["debt_external_id"] == "CTR-0001-2"
    rows[1]["status"] = ""
    for row in rows:
        if row["debtor_external_id"] == "CLI-0001":
            row["email"] = ""  # a blank cell never erases
    report = import_rows(runtime.db, rows, now=runtime.clock.now() + timedelta(days=3))
    assert report.rejected == 0

    maria = debtor(runtime, "CLI-0001")
    assert (maria.sms_opt_out_at, maria.language, maria.email) == (
        later,
        "en-US",
        "maria.silva@example.com",
    )
    assert maria.next_call_at == later + timedelta(hours=5)
    mobile, landline = sorted(maria.phones, key=lambda p: p.priority)
    assert (mobile.voice_opt_out_at, landline.wrong_number_at) == (later, later)
    assert next(d for d in maria.debts if d.external_id == "CTR-0001-2").status == "agreement"
    carlos = debtor(runtime, "CLI-0016")
    assert (carlos.phones[0].robocall_consent, carlos.phones[0].consent_at) == (True, later)


def test_within_a_file_the_later_row_of_a_debtor_wins_and_blanks_keep_earlier_values(
    runtime: Runtime, tmp_path: Path
) -> None:
    rows = sample_rows()
    rows[0]["email"], rows[1]["email"] = "first@example.com", ""
    rows[0]["city"], rows[1]["city"] = "Santo André", "São Paulo"
    run(runtime, write_csv(tmp_path / "p.csv", rows))
    maria = debtor(runtime, "CLI-0001")
    assert (maria.email, maria.city) == ("first@example.com", "São Paulo")


def test_an_explicit_status_in_the_file_wins_and_is_timestamped(runtime: Runtime) -> None:
    run(runtime, SAMPLE)
    rows = sample_rows()
    rows[0]["status"] = "paid"
    rows[1]["status"] = "paid"
    now = runtime.clock.now() + timedelta(days=1)
    import_rows(runtime.db, rows, now=now)
    maria = debtor(runtime, "CLI-0001")
    assert {d.status for d in maria.debts} == {"paid"}
    assert {d.status_changed_at for d in maria.debts} == {now}
    assert (maria.next_call_at, maria.dial_priority) == (None, 0)


def test_semicolon_delimited_windows_1252_file_from_excel(runtime: Runtime, tmp_path: Path) -> None:
    rows = [r for r in sample_rows() if r["country"] == "BR"]
    path = write_csv(tmp_path / "excel.csv", rows, delimiter=";", encoding="cp1252")
    report = run(runtime, path)
    assert (report.delimiter, report.encoding, report.rejected) == (";", "cp1252", 0)
    assert any("cp1252" in w for w in report.warnings)
    assert debtor(runtime, "CLI-0004").full_name == "Antônio Carlos Pereira"
    assert debtor(runtime, "CLI-0001").city == "São Paulo"


def test_utf8_with_bom_and_tabs(runtime: Runtime, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.tsv", sample_rows(), delimiter="\t", encoding="utf-8-sig")
    report = run(runtime, path)
    assert (report.delimiter, report.encoding, report.warnings, report.imported) == (
        "\t",
        "utf-8",
        [],
        21,
    )


def test_unknown_campaigns_are_refused_unless_asked_to_create_them(
    runtime: Runtime, tmp_path: Path
) -> None:
    rows = sample_rows()
    for row in rows[:3]:
        row["campaign"] = "Natal 2026"
    path = write_csv(tmp_path / "p.csv", rows)
    report = run(runtime, path)
    assert report.rejected == 3 and report.imported == 18
    assert {(e.column, e.value) for e in report.errors} == {("campaign", "Natal 2026")}
    assert "create it first" in report.errors[0].reason

    report = run(runtime, path, create_campaigns=True, caller_id="+551140000000")
    assert report.rejected == 0
    with runtime.db.session() as s:
        campaign = s.scalars(select(Campaign).where(Campaign.name == "Natal 2026")).one()
        assert campaign.status == "draft"
        linked = s.scalars(select(Debt.external_id).where(Debt.campaign_id == campaign.id)).all()
    assert sorted(linked) == sorted(r["debt_external_id"] for r in rows[:3])


def test_the_same_debt_twice_in_a_file_is_one_debt(runtime: Runtime, tmp_path: Path) -> None:
    rows = sample_rows()
    twice = {**rows[0], "principal": "1299.00"}
    report = run(runtime, write_csv(tmp_path / "p.csv", [*rows, twice]), batch_size=7)
    assert (report.imported, report.updated) == (21, 1)
    assert count(runtime, Debt) == 21
    maria = debtor(runtime, "CLI-0001")
    assert next(d for d in maria.debts if d.external_id == "CTR-0001-1").principal == Decimal(
        "1299.00"
    )


def test_a_debtor_split_across_batches_is_queued_from_all_its_debts(
    runtime: Runtime, tmp_path: Path
) -> None:
    rows = sample_rows()
    # CLI-0012 has a 2026-04-18 debt and a 2026-10-28 one; put them in different batches.
    first, second = [r for r in rows if r["debtor_external_id"] == "CLI-0012"]
    report = run(runtime, write_csv(tmp_path / "p.csv", [second, *rows[:5], first]), batch_size=3)
    assert report.rejected == 0
    from ivr.portfolio.importer import dial_priority

    paulo = debtor(runtime, "CLI-0012")
    today = runtime.clock.now().date()
    balance = sum(int((d.principal + d.fee + d.interest) * 100) for d in paulo.debts)
    assert paulo.dial_priority == dial_priority((today - date(2026, 4, 18)).days, balance)


def test_batches_in_a_second_process_give_the_same_result(runtime: Runtime, tmp_path: Path) -> None:
    rows = sample_rows()
    path = write_csv(
        tmp_path / "p.csv", [*rows, {**rows[0], "document": "1", "debt_external_id": "BAD"}]
    )
    report = run(runtime, path, parallel=True, batch_size=4)
    assert (report.rows, report.imported, report.rejected) == (22, 21, 1)
    assert report.errors[0].line == 23 and report.errors[0].column == "document"
    assert count(runtime, Debt) == 21


def test_import_rows_reports_lines_as_a_file_would(runtime: Runtime) -> None:
    rows = sample_rows()
    rows[4]["phone1"] = "123"
    report = import_rows(runtime.db, rows, now=datetime(2026, 11, 24, 15, tzinfo=UTC))
    assert (report.imported, report.rejected, report.errors[0].line) == (20, 1, 6)


def test_later_rows_of_a_debtor_win_across_batches(runtime: Runtime, tmp_path: Path) -> None:
    rows = sample_rows()
    renamed = [{**row, "full_name": row["full_name"] + " Filho"} for row in rows]
    report = run(runtime, write_csv(tmp_path / "p.csv", rows + renamed), batch_size=4)
    assert (report.imported, report.updated, report.rejected) == (21, 21, 0)
    with runtime.db.session() as s:
        names = set(s.scalars(select(Debtor.full_name)))
    assert names == {row["full_name"] for row in renamed}


def test_a_row_the_database_refuses_is_reported_and_its_batch_still_imported(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    from ivr.portfolio.importer import PortfolioWriter

    original = PortfolioWriter._apply

    def refuse_one(self, conn, plan):
        if any(row.debt_external_id == "CTR-0003-1" for row in plan.rows):
            raise IntegrityError("INSERT INTO debt ...", {}, Exception("simulated refusal"))
        return original(self, conn, plan)

    monkeypatch.setattr(PortfolioWriter, "_apply", refuse_one)
    report = run(runtime, SAMPLE)
    assert (report.imported, report.rejected) == (20, 1)
    (error,) = report.errors
    assert (error.line, error.column, error.value) == (5, "(row)", "CTR-0003-1")
    assert "the database refused this row: simulated refusal" in error.reason
    assert count(runtime, Debt) == 20
    with runtime.db.session() as s:  # nothing of the refused row was kept
        assert (
            s.scalar(
                select(func.count()).select_from(Debtor).where(Debtor.external_id == "CLI-0003")
            )
            == 0
        )


def _analyzed_tables(runtime: Runtime) -> set[str]:
    """Tables ANALYZE was run on by hand (autovacuum's own analyses are counted apart)."""
    with runtime.db.engine.connect() as conn:
        names = conn.exec_driver_sql(
            "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
        )
        return set(names.scalars())


@pytest.mark.postgres
def test_a_large_import_refreshes_the_planner_statistics_on_postgresql(
    pg_url: str, tmp_path: Path, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr.portfolio import importer
    from tests.conftest import make_runtime

    rows = sample_rows()
    runtime = make_runtime(pg_url, tmp_path / "instance", clock)
    try:
        monkeypatch.setattr(importer, "ANALYZE_AFTER_ROWS", len(rows) + 1)
        report = import_rows(runtime.db, rows, now=runtime.clock.now())
        assert report.imported == len(rows)
        assert _analyzed_tables(runtime) == set()  # a small import leaves it to autovacuum

        monkeypatch.setattr(importer, "ANALYZE_AFTER_ROWS", len(rows))
        report = import_rows(runtime.db, rows, now=runtime.clock.now())
        assert report.updated == len(rows)  # a re-import's updates count as written
        assert _analyzed_tables(runtime) == {
            "creditor",
            "debtor",
            "phone",
            "debt",
            "payment_instrument",
        }
    finally:
        runtime.close()


def test_an_import_on_sqlite_leaves_it_without_statistics(
    sqlite_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cordial's queries are planned for SQLite without ANALYZE's statistics."""
    from ivr.portfolio import importer

    monkeypatch.setattr(importer, "ANALYZE_AFTER_ROWS", 1)
    import_rows(sqlite_runtime.db, sample_rows(), now=sqlite_runtime.clock.now())
    with sqlite_runtime.db.engine.connect() as conn:
        stat_tables = conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'"
        ).scalar()
    assert stat_tables == 0


def test_a_debtor_id_given_another_persons_document_is_refused(runtime: Runtime) -> None:
    """One debtor id, two people: merged, Maria's debts would be asked about by calls for
    João, on João's phone. The row is refused naming the document; Maria stays as she was."""
    maria = sample_rows()[0]
    run_rows = lambda rows: import_rows(runtime.db, rows, now=runtime.clock.now())  # noqa: E731
    assert run_rows([maria]).imported == 1
    joao = {
        **maria,
        "full_name": "João Pedro Souza",
        "document": "123.456.789-09",
        "phone1": "(21) 99876-5432",
        "phone2": "",
        "debt_external_id": "CTR-9999-1",
    }
    report = run_rows([joao])
    assert (report.imported, report.updated, report.rejected) == (0, 0, 1)
    [error] = report.errors
    assert error.column == "document" and "one debtor id cannot name two people" in error.reason
    assert "***.982.***-**" in error.reason  # the stored document, masked
    stored = debtor(runtime, maria["debtor_external_id"])
    assert stored.full_name == maria["full_name"] and stored.document == "52998224725"
    assert sorted(p.number for p in stored.phones) == ["+551134567890", "+5511987654321"]
    assert [d.external_id for d in stored.debts] == [maria["debt_external_id"]]


def test_within_one_file_a_debtor_id_keeps_its_first_document(runtime: Runtime) -> None:
    maria = sample_rows()[0]
    other = {**maria, "document": "123.456.789-09", "debt_external_id": "CTR-9999-1"}
    report = import_rows(runtime.db, [maria, other], now=runtime.clock.now())
    assert (report.imported, report.rejected) == (1, 1)
    assert report.errors[0].line == 3 and "earlier in this file" in report.errors[0].reason
    assert debtor(runtime, maria["debtor_external_id"]).document == "52998224725"


def first_two_debtors() -> tuple[dict[str, str], dict[str, str]]:
    """The sample's first row, and the first row of another debtor (a BR one too)."""
    rows = sample_rows()
    other = next(r for r in rows if r["debtor_external_id"] != rows[0]["debtor_external_id"])
    assert other["country"] == rows[0]["country"] == "BR"
    return rows[0], other


def test_a_debt_id_given_another_debtor_or_creditor_is_refused(runtime: Runtime) -> None:
    """A debt id names one contract: a row that gives Maria's stored debt id to João, or
    to another creditor, is refused naming the column; the contract stays Maria's, with
    its balance and payment codes, and João's own valid rows are imported."""
    maria, joao = first_two_debtors()
    run_rows = lambda rows: import_rows(runtime.db, rows, now=runtime.clock.now())  # noqa: E731
    assert run_rows([maria]).imported == 1
    moved = {**joao, "debt_external_id": maria["debt_external_id"]}
    other_creditor = {
        **maria,
        "creditor_name": "Outra Credora Ltda",
        "creditor_document": "11.444.777/0001-61",
        "principal": "1.300,00",
    }
    report = run_rows([moved, other_creditor, joao])
    assert (report.imported, report.updated, report.rejected) == (1, 0, 2)
    first, second = report.errors
    assert (first.line, first.column) == (2, "debtor_external_id")
    assert f"is stored for debtor {maria['debtor_external_id']!r}" in first.reason
    assert (second.line, second.column) == (3, "creditor_document")
    assert "cannot move to another debtor or creditor" in second.reason
    [debt] = debtor(runtime, maria["debtor_external_id"]).debts
    assert debt.external_id == maria["debt_external_id"]
    assert debt.principal == Decimal("1234.56")
    assert [d.external_id for d in debtor(runtime, joao["debtor_external_id"]).debts] == [
        joao["debt_external_id"]
    ]


def test_within_one_file_a_debt_id_keeps_its_first_debtor(runtime: Runtime) -> None:
    maria, joao = first_two_debtors()
    moved = {**joao, "debt_external_id": maria["debt_external_id"]}
    report = import_rows(runtime.db, [maria, moved], now=runtime.clock.now())
    assert (report.imported, report.rejected) == (1, 1)
    [error] = report.errors
    assert error.line == 3 and "was given earlier in this file" in error.reason
    [debt] = debtor(runtime, maria["debtor_external_id"]).debts
    assert debt.external_id == maria["debt_external_id"]


@pytest.mark.parametrize("parallel", [False, True])
def test_rows_before_an_unreadable_line_are_imported_as_the_error_says(
    runtime: Runtime, tmp_path: Path, parallel: bool
) -> None:
    rows = sample_rows()
    path = write_csv(tmp_path / "carteira.csv", rows[:5])
    with path.open("a", encoding="utf-8", newline="") as f:
        # An unclosed quote swallows the rest of the file into one cell, beyond csv's field
        # limit: the file is unreadable from here on.
        f.write('CLI-0099,"Broken row' + "x" * 140_000 + "\n")
    with path.open("a", encoding="utf-8", newline="") as f:
        csv.DictWriter(f, fieldnames=list(rows[0])).writerows(rows[5:8])
    with pytest.raises(ImportFileError, match="after line 6"):
        run(runtime, path, parallel=parallel)
    assert count(runtime, Debt) == 5  # the five rows before line 7


def test_a_batch_the_database_itself_refuses_is_retried_row_by_row(runtime: Runtime) -> None:
    """The bulk upserts run on the driver's cursor, so a refusal arrives as the driver's
    own IntegrityError: it too leads to the row-by-row retry, never an aborted import.
    Here the campaign the rows name is deleted between two batches."""
    rows = sample_rows()[:6]
    for row in rows:
        row["campaign"] = "Q4"
    with runtime.db.session() as s:
        s.add(Campaign(name="Q4", caller_id="+551140000000", status="draft"))

    def delete_the_campaign(_rows_so_far: int) -> None:
        with runtime.db.session() as s:
            s.execute(delete(Campaign).where(Campaign.name == "Q4"))

    report = import_rows(
        runtime.db, rows, now=runtime.clock.now(), batch_size=3, progress=delete_the_campaign
    )
    assert (report.rows, report.imported, report.rejected) == (6, 3, 3)
    assert {e.column for e in report.errors} == {"campaign"}  # found again, row by row
    assert count(runtime, Debt) == 3
