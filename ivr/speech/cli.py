"""`cordial prompts render` (also `cordial speech render`): render the prompt catalog
into the audio folder; `cordial speech prune`, `download-model`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from ivr.speech.languages import LANGUAGES
from ivr.speech.manifest import RenderProgress, prune_unreferenced, render_all
from ivr.speech.tts import ENGINE_CHOICES, TtsRenderer

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parent.parent / "voice" / "prompts"

if TYPE_CHECKING:
    from ivr.config import Config
    from ivr.speech.prompt_texts import CatalogTexts


def register(main: click.Group) -> None:
    main.add_command(speech)
    main.add_command(prompts)


@click.group()
def speech() -> None:
    """Prompt audio (TTS) and speech recognition models."""


@click.group()
def prompts() -> None:
    """The robocall's prompt audio, rendered ahead of calls into the audio folder."""


@prompts.command("render")
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
    """Render every prompt whose audio is missing or whose text changed (and only those).

    Prompts with the debtor's name or amount are rendered per call by the dialer;
    callback times are said live. Restart the web workers afterwards so they see
    the new files.
    """
    from ivr.config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    texts = _catalog_texts(prompts_dir, config)
    target = audio_dir or Path(config.get("CORDIAL_AUDIO_DIR"))
    renderer = TtsRenderer(engine or config.get("CORDIAL_TTS_ENGINE"))

    def shown(step: RenderProgress | None) -> str | None:
        return f"{step.prompt.language} {step.prompt.key}" if step else None

    with click.progressbar(
        length=len(texts.ahead),
        label=f"Rendering {len(texts.ahead)} prompts",
        show_pos=True,
        item_show_func=shown,
    ) as bar:

        def report(step: RenderProgress) -> None:
            bar.update(1, step)

        summary = render_all(texts.ahead, target, renderer, progress=report)

    wav_files = list(target.glob("*.wav"))
    size_kb = sum(p.stat().st_size for p in wav_files) / 1024
    engines = ", ".join(f"{name} {n}" for name, n in sorted(summary.engines.items())) or "none"
    click.echo(f"{len(summary.rendered)} rendered ({engines})")
    click.echo(f"{len(summary.reused)} reused (the same sentence was already rendered)")
    click.echo(f"{len(summary.unchanged)} unchanged")
    click.echo(f"{len(summary.failed)} failed")
    click.echo(
        f"{len(texts.per_call)} rendered per call by the dialer: "
        + ", ".join(sorted({p.key for p in texts.per_call}))
    )
    click.echo(
        f"{len(texts.live)} said live with <Say>: " + ", ".join(sorted({p.key for p in texts.live}))
    )
    click.echo(f"{target}: {len(wav_files)} files, {size_kb:.0f} KB")
    for key, language, reason in summary.failed:
        click.echo(f"failed: {language} {key}: {reason}", err=True)
    if summary.failed:
        ctx.exit(1)


speech.add_command(render_cmd, "render")


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


def _catalog_texts(prompts_dir: Path, config: Config) -> CatalogTexts:
    """The voice flow's prompt catalog split by when its audio is made, with the
    placeholders that are the same on every call ({company}, ...) filled in."""
    from ivr.speech.prompt_texts import catalog_texts_for
    from ivr.voice.prompt_catalog import PromptCatalog, PromptError

    try:
        catalog = PromptCatalog.load(prompts_dir)
        return catalog_texts_for(config, catalog)
    except (PromptError, OSError, ValueError, yaml.YAMLError) as exc:
        raise click.ClickException(
            f"cannot read the prompt catalog in {prompts_dir}: {exc}"
        ) from None
