"""Live recognition: mu-law decoding, PocketSphinx on a phone-quality round trip, Vosk streaming."""

from __future__ import annotations

import array
import socket
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest

from ivr.config import load_config
from ivr.speech import asr
from ivr.speech.asr import (
    ModelDownloadError,
    PartialResult,
    PocketsphinxEngine,
    VoskEngine,
    asr_engine_from_config,
    download_vosk_model,
    mulaw_decode,
    mulaw_encode,
)

OBJECTIONS = [
    "I already paid this bill",
    "I do not owe this",
    "call me later",
    "stop calling me",
    "I lost my job",
]
CHUNK = 320  # 20 ms of 8 kHz 16-bit audio, as Twilio Media Streams send it
SILENCE = b"\x00\x00" * 4000  # half a second


def _sox_convert(data: bytes, source: list[str], target: list[str]) -> bytes:
    return subprocess.run(
        [
            "sox",
            "-D",
            "-t",
            "raw",
            "-r",
            "8000",
            "-c",
            "1",
            *source,
            "-",
            "-t",
            "raw",
            *target,
            "-",
        ],
        input=data,
        capture_output=True,
        check=True,
    ).stdout


def _stream(recognizer: asr.Recognizer, pcm: bytes) -> list[PartialResult]:
    news = []
    for start in range(0, len(pcm), CHUNK):
        result = recognizer.accept_pcm16(pcm[start : start + CHUNK])
        if result is not None:
            news.append(result)
    return news


def test_mulaw_decode_matches_sox_for_every_code() -> None:
    codes = bytes(range(256))
    expected = _sox_convert(codes, ["-e", "u-law"], ["-b", "16", "-e", "signed-integer"])
    assert mulaw_decode(codes) == expected


def test_mulaw_decode_known_values() -> None:
    pcm = array.array("h", mulaw_decode(bytes([0x00, 0x7F, 0x80, 0xFF])))
    assert pcm.tolist() == [-32124, 0, 32124, 0]
    assert mulaw_decode(b"") == b""


def test_mulaw_encode_agrees_with_sox_within_one_step() -> None:
    everything = array.array("h", range(-32768, 32768)).tobytes()
    ours = array.array("h", mulaw_decode(mulaw_encode(everything)))
    theirs = array.array(
        "h",
        mulaw_decode(
            _sox_convert(everything, ["-b", "16", "-e", "signed-integer"], ["-e", "u-law"])
        ),
    )
    original = array.array("h", everything)
    for sample, mine, sox in zip(original, ours, theirs, strict=True):
        # A mu-law step is 1/16 of its segment: at most (|x| + bias) / 16, and never below 8.
        step = max(8, (abs(sample) + 132) // 16)
        assert abs(mine - sox) <= step, sample  # sox rounds some boundaries the other way
        assert abs(mine - sample) <= step, sample


def test_mulaw_round_trip_keeps_every_code() -> None:
    codes = bytes(range(256))
    again = mulaw_encode(mulaw_decode(codes))
    # 0x7F is "negative zero"; it decodes to 0, which encodes as 0xFF.
    assert [a for a, b in zip(codes, again, strict=True) if a != b] == [0x7F]


def test_mulaw_encode_refuses_half_a_sample() -> None:
    with pytest.raises(ValueError, match="odd length"):
        mulaw_encode(b"\x00\x01\x02")


def test_pocketsphinx_recognises_an_objection_over_a_phone_line(
    spoken_objection: tuple[str, bytes],
) -> None:
    text, pcm = spoken_objection
    # What Twilio would send: the 8 kHz audio mu-law encoded, decoded on our side.
    phone_pcm = mulaw_decode(mulaw_encode(pcm))
    recognizer = PocketsphinxEngine(OBJECTIONS).open_stream(8000)

    news = _stream(recognizer, SILENCE + phone_pcm + SILENCE)
    transcript = recognizer.final()

    assert text.lower() in transcript
    assert news and all(isinstance(n, PartialResult) and n.text for n in news)
    assert all(a.text != b.text for a, b in zip(news, news[1:], strict=False))  # only changes


def test_pocketsphinx_keyword_mode_streams(spoken_objection: tuple[str, bytes]) -> None:
    _, pcm = spoken_objection
    recognizer = PocketsphinxEngine(["already paid", "stop calling"], mode="keywords").open_stream(
        8000
    )
    _stream(recognizer, SILENCE + mulaw_decode(mulaw_encode(pcm)) + SILENCE)
    assert isinstance(recognizer.final(), str)


def test_pocketsphinx_refuses_words_it_cannot_pronounce() -> None:
    with pytest.raises(ValueError, match="xyzzyplugh"):
        PocketsphinxEngine(["pay xyzzyplugh"]).open_stream(8000)
    with pytest.raises(ValueError, match="mode"):
        PocketsphinxEngine(OBJECTIONS, mode="free")
    with pytest.raises(ValueError, match="sample rate"):
        PocketsphinxEngine(OBJECTIONS).open_stream(44100)


def test_vosk_streams_phone_audio_through_a_real_model(
    korean_vosk_model: Path, spoken_objection: tuple[str, bytes]
) -> None:
    """A Korean model will not understand English: this checks the streaming mechanics."""
    _, pcm = spoken_objection
    engine = VoskEngine(korean_vosk_model)
    first, second = engine.open_stream(8000), engine.open_stream(8000)

    news = _stream(first, mulaw_decode(mulaw_encode(pcm)) + SILENCE * 4)
    transcript = first.final()

    assert all(isinstance(n, PartialResult) and n.text for n in news)
    assert news, "the recogniser reported nothing for a second of speech"
    assert isinstance(transcript, str)
    # Two seconds of silence end the utterance: Vosk's endpointer closes it.
    finals = [n.text for n in news if n.final]
    assert finals and transcript == " ".join(finals)
    # A second stream on the same model is independent and starts empty.
    assert second.final() == ""


def test_vosk_model_is_loaded_once_per_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loads: list[Path] = []
    start = threading.Barrier(4)

    def load(path: Path) -> object:
        loads.append(path)
        return object()

    monkeypatch.setattr(asr, "_vosk_models", {})
    monkeypatch.setattr(asr, "_load_vosk_model", load)
    models: list[object] = []

    def open_model() -> None:
        start.wait()
        models.append(VoskEngine(tmp_path).model)

    workers = [threading.Thread(target=open_model) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert loads == [tmp_path.resolve()]
    assert len({id(m) for m in models}) == 1


def test_vosk_without_a_model_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="VOSK_MODEL_PATH"):
        VoskEngine(tmp_path / "missing").open_stream()


def test_engine_from_config(tmp_path: Path) -> None:
    config = load_config({"CORDIAL_ASR_ENGINE": "pocketsphinx"}, env_file=None)
    assert asr_engine_from_config(config, phrases=OBJECTIONS).name == "pocketsphinx"
    with pytest.raises(ValueError, match="VOSK_MODEL_PATH is empty"):
        asr_engine_from_config(
            load_config({"CORDIAL_ASR_ENGINE": "vosk", "VOSK_MODEL_PATH": ""}, env_file=None)
        )
    engine = asr_engine_from_config(load_config({"VOSK_MODEL_PATH": str(tmp_path)}, env_file=None))
    assert isinstance(engine, VoskEngine) and engine.model_path == tmp_path


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_model_download_failure_explains_the_manual_way(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_closed_port()}/models/"
    with pytest.raises(ModelDownloadError) as failure:
        download_vosk_model("pt-BR", tmp_path, base_url=base, timeout_s=5)
    message = str(failure.value)
    assert f"{base}vosk-model-small-pt-0.3.zip" in message
    assert "VOSK_MODEL_PATH=" in message
    assert [p.name for p in tmp_path.iterdir()] == []


def test_model_download_unpacks_the_archive(tmp_path: Path) -> None:
    """The unpacking half, fed from a local file: URL instead of the network."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "vosk-model-small-en-us-0.15.zip", "w") as bundle:
        bundle.writestr("vosk-model-small-en-us-0.15/am/final.mdl", b"model")
        bundle.writestr("vosk-model-small-en-us-0.15/conf/model.conf", b"--beam=10\n")

    path = download_vosk_model("en-US", tmp_path / "models", base_url=mirror.as_uri())

    assert path == tmp_path / "models" / "vosk-model-small-en-us-0.15"
    assert (path / "am" / "final.mdl").read_bytes() == b"model"
    assert download_vosk_model("en-US", tmp_path / "models", base_url="http://127.0.0.1:9/") == path


def test_model_download_refuses_other_languages(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'ko-KR'"):
        download_vosk_model("ko-KR", tmp_path)
