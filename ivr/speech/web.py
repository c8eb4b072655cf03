"""The audio the carrier fetches for <Play>, served from the audio folder.

    GET /audio/<24 hex>.wav                              a prompt (public)
    GET /audio/personal/<32 hex>.wav?exp=<unix>&sig=<hex>  a debtor's sentence

Prompt files are named for a hash of their text, voice and engine, so a
name never changes meaning: they are cached for a year (`immutable`).
Personal files are personal data: served only to a URL the voice flow issued
within the hour (signed, expiring), never stored by a cache. Both answer
conditional and range requests (ETag, If-None-Match -> 304, Range -> 206) as
Twilio's media fetcher expects, with Content-Type audio/wav. Names are
checked against their exact shape before the disk is touched, so nothing
else in the folder (the manifest, other paths) is reachable and there is no
listing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request, send_file

from ivr.app import runtime_of
from ivr.speech.call_audio import (
    AUDIO_URL_PATH,
    audio_dir_of,
    audio_key_of,
    prompt_audio_index,
)
from ivr.speech.personal import PERSONAL_DIR, personal_url_is_valid

log = logging.getLogger(__name__)

blueprint = Blueprint("audio", __name__, url_prefix=AUDIO_URL_PATH)

WAV_MIMETYPE = "audio/wav"
PROMPT_MAX_AGE_S = 365 * 24 * 3600
_PROMPT_NAME = re.compile(r"[0-9a-f]{24}\.wav")
_PERSONAL_NAME = re.compile(r"[0-9a-f]{32}\.wav")


@dataclass(frozen=True)
class AudioFolder:
    path: Path
    key: bytes  # names and signs personal files (call_audio.audio_key_of)


def register_audio(app: Flask) -> None:
    """Serve the audio folder, and give the voice flow its index of rendered audio
    (runtime.extras["prompt_audio"]) unless one is set already. Apps in TESTING mode get
    no index by default, so tests of the flow read <Say> texts; audio tests install one
    with `ivr.speech.call_audio.prompt_audio_index`."""
    runtime = runtime_of(app)
    folder = AudioFolder(audio_dir_of(runtime.config), audio_key_of(runtime))
    app.extensions["cordial_audio"] = folder
    app.register_blueprint(blueprint)
    if "prompt_audio" not in runtime.extras and not app.testing:
        index = prompt_audio_index(runtime)
        runtime.extras["prompt_audio"] = index
        log.info(
            "prompt audio: %d prompt(s) rendered in %s, served at %s",
            index.prompt_count,
            folder.path,
            index.base_url,
        )


def _folder() -> AudioFolder:
    return current_app.extensions["cordial_audio"]


@blueprint.get("/<name>")
def prompt_file(name: str) -> Response:
    if not _PROMPT_NAME.fullmatch(name):
        return _not_found()
    response = _send(_folder().path / name)
    if response.status_code in (200, 206, 304):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = PROMPT_MAX_AGE_S
        response.cache_control.immutable = True
    return response


@blueprint.get(f"/{PERSONAL_DIR}/<name>")
def personal_file(name: str) -> Response:
    if not _PERSONAL_NAME.fullmatch(name):
        return _not_found()
    folder = _folder()
    now = runtime_of().clock.now()
    if not personal_url_is_valid(
        name, request.args.get("exp"), request.args.get("sig"), folder.key, now
    ):
        log.warning("personal audio refused: missing, invalid or expired signature")
        return Response("invalid or expired audio link\n", status=403, mimetype="text/plain")
    response = _send(folder.path / PERSONAL_DIR / name)
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


def _send(path: Path) -> Response:
    try:
        response = send_file(path, mimetype=WAV_MIMETYPE, conditional=True, etag=True)
    except FileNotFoundError:
        return _not_found()
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _not_found() -> Response:
    return Response("no such audio file\n", status=404, mimetype="text/plain")


__all__ = ["WAV_MIMETYPE", "blueprint", "register_audio"]
