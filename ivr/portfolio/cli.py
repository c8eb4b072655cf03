"""Portfolio commands: import, seed."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    pass
