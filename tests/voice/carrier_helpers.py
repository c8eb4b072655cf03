"""Reusable helpers for webhook tests: a recording carrier, requests signed the way
Twilio signs them, a call that follows the TwiML it gets, and a small portfolio."""

from __future__ import annotations

import itertools
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

from ivr.config import Config
from ivr.models import (
    Attempt,
    Callback,
    CallingWindow,
    Campaign,
    Creditor,
    Debt,
    Debtor,
    PaymentInstrument,
    Phone,
)
from ivr.telephony.carrier import (
    CallInfo,
    CallRequest,
    CarrierError,
    CarrierOutcomeUnknown,
    MessageInfo,
    MessageRequest,
)
from ivr.voice.signatures import webhook_auth_token

ACCOUNT_SID = "AC" + "0" * 32


class RecordingCarrier:
    """A carrier that remembers what it was asked and succeeds (or fails when told to)."""

    def __init__(self) -> None:
        self.messages: list[MessageRequest] = []
        self.calls: list[CallRequest] = []
        self.fail_messages = False
        self.unconfirmed_messages = False  # sent, but the answer is lost on the way back
        self._sids = itertools.count(1)

    def send_message(self, request: MessageRequest) -> MessageInfo:
        if self.fail_messages:
            raise CarrierError("the carrier is down (test)")
        self.messages.append(request)
        if self.unconfirmed_messages:
            raise CarrierOutcomeUnknown("no answer to the send request (test)")
        return MessageInfo(sid=f"SM{next(self._sids):032x}", status="queued")

    def place_call(self, request: CallRequest) -> CallInfo:
        self.calls.append(request)
        return CallInfo(
            sid=f"CA{next(self._sids):032x}", status="queued", to=request.to, from_=request.from_
        )

    def fetch_call(self, sid: str) -> CallInfo:
        raise CarrierError("not used in these tests")

    def find_call(self, request: CallRequest) -> CallInfo | None:
        return None

    def end_call(self, sid: str) -> CallInfo:
        raise CarrierError("not used in these tests")

    def redirect_call(self, sid: str, url: str) -> CallInfo:
        raise CarrierError("not used in these tests")


class SignedWebhooks:
    """Posts to the app's webhooks exactly as Twilio would: the signature covers the PUBLIC
    URL (CORDIAL_PUBLIC_BASE_URL + path + query) and the form fields."""

    def __init__(self, client: Any, config: Config) -> None:
        self.client = client
        self.base = config.get("CORDIAL_PUBLIC_BASE_URL").rstrip("/")
        self.validator = RequestValidator(webhook_auth_token(config))

    def path_of(self, url: str) -> str:
        """A public URL (as found in TwiML) to the path + query the test client requests."""
        if url.startswith(self.base):
            url = url[len(self.base) :]
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def post(
        self,
        url: str,
        params: dict[str, str] | None = None,
        *,
        signature: str | None | bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        params = dict(params or {})
        path = self.path_of(url)
        all_headers = dict(headers or {})
        if signature is True:
            all_headers["X-Twilio-Signature"] = self.validator.compute_signature(
                self.base + path, params
            )
        elif isinstance(signature, str):
            all_headers["X-Twilio-Signature"] = signature
        return self.client.post(path, data=params, headers=all_headers)


def parse_twiml(text: str | bytes) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == "Response", f"not TwiML: {text!r}"
    return root


def said(root: ET.Element) -> str:
    """Everything the caller hears (Say texts), in order."""
    return " ".join((el.text or "").strip() for el in root.iter("Say"))


def assert_speaks_before_hanging_up(root: ET.Element) -> None:
    """Invariant 8, structurally: a <Hangup> always follows something the caller hears."""
    heard = False
    for child in root:
        if child.tag in ("Say", "Play"):
            heard = True
        if child.tag == "Hangup":
            assert heard, f"hangs up without a word: {ET.tostring(root)!r}"


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


@dataclass
class Call:
    """One call driven through the webhooks: answer, press keys, stay silent, end."""

    hooks: SignedWebhooks
    attempt_id: int
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    twiml: ET.Element | None = None
    history: list[ET.Element] = field(default_factory=list)

    def _params(self, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": ACCOUNT_SID,
            "CallSid": self.call_sid,
            "From": "+551140000000",
            "To": "+5511987654321",
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallStatus": "in-progress",
            **extra,
        }

    def _take(self, response: Any) -> ET.Element:
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/xml"
        self.twiml = parse_twiml(response.data)
        self.history.append(self.twiml)
        assert_speaks_before_hanging_up(self.twiml)
        return self.twiml

    def answer(self, answered_by: str = "human", **extra: str) -> ET.Element:
        params = self._params(**extra)
        if answered_by:
            params["AnsweredBy"] = answered_by
        return self._take(self.hooks.post(f"/voice/answer?attempt={self.attempt_id}", params))

    @property
    def gather(self) -> ET.Element:
        assert self.twiml is not None
        found = self.twiml.find("Gather")
        assert found is not None, f"no <Gather> in {ET.tostring(self.twiml)!r}"
        return found

    def press(self, digits: str) -> ET.Element:
        action = self.gather.get("action")
        return self._take(self.hooks.post(action, self._params(Digits=digits)))

    def silence(self) -> ET.Element:
        """No key: the call follows the <Redirect> after the <Gather>."""
        assert self.twiml is not None
        redirect = self.twiml.find("Redirect")
        assert redirect is not None and redirect.text
        return self._take(self.hooks.post(redirect.text.strip(), self._params()))

    def queue_wait(self, queue_time: int) -> ET.Element:
        assert self.twiml is not None
        enqueue = self.twiml.find("Enqueue")
        assert enqueue is not None
        return self._take(
            self.hooks.post(
                enqueue.get("waitUrl"),
                self._params(
                    QueueTime=str(queue_time),
                    QueuePosition="1",
                    CurrentQueueSize="1",
                    AvgQueueTime="0",
                    QueueSid="QU" + "0" * 32,
                ),
            )
        )

    def queue_result(self, result: str, queue_time: int = 60) -> ET.Element:
        assert self.twiml is not None
        enqueue = self.twiml.find("Enqueue")
        assert enqueue is not None
        return self._take(
            self.hooks.post(
                enqueue.get("action"),
                self._params(
                    QueueResult=result, QueueTime=str(queue_time), QueueSid="QU" + "0" * 32
                ),
            )
        )

    def status(self, status: str, **extra: str) -> Any:
        return self.hooks.post(
            f"/voice/status?attempt={self.attempt_id}", self._params(CallStatus=status, **extra)
        )

    @property
    def text(self) -> str:
        assert self.twiml is not None
        return said(self.twiml)

    @property
    def hung_up(self) -> bool:
        return self.twiml is not None and self.twiml.find("Hangup") is not None


# -- a small portfolio ------------------------------------------------------------------


@dataclass(frozen=True)
class DebtorProfile:
    name: str
    country: str
    state: str | None
    language: str
    currency: str
    number: str
    document_kind: str
    document: str


SAO_PAULO = DebtorProfile(
    "Maria Aparecida da Silva", "BR", "SP", "pt-BR", "BRL", "+5511987654321", "cpf", "52998224725"
)
MINAS = DebtorProfile(
    "João Pereira", "BR", "MG", "pt-BR", "BRL", "+5531987654321", "cpf", "11144477735"
)
NEW_YORK = DebtorProfile(
    "John Smith", "US", "NY", "en-US", "USD", "+12125550123", "ssn", "123456789"
)
PROFILES = {"sp": SAO_PAULO, "mg": MINAS, "us": NEW_YORK}

CREDITOR_NAMES = {"BR": "Banco Exemplo", "US": "Example Bank"}


@dataclass(frozen=True)
class Seeded:
    attempt_id: int
    debtor_id: int
    phone_id: int
    debt_id: int
    campaign_id: int
    creditor_name: str
    profile: DebtorProfile


def seed_call(
    session: Any,
    profile: DebtorProfile,
    *,
    second_factor: str = "none",
    preferred_channel: str = "sms",
    callback_due_at: datetime | None = None,
    instruments: dict[str, str] | None = None,
    transfer_timeout_seconds: int = 45,
    now: datetime,
) -> Seeded:
    """A running campaign open all week, a debtor with one phone and one open debt, and an
    attempt in progress for them (about to be answered)."""
    tag = uuid.uuid4().hex[:8]
    digits = 14 if profile.country == "BR" else 9
    creditor = Creditor(
        name=CREDITOR_NAMES[profile.country],
        country=profile.country,
        legal_id=f"{int(tag, 16) % 10**digits:0{digits}d}",
    )
    campaign = Campaign(
        name=f"campaign-{tag}",
        status="running",
        caller_id="+551130000000",
        second_factor=second_factor,
        transfer_timeout_seconds=transfer_timeout_seconds,
    )
    campaign.windows = [
        CallingWindow(
            weekday=d, start=datetime.min.time(), end=datetime.max.time().replace(microsecond=0)
        )
        for d in range(7)
    ]
    debtor = Debtor(
        external_id=f"D-{tag}",
        full_name=profile.name,
        document_kind=profile.document_kind,
        document=profile.document,
        birth_date=date(1985, 6, 15),
        country=profile.country,
        state=profile.state,
        language=profile.language,
        preferred_channel=preferred_channel,
    )
    session.add_all([creditor, campaign, debtor])
    session.flush()
    phone = Phone(
        debtor_id=debtor.id,
        number=profile.number,
        line_type="mobile",
        robocall_consent=True,
        consent_at=now,
    )
    debt = Debt(
        external_id=f"C-{tag}",
        debtor_id=debtor.id,
        creditor_id=creditor.id,
        campaign_id=campaign.id,
        currency=profile.currency,
        principal=Decimal("100.00"),
        interest=Decimal("12.50"),
        fee=Decimal("2.00"),
        due_date=date(2026, 10, 10),
    )
    session.add_all([phone, debt])
    session.flush()
    for kind, value in (
        instruments
        if instruments is not None
        else {
            "boleto": "34191.79001 01043.510047 91020.150008 5 91370000011450",
            "pix": "00020126360014BR.GOV.BCB.PIX0114112223330001815204000053039865406114.505802BR",
            "link": "https://pay.example.com/c/" + tag,
        }
    ).items():
        session.add(PaymentInstrument(debt_id=debt.id, kind=kind, value=value))
    callback_id = None
    if callback_due_at is not None:
        callback = Callback(
            debtor_id=debtor.id,
            phone_id=phone.id,
            debt_id=debt.id,
            campaign_id=campaign.id,
            due_at=callback_due_at,
            status="dialing",
            created_at=now,
        )
        session.add(callback)
        session.flush()
        callback_id = callback.id
    attempt = Attempt(
        debtor_id=debtor.id,
        phone_id=phone.id,
        debt_id=debt.id,
        campaign_id=campaign.id,
        callback_id=callback_id,
        state="ringing",
        active=True,
        idempotency_key=f"att-{tag}",
        created_at=now,
        placed_at=now,
    )
    session.add(attempt)
    session.flush()
    return Seeded(attempt.id, debtor.id, phone.id, debt.id, campaign.id, creditor.name, profile)
