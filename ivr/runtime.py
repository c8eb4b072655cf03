"""The objects one process shares: configuration, database, clock and carrier."""

from __future__ import annotations

import logging
import os
import secrets
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


def instance_secret(runtime: Runtime) -> str:
    """SECRET_KEY, or a random one kept in the instance folder. Web workers and dialers
    that share a deployment must share it (sessions, signed audio links)."""
    configured = runtime.config.values.get("SECRET_KEY")
    if configured:
        return configured
    path = runtime.config.instance_path / "secret_key"
    if not path.exists():
        # Written whole under another name with its final mode, then linked into place:
        # of processes starting at once, one key wins and all of them read it.
        draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    return path.read_text().strip()
