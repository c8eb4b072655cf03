"""The objects one process shares: configuration, database, clock and carrier."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ivr.clock import Clock, SystemClock
from ivr.config import Config, load_config
from ivr.db import Database, ensure_schema

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    config: Config
    db: Database
    clock: Clock
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.db.dispose()


def build_runtime(
    overrides: dict[str, Any] | None = None,
    clock: Clock | None = None,
    migrate: bool = True,
    env_file: str | None = ".env",
) -> Runtime:
    """Resolve configuration, open the database (creating or upgrading it), pick the clock."""
    config = load_config(overrides, env_file=env_file)
    config.instance_path.mkdir(parents=True, exist_ok=True)
    db = Database(config.database_url)
    if migrate:
        ensure_schema(db.engine)
    return Runtime(config=config, db=db, clock=clock or SystemClock())
