"""`cordial speech …`: render the prompt catalog, prune stale audio, fetch a Vosk model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from ivr.speech.languages import LANGUAGES
from ivr.speech.manifest import PromptText, RenderProgress, prune_unreferenced, render_all
from ivr.speech.tts import ENGINE_CHOICES, TtsRenderer

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parent.parent / "voice" / "prompts"

if TYPE_CHECKING:
    from ivr.config import Config


def register(main: click.Group) -> None:
    main.add_command(speech)


@click.group()
def speech() -> None:
    """Prompt audio (TTS) and speech recognition models."""


@speech.command("render")
@click.option(
    "--engine",
    type=click.Choice(ENGINE_CHOICES),
    default=None,
    help="TTS engine; default CORDIAL_TTS_ENGINE.",
)
@click.option(
    "--prompts-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_PROMPTS_DIR,
    show_default=True,
    help="Folder of <language>.yaml prompt catalogs.",
)
@click.option(
    "--audio-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Output folder; default CORDIAL_AUDIO_DIR.",
)
@click.pass_context
def render_cmd(
    ctx: click.Context, engine: str | None, prompts_dir: Path, audio_dir: Path | None
) -> None:
    """Render every prompt whose audio is missing or whose text changed."""
    from ivr.config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    prompts = _catalog(prompts_dir, config)
    target = audio_dir or Path(config.get("CORDIAL_AUDIO_DIR"))

    def report(step: RenderProgress) -> None:
        if step.outcome in ("rendered", "reused", "failed"):
            click.echo(
                f"[{step.done}/{step.total}] {step.outcome:8} {step.prompt.language} {step.prompt.key}"
                + (f" ({step.engine})" if step.engine else "")
            )

    renderer = TtsRenderer(engine or config.get("CORDIAL_TTS_ENGINE"))
    summary = render_all(prompts, target, renderer, progress=report)
    click.echo(
        f"{len(summary.rendered)} rendered {dict(summary.engines)}, {len(summary.reused)} reused, "
        f"{len(summary.unchanged)} unchanged, {len(summary.templated)} templated (rendered per call), "
        f"{len(summary.failed)} failed, into {target}"
    )
    for key, language, reason in summary.failed:
        click.echo(f"failed: {language} {key}: {reason}", err=True)
    if summary.failed:
        ctx.exit(1)


@speech.command("prune")
@click.option("--audio-dir", type=click.Path(path_type=Path, file_okay=False), default=None)
def prune_cmd(audio_dir: Path | None) -> None:
    """Delete rendered prompt files no manifest entry points at (run when no call is in progress)."""
    from ivr.config import load_config

    target = audio_dir or Path(load_config().get("CORDIAL_AUDIO_DIR"))
    removed = prune_unreferenced(target)
    click.echo(f"removed {len(removed)} stale file(s) from {target}")


@speech.command("download-model")
@click.argument("language", type=click.Choice(LANGUAGES))
@click.option(
    "--dest",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("models"),
    show_default=True,
)
def download_model_cmd(language: str, dest: Path) -> None:
    """Download the official small Vosk model for LANGUAGE and print its path."""
    from ivr.speech.asr import ModelDownloadError, download_vosk_model

    try:
        path = download_vosk_model(language, dest)
    except ModelDownloadError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model ready; set VOSK_MODEL_PATH={path.resolve()}")


def _catalog(prompts_dir: Path, config: Config) -> list[PromptText]:
    """The voice flow's prompt catalog, with the placeholders that are the same on
    every call ({company}, {callback_number}, ...) filled in, so those prompts can
    be rendered ahead; prompts with per-call placeholders stay templates."""
    from ivr.voice.identity import common_prompt_params
    from ivr.voice.prompt_catalog import PromptCatalog, PromptError

    try:
        catalog = PromptCatalog.load(prompts_dir)
    except (PromptError, OSError, yaml.YAMLError) as exc:
        raise click.ClickException(
            f"cannot read the prompt catalog in {prompts_dir}: {exc}"
        ) from None
    prompts: list[PromptText] = []
    for language in catalog.languages:
        book = catalog.book(language)
        common = common_prompt_params(config, book)
        for key, template in book.prompts.items():
            text = template
            if book.placeholders[key] <= common.keys():
                text = catalog.text(key, language, common)
            prompts.append(PromptText(key, language, text))
    return prompts
