"""`cordial prompts render` (alias `cordial speech render`) renders a prompt catalog
folder; `cordial speech prune` removes stale files."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.config import load_config
from ivr.speech.cli import prompts, speech
from ivr.speech.manifest import PromptAudioIndex, lookup


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "pt-BR.yaml").write_text(
        "language: pt-BR\n"
        "prompts:\n"
        "  greeting: Olá! Aqui é da {company}.\n"
        "  repeat: Para ouvir de novo, tecle asterisco.\n"
        "  right_party: Se você é {first_name}, tecle um.\n",
        encoding="utf-8",
    )
    (folder / "en-US.yaml").write_text(
        "language: en-US\nprompts:\n  greeting: Hello, this is {company}.\n", encoding="utf-8"
    )
    return folder


def test_render_command_renders_the_catalog_then_nothing(catalog: Path, tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    args = [
        "render",
        "--engine",
        "espeak",
        "--prompts-dir",
        str(catalog),
        "--audio-dir",
        str(audio),
    ]

    first = CliRunner().invoke(prompts, args)
    assert first.exit_code == 0, first.output
    assert "3 rendered (espeak 3)" in first.output
    assert "1 rendered per call by the dialer: right_party" in first.output
    # Placeholders that are the same on every call are filled before rendering.
    company = load_config(env_file=None).get("CORDIAL_COMPANY_NAME")
    index = PromptAudioIndex(audio, "https://example.test/audio")
    url = index.url_for("greeting", "pt-BR", f"Olá! Aqui é da {company}.")
    assert url is not None and url.startswith("https://example.test/audio/")
    assert lookup(audio, "repeat", "pt-BR") is not None
    assert lookup(audio, "right_party", "pt-BR") is None

    second = CliRunner().invoke(speech, args)  # the older name of the same command
    assert second.exit_code == 0, second.output
    assert "0 rendered" in second.output and "3 unchanged" in second.output


def test_prune_command_removes_the_old_rendering(catalog: Path, tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    args = [
        "render",
        "--engine",
        "espeak",
        "--prompts-dir",
        str(catalog),
        "--audio-dir",
        str(audio),
    ]
    CliRunner().invoke(speech, args)
    (catalog / "en-US.yaml").write_text(
        "language: en-US\nprompts:\n  greeting: Hello, {company} here.\n", encoding="utf-8"
    )
    CliRunner().invoke(speech, args)

    result = CliRunner().invoke(speech, ["prune", "--audio-dir", str(audio)])

    assert result.exit_code == 0 and "removed 1 stale file" in result.output


def test_render_command_without_catalog_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(speech, ["render", "--prompts-dir", str(tmp_path)])
    assert result.exit_code != 0 and str(tmp_path) in result.output
