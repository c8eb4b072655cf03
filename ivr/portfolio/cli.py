"""Portfolio commands: `cordial import` (a CSV of debts) and `cordial seed` (a made-up portfolio)."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import click

from ivr.cli_context import CliContext, emit_json
from ivr.portfolio.validation import FieldError

SHOWN_ERRORS = 20

# Exit statuses of `cordial import`.
EXIT_ALL_IMPORTED = 0
EXIT_ROWS_REJECTED = 1
EXIT_FILE_ERROR = 2


def _shown_value(error: FieldError) -> str:
    """The cell as printed on a terminal: personal documents are masked (the error file has them)."""
    value = error.value
    if error.column == "document" and len(value) > 2:
        return "*" * (len(value) - 2) + value[-2:]
    return value if len(value) <= 60 else value[:57] + "..."


def _progress_bar(label: str, length: int, wanted: bool = True) -> AbstractContextManager[Any]:
    """A progress bar on stderr; a context of None when stderr is not a terminal."""
    if not wanted or not sys.stderr.isatty():
        return nullcontext()
    return click.progressbar(
        length=length, label=label, file=sys.stderr, show_pos=False, show_percent=True
    )


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option(
    "--create-campaigns",
    is_flag=True,
    help="Create campaigns named in the file that do not exist yet (as drafts).",
)
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows validated and written per transaction.",
)
@click.pass_context
def import_command(
    ctx: click.Context, file: Path, as_json: bool, create_campaigns: bool, batch_size: int
) -> None:
    """Import a portfolio CSV: one row per debt, with its debtor (see docs/import-format.md).

    Valid rows are imported (or update what an earlier import stored); invalid
    rows are listed with line, column, value and reason, and written to
    <file stem>.import-errors.csv next to the file. Exit status: 0 every row
    imported, 1 some rows rejected, 2 the file could not be read.
    """
    from ivr.portfolio.importer import ImportFileError, import_portfolio

    runtime = ctx.ensure_object(CliContext).runtime
    size = file.stat().st_size if file.is_file() else 0
    with _progress_bar(
        f"Importing {file.name}", max(size, 1), wanted=size > 0 and not as_json
    ) as bar:

        def progress(done: int, total: int) -> None:
            if bar is not None:
                bar.update(done - bar.pos)

        try:
            report = import_portfolio(
                runtime.db,
                file,
                now=runtime.clock.now(),
                batch_size=batch_size,
                create_campaigns=create_campaigns,
                caller_id=runtime.config.get("CORDIAL_CALLBACK_NUMBER"),
                progress=progress,
            )
        except ImportFileError as exc:
            report = None
            problem = str(exc)
    if report is None:
        if as_json:
            emit_json(
                {
                    "file": str(file),
                    "error": problem,
                    "imported": 0,
                    "updated": 0,
                    "rejected": 0,
                    "errors": [],
                    "error_file": None,
                }
            )
        else:
            click.echo(f"Error: {problem}", err=True)
        ctx.exit(EXIT_FILE_ERROR)

    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if as_json:
        payload = report.as_json()
        for entry, error in zip(payload["errors"], report.errors, strict=True):
            entry["value"] = _shown_value(error)
        emit_json(payload)
    else:
        click.echo(
            f"{file.name}: {report.rows} rows; {report.imported} imported, {report.updated} updated, "
            f"{report.rejected} rejected ({report.seconds:.1f} s)"
        )
        if report.error_count:
            shown = report.errors[:SHOWN_ERRORS]
            more = (
                f" (first {len(shown)} of {report.error_count})"
                if report.error_count > len(shown)
                else ""
            )
            click.echo(f"Rejected rows{more}:")
            for e in shown:
                click.echo(f"  line {e.line}, {e.column} = {_shown_value(e)!r}: {e.reason}")
            if report.error_file:
                click.echo(f"Every error is listed in {report.error_file}")
    ctx.exit(EXIT_ALL_IMPORTED if report.ok else EXIT_ROWS_REJECTED)


@click.command("seed")
@click.option(
    "--debtors",
    default=100,
    show_default=True,
    type=click.IntRange(1, 10_000_000),
    help="How many made-up debtors (each with 1-3 debts).",
)
@click.option(
    "--seed",
    "seed",
    default=1,
    show_default=True,
    type=int,
    help="Random seed; same seed, same portfolio.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.pass_context
def seed_command(ctx: click.Context, debtors: int, seed: int, as_json: bool) -> None:
    """Fill the database with a realistic made-up portfolio and a draft "Demo" campaign.

    Brazilian and US debtors with valid documents, phones across many area
    codes, debts with boleto, PIX and payment links. Running it again with the
    same seed updates the same debtors instead of adding new ones.
    """
    from ivr.portfolio.seed import seed_portfolio

    runtime = ctx.ensure_object(CliContext).runtime
    with _progress_bar("Seeding", debtors * 3 // 2, wanted=not as_json) as bar:

        def progress(rows: int) -> None:
            if bar is not None:
                bar.update(min(rows, bar.length) - bar.pos)

        report = seed_portfolio(runtime, debtors, seed, progress=progress)
    if as_json:
        emit_json(report.as_json())
    else:
        rows = report.rows
        click.echo(
            f"Seeded {debtors} debtors with {rows.rows} debts ({rows.imported} new, {rows.updated} updated) "
            f"and campaign {report.campaign!r} (draft) in {rows.seconds:.1f} s"
        )
    if report.rows.rejected:  # a generator bug, not a user error
        for e in report.rows.errors[:SHOWN_ERRORS]:
            click.echo(f"  seed row {e.line}, {e.column} = {e.value!r}: {e.reason}", err=True)
        ctx.exit(1)


def register(main: click.Group) -> None:
    main.add_command(import_command)
    main.add_command(seed_command)
