"""The audio manifest renders only what is missing or changed, and finds files for webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import gtts
import pytest

from ivr.clock import VirtualClock
from ivr.speech import tts
from ivr.speech.manifest import (
    MANIFEST_NAME,
    PromptAudioIndex,
    PromptText,
    RenderProgress,
    load_manifest,
    lookup,
    prune_unreferenced,
    render_all,
)
from ivr.speech.tts import TtsRenderer

from .audio_checks import assert_telephone_speech
from .fakes import FakeGoogle

CATALOG = [
    PromptText("greeting", "pt-BR", "Olá, aqui é da Cordial Cobranças."),
    PromptText("opt_out", "pt-BR", "Para não receber mais ligações, tecle nove."),
    PromptText("greeting", "en-US", "Hello, this is Cordial."),
]
CLOCK = VirtualClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.wav")}


def test_first_run_renders_every_prompt_and_records_it(espeak: TtsRenderer, tmp_path: Path) -> None:
    summary = render_all(CATALOG, tmp_path, espeak, clock=CLOCK)

    assert summary.ok
    assert sorted(summary.rendered) == sorted((p.key, p.language) for p in CATALOG)
    assert summary.engines == {"espeak": 3}
    for prompt in CATALOG:
        path = lookup(tmp_path, prompt.key, prompt.language)
        assert path is not None
        assert_telephone_speech(path, prompt.text)
    document = json.loads((tmp_path / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert document["format"] == {
        "container": "wav",
        "encoding": "pcm_s16le",
        "sample_rate": 8000,
        "channels": 1,
        "bits": 16,
    }
    entry = document["prompts"]["pt-BR"]["greeting"]
    assert entry["text"] == CATALOG[0].text
    assert (entry["engine"], entry["voice"], entry["sample_rate"]) == ("espeak", "pt-br", 8000)
    assert entry["rendered_at"] == "2026-11-24T15:00:00+00:00"
    assert 0.5 < entry["duration_s"] < 6


def test_second_run_renders_nothing(espeak: TtsRenderer, tmp_path: Path) -> None:
    render_all(CATALOG, tmp_path, espeak)
    before = _mtimes(tmp_path)

    summary = render_all(CATALOG, tmp_path, espeak)

    assert summary.rendered == [] and len(summary.unchanged) == 3
    assert _mtimes(tmp_path) == before


def test_changing_one_text_re_renders_only_that_prompt(espeak: TtsRenderer, tmp_path: Path) -> None:
    render_all(CATALOG, tmp_path, espeak)
    old_file = lookup(tmp_path, "opt_out", "pt-BR")
    untouched = {
        p.key + p.language: lookup(tmp_path, p.key, p.language)
        for p in CATALOG
        if p.key != "opt_out"
    }
    before = _mtimes(tmp_path)
    new_text = "Para não receber mais ligações nossas, tecle nove agora."
    changed = [
        p if p.key != "opt_out" else PromptText("opt_out", "pt-BR", new_text) for p in CATALOG
    ]

    summary = render_all(changed, tmp_path, espeak)

    assert summary.rendered == [("opt_out", "pt-BR")]
    assert len(summary.unchanged) == 2
    new_file = lookup(tmp_path, "opt_out", "pt-BR")
    assert new_file is not None and new_file != old_file
    assert_telephone_speech(new_file, new_text)
    for ident, path in untouched.items():
        assert path is not None and before[path.name] == path.stat().st_mtime_ns, ident
    # The old text's file stays until pruned (a call in flight may still play it).
    assert old_file is not None and old_file.is_file()
    assert lookup(tmp_path, "opt_out", "pt-BR", text=CATALOG[1].text) is None
    assert lookup(tmp_path, "opt_out", "pt-BR", text=new_text) == new_file
    assert prune_unreferenced(tmp_path) == [old_file]
    assert not old_file.exists() and new_file.is_file()


def test_same_text_under_two_keys_shares_one_file(espeak: TtsRenderer, tmp_path: Path) -> None:
    prompts = [
        PromptText("goodbye", "en-US", "Goodbye."),
        PromptText("menu.goodbye", "en-US", "Goodbye."),
    ]
    summary = render_all(prompts, tmp_path, espeak)
    assert summary.rendered == [("goodbye", "en-US")]
    assert summary.reused == [("menu.goodbye", "en-US")]
    assert lookup(tmp_path, "goodbye", "en-US") == lookup(tmp_path, "menu.goodbye", "en-US")


def test_a_lost_manifest_is_rebuilt_from_the_files_without_rendering(
    espeak: TtsRenderer, tmp_path: Path
) -> None:
    render_all(CATALOG, tmp_path, espeak)
    (tmp_path / MANIFEST_NAME).write_text("{ not json", encoding="utf-8")
    assert lookup(tmp_path, "greeting", "pt-BR") is None  # logged, never raised at a webhook

    summary = render_all(CATALOG, tmp_path, espeak)

    assert summary.rendered == [] and len(summary.reused) == 3
    assert lookup(tmp_path, "greeting", "pt-BR") is not None


def test_templated_prompts_are_left_for_per_call_rendering(
    espeak: TtsRenderer, tmp_path: Path
) -> None:
    prompts = [*CATALOG, PromptText("right_party", "pt-BR", "Se você é {first_name}, tecle um.")]
    summary = render_all(prompts, tmp_path, espeak)
    assert summary.templated == [("right_party", "pt-BR")]
    assert lookup(tmp_path, "right_party", "pt-BR") is None


def test_a_bad_prompt_fails_alone(espeak: TtsRenderer, tmp_path: Path) -> None:
    prompts = [PromptText("x", "es-ES", "Hola."), PromptText("y", "pt-BR", "Tecle {."), *CATALOG]
    summary = render_all(prompts, tmp_path, espeak)
    assert not summary.ok
    assert [(key, language) for key, language, _ in summary.failed] == [
        ("x", "es-ES"),
        ("y", "pt-BR"),
    ]
    assert "'es-ES'" in summary.failed[0][2]
    assert len(summary.rendered) == 3


def test_duplicate_prompts_are_refused(espeak: TtsRenderer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'greeting' appears twice for pt-BR"):
        render_all([CATALOG[0], CATALOG[0]], tmp_path, espeak)


def test_progress_is_reported_for_every_prompt(espeak: TtsRenderer, tmp_path: Path) -> None:
    seen: list[RenderProgress] = []
    render_all(CATALOG, tmp_path, espeak, progress=seen.append)
    assert [(s.done, s.total, s.outcome) for s in seen] == [
        (1, 3, "rendered"),
        (2, 3, "rendered"),
        (3, 3, "rendered"),
    ]


def test_auto_with_gtts_down_records_espeak_and_stays_unchanged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def unreachable(text: str, **options: object) -> object:
        raise gtts.tts.gTTSError("Failed to connect")

    monkeypatch.setattr(gtts, "gTTS", unreachable)
    monkeypatch.setattr(tts, "sox_reads_mp3", lambda: True)
    first = render_all(CATALOG, tmp_path, "auto")
    assert first.engines == {"espeak": 3}
    assert {e.engine for e in load_manifest(tmp_path).values()} == {"espeak"}
    files = {(e.key, e.language): e.file for e in load_manifest(tmp_path).values()}
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == sorted(files.values())

    # Same process, gTTS still known to be down: nothing to do.
    second = render_all(CATALOG, tmp_path, "auto")
    assert second.rendered == [] and len(second.unchanged) == 3
    assert {(e.key, e.language): e.file for e in load_manifest(tmp_path).values()} == files


def test_lookup_without_manifest_is_none(tmp_path: Path) -> None:
    assert lookup(tmp_path, "greeting", "pt-BR") is None
    assert load_manifest(tmp_path) == {}


def test_a_gtts_outage_re_renders_only_the_changed_prompt_and_heals_later(tmp_path: Path) -> None:
    google = FakeGoogle()
    renderer = TtsRenderer("auto", gtts_engine=google)  # type: ignore[arg-type]
    assert render_all(CATALOG, tmp_path, renderer).engines == {"gtts": 3}

    # gTTS goes down and one text changes: only that prompt is rendered, by espeak-ng.
    google.down = True
    changed = [*CATALOG[:2], PromptText("greeting", "en-US", "Hello, Cordial here.")]
    outage = render_all(changed, tmp_path, renderer)
    assert outage.rendered == [("greeting", "en-US")] and outage.engines == {"espeak": 1}
    assert len(outage.unchanged) == 2
    engines = {(e.key, e.language): e.engine for e in load_manifest(tmp_path).values()}
    assert engines == {
        ("greeting", "pt-BR"): "gtts",
        ("opt_out", "pt-BR"): "gtts",
        ("greeting", "en-US"): "espeak",
    }

    # A later process reaches Google again: the espeak-ng rendering is upgraded.
    tts.forget_gtts_failure()
    google.down = False
    healed = render_all(changed, tmp_path, renderer)
    assert healed.rendered == [("greeting", "en-US")] and healed.engines == {"gtts": 1}
    assert {e.engine for e in load_manifest(tmp_path).values()} == {"gtts"}


def test_index_answers_webhooks_from_memory_and_never_plays_an_old_text(
    espeak: TtsRenderer, tmp_path: Path
) -> None:
    render_all(CATALOG, tmp_path, espeak)
    index = PromptAudioIndex(tmp_path, "https://cordial.example/audio/")
    greeting = CATALOG[0]

    url = index.url_for(greeting.key, greeting.language, greeting.text)
    assert url == f"https://cordial.example/audio/{lookup(tmp_path, greeting.key, 'pt-BR').name}"
    assert index.url_for(greeting.key, greeting.language, "Outro texto.") is None
    assert index.url_for(greeting.key, "en-US", greeting.text) is None
    # A sentence is found by its exact text too (one choice of a prompt, "menu[channel=SMS]").
    assert index.url_for("another_key", "pt-BR", greeting.text) == url
    assert index.caption_for(url) == greeting.text

    # Re-rendered with a new text: the loaded index says None (so <Say>) until reloaded.
    new = PromptText(greeting.key, greeting.language, "Olá! Aqui é da Cordial.")
    render_all([new, *CATALOG[1:]], tmp_path, espeak)
    assert index.url_for(new.key, new.language, new.text) is None
    index.reload()
    assert index.url_for(new.key, new.language, new.text) is not None
