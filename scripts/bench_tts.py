"""Benchmark of speech rendering: prompts per second by engine, the shipped
catalog, the cost of a debtor's personal audio per call (whole sentences, cold
and cached, against joining pre-rendered word fragments), and what a webhook
pays to find a file. Prints a table; asserts nothing.

    .venv/bin/python scripts/bench_tts.py [--prompts 20] [--calls 40]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.config import load_config  # noqa: E402
from ivr.speech.manifest import PromptAudioIndex, PromptText, render_all  # noqa: E402
from ivr.speech.personal import render_personal_audio  # noqa: E402
from ivr.speech.prompt_texts import catalog_texts_for  # noqa: E402
from ivr.speech.tts import EngineUnavailable, GttsEngine, TtsRenderer, join_wavs  # noqa: E402
from ivr.speech.wording import spoken_amount, spoken_date  # noqa: E402
from ivr.voice.prompt_catalog import prompt_catalog  # noqa: E402

# Synthetic benchmark input, not the product's prompt catalog.
_VOCABULARY = {
    "pt-BR": "olá aqui é da empresa ligação gravada para continuar tecle um dois três nove "
    "segunda via atendente horário retorno obrigado boa tarde",
    "en-US": "hello this is the company call recorded to continue press one two three nine "
    "second copy agent time callback thank you good afternoon",
}
_NAMES = [
    "Maria",
    "José",
    "Ana",
    "João",
    "Francisca",
    "Antônio",
    "Adriana",
    "Carlos",
    "Juliana",
    "Paulo",
]


def _sample_prompts(count: int, rng: random.Random) -> list[PromptText]:
    prompts = []
    for index in range(count):
        language = "pt-BR" if index % 2 == 0 else "en-US"
        words = _VOCABULARY[language].split()
        text = " ".join(rng.choice(words) for _ in range(rng.randint(8, 16))).capitalize() + "."
        prompts.append(PromptText(f"bench_{index}", language, text))
    return prompts


def _personal_sentences(rng: random.Random) -> dict[str, str]:
    amount = spoken_amount(Decimal(rng.randint(1_000, 500_000)) / 100, "BRL", "pt-BR")
    due = spoken_date(date(2026, 11, 1) + timedelta(days=rng.randint(0, 60)), "pt-BR")
    return {
        "right_party": f"Se você é {rng.choice(_NAMES)}, tecle um.",
        "disclosure": f"O valor em aberto é de {amount}, com vencimento em {due}.",
    }


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def bench_prompts(count: int, rng: random.Random) -> list[tuple[str, str]]:
    rows = []
    prompts = _sample_prompts(count, rng)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = render_all(prompts, folder, TtsRenderer("espeak"))
        elapsed = time.perf_counter() - started
    rows.append(
        (
            "espeak-ng",
            f"{len(summary.rendered) / elapsed:.1f} prompts/s ({len(summary.rendered)} in {elapsed:.2f} s)",
        )
    )

    with tempfile.TemporaryDirectory() as folder:
        try:
            GttsEngine(timeout_s=3.0).synthesize("ok", "en-US", Path(folder))
        except EngineUnavailable as exc:
            rows.append(("gTTS", f"unavailable: {exc}"))
            return rows
        few = prompts[: max(1, count // 4)]
        started = time.perf_counter()
        summary = render_all(few, folder, TtsRenderer("gtts"))
        elapsed = time.perf_counter() - started
    rows.append(
        (
            "gTTS",
            f"{len(summary.rendered) / elapsed:.1f} prompts/s ({len(summary.rendered)} in {elapsed:.2f} s)",
        )
    )
    return rows


def bench_catalog() -> list[tuple[str, str]]:
    """The shipped prompt catalog, both languages, as `cordial prompts render` makes it."""
    texts = catalog_texts_for(load_config(env_file=None), prompt_catalog())
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = render_all(texts.ahead, folder, TtsRenderer("espeak"))
        elapsed = time.perf_counter() - started
        files = list(Path(folder).glob("*.wav"))
        size_kb = sum(p.stat().st_size for p in files) / 1024
        seconds = sum(p.stat().st_size - 44 for p in files) / 16000
    return [
        (
            "shipped catalog, espeak-ng",
            f"{len(summary.rendered)} prompts in {elapsed:.2f} s, {seconds:.0f} s of speech, "
            f"{size_kb:.0f} KB",
        ),
        (
            "rendered per call / said live",
            f"{len(texts.per_call)} / {len(texts.live)} prompt templates (both languages)",
        ),
    ]


def bench_lookups(rng: random.Random, lookups: int = 2000) -> list[tuple[str, str]]:
    """What a webhook pays to turn a sentence into a <Play> URL (or learn it has none)."""
    renderer = TtsRenderer("espeak")
    prompt = PromptText("greeting", "pt-BR", "Olá! Aqui é da Cordial.")
    sentences = _personal_sentences(rng)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        render_all([prompt], folder, renderer)
        render_personal_audio(sentences, "pt-BR", folder, renderer, secret=b"bench")
        index = PromptAudioIndex(folder, "https://cordial.example/audio", secret=b"bench")
        cases = [
            ("prompt (in memory)", lambda: index.url_for(prompt.key, "pt-BR", prompt.text)),
            (
                "personal sentence (one stat, signed URL)",
                lambda: index.url_for("disclosure", "pt-BR", sentences["disclosure"]),
            ),
            ("no audio (one stat, then <Say>)", lambda: index.url_for("x", "pt-BR", "Nada.")),
        ]
        for label, lookup in cases:
            samples = []
            for _ in range(lookups):
                started = time.perf_counter()
                lookup()
                samples.append(time.perf_counter() - started)
            median, p95 = (v * 1000 for v in _ms(samples))
            rows.append((label, f"median {median:.1f} µs, p95 {p95:.1f} µs"))
    return rows


def bench_personal(calls: int, rng: random.Random) -> list[tuple[str, str]]:
    renderer = TtsRenderer("espeak")
    per_call = [_personal_sentences(rng) for _ in range(calls)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        cold, warm = [], []
        for sentences in per_call:
            started = time.perf_counter()
            render_personal_audio(sentences, "pt-BR", folder, renderer, secret=b"bench")
            cold.append(time.perf_counter() - started)
        for sentences in per_call:
            started = time.perf_counter()
            render_personal_audio(sentences, "pt-BR", folder, renderer, secret=b"bench")
            warm.append(time.perf_counter() - started)
        rows.append(
            (
                "whole sentences, new (espeak-ng)",
                "median {:.1f} ms, p95 {:.1f} ms".format(*_ms(cold)),
            )
        )
        rows.append(
            ("whole sentences, cached", "median {:.2f} ms, p95 {:.2f} ms".format(*_ms(warm)))
        )

        # The alternative: every word pre-rendered once, joined per call.
        fragments: dict[str, Path] = {}
        for sentences in per_call:
            for text in sentences.values():
                for word in text.replace(",", "").replace(".", "").split():
                    if word not in fragments:
                        fragments[word] = renderer.render(
                            word, "pt-BR", Path(folder) / f"w{len(fragments)}.wav"
                        ).path
        joined = []
        for index, sentences in enumerate(per_call):
            started = time.perf_counter()
            for name, text in sentences.items():
                words = text.replace(",", "").replace(".", "").split()
                join_wavs(
                    [fragments[w] for w in words],
                    Path(folder) / f"joined-{index}-{name}.wav",
                    gap_ms=40,
                )
            joined.append(time.perf_counter() - started)
        rows.append(
            (
                "pre-rendered word fragments joined",
                "median {:.2f} ms, p95 {:.2f} ms".format(*_ms(joined)),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=20, help="prompts to render per engine")
    parser.add_argument("--calls", type=int, default=40, help="calls of personal audio to render")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    sections = [
        ("Prompt rendering (8 kHz WAV, trimmed, normalised)", bench_prompts(args.prompts, rng)),
        ("Prompt catalog (cordial prompts render)", bench_catalog()),
        (
            f"Personal audio per call at claim (2 sentences, {args.calls} calls)",
            bench_personal(args.calls, rng),
        ),
        ("Webhook lookups (per sentence)", bench_lookups(rng)),
    ]
    width = max(len(label) for _, rows in sections for label, _ in rows)
    for title, rows in sections:
        print(f"\n{title}")
        print(f"{'':-<{width + 40}}")
        for label, value in rows:
            print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
