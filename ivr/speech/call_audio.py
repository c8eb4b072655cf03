"""Audio for the calls a dialer worker just claimed, and where the web app finds it.

`prepare_call_audio(runtime, attempt_ids)` runs in the dialer right after a
claim commits and before the calls are placed: it renders each call's
personal sentences (the right-party check with the first name; the
disclosure with the spoken amount, due date and creditor) into
`<audio>/personal/`, so the webhooks only ever look files up. It never
raises: a sentence it cannot render is spoken with <Say> during the call.

`prune_call_audio(runtime)` deletes personal files unused for
CORDIAL_PERSONAL_AUDIO_DAYS; every dialer runs it at start and then daily.

`prompt_audio_index(runtime)` is the in-memory index the voice flow asks
(`runtime.extras["prompt_audio"]`). Both sides name personal files with a
key derived from the instance's SECRET_KEY, so the dialer and the web
workers must share SECRET_KEY (set it explicitly when they run on several
machines) and CORDIAL_AUDIO_DIR (a shared folder).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from ivr.config import Config, ConfigError
from ivr.models import Attempt, Creditor, Debt, Debtor, DebtStatus
from ivr.runtime import Runtime, instance_secret
from ivr.speech.manifest import PromptAudioIndex
from ivr.speech.personal import prune_personal_audio, render_personal_audio
from ivr.speech.prompt_texts import DebtFacts, personal_sentences
from ivr.speech.tts import renderer_from_config
from ivr.voice.disclosure import disclosure_rules
from ivr.voice.prompt_catalog import PromptCatalog, prompt_catalog

log = logging.getLogger(__name__)

AUDIO_URL_PATH = "/audio"
# espeak-ng runs as a subprocess and gTTS waits on the network: a few threads overlap them.
_RENDER_THREADS = min(4, os.cpu_count() or 1)


def audio_dir_of(config: Config) -> Path:
    """The folder of rendered audio (CORDIAL_AUDIO_DIR), absolute."""
    return Path(config.get("CORDIAL_AUDIO_DIR")).resolve()


def audio_base_url(config: Config) -> str:
    """Where the carrier fetches audio: CORDIAL_PUBLIC_BASE_URL + /audio."""
    return config.get("CORDIAL_PUBLIC_BASE_URL").rstrip("/") + AUDIO_URL_PATH


def derive_audio_key(secret_key: str) -> bytes:
    """The key that names and signs personal audio, derived from SECRET_KEY so that it
    is never the key that signs console sessions."""
    return hmac.new(
        secret_key.encode("utf-8"), b"cordial personal audio v1", hashlib.sha256
    ).digest()


def audio_key_of(runtime: Runtime) -> bytes:
    """`derive_audio_key` of this instance's SECRET_KEY (the web app's, from the
    configuration or the instance folder)."""
    return derive_audio_key(instance_secret(runtime))


def prompt_audio_index(runtime: Runtime, *, captions: bool = False) -> PromptAudioIndex:
    """The index of prompt and personal audio the voice flow plays from. `captions`
    lets the carrier emulator tell what a personal URL says (development only)."""
    return PromptAudioIndex(
        audio_dir_of(runtime.config),
        audio_base_url(runtime.config),
        secret=audio_key_of(runtime),
        clock=runtime.clock,
        captions=captions,
    )


@dataclass(frozen=True)
class _CallSentences:
    attempt_id: int
    language: str
    sentences: dict[str, str]


def personal_audio_retention(config: Config) -> timedelta:
    """How long a personal file is kept after its last use (CORDIAL_PERSONAL_AUDIO_DAYS)."""
    days = config.get_int("CORDIAL_PERSONAL_AUDIO_DAYS")
    if days < 1:
        raise ConfigError(
            f"setting CORDIAL_PERSONAL_AUDIO_DAYS={days} is not allowed; expected 1 or more days"
        )
    return timedelta(days=days)


def prune_call_audio(runtime: Runtime) -> list[Path]:
    """Delete the personal files no call used for CORDIAL_PERSONAL_AUDIO_DAYS (they say
    debtors' names and amounts: LGPD); what was deleted."""
    removed = prune_personal_audio(
        audio_dir_of(runtime.config),
        older_than=personal_audio_retention(runtime.config),
        now=runtime.clock.now(),
    )
    if removed:
        log.info("personal audio: deleted %d file(s) unused for too long", len(removed))
    return removed


def prepare_call_audio(runtime: Runtime, attempt_ids: list[int]) -> None:
    """Render the personal sentences of the claimed calls `attempt_ids`, before they are
    placed. Sentences already rendered (a retried call, another debtor with the same
    first name) cost a file lookup. Logs what it did; never raises."""
    if not attempt_ids:
        return
    started = time.perf_counter()
    try:
        catalog = prompt_catalog()
        calls = _sentences_of(runtime, catalog, attempt_ids)
        audio_dir = audio_dir_of(runtime.config)
        key = audio_key_of(runtime)
        renderer = renderer_from_config(runtime.config)
    except Exception:
        log.exception(
            "personal audio not prepared for %d call(s); they will use <Say>", len(attempt_ids)
        )
        return

    def render(call: _CallSentences) -> tuple[int, int]:
        try:
            done = render_personal_audio(
                call.sentences, call.language, audio_dir, renderer, secret=key
            )
        except Exception as exc:  # TtsError, a full disk, ...: the call still goes out
            log.warning(
                "attempt %s: personal audio not prepared (%s: %s); the call will use <Say>",
                call.attempt_id,
                type(exc).__name__,
                exc,
            )
            return 0, len(call.sentences)
        return len(done.rendered), 0

    with ThreadPoolExecutor(_RENDER_THREADS, thread_name_prefix="call-audio") as pool:
        results = list(pool.map(render, calls))
    rendered = sum(r for r, _ in results)
    failed = sum(f for _, f in results)
    total = sum(len(c.sentences) for c in calls)
    log.info(
        "personal audio for %d call(s): %d sentence(s) rendered, %d already there, "
        "%d failed, in %.0f ms",
        len(calls),
        rendered,
        total - rendered - failed,
        failed,
        (time.perf_counter() - started) * 1000,
    )


def _sentences_of(
    runtime: Runtime, catalog: PromptCatalog, attempt_ids: list[int]
) -> list[_CallSentences]:
    from ivr.voice.identity import common_prompt_params

    today = runtime.clock.now().date()
    default_language = runtime.config.get("CORDIAL_DEFAULT_LANGUAGE")
    with runtime.db.session() as session:
        rows = session.execute(
            select(Attempt.id, Attempt.callback_id, Debtor, Debt, Creditor.name)
            .join(Debtor, Debtor.id == Attempt.debtor_id)
            .outerjoin(Debt, Debt.id == Attempt.debt_id)
            .outerjoin(Creditor, Creditor.id == Debt.creditor_id)
            .where(Attempt.id.in_(attempt_ids))
        ).all()
        calls = []
        for attempt_id, callback_id, debtor, debt, creditor_name in rows:
            if callback_id is not None:
                continue  # a booked callback goes straight to an agent: nothing personal is said
            language = catalog.call_language(debtor.language, default_language)
            facts = None
            if (
                debt is not None
                and creditor_name is not None
                and debt.status == DebtStatus.OPEN.value
                and not debt.payment_pending
            ):
                facts = DebtFacts(
                    amount=debt.total,
                    principal=debt.principal,
                    interest=debt.interest,
                    fee=debt.fee,
                    currency=debt.currency,
                    due_date=debt.due_date,
                    creditor=creditor_name,
                    itemised=disclosure_rules(debtor.country, debtor.state).itemised,
                )
            common = common_prompt_params(runtime.config, catalog.book(language))
            sentences = personal_sentences(
                catalog, language, common, debtor.first_name, facts, today=today
            )
            calls.append(_CallSentences(attempt_id, language, sentences))
    return calls


__all__ = [
    "AUDIO_URL_PATH",
    "audio_base_url",
    "audio_dir_of",
    "audio_key_of",
    "derive_audio_key",
    "personal_audio_retention",
    "prepare_call_audio",
    "prompt_audio_index",
    "prune_call_audio",
]
