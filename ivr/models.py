"""The database schema: SQLAlchemy 2.0 typed models for the collections domain.

Instants are stored as UTC and always come back timezone-aware; money is
stored as integer cents and comes back as Decimal, exact on every database.
The contact log (ContactEvent) is append-only; the database refuses updates
and deletes of it (see the migration).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC; refuses naive input."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass a timezone-aware instant")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


CENT = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    """Decimal amounts stored as integer cents."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Any) -> int | None:
        if value is None:
            return None
        amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)
        return int(amount * 100)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(CENT)


class Rate(TypeDecorator[Decimal]):
    """Decimal rates (0.0149 = 1.49 % a month) stored exactly as integer millionths."""

    impl = BigInteger
    cache_ok = True
    SCALE = Decimal("0.000001")

    def process_bind_param(self, value: Decimal | int | None, dialect: Any) -> int | None:
        if value is None:
            return None
        return int(Decimal(value).quantize(self.SCALE, rounding=ROUND_HALF_EVEN) * 1_000_000)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / 1_000_000).quantize(self.SCALE)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), Decimal: Money(), dict[str, Any]: JSON}


def table_of(model: type[Base]) -> Table:
    """A model's Table, for Core statements (SQLAlchemy types `__table__` as any FromClause)."""
    return cast(Table, model.__table__)


def _now() -> datetime:
    # Defaults only; services pass the injected clock's instant explicitly.
    return datetime.now(UTC)


class DebtStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    DISPUTED = "disputed"
    AGREEMENT = "agreement"
    CLOSED = "closed"


class AttemptState(enum.StrEnum):
    CLAIMED = "claimed"  # row exists, carrier not yet asked
    DIALING = "dialing"  # a worker is asking the carrier right now
    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"
    MACHINE = "machine"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_ATTEMPT_STATES


TERMINAL_ATTEMPT_STATES = frozenset(
    {AttemptState.COMPLETED, AttemptState.BUSY, AttemptState.NO_ANSWER, AttemptState.FAILED,
     AttemptState.CANCELED, AttemptState.MACHINE}
)


class Creditor(Base):
    __tablename__ = "creditor"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_id: Mapped[str] = mapped_column(String(32), unique=True)  # CNPJ digits or US EIN
    country: Mapped[str] = mapped_column(String(2), default="BR")


class Debtor(Base):
    __tablename__ = "debtor"
    __table_args__ = (Index("ix_debtor_dial_queue", "dial_priority", "next_call_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    document_kind: Mapped[str] = mapped_column(String(8))  # cpf | ssn
    document: Mapped[str] = mapped_column(String(20))  # digits only; shown masked
    birth_date: Mapped[date | None] = mapped_column(Date)
    country: Mapped[str] = mapped_column(String(2), default="BR")
    state: Mapped[str | None] = mapped_column(String(2))
    city: Mapped[str | None] = mapped_column(String(120))
    zip_code: Mapped[str | None] = mapped_column(String(10))
    address_line: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), default="pt-BR")
    timezone_override: Mapped[str | None] = mapped_column(String(64))
    preferred_start: Mapped[time | None] = mapped_column(Time)
    preferred_end: Mapped[time | None] = mapped_column(Time)
    preferred_channel: Mapped[str] = mapped_column(String(10), default="sms")  # sms | whatsapp
    # The dialer's queue: when the rules next allow a call (None = nothing to call
    # about), and how urgent it is: a bucket 0..9, higher first. Kept current by the
    # dialer and the importer so that candidate selection is one index range scan
    # per bucket, whatever the size of the portfolio.
    next_call_at: Mapped[datetime | None] = mapped_column()
    dial_priority: Mapped[int] = mapped_column(Integer, default=0)
    voice_opt_out_at: Mapped[datetime | None] = mapped_column()
    sms_opt_out_at: Mapped[datetime | None] = mapped_column()
    whatsapp_opt_out_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)

    phones: Mapped[list[Phone]] = relationship(back_populates="debtor", order_by="Phone.priority")
    debts: Mapped[list[Debt]] = relationship(back_populates="debtor", order_by="Debt.due_date")

    @property
    def first_name(self) -> str:
        return self.full_name.split()[0] if self.full_name.strip() else ""

    @property
    def document_masked(self) -> str:
        from ivr.portfolio.documents import mask_document

        return mask_document(self.document_kind, self.document)


class Phone(Base):
    __tablename__ = "phone"
    __table_args__ = (UniqueConstraint("debtor_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20), index=True)  # E.164
    line_type: Mapped[str] = mapped_column(String(10), default="unknown")  # mobile | landline | unknown
    priority: Mapped[int] = mapped_column(Integer, default=0)
    robocall_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column()
    voice_opt_out_at: Mapped[datetime | None] = mapped_column()
    sms_opt_out_at: Mapped[datetime | None] = mapped_column()
    whatsapp_opt_out_at: Mapped[datetime | None] = mapped_column()
    wrong_number_at: Mapped[datetime | None] = mapped_column()

    debtor: Mapped[Debtor] = relationship(back_populates="phones")


class Campaign(Base):
    __tablename__ = "campaign"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft | running | paused | finished
    caller_id: Mapped[str] = mapped_column(String(20))
    calls_per_second: Mapped[float] = mapped_column(Float, default=1.0)
    max_concurrent: Mapped[int] = mapped_column(Integer, default=10)
    max_per_day: Mapped[int | None] = mapped_column(Integer)  # narrows the preset, never widens
    max_per_week: Mapped[int | None] = mapped_column(Integer)
    min_minutes_between_attempts: Mapped[int] = mapped_column(Integer, default=240)
    retry_no_answer_minutes: Mapped[int] = mapped_column(Integer, default=240)
    retry_busy_minutes: Mapped[int] = mapped_column(Integer, default=60)
    retry_machine_minutes: Mapped[int] = mapped_column(Integer, default=1440)
    second_factor: Mapped[str] = mapped_column(String(16), default="none")  # none | birth_year | cpf_digits
    transfer_timeout_seconds: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    windows: Mapped[list[CallingWindow]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="(CallingWindow.weekday, CallingWindow.start)"
    )


class CallingWindow(Base):
    """One open range of a campaign's week, in the debtor's local time."""

    __tablename__ = "calling_window"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)

    campaign: Mapped[Campaign] = relationship(back_populates="windows")


class Debt(Base):
    __tablename__ = "debt"
    __table_args__ = (Index("ix_debt_dialable", "status", "due_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)  # contract id
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditor.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="BRL")
    principal: Mapped[Decimal] = mapped_column()
    fee: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    interest: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=DebtStatus.OPEN.value)
    payment_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    status_changed_at: Mapped[datetime | None] = mapped_column()

    debtor: Mapped[Debtor] = relationship(back_populates="debts")
    creditor: Mapped[Creditor] = relationship()
    instruments: Mapped[list[PaymentInstrument]] = relationship(back_populates="debt", cascade="all, delete-orphan")

    @property
    def total(self) -> Decimal:
        return self.principal + self.fee + self.interest


class PaymentInstrument(Base):
    __tablename__ = "payment_instrument"
    __table_args__ = (UniqueConstraint("debt_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    debt_id: Mapped[int] = mapped_column(ForeignKey("debt.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # boleto | pix | link
    value: Mapped[str] = mapped_column(Text)
    expires_on: Mapped[date | None] = mapped_column(Date)

    debt: Mapped[Debt] = relationship(back_populates="instruments")


class Holiday(Base):
    """A supervisor-listed holiday (city holidays; national and state ones come from `holidays`)."""

    __tablename__ = "holiday"
    __table_args__ = (UniqueConstraint("country", "state", "city", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    state: Mapped[str | None] = mapped_column(String(2))
    city: Mapped[str | None] = mapped_column(String(120))
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(120))


class Attempt(Base):
    """One placed (or about to be placed) call."""

    __tablename__ = "attempt"
    __table_args__ = (
        # The database itself forbids two live calls to one debtor (invariant 6).
        Index(
            "uq_attempt_one_active_per_debtor",
            "debtor_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
        Index("ix_attempt_debtor_started", "debtor_id", "created_at"),
        Index("ix_attempt_active_state", "active", "state"),
        # Live calls per campaign, for a claim's budget: a handful of rows whatever the
        # history. Queried with the same bare condition (ivr.dialer.dialer.LIVE_ATTEMPT_CONDITION).
        Index(
            "ix_attempt_live_campaign",
            "campaign_id",
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"))
    phone_id: Mapped[int] = mapped_column(ForeignKey("phone.id", ondelete="CASCADE"), index=True)
    debt_id: Mapped[int | None] = mapped_column(ForeignKey("debt.id", ondelete="SET NULL"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"), index=True)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callback.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(12), default=AttemptState.CLAIMED.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    carrier_call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    worker: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    placed_at: Mapped[datetime | None] = mapped_column()
    # A live call reconciliation asked the carrier about is not asked about again before.
    reconcile_after: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    answered_by: Mapped[str | None] = mapped_column(String(10))  # human | machine
    right_party_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    conversation: Mapped[bool] = mapped_column(Boolean, default=False)  # spoke with the debtor (US 7-day rule)
    outcome: Mapped[str | None] = mapped_column(String(32))
    ivr_step: Mapped[str | None] = mapped_column(String(32))


class ContactEvent(Base):
    """Anything that happened with a debtor. Append-only."""

    __tablename__ = "contact_event"
    __table_args__ = (Index("ix_contact_event_debtor_time", "debtor_id", "occurred_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id", ondelete="SET NULL"), index=True)
    phone_id: Mapped[int | None] = mapped_column(ForeignKey("phone.id", ondelete="SET NULL"))
    debt_id: Mapped[int | None] = mapped_column(ForeignKey("debt.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40))  # e.g. attempt.placed, ivr.key, sms.sent, opt_out
    channel: Mapped[str] = mapped_column(String(10), default="voice")
    actor: Mapped[str] = mapped_column(String(64), default="system")
    occurred_at: Mapped[datetime] = mapped_column(default=_now)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SmsMessage(Base):
    __tablename__ = "sms_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    phone_id: Mapped[int] = mapped_column(ForeignKey("phone.id", ondelete="CASCADE"))
    debt_id: Mapped[int | None] = mapped_column(ForeignKey("debt.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10), default="sms")  # sms | whatsapp
    body: Mapped[str] = mapped_column(Text)
    carrier_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    created_at: Mapped[datetime] = mapped_column(default=_now)


class Callback(Base):
    """A promise that a person will call the debtor at a booked instant."""

    __tablename__ = "callback"
    __table_args__ = (Index("ix_callback_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    phone_id: Mapped[int] = mapped_column(ForeignKey("phone.id", ondelete="CASCADE"))
    debt_id: Mapped[int | None] = mapped_column(ForeignKey("debt.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="scheduled")  # scheduled | dialing | done | missed | canceled
    requested_via: Mapped[str] = mapped_column(String(10), default="ivr")  # ivr | agent
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=_now)


class PromiseToPay(Base):
    __tablename__ = "promise_to_pay"
    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    debt_id: Mapped[int] = mapped_column(ForeignKey("debt.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    down_payment: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    installments: Mapped[int] = mapped_column(Integer, default=1)
    installment_amount: Mapped[Decimal] = mapped_column()
    first_due_date: Mapped[date] = mapped_column(Date)
    monthly_interest_rate: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("0"))
    late_fee_rate: Mapped[Decimal] = mapped_column(Rate(), default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | kept | broken
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class BlockListEntry(Base):
    """A number or document that must never be contacted (e.g. Procon-SP "Não me ligue")."""

    __tablename__ = "block_list_entry"
    __table_args__ = (UniqueConstraint("kind", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # phone | document
    value: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(40), default="internal")
    created_at: Mapped[datetime] = mapped_column(default=_now)


class LoginFailure(Base):
    """A failed console login; counted to rate-limit logins across every web worker."""

    __tablename__ = "console_login_failure"
    __table_args__ = (
        Index("ix_console_login_failure_key", "username", "address", "failed_at"),
        Index("ix_console_login_failure_address", "address", "failed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column()


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(12))  # agent | supervisor
    language: Mapped[str] = mapped_column(String(5), default="pt-BR")
    dial_target: Mapped[str | None] = mapped_column(String(120))  # phone, sip:, or client:identity
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    # Console session cookies carry the generation they were issued in; signing out moves
    # it on, so a copy of an older cookie signs in nobody.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")


__all__ = [
    "Attempt", "AttemptState", "Base", "BlockListEntry", "LoginFailure", "Callback", "CallingWindow", "Campaign",
    "ContactEvent", "Creditor", "Debt", "DebtStatus", "Debtor", "Holiday", "PaymentInstrument",
    "Phone", "PromiseToPay", "SmsMessage", "TERMINAL_ATTEMPT_STATES", "User", "table_of",
]
