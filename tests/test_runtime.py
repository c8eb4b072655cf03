"""The instance secret: one key per deployment, however many processes start at once."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from ivr.clock import SystemClock
from ivr.config import load_config
from ivr.runtime import Runtime, instance_secret


def _runtime(instance: Path) -> Runtime:
    config = load_config({"CORDIAL_INSTANCE_PATH": str(instance)}, env_file=None)
    return Runtime(config=config, db=None, clock=SystemClock())  # type: ignore[arg-type]  # no database needed


def _secret_after(barrier, instance: str, out) -> None:
    barrier.wait()
    out.put(instance_secret(_runtime(Path(instance))))


def test_processes_starting_together_share_one_key_readable_by_the_owner_only(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(6), context.Queue()
    workers = [
        context.Process(target=_secret_after, args=(barrier, str(tmp_path), out)) for _ in range(6)
    ]
    for worker in workers:
        worker.start()
    keys = [out.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no drafts left behind
    assert instance_secret(_runtime(tmp_path)) == keys[0]


def test_a_configured_secret_key_wins(tmp_path: Path) -> None:
    config = load_config({"CORDIAL_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "given"}, env_file=None)
    runtime = Runtime(config=config, db=None, clock=SystemClock())  # type: ignore[arg-type]
    assert instance_secret(runtime) == "given"
    assert not (tmp_path / "secret_key").exists()
