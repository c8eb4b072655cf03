"""Configuration: every setting Cordial reads, with its default and meaning.

Settings come from the process environment, then from an optional `.env`
file in the working directory (git-ignored), then from these defaults. The
README's configuration table is generated from SETTINGS (`cordial config
--markdown`) and a test keeps the two in step.
"""

from __future__ import annotations

import os
import re
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
    Setting("TWILIO_WHATSAPP_FROM", "", "WhatsApp-enabled sender of WhatsApp second copies (E.164, e.g. `+5511940000000`; a `whatsapp:` prefix is accepted); not the campaigns' voice caller ID unless that number is WhatsApp-enabled. Empty: with CORDIAL_CARRIER=twilio, second copies go by SMS; with the emulator, its built-in sender `+14155238886`."),
    Setting("TWILIO_WHATSAPP_CONTENT_SID_PT_BR", "", "Content SID (`HX` and 32 hex digits) of the WhatsApp template approved for the pt-BR second copy (its text and variables: `whatsapp_second_copy` in `ivr/messaging/templates/pt-BR.yaml`; see Twilio setup). Empty: with CORDIAL_CARRIER=twilio, pt-BR debtors who prefer WhatsApp get the second copy by SMS; with the emulator, its built-in template."),
    Setting("TWILIO_WHATSAPP_CONTENT_SID_EN_US", "", "The same for the en-US second copy (`ivr/messaging/templates/en-US.yaml`)."),
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

# What the local carrier emulator's account has, used when CORDIAL_CARRIER=emulator leaves
# the WhatsApp settings empty, so `cordial demo` sends WhatsApp second copies as in
# production: a WhatsApp-enabled sender (the number of Twilio's WhatsApp sandbox) and the
# second-copy template of each language, "approved" (the emulator knows their texts).
EMULATOR_WHATSAPP_FROM = "+14155238886"
EMULATOR_WHATSAPP_CONTENT_SIDS = {"pt-BR": "HX" + "0" * 31 + "1", "en-US": "HX" + "0" * 31 + "2"}

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")


def whatsapp_content_sid_setting(language: str) -> str:
    """The setting that holds the WhatsApp template for `language`: pt-BR ->
    TWILIO_WHATSAPP_CONTENT_SID_PT_BR."""
    return "TWILIO_WHATSAPP_CONTENT_SID_" + language.upper().replace("-", "_")


_WHATSAPP_CONTENT_SIDS = tuple(s.name for s in SETTINGS if s.name.startswith("TWILIO_WHATSAPP_CONTENT_SID_"))
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

    @property
    def on_emulator(self) -> bool:
        return self.get("CORDIAL_CARRIER") != "twilio"

    def whatsapp_sender(self) -> str | None:
        """The WhatsApp-enabled sender (E.164, no `whatsapp:` prefix), or None when WhatsApp
        is not configured. On the emulator an empty setting means the emulator's own."""
        configured = self.get("TWILIO_WHATSAPP_FROM").strip().removeprefix("whatsapp:")
        if configured:
            return configured
        return EMULATOR_WHATSAPP_FROM if self.on_emulator else None

    def whatsapp_content_sid(self, language: str) -> str | None:
        """The Content SID of the approved WhatsApp second-copy template in `language`, or
        None when there is none (then WhatsApp second copies in that language go by SMS).
        On the emulator an empty setting means the emulator's own template."""
        name = whatsapp_content_sid_setting(language)
        if name not in _DEFAULTS:
            return None
        configured = self.get(name).strip()
        if configured:
            return configured
        return EMULATOR_WHATSAPP_CONTENT_SIDS.get(language) if self.on_emulator else None


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
    _check_whatsapp(values)


def _check_whatsapp(values: dict[str, str]) -> None:
    sender = values.get("TWILIO_WHATSAPP_FROM", "").strip()
    if sender and not _E164.match(sender.removeprefix("whatsapp:")):
        raise ConfigError(
            f"setting TWILIO_WHATSAPP_FROM={values['TWILIO_WHATSAPP_FROM']!r} is not valid; expected the "
            "WhatsApp-enabled number in E.164, e.g. +5511940000000"
        )
    templates = [n for n in _WHATSAPP_CONTENT_SIDS if values.get(n, "").strip()]
    for name in templates:
        if not _CONTENT_SID.match(values[name].strip()):
            raise ConfigError(
                f"setting {name}={values[name]!r} is not valid; expected a Content SID, HX and 32 "
                "hex digits (Twilio Console, Messaging > Content Template Builder)"
            )
    if templates and not sender and values.get("CORDIAL_CARRIER") == "twilio":
        raise ConfigError(
            f"{templates[0]} is set but TWILIO_WHATSAPP_FROM is empty: WhatsApp templates are sent "
            "from a WhatsApp-enabled sender; set it, or leave the templates empty to send second "
            "copies by SMS"
        )


def settings_markdown() -> str:
    lines = ["| name | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        lines.append(f"| `{s.name}` | {default} | {s.meaning} |")
    return "\n".join(lines)
