"""A small, realistic world for console tests: a creditor, a running campaign with
windows, debtors with phones and debts, an agent and a supervisor; and a transfer
recorded exactly as the voice flow records it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from agent_console.accounts import create_user
from ivr.models import (
    Attempt,
    AttemptState,
    CallingWindow,
    Campaign,
    ContactEvent,
    Creditor,
    Debt,
    Debtor,
    Phone,
)
from ivr.runtime import Runtime
from ivr.telephony.carrier import CallInfo

PASSWORD = "correct horse battery"


@dataclass
class World:
    agent_id: int
    agent2_id: int
    supervisor_id: int
    campaign_id: int
    debtor_id: int
    phone_id: int
    debt_id: int
    other_debtor_id: int
    other_phone_id: int
    other_debt_id: int


@dataclass
class FakeCarrier:
    """Records what the console asks of the carrier."""

    redirects: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False
    unconfirmed_messages: bool = False  # a send whose answer is lost on the way back
    unconfirmed_redirects: bool = False  # applied, but the answer is lost on the way back

    def redirect_call(self, sid: str, url: str) -> CallInfo:
        if self.fail:
            raise RuntimeError("carrier unavailable")
        self.redirects.append((sid, url))
        if self.unconfirmed_redirects:
            from ivr.telephony.carrier import CarrierOutcomeUnknown

            raise CarrierOutcomeUnknown("the redirect timed out (test): it may have been applied")
        return CallInfo(sid=sid, status="in-progress", to="", from_="")

    def send_message(self, request: Any) -> Any:
        from ivr.telephony.carrier import CarrierOutcomeUnknown, MessageInfo

        if self.unconfirmed_messages:
            raise CarrierOutcomeUnknown("no answer to the send request (test)")
        return MessageInfo(sid=f"SM{len(self.redirects):032d}", status="queued")


def add_debtor(
    session: Session,
    *,
    external_id: str,
    name: str,
    document: str,
    state: str,
    city: str,
    number: str,
    creditor: Creditor,
    campaign: Campaign,
    principal: str = "1200.00",
    language: str = "pt-BR",
    country: str = "BR",
) -> tuple[Debtor, Phone, Debt]:
    debtor = Debtor(
        external_id=external_id,
        full_name=name,
        document_kind="cpf" if country == "BR" else "ssn",
        document=document,
        country=country,
        state=state,
        city=city,
        language=language,
        birth_date=date(1985, 3, 14),
    )
    session.add(debtor)
    session.flush()
    phone = Phone(debtor_id=debtor.id, number=number, line_type="mobile", robocall_consent=True)
    session.add(phone)
    debt = Debt(
        external_id=f"C-{external_id}",
        debtor_id=debtor.id,
        creditor_id=creditor.id,
        campaign_id=campaign.id,
        currency="BRL" if country == "BR" else "USD",
        principal=Decimal(principal),
        fee=Decimal("24.00"),
        interest=Decimal("36.50"),
        due_date=date(2026, 8, 10),
    )
    session.add(debt)
    session.flush()
    return debtor, phone, debt


def build_world(runtime: Runtime) -> World:
    now = runtime.clock.now()
    with runtime.db.session() as session:
        agent = create_user(
            session,
            "ana",
            role="agent",
            password=PASSWORD,
            now=now,
            language="pt-BR",
            display_name="Ana Souza",
        )
        agent2 = create_user(
            session,
            "bruno",
            role="agent",
            password=PASSWORD,
            now=now,
            language="en-US",
            display_name="Bruno Lima",
        )
        supervisor = create_user(
            session,
            "sofia",
            role="supervisor",
            password=PASSWORD,
            now=now,
            language="pt-BR",
            display_name="Sofia Reis",
        )
        creditor = Creditor(name="Banco Exemplo S.A.", legal_id="11222333000181", country="BR")
        campaign = Campaign(name="Cartões Novembro", caller_id="+551140000000", status="running")
        session.add_all([creditor, campaign])
        session.flush()
        for weekday in range(5):
            session.add(
                CallingWindow(
                    campaign_id=campaign.id, weekday=weekday, start=time(9), end=time(12, 30)
                )
            )
            session.add(
                CallingWindow(
                    campaign_id=campaign.id, weekday=weekday, start=time(13, 30), end=time(18)
                )
            )
        debtor, phone, debt = add_debtor(
            session,
            external_id="D-1001",
            name="Maria da Silva",
            document="52998224725",
            state="SP",
            city="São Paulo",
            number="+5511987654321",
            creditor=creditor,
            campaign=campaign,
        )
        other, other_phone, other_debt = add_debtor(
            session,
            external_id="D-1002",
            name="João Pereira",
            document="11144477735",
            state="RJ",
            city="Rio de Janeiro",
            number="+5521998765432",
            creditor=creditor,
            campaign=campaign,
            principal="480.00",
        )
        return World(
            agent_id=agent.id,
            agent2_id=agent2.id,
            supervisor_id=supervisor.id,
            campaign_id=campaign.id,
            debtor_id=debtor.id,
            phone_id=phone.id,
            debt_id=debt.id,
            other_debtor_id=other.id,
            other_phone_id=other_phone.id,
            other_debt_id=other_debt.id,
        )


def record_ivr_call(
    session: Session,
    *,
    debtor_id: int,
    phone_id: int,
    debt_id: int,
    campaign_id: int,
    now: datetime,
    call_sid: str,
    keys: tuple[str, ...] = ("1", "3"),
) -> Attempt:
    """An answered call in which the debtor confirmed identity and pressed keys, as the voice flow logs it."""
    attempt = Attempt(
        debtor_id=debtor_id,
        phone_id=phone_id,
        debt_id=debt_id,
        campaign_id=campaign_id,
        state=AttemptState.IN_PROGRESS.value,
        active=True,
        idempotency_key=f"key-{call_sid}",
        carrier_call_sid=call_sid,
        created_at=now,
        placed_at=now,
        answered_at=now,
        answered_by="human",
        right_party_verified=True,
        ivr_step="menu",
    )
    session.add(attempt)
    session.flush()

    def log(kind: str, **data: Any) -> None:
        session.add(
            ContactEvent(
                debtor_id=debtor_id,
                attempt_id=attempt.id,
                phone_id=phone_id,
                debt_id=debt_id,
                kind=kind,
                channel="voice",
                actor="ivr",
                occurred_at=now,
                data={"call_sid": call_sid, **data},
            )
        )

    log("ivr.answered", answered_by="human")
    log("ivr.key", step="right_party", digits=keys[0], valid=True)
    log("ivr.right_party", verified=True, second_factor="none")
    log("ivr.disclosed", itemised=True)
    for key in keys[1:]:
        log("ivr.key", step="menu", digits=key, valid=True)
    return attempt


def seed_floor(runtime: Runtime, world: World, *, hours: int = 10, seed: int = 7) -> None:
    """A morning of finished calls on two caller IDs, for the wallboard."""
    rng = random.Random(seed)
    now = runtime.clock.now()
    with runtime.db.session() as session:
        second = Campaign(name="Veículos Dezembro", caller_id="+551130000000", status="running")
        session.add(second)
        session.flush()
        campaigns = [
            (world.campaign_id, 0.15),
            (second.id, 0.55),
        ]  # share of short calls per caller ID
        for index in range(hours * 9):
            campaign_id, short_share = campaigns[index % 2]
            started = now - timedelta(minutes=rng.randint(5, hours * 60))
            answered = rng.random() < 0.6
            short = rng.random() < short_share
            duration = rng.randint(1, 6) if short else rng.randint(20, 240)
            session.add(
                Attempt(
                    debtor_id=world.other_debtor_id,
                    phone_id=world.other_phone_id,
                    campaign_id=campaign_id,
                    state="completed" if answered else "no-answer",
                    active=False,
                    idempotency_key=f"floor-{index}",
                    created_at=started,
                    placed_at=started,
                    answered_at=started if answered else None,
                    answered_by="human" if answered else None,
                    right_party_verified=answered and rng.random() < 0.7,
                    duration_seconds=duration if answered else 0,
                    ended_at=started + timedelta(seconds=duration),
                )
            )


def request_transfer(
    runtime: Runtime, world: World, *, call_sid: str = "CA" + "1" * 32, debtor: str = "main"
) -> int:
    """Record the attempt and the transfer event the voice flow leaves when the debtor presses 3
    (through a Session: tests of the webhooks' own writes are in tests/voice)."""
    debtor_id, phone_id, debt_id = (
        (world.debtor_id, world.phone_id, world.debt_id)
        if debtor == "main"
        else (world.other_debtor_id, world.other_phone_id, world.other_debt_id)
    )
    now = runtime.clock.now()
    with runtime.db.session() as session:
        attempt = record_ivr_call(
            session,
            debtor_id=debtor_id,
            phone_id=phone_id,
            debt_id=debt_id,
            campaign_id=world.campaign_id,
            now=now,
            call_sid=call_sid,
        )
        attempt.ivr_step = "queue"
        attempt.outcome = "transferred"
        session.add(
            ContactEvent(
                debtor_id=debtor_id,
                attempt_id=attempt.id,
                phone_id=phone_id,
                debt_id=debt_id,
                kind="transfer.requested",
                channel="voice",
                actor="ivr",
                occurred_at=now,
                data={
                    "queue": "agents",
                    "reason": "menu",
                    "callback_id": None,
                    "right_party_verified": True,
                    "call_sid": call_sid,
                },
            )
        )
        return attempt.id
