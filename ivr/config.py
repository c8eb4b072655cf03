"""Configuration: every setting Cordial reads, with its default and meaning.

Settings come from the process environment, then from an optional `.env`
file in the working directory (git-ignored), then from these defaults. The
README's configuration table is generated from SETTINGS (`cordial config
--markdown`) and a test keeps the two in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting("CORDIAL_INSTANCE_PATH", "./instance", "Folder for the default SQLite database, error files and runtime state."),
    Setting("DATABASE_URL", "sqlite:///<instance>/cordial.db", "SQLAlchemy URL of the database. Use `postgresql+psycopg://user@host/db` for production and several workers."),
    Setting("SECRET_KEY", "(random per instance, stored in the instance folder)", "Flask session signing key for the console. Set it explicitly when running several web workers."),
    Setting("CORDIAL_CARRIER", "emulator", "`emulator` (the local carrier emulator, no credentials) or `twilio`."),
    Setting("CORDIAL_EMULATOR_URL", "http://127.0.0.1:5080", "Base URL of the local carrier emulator's REST API (`cordial emulator`), used with CORDIAL_CARRIER=emulator by processes that do not run it themselves."),
    Setting("TWILIO_ACCOUNT_SID", "", "Twilio account SID (only with CORDIAL_CARRIER=twilio)."),
    Setting("TWILIO_AUTH_TOKEN", "", "Twilio auth token; also the key that signs and validates webhooks."),
    Setting("CORDIAL_PUBLIC_BASE_URL", "http://127.0.0.1:5000", "Public base URL of the web app as Twilio sees it (behind a proxy or tunnel); webhook URLs and signatures are computed from it."),
    Setting("CORDIAL_DEFAULT_REGION", "BR", "Region used to parse phone numbers written without a country code."),
    Setting("CORDIAL_DEFAULT_LANGUAGE", "pt-BR", "Language of prompts and console when a debtor or user has none (`pt-BR` or `en-US`)."),
    Setting("CORDIAL_COMPANY_NAME", "Cordial", "Company name said first on every call and in the neutral voicemail; it must not say \"debt collection\" (US-REGF-LCM)."),
    Setting("CORDIAL_CALLBACK_NUMBER", "+551140000000", "Number debtors are told to call back (voicemail and SMS)."),
    Setting("CORDIAL_TTS_ENGINE", "auto", "`auto` (gTTS when Google is reachable, else espeak-ng), `gtts` or `espeak`."),
    Setting("CORDIAL_AUDIO_DIR", "./audio", "Folder of rendered prompt audio and its manifest."),
    Setting("CORDIAL_PERSONAL_AUDIO_DAYS", "7", "Days a call's personal audio (it says the debtor's name and amount) is kept after its last use; every dialer deletes older files at start and then daily (LGPD)."),
    Setting("CORDIAL_ASR_ENGINE", "vosk", "Speech recogniser for live transcripts: `vosk` or `pocketsphinx`."),
    Setting("VOSK_MODEL_PATH", "", "Folder of a Vosk model (download one with `cordial speech download-model`)."),
    Setting("CORDIAL_DIALER_TICK_SECONDS", "2", "Seconds between dialer ticks."),
    Setting("CORDIAL_DIALER_BATCH", "200", "Most candidates a dialer tick considers."),
    Setting("CORDIAL_DIALER_PLACE_LEASE_SECONDS", "300", "A claimed call not placed after this long belongs to a dead worker; any worker then reconciles it with the carrier."),
    Setting("CORDIAL_DIALER_REQUEUE_SECONDS", "300", "Earliest re-evaluation of a debtor just called (the rules usually push it further)."),
    Setting("CORDIAL_WEBHOOK_POLL_MICROSECONDS", "300", "PostgreSQL, voice webhook worker (`ivr.webhook_worker.WebhookWorker`): a webhook that found its worker idle polls for each database answer for up to this long before sleeping, on a core that would be idle anyway; on virtual machines whose idle cores halt this cuts webhook latency at light load. Under load (connections queueing) webhooks never poll. `0` turns it off."),
    Setting("CORDIAL_LOG_LEVEL", "INFO", "Python logging level."),
)

_DEFAULTS = {s.name: s.default for s in SETTINGS}
# Settings that must be whole numbers, 0 or more (checked when the configuration loads).
_COUNTS = ("CORDIAL_WEBHOOK_POLL_MICROSECONDS",)


@dataclass(frozen=True)
class Config:
    """Resolved settings for one process."""

    instance_path: Path
    database_url: str
    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        if name not in _DEFAULTS:
            raise KeyError(f"unknown setting {name!r}")
        return self.values.get(name, _DEFAULTS[name])

    def get_int(self, name: str) -> int:
        raw = self.get(name)
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"setting {name}={raw!r} is not a whole number") from None

    def get_float(self, name: str) -> float:
        raw = self.get(name)
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"setting {name}={raw!r} is not a number") from None


class ConfigError(ValueError):
    """A setting has a value Cordial cannot use."""


def load_config(overrides: dict[str, Any] | None = None, env_file: str | os.PathLike | None = ".env") -> Config:
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update({k: v for k, v in os.environ.items() if k in _DEFAULTS})
    for key, value in (overrides or {}).items():
        if key not in _DEFAULTS:
            raise ConfigError(f"unknown setting {key!r}; known settings: {', '.join(sorted(_DEFAULTS))}")
        values[key] = str(value)

    instance = Path(values.get("CORDIAL_INSTANCE_PATH", _DEFAULTS["CORDIAL_INSTANCE_PATH"])).resolve()
    url = values.get("DATABASE_URL") or f"sqlite:///{instance / 'cordial.db'}"
    _check(values)
    return Config(instance_path=instance, database_url=url, values=values)


def _check(values: dict[str, str]) -> None:
    allowed = {
        "CORDIAL_CARRIER": {"emulator", "twilio"},
        "CORDIAL_TTS_ENGINE": {"auto", "gtts", "espeak"},
        "CORDIAL_DEFAULT_LANGUAGE": {"pt-BR", "en-US"},
        "CORDIAL_ASR_ENGINE": {"vosk", "pocketsphinx"},
    }
    for name, choices in allowed.items():
        if name in values and values[name] not in choices:
            raise ConfigError(f"setting {name}={values[name]!r} is not valid; expected one of {sorted(choices)}")
    for name in _COUNTS:
        raw = values.get(name, "").strip()
        if raw and not (raw.isascii() and raw.isdigit()):
            raise ConfigError(f"setting {name}={values[name]!r} is not valid; expected a whole number, 0 or more")
    if values.get("CORDIAL_CARRIER") == "twilio":
        missing = [n for n in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not values.get(n)]
        if missing:
            raise ConfigError(f"CORDIAL_CARRIER=twilio needs {' and '.join(missing)} in the environment or .env")


def settings_markdown() -> str:
    lines = ["| name | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        lines.append(f"| `{s.name}` | {default} | {s.meaning} |")
    return "\n".join(lines)
