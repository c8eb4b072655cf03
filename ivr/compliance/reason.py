"""Why a rule blocks a call: the Reason on every decision, the rule ids, and the
one-line explanation a supervisor reads (texts in reasons/<language>.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ivr.compliance.local_time import as_utc, zone

REASONS_DIR = Path(__file__).with_name("reasons")
LANGUAGES = ("pt-BR", "en-US")

# Rule ids of COMPLIANCE.md that the engine emits besides the presets' own
# (BR-SP-HOURS, BR-RJ-HOURS, BR-DEFAULT, US-REGF-HOURS, BR-FREQ, US-REGF-7IN7,
# US-MA-2IN7; see presets.yaml).
US_TCPA_CONSENT = "US-TCPA-CONSENT"
US_REGF_OPTOUT = "US-REGF-OPTOUT"
BR_NAO_ME_LIGUE = "BR-NAO-ME-LIGUE"
BR_CDC_42_UNDUE = "BR-CDC-42-UNDUE"
# Cordial's own rule ids.
OPT_OUT = "OPT-OUT"  # a Brazilian debtor's or phone's voice opt-out
BLOCK_LIST = "BLOCK-LIST"  # a US debtor's document or number on the internal block list
WRONG_NUMBER = "WRONG-NUMBER"
DEBT_NOT_OPEN = "DEBT-NOT-OPEN"  # invariant 5 for a US debt
LIVE_ATTEMPT = "LIVE-ATTEMPT"  # invariant 6
CAMPAIGN_NOT_RUNNING = "CAMPAIGN-NOT-RUNNING"
HISTORY_UNAVAILABLE = "HISTORY-UNAVAILABLE"  # invariant 2: counts unreadable
ZONE_UNKNOWN = "ZONE-UNKNOWN"  # no plausible zone: local time unknowable
CAMPAIGN_WINDOW = "CAMPAIGN-WINDOW"
DEBTOR_PREFERENCE = "DEBTOR-PREFERENCE"
HOLIDAY = "HOLIDAY"
CAMPAIGN_CAP = "CAMPAIGN-CAP"
MIN_INTERVAL = "MIN-INTERVAL"
RETRY_DELAY = "RETRY-DELAY"

ENGINE_RULE_IDS = frozenset(
    {
        US_TCPA_CONSENT, US_REGF_OPTOUT, BR_NAO_ME_LIGUE, BR_CDC_42_UNDUE, OPT_OUT, BLOCK_LIST,
        WRONG_NUMBER, DEBT_NOT_OPEN, LIVE_ATTEMPT, CAMPAIGN_NOT_RUNNING, HISTORY_UNAVAILABLE,
        ZONE_UNKNOWN, CAMPAIGN_WINDOW, DEBTOR_PREFERENCE, HOLIDAY, CAMPAIGN_CAP, MIN_INTERVAL,
        RETRY_DELAY,
    }
)  # fmt: skip


# Ids a service puts on a verdict when there is no call to decide on at all.
NO_PHONE = "NO-PHONE"  # the debtor has no phone
NO_CAMPAIGN = "NO-CAMPAIGN"  # the debt is in no campaign
SERVICE_RULE_IDS = frozenset({NO_PHONE, NO_CAMPAIGN})


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that blocks the call.

    `until` is the instant from which this rule alone no longer blocks (None: not
    by time: only a change of facts lifts it, or no opening within the search
    horizon). `zone` is the plausible zone in whose local time a window rule is
    closed. `clause` names the part of the rule (e.g. "day" or "week" for a cap,
    "phone" or "debtor" for an opt-out, the debt status). `limit` is a cap's number.
    """

    rule_id: str
    until: datetime | None = None
    zone: str | None = None
    clause: str | None = None
    limit: int | None = None


@lru_cache(maxsize=len(LANGUAGES))
def reason_texts(language: str) -> dict[str, Any]:
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} has no reason texts; expected one of {LANGUAGES}")
    path = REASONS_DIR / f"{language}.yaml"
    texts: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return texts


def explain(reason: Reason, language: str, display_zone: str | None = None) -> str:
    """The one-line explanation of `reason` for a supervisor, in pt-BR or en-US.

    `until` is shown in `display_zone`, else in the zone the reason names, else UTC.
    """
    texts = reason_texts(language)
    entry = texts["rules"].get(reason.rule_id)
    if entry is None:
        raise KeyError(f"no {language} text for rule {reason.rule_id!r} in {REASONS_DIR}")
    if isinstance(entry, dict):
        template = entry.get(reason.clause or "", entry["default"])
    else:
        template = entry
    shown_zone = display_zone or reason.zone or "UTC"
    if reason.until is None:
        until = texts["no_opening"]
    else:
        local = as_utc(reason.until).astimezone(zone(shown_zone))
        until = texts["instant"].format(
            local=local.strftime(texts["instant_format"]), zone=shown_zone
        )
    return str(template).format(
        until=until,
        zone=reason.zone or "",
        clause=reason.clause or "",
        limit="" if reason.limit is None else reason.limit,
    )
