"""The `cordial` command. Each feature module contributes its commands here."""

from __future__ import annotations

import logging
import sys

import click

from ivr.cli_context import CliContext, emit_json, pass_cli
from ivr.config import settings_markdown

__all__ = ["CliContext", "emit_json", "main", "pass_cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Cordial: polite, compliant collections calling."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.ensure_object(CliContext)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@pass_cli
def db_upgrade(cli: CliContext) -> None:
    """Apply all migrations (the first run of any command does this by itself)."""
    from ivr.db import current_revision

    click.echo(f"database at revision {current_revision(cli.runtime.db.engine)}")


@main.command("config")
@click.option("--markdown", is_flag=True, help="Print the settings table as Markdown (for the README).")
@click.option("--json", "as_json", is_flag=True)
def config_cmd(markdown: bool, as_json: bool) -> None:
    """Show every setting, its default and meaning."""
    from ivr.config import SETTINGS

    if markdown:
        click.echo(settings_markdown())
    elif as_json:
        emit_json([s.__dict__ for s in SETTINGS])
    else:
        for s in SETTINGS:
            click.echo(f"{s.name:28} {s.default or '(empty)'}\n    {s.meaning}")


def _register() -> None:
    # Feature modules add their commands here, one line each.
    from agent_console.cli import register as agent_console
    from ivr.demo import register as demo
    from ivr.dialer.cli import register as dialer
    from ivr.portfolio.cli import register as portfolio
    from ivr.serve import register as serve
    from ivr.speech.cli import register as speech

    for register in (portfolio, dialer, speech, agent_console, serve, demo):
        register(main)


_register()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
