"""The plain facts the compliance rules decide on: debtor, phone, debt, contact
history, campaign policy and supervisor-listed holidays, as frozen dataclasses.

Services build these from the database; the rules never see a model or a session.
Constructors refuse values the rules could not interpret, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from ivr.compliance.local_time import as_utc, minutes_of, zone

COUNTRIES = frozenset({"BR", "US"})
LINE_TYPES = frozenset({"mobile", "landline", "unknown"})
DEBT_STATUSES = frozenset({"open", "paid", "disputed", "agreement", "closed"})
CAMPAIGN_STATUSES = frozenset({"draft", "running", "paused", "finished"})


def _choose(value: str, allowed: frozenset[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(sorted(allowed))}")


@dataclass(frozen=True, slots=True)
class DebtorFacts:
    """Who is called and where they are.

    `zones` holds every IANA zone the debtor may plausibly be in (from address and
    area code); the rules require a call to be allowed in all of them, so a
    `zone_uncertain` debtor is only called when it is proper everywhere they may be.
    `preferred_start`/`preferred_end` are the debtor's own hours in local time
    (either may be None: open on that side; end before start: overnight; end 00:00:
    midnight).
    """

    id: int
    country: str
    zones: frozenset[str]
    state: str | None = None
    city: str | None = None
    zone_uncertain: bool = False
    preferred_start: time | None = None
    preferred_end: time | None = None
    voice_opt_out: bool = False
    document_blocked: bool = False  # the CPF/SSN is on a block list
    # Without a state in the address: the states the phones' area codes serve. The laws
    # of each (and the country default) all apply (ivr.compliance.presets.jurisdictions_for).
    plausible_states: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _choose(self.country, COUNTRIES, "debtor country")
        if not isinstance(self.zones, frozenset):
            raise ValueError("debtor zones must be a frozenset of IANA zone names")
        for key in self.zones:
            zone(key)


@dataclass(frozen=True, slots=True)
class PhoneFacts:
    """The number to dial."""

    number: str  # E.164, e.g. +5511987654321
    line_type: str = "unknown"
    robocall_consent: bool = False
    voice_opt_out: bool = False
    wrong_number: bool = False
    blocked: bool = False  # the number is on a block list (e.g. Procon "Não me ligue")
    # A call to this number is in progress now (another debtor's: several share a home line).
    in_call: bool = False

    def __post_init__(self) -> None:
        if not (self.number.startswith("+") and self.number[1:].isdigit()):
            raise ValueError(
                f"phone number {self.number!r} is not E.164; expected e.g. +5511987654321"
            )
        _choose(self.line_type, LINE_TYPES, "phone line type")


@dataclass(frozen=True, slots=True)
class DebtFacts:
    """The debt the call is about."""

    id: int
    status: str = "open"
    payment_pending: bool = False

    def __post_init__(self) -> None:
        _choose(self.status, DEBT_STATUSES, "debt status")


@dataclass(frozen=True, slots=True)
class PastAttempt:
    """One call already placed to the debtor, on any phone, in any campaign.

    `debt_id` None means the call's debt is unknown; per-debt caps then count it
    against every debt. `outcome` is how it ended (completed, busy, no-answer,
    machine, failed, canceled; None while unknown); every attempt counts toward
    the caps whatever its outcome.
    """

    at: datetime
    debt_id: int | None = None
    outcome: str | None = None
    conversation: bool = False  # the debtor was spoken with (Regulation F)

    def __post_init__(self) -> None:
        as_utc(self.at, name="attempt instant")


@dataclass(frozen=True, slots=True)
class ContactHistory:
    """What the frequency caps count: the debtor's attempts of at least the last 8 days.

    `available` is False when the counts could not be read; the answer is then
    "do not dial" (invariant 2).
    """

    attempts: tuple[PastAttempt, ...] = ()
    live_attempt: bool = False  # a call to the debtor is in progress right now
    available: bool = True


@dataclass(frozen=True, slots=True)
class WeeklyRange:
    """One open range of a week in the debtor's local time: [start, end) on `weekday`.

    weekday 0 is Monday; an end of 00:00 means midnight at the end of that day.
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday {self.weekday} is not 0 (Monday) to 6 (Sunday)")
        if minutes_of(self.start, is_end=False) >= minutes_of(self.end, is_end=True):
            raise ValueError(
                f"calling window {self.start:%H:%M}-{self.end:%H:%M} ends before it starts; "
                "expected start < end on the same day (end 00:00 means midnight)"
            )


@dataclass(frozen=True, slots=True)
class CampaignPolicy:
    """What a supervisor set for a campaign. It can only narrow the legal preset.

    An empty `windows` means the campaign never calls. Caps are per debtor across
    all phones and campaigns; None means no campaign cap (the preset still holds).
    `closed_on_holidays` lets a campaign skip national/state holidays where the law
    does not (US); supervisor-listed holidays always close.
    """

    windows: tuple[WeeklyRange, ...]
    status: str = "running"
    max_per_day: int | None = None
    max_per_week: int | None = None
    min_minutes_between_attempts: int = 240
    retry_no_answer_minutes: int = 240
    retry_busy_minutes: int = 60
    retry_machine_minutes: int = 1440
    closed_on_holidays: bool = False

    def __post_init__(self) -> None:
        _choose(self.status, CAMPAIGN_STATUSES, "campaign status")
        for name in ("max_per_day", "max_per_week"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"campaign {name} is {value}; expected 0 or more, or None")
        for name in (
            "min_minutes_between_attempts",
            "retry_no_answer_minutes",
            "retry_busy_minutes",
            "retry_machine_minutes",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"campaign {name} is {getattr(self, name)}; expected 0 or more")


@dataclass(frozen=True, slots=True)
class ExtraHoliday:
    """A supervisor-listed holiday: country-wide, state-wide (city None) or one city."""

    day: date
    country: str
    state: str | None = None
    city: str | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class CallFacts:
    """Everything the rules need to decide one call: this debtor, phone and debt.

    `campaign` None is a call outside any campaign (e.g. an agent's callback): only
    the legal presets apply. `requested_callback_at` is when the debtor asked for
    this call; Regulation F does not count such a call toward 7-in-7 nor apply the
    7 days after a conversation, for 7 days after the request, and campaign pacing
    (minimum interval, retry delays) does not apply to it.
    """

    debtor: DebtorFacts
    phone: PhoneFacts
    debt: DebtFacts
    history: ContactHistory
    campaign: CampaignPolicy | None
    extra_holidays: frozenset[ExtraHoliday] = field(default_factory=frozenset)
    requested_callback_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.requested_callback_at is not None:
            as_utc(self.requested_callback_at, name="requested_callback_at")
