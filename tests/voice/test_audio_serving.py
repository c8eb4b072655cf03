"""The app serves rendered audio to the carrier: WAV with caching, ETag and ranges for
prompts; a debtor's sentences only to the signed, expiring URL the voice flow issued;
nothing else in the audio folder."""

from __future__ import annotations

import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ivr.app import create_app
from ivr.speech.call_audio import audio_key_of, prompt_audio_index
from ivr.speech.manifest import PromptAudioIndex, load_manifest
from ivr.speech.personal import render_personal_audio
from ivr.speech.tts import TtsRenderer
from ivr.speech.wording import spoken_amount
from tests.conftest import make_runtime

REPO_AUDIO = Path(__file__).resolve().parents[2] / "audio"


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    shutil.copytree(REPO_AUDIO, folder, ignore=shutil.ignore_patterns("personal", ".*"))
    return folder


@pytest.fixture
def served(sqlite_url, tmp_path, clock, audio_dir):
    runtime = make_runtime(
        sqlite_url, tmp_path / "instance", clock, CORDIAL_AUDIO_DIR=str(audio_dir)
    )
    app = create_app({"TESTING": True}, runtime=runtime)
    index = prompt_audio_index(runtime)
    runtime.extras["prompt_audio"] = index
    yield runtime, app.test_client(), index
    runtime.close()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _greeting(index) -> tuple[str, Path]:
    entry = load_manifest(index.audio_dir)[("greeting", "pt-BR")]
    url = index.url_for("greeting", "pt-BR", entry.text)
    assert url == f"http://127.0.0.1:5000/audio/{entry.file}"
    return url, index.audio_dir / entry.file


def _personal(runtime, index) -> tuple[str, Path]:
    text = f"Consta em aberto o valor de {spoken_amount(Decimal('114.50'), 'BRL', 'pt-BR')}."
    audio = render_personal_audio(
        {"disclosure": text},
        "pt-BR",
        index.audio_dir,
        TtsRenderer("espeak"),
        secret=audio_key_of(runtime),
    )
    url = index.url_for("disclosure", "pt-BR", text)
    assert url is not None and "/audio/personal/" in url
    return url, audio.files["disclosure"]


def test_a_prompt_is_served_as_wav_cached_for_a_year(served) -> None:
    _, client, index = served
    url, path = _greeting(index)

    response = client.get(_path(url))

    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    assert response.data == path.read_bytes() and response.content_length == path.stat().st_size
    cache = response.cache_control
    assert cache.public and cache.max_age == 365 * 24 * 3600 and cache.immutable
    assert not cache.no_cache
    assert response.headers["ETag"] and response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_range_request_gets_206_with_just_those_bytes(served) -> None:
    _, client, index = served
    url, path = _greeting(index)
    data = path.read_bytes()

    header = client.get(_path(url), headers={"Range": "bytes=0-43"})
    tail = client.get(_path(url), headers={"Range": "bytes=-100"})

    assert header.status_code == 206 and header.data == data[:44]
    assert header.headers["Content-Range"] == f"bytes 0-43/{len(data)}"
    assert header.data[:4] == b"RIFF" and header.data[8:12] == b"WAVE"
    assert tail.status_code == 206 and tail.data == data[-100:]
    unsatisfiable = client.get(_path(url), headers={"Range": f"bytes={len(data) + 10}-"})
    assert unsatisfiable.status_code == 416


def test_a_cached_copy_is_confirmed_with_304(served) -> None:
    _, client, index = served
    url, _ = _greeting(index)
    etag = client.get(_path(url)).headers["ETag"]

    again = client.get(_path(url), headers={"If-None-Match": etag})
    other = client.get(_path(url), headers={"If-None-Match": '"something-else"'})

    assert again.status_code == 304 and again.data == b""
    assert other.status_code == 200
    head = client.head(_path(url))
    assert head.status_code == 200 and head.data == b"" and head.mimetype == "audio/wav"


def test_a_personal_sentence_is_served_only_to_its_signed_url_and_never_cached(served) -> None:
    runtime, client, index = served
    url, path = _personal(runtime, index)

    response = client.get(_path(url))
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.data == path.read_bytes()
    assert response.cache_control.no_store and response.cache_control.private
    assert not response.cache_control.public
    ranged = client.get(_path(url), headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.data) == 100

    bare = urlsplit(url).path
    assert client.get(bare).status_code == 403
    tampered = _path(url)[:-1] + ("0" if _path(url)[-1] != "0" else "1")
    assert client.get(tampered).status_code == 403
    later = _path(url).replace("exp=", "exp=9")  # a later expiry than the one signed
    assert client.get(later).status_code == 403
    runtime.clock.advance(timedelta(hours=2))
    assert client.get(_path(url)).status_code == 403  # expired


def test_nothing_else_in_the_audio_folder_is_reachable(served) -> None:
    runtime, client, index = served
    _, personal = _personal(runtime, index)
    rendering = next((index.audio_dir / "personal" / "renderings").glob("*.wav"))
    for path in (
        "/audio",
        "/audio/",
        "/audio/manifest.json",
        "/audio/.manifest.lock",
        "/audio/personal/",
        f"/audio/personal/renderings/{rendering.name}",
        f"/audio/{personal.name}",  # a personal file is not a prompt
        "/audio/../ivr/app.py",
        "/audio/..%2Fmanifest.json",
        "/audio/%2e%2e/%2e%2e/pyproject.toml",
        "/audio/" + "0" * 24 + ".wav",  # the right shape, but no such file
        "/audio/" + "A" * 24 + ".wav",
        "/audio/" + "0" * 24 + ".mp3",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"manifest" not in response.data and b".wav" not in response.data


def test_outside_tests_the_app_plays_the_audio_folder_by_default(
    sqlite_url, tmp_path, clock, audio_dir
) -> None:
    runtime = make_runtime(
        sqlite_url, tmp_path / "instance", clock, CORDIAL_AUDIO_DIR=str(audio_dir)
    )
    try:
        create_app(runtime=runtime)
        index = runtime.extras["prompt_audio"]
        assert isinstance(index, PromptAudioIndex) and index.audio_dir == audio_dir.resolve()
        text = load_manifest(audio_dir)[("goodbye", "en-US")].text
        assert index.url_for("goodbye", "en-US", text).startswith("http://127.0.0.1:5000/audio/")
        # A runtime that already has its audio keeps it.
        create_app(runtime=runtime)
        assert runtime.extras["prompt_audio"] is index
    finally:
        runtime.close()
