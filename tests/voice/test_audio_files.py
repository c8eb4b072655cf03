"""The prompt audio committed in audio/ is real telephone speech for every prompt the flow
says ahead of calls, in both languages, and matches the current catalog texts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ivr.config import load_config
from ivr.speech.cli import prompts
from ivr.speech.manifest import load_manifest
from ivr.speech.prompt_texts import catalog_texts_for
from ivr.voice.prompt_catalog import PROMPTS_DIR, PromptCatalog
from tests.speech.audio_checks import assert_telephone_speech

REPO_AUDIO = Path(__file__).resolve().parents[2] / "audio"
RENDER_HINT = "re-render with: cordial prompts render --engine espeak (then commit audio/)"
# 8 kHz 16-bit mono is 16 kB per second; the whole catalog is a few minutes of speech.
MAX_AUDIO_FOLDER_BYTES = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def ahead():
    config = load_config(env_file=None)
    return catalog_texts_for(config, PromptCatalog.load()).ahead


def test_every_prompt_said_ahead_has_audio_for_its_current_text_in_both_languages(ahead) -> None:
    manifest = load_manifest(REPO_AUDIO)
    assert {p.language for p in ahead} == {"pt-BR", "en-US"}
    for prompt in ahead:
        entry = manifest.get((prompt.key, prompt.language))
        assert entry is not None, f"{prompt.language} {prompt.key} has no audio; {RENDER_HINT}"
        assert entry.text == prompt.text, (
            f"{prompt.language} {prompt.key} audio says an older text; {RENDER_HINT}"
        )
        assert (REPO_AUDIO / entry.file).is_file(), f"{entry.file} is missing; {RENDER_HINT}"


def test_every_rendered_prompt_is_telephone_speech(ahead) -> None:
    manifest = load_manifest(REPO_AUDIO)
    for prompt in ahead:
        entry = manifest[(prompt.key, prompt.language)]
        assert entry.sample_rate == 8000 and entry.engine in ("espeak", "gtts")
        assert_telephone_speech(REPO_AUDIO / entry.file, prompt.text)


def test_the_two_languages_have_their_own_voices(ahead) -> None:
    manifest = load_manifest(REPO_AUDIO)
    voices = {
        lang: {e.voice for e in manifest.values() if e.language == lang}
        for lang in ("pt-BR", "en-US")
    }
    assert voices["pt-BR"].isdisjoint(voices["en-US"])
    greeting = {lang: manifest[("greeting", lang)].file for lang in ("pt-BR", "en-US")}
    assert greeting["pt-BR"] != greeting["en-US"]


def test_the_audio_folder_stays_small_and_holds_nothing_personal() -> None:
    files = [p for p in REPO_AUDIO.iterdir() if p.is_file() and not p.name.startswith(".")]
    assert sum(p.stat().st_size for p in files) < MAX_AUDIO_FOLDER_BYTES
    referenced = {e.file for e in load_manifest(REPO_AUDIO).values()}
    # Only rendered prompts and the manifest are committed; stale files are pruned.
    assert {p.name for p in files} == referenced | {"manifest.json"}
    gitignore = (REPO_AUDIO.parent / ".gitignore").read_text(encoding="utf-8").split()
    assert "audio/personal/" in gitignore


def test_rendering_again_changes_nothing_and_a_changed_text_re_renders_only_that_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    audio = tmp_path / "audio"
    shutil.copytree(REPO_AUDIO, audio, ignore=shutil.ignore_patterns("personal", ".*"))
    catalog = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, catalog)
    args = [
        "render",
        "--engine",
        "espeak",
        "--prompts-dir",
        str(catalog),
        "--audio-dir",
        str(audio),
    ]

    again = CliRunner().invoke(prompts, args)
    assert again.exit_code == 0, again.output
    assert "0 rendered (none)" in again.output, again.output

    book = yaml.safe_load((catalog / "pt-BR.yaml").read_text(encoding="utf-8"))
    book["prompts"]["queue_hold"] = "Obrigado por esperar. Já vamos atender você."
    (catalog / "pt-BR.yaml").write_text(yaml.safe_dump(book, allow_unicode=True), encoding="utf-8")
    before = load_manifest(audio)

    changed = CliRunner().invoke(prompts, args)

    assert changed.exit_code == 0, changed.output
    assert "1 rendered (espeak 1)" in changed.output
    after = load_manifest(audio)
    differs = {ident for ident in after if after[ident] != before.get(ident)}
    assert differs == {("queue_hold", "pt-BR")}
    assert after[("queue_hold", "en-US")] == before[("queue_hold", "en-US")]
    assert_telephone_speech(
        audio / after[("queue_hold", "pt-BR")].file, book["prompts"]["queue_hold"]
    )
