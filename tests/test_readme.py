"""The README stays true: its quick start is what CI runs, its settings table is the code's."""

from __future__ import annotations

import re
from pathlib import Path

from ivr.config import settings_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick_start.strip().splitlines()]
    assert commands == ["scripts/demo", "scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec scripts/test$", ci, re.MULTILINE)
    for script in commands:
        assert (ROOT / script).stat().st_mode & 0o111


def test_configuration_table_lists_every_setting_as_the_code_does() -> None:
    assert settings_markdown() in README


def test_every_cordial_command_is_documented() -> None:
    from ivr.cli import main

    for name in main.commands:
        assert f"`cordial {name}" in README, name
