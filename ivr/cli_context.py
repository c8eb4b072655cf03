"""What every `cordial` command shares: the lazily built runtime, JSON output and the
option types. Kept apart from ivr.cli so feature modules can import it without a cycle."""

from __future__ import annotations

import json
import math
from typing import Any

import click
from sqlalchemy.exc import ArgumentError, OperationalError

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
            except ArgumentError as exc:
                # SQLAlchemy's message does not repeat the URL, which may hold a password.
                raise click.ClickException(
                    f"DATABASE_URL is not a database URL Cordial can use ({exc}); expected "
                    "sqlite:///path/to/cordial.db or postgresql+psycopg://user:password@host/dbname"
                ) from None
            except (OperationalError, OSError) as exc:  # no server, refused login, no such folder
                orig = getattr(exc, "orig", None) or exc
                reason = str(orig).strip().splitlines()[0]
                raise click.ClickException(
                    f"cannot open the database (DATABASE_URL={_shown_url()}): {reason}"
                ) from None
        return self._runtime


def _shown_url() -> str:
    """DATABASE_URL as configured, its password hidden."""
    from sqlalchemy.engine import make_url

    from ivr.config import load_config

    url = load_config().database_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "not a URL"


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that also refuses nan and infinities: click's lets nan through (it
    compares false with every bound), and no count of hours or calls is infinite."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(
                f"{value!r} is not a finite number; expected a number x with {self._describe_range()}.",
                param,
                ctx,
            )
        return number


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
