"""What every `cordial` command shares: the lazily built runtime and JSON output.
Kept apart from ivr.cli so feature modules can import it without a cycle."""

from __future__ import annotations

import json
from typing import Any

import click

from ivr.config import ConfigError
from ivr.runtime import Runtime, build_runtime


class CliContext:
    """Lazily built runtime shared by the commands of one invocation."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            try:
                self._runtime = build_runtime()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._runtime


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
