"""The second copy of a bill, sent by SMS or WhatsApp through the carrier.

Used by the voice flow (menu key 1) and by the agent console. It refuses,
and records why, when the debtor or the phone opted out of the channel, the
number or the document is on a block list, the number is wrong, or the debt
is not open (BR-CDC-42-UNDUE).

WhatsApp delivers a message the business starts only when it uses a template Meta
approved, so a WhatsApp second copy is that template (Content SID and variables) from the
WhatsApp sender (TWILIO_WHATSAPP_FROM). Where WhatsApp is not configured for the debtor's
language, and when WhatsApp reports the copy failed, it goes by SMS instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from stdnum.br import cnpj
from stdnum.us import ein

from ivr.config import Config
from ivr.messaging.message_templates import MessageBook, WhatsAppTemplate, message_book
from ivr.models import (
    BlockListEntry,
    Campaign,
    ContactEvent,
    Debt,
    Debtor,
    DebtStatus,
    Phone,
    SmsMessage,
)
from ivr.runtime import Runtime
from ivr.telephony.carrier import CarrierError, CarrierOutcomeUnknown, MessageRequest

log = logging.getLogger(__name__)

_BABEL_LOCALE = {"pt-BR": "pt_BR", "en-US": "en_US"}
# The SMS sent after WhatsApp reported a second copy failed: the carrier's retries stop
# this long after the report came (its webhook gives up after 15 s).
SMS_FALLBACK_SEND_SECONDS = timedelta(seconds=8)


class SecondCopyRefused(RuntimeError):
    """The second copy was not sent, or the carrier did not confirm it (reason
    "carrier-unconfirmed": it may still arrive); `reason` says why (the event sms.refused,
    sms.failed or sms.unconfirmed carries it too)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"second copy not sent: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason


@dataclass(frozen=True)
class ChannelFacts:
    """What decides whether a message may go to a phone on a channel."""

    channel: str  # sms | whatsapp
    debtor_opted_out: bool
    phone_opted_out: bool
    wrong_number: bool
    on_block_list: bool
    debt_status: str | None  # None: no debt to send
    payment_pending: bool


def refusal_reason(facts: ChannelFacts) -> str | None:
    """Why a second copy may not be sent, or None when it may."""
    if facts.on_block_list:
        return "block-list"
    if facts.debtor_opted_out or facts.phone_opted_out:
        return f"{facts.channel}-opt-out"
    if facts.wrong_number:
        return "wrong-number"
    if facts.debt_status is None:
        return "no-debt"
    if facts.debt_status != DebtStatus.OPEN.value or facts.payment_pending:
        return "debt-not-open"
    return None


def channel_for(preferred_channel: str) -> str:
    """The channel a debtor asked for second copies to go by (their preference). Whether it
    can: `second_copy_channel`."""
    return "whatsapp" if preferred_channel == "whatsapp" else "sms"


@dataclass(frozen=True)
class WhatsAppSetup:
    """What a WhatsApp second copy in one language needs: a WhatsApp-enabled sender and the
    approved template (its Content SID at the carrier, its text and variables here)."""

    sender: str
    content_sid: str
    template: WhatsAppTemplate


def whatsapp_setup(config: Config, language: str) -> WhatsAppSetup | None:
    """WhatsApp as configured for second copies in `language`, or None when it is not
    (no sender, or no approved template in that language)."""
    book = message_book(language)
    sender = config.whatsapp_sender()
    content_sid = config.whatsapp_content_sid(book.language)
    if not sender or not content_sid or book.whatsapp_second_copy is None:
        return None
    return WhatsAppSetup(sender, content_sid, book.whatsapp_second_copy)


def second_copy_channel(config: Config, preferred_channel: str, language: str) -> str:
    """The channel a second copy actually goes by: WhatsApp when the debtor prefers it and
    WhatsApp is configured for the debtor's language, else SMS. What the caller is told."""
    if channel_for(preferred_channel) == "whatsapp" and whatsapp_setup(config, language):
        return "whatsapp"
    return "sms"


def send_second_copy(
    session: Session,
    runtime: Runtime,
    debtor: Debtor,
    debt: Debt | None,
    actor: str,
    *,
    phone: Phone | None = None,
    attempt_id: int | None = None,
    channel: str | None = None,
    send_within: timedelta | None = None,
    fallback_for: int | None = None,
) -> SmsMessage:
    """Send the second copy of `debt` to `phone` (default: the debtor's first phone that can
    receive it) on `channel` (default: the debtor's preferred one). WhatsApp goes as the
    approved template from the WhatsApp sender; where WhatsApp is not configured for the
    debtor's language, or the carrier refuses the WhatsApp message, the copy goes by SMS:
    the returned message's `channel` is the one used. Records `sms.sent`, or `sms.refused` /
    `sms.failed` and raises SecondCopyRefused: catch it inside your unit of work (before the
    session's `with` block ends) so that the record of the refusal is committed.

    Commits `session` (what the caller wrote so far, and the queued message) before the
    carrier is asked, and goes on in a new transaction. `send_within`: the carrier's
    retries stop that long after now (a caller is waiting on the line). `fallback_for`: the
    WhatsApp message this SMS replaces (recorded with it)."""
    now = runtime.clock.now()
    requested = channel or channel_for(debtor.preferred_channel)
    book = message_book(debtor.language)
    whatsapp = whatsapp_setup(runtime.config, book.language) if requested == "whatsapp" else None
    channel = "whatsapp" if whatsapp is not None else "sms"
    context: dict[str, Any] = {}
    if requested != channel:
        context["requested_channel"] = requested
        context["sms_because"] = "whatsapp-not-configured"
    if fallback_for is not None:
        context["fallback_for"] = fallback_for
    phone = phone or _pick_phone(debtor, channel)

    def refuse(reason: str, kind: str = "sms.refused", **extra: Any) -> SecondCopyRefused:
        session.add(
            ContactEvent(
                debtor_id=debtor.id,
                attempt_id=attempt_id,
                phone_id=phone.id if phone else None,
                debt_id=debt.id if debt else None,
                kind=kind,
                channel=channel,
                actor=actor,
                occurred_at=now,
                data={"reason": reason, **context, **extra},
            )
        )
        session.flush()
        return SecondCopyRefused(reason)

    if phone is None:
        raise refuse("no-phone")
    facts = ChannelFacts(
        channel=channel,
        debtor_opted_out=_opted_out(debtor, channel),
        phone_opted_out=_opted_out(phone, channel),
        wrong_number=phone.wrong_number_at is not None,
        on_block_list=_on_block_list(session, phone.number, debtor.document),
        debt_status=debt.status if debt else None,
        payment_pending=bool(debt and debt.payment_pending),
    )
    reason = refusal_reason(facts)
    if reason:
        raise refuse(reason)
    assert debt is not None

    carrier = runtime.extras.get("carrier")
    if carrier is None:
        log.error("second copy for debtor %s: no carrier configured in runtime.extras", debtor.id)
        raise refuse("no-carrier", kind="sms.failed")

    today = _local_date(session, debtor, now)
    content_variables: dict[str, str] | None = None
    if whatsapp is not None:
        params = _second_copy_params(book, runtime, debt, today, payment_prefix="whatsapp_")
        content_variables = whatsapp.template.content_variables(params)
        body = whatsapp.template.render(content_variables)
    else:
        body = second_copy_body(book, runtime, debt, today=today)
    message = SmsMessage(
        debtor_id=debtor.id,
        phone_id=phone.id,
        debt_id=debt.id,
        channel=channel,
        body=body,
        status="queued",
        created_at=now,
    )
    session.add(message)
    session.flush()
    from_ = whatsapp.sender if whatsapp is not None else _sender(session, runtime, debt)
    # Committed before the carrier is asked: no transaction (on SQLite, the database's one
    # write lock) is held while it answers, which with retries may take seconds. The
    # message is on record as queued meanwhile.
    session.commit()
    request = MessageRequest(
        to=phone.number,
        from_=from_,
        body=body,
        channel=channel,
        status_callback=message_status_url(runtime, message.id),
        idempotency_key=f"second-copy-{message.id}",
        send_by=now + send_within if send_within is not None else None,
        content_sid=whatsapp.content_sid if whatsapp is not None else None,
        content_variables=content_variables,
    )
    try:
        info = carrier.send_message(request)
    except CarrierOutcomeUnknown as exc:
        # The carrier may have sent it: not "failed" (a final status no delivery report
        # could correct), and nobody should be told it surely did not go.
        log.warning(
            "second copy %s to debtor %s unconfirmed by the carrier: %s", message.id, debtor.id, exc
        )
        message.status = "unconfirmed"
        raise refuse(
            "carrier-unconfirmed", kind="sms.unconfirmed", sms_id=message.id, error=str(exc)[:200]
        ) from None
    except CarrierError as exc:
        log.warning(
            "second copy %s to debtor %s failed at the carrier: %s", message.id, debtor.id, exc
        )
        message.status = "failed"
        failure = refuse(
            "carrier-error", kind="sms.failed", sms_id=message.id, error=str(exc)[:200]
        )
        if channel != "whatsapp":
            raise failure from None
        # Surely not sent (a refusal, not a lost answer): the debtor still gets it, by SMS,
        # within what is left of the caller's wait.
        left = None if send_within is None else send_within - (runtime.clock.now() - now)
        return send_second_copy(
            session,
            runtime,
            debtor,
            debt,
            actor,
            phone=phone,
            attempt_id=attempt_id,
            channel="sms",
            send_within=left,
            fallback_for=message.id,
        )
    message.carrier_sid = info.sid
    message.status = info.status or "sent"
    sent: dict[str, Any] = {"sms_id": message.id, "sid": info.sid, "purpose": "second-copy"}
    if whatsapp is not None:
        sent["content_sid"] = whatsapp.content_sid
    session.add(
        ContactEvent(
            debtor_id=debtor.id,
            attempt_id=attempt_id,
            phone_id=phone.id,
            debt_id=debt.id,
            kind="sms.sent",
            channel=channel,
            actor=actor,
            occurred_at=now,
            data={**sent, **context},
        )
    )
    session.flush()
    return message


def send_second_copy_by_sms_instead(
    session: Session, runtime: Runtime, whatsapp_message_id: int
) -> SmsMessage | None:
    """After WhatsApp reported a second copy failed or undelivered: the same second copy, to
    the same number, by SMS, through every check of `send_second_copy` (SMS opt-outs, block
    lists, wrong number, the debt still open). Returns the SMS, or None when it was refused
    or failed (recorded). The status webhook calls it once per WhatsApp message: only for
    the report that moved it to its failure; an SMS that failed has no fallback."""
    failed = session.get(SmsMessage, whatsapp_message_id)
    if failed is None or failed.channel != "whatsapp":
        return None
    debtor = session.get(Debtor, failed.debtor_id)
    phone = session.get(Phone, failed.phone_id)
    if debtor is None or phone is None:
        return None
    debt = session.get(Debt, failed.debt_id) if failed.debt_id is not None else None
    try:
        return send_second_copy(
            session,
            runtime,
            debtor,
            debt,
            "system",
            phone=phone,
            attempt_id=_attempt_of(session, failed),
            channel="sms",
            send_within=SMS_FALLBACK_SEND_SECONDS,
            fallback_for=failed.id,
        )
    except SecondCopyRefused as refused:
        log.info("SMS fallback for WhatsApp second copy %s not sent: %s", failed.id, refused.reason)
        return None


def _attempt_of(session: Session, message: SmsMessage) -> int | None:
    """The call during which `message` was sent, if it was (its sms.sent event says)."""
    events = session.scalars(
        select(ContactEvent)
        .where(
            ContactEvent.debtor_id == message.debtor_id,
            ContactEvent.occurred_at >= message.created_at,
            ContactEvent.kind == "sms.sent",
        )
        .order_by(ContactEvent.id)
        .limit(50)
    )
    return next((e.attempt_id for e in events if (e.data or {}).get("sms_id") == message.id), None)


def second_copy_body(book: MessageBook, runtime: Runtime, debt: Debt, *, today: date) -> str:
    """The SMS text: creditor and its legal id, amount, due date, how to pay, opt-out.
    `today` is the debtor's local date: instruments that expired before it are left out."""
    return book.render("second_copy", _second_copy_params(book, runtime, debt, today))


def _second_copy_params(
    book: MessageBook, runtime: Runtime, debt: Debt, today: date, payment_prefix: str = ""
) -> dict[str, str]:
    """The facts a second copy carries, by placeholder name (the SMS text's and the WhatsApp
    template's variables). `payment_prefix` picks the wording of how to pay."""
    locale = _BABEL_LOCALE.get(book.language, "pt_BR")
    config = runtime.config
    common = {
        "company": config.get("CORDIAL_COMPANY_NAME"),
        "callback_number": config.get("CORDIAL_CALLBACK_NUMBER"),
    }
    creditor = debt.creditor
    id_label = book.render(
        "creditor_id_label_us" if creditor.country == "US" else "creditor_id_label_br", common
    )
    document = creditor_document(creditor.legal_id, creditor.country)
    return {
        **common,
        "creditor": creditor.name,
        "creditor_id_label": id_label,
        "creditor_document": document,
        "creditor_id": f"{id_label} {document}",
        "amount": written_amount(debt.total, debt.currency, locale),
        "due_date": format_date(debt.due_date, book.date_format, locale=locale),
        "payment": _payment_text(book, debt, today, common, payment_prefix),
    }


def written_amount(amount: Decimal, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=locale).replace("\xa0", " ")


def creditor_document(legal_id: str, country: str) -> str:
    """A creditor's CNPJ (or US EIN) as people write it: 11.222.333/0001-81."""
    digits = "".join(ch for ch in legal_id if ch.isdigit())
    if country == "US" and len(digits) == 9:
        return ein.format(digits)
    if len(digits) == 14:
        return cnpj.format(digits)
    return legal_id


def _payment_text(
    book: MessageBook, debt: Debt, today: date, common: dict[str, str], prefix: str = ""
) -> str:
    usable = {i.kind: i for i in debt.instruments if i.expires_on is None or i.expires_on >= today}
    for kind in book.payment_preference:
        instrument = usable.get(kind)
        if instrument is not None:
            return book.render(
                f"{prefix}payment_{kind}", {**common, "value": instrument.value.strip()}
            )
    return book.render(f"{prefix}payment_missing", common)


def _local_date(session: Session, debtor: Debtor, now: datetime) -> date:
    """The debtor's date at `now`: an instrument valid "until 24 Nov" still is at 18:00 on
    24 Nov in Los Angeles, when it is already 25 Nov in UTC."""
    # The rules' side (zones from address, area code, override), loaded when first needed,
    # as the voice flow does.
    from ivr.dialer.facts import local_zone_for

    return now.astimezone(ZoneInfo(local_zone_for(session, debtor.id))).date()


def _opted_out(holder: Debtor | Phone, channel: str) -> bool:
    at = holder.whatsapp_opt_out_at if channel == "whatsapp" else holder.sms_opt_out_at
    return at is not None


def _pick_phone(debtor: Debtor, channel: str) -> Phone | None:
    usable = [p for p in debtor.phones if p.wrong_number_at is None and not _opted_out(p, channel)]
    usable.sort(key=lambda p: (p.line_type != "mobile", p.priority))
    return usable[0] if usable else None


def _on_block_list(session: Session, number: str, document: str) -> bool:
    digits = "".join(ch for ch in number if ch.isdigit())
    found = session.scalar(
        select(BlockListEntry.id)
        .where(
            or_(
                (BlockListEntry.kind == "phone")
                & BlockListEntry.value.in_({number, digits, "+" + digits}),
                (BlockListEntry.kind == "document") & (BlockListEntry.value == document),
            )
        )
        .limit(1)
    )
    return found is not None


def _sender(session: Session, runtime: Runtime, debt: Debt) -> str:
    """Messages come from the campaign's registered number, else the callback number."""
    campaign = session.get(Campaign, debt.campaign_id) if debt.campaign_id is not None else None
    return (campaign.caller_id if campaign else None) or runtime.config.get(
        "CORDIAL_CALLBACK_NUMBER"
    )


def message_status_url(runtime: Runtime, message_id: int) -> str:
    base = runtime.config.get("CORDIAL_PUBLIC_BASE_URL").rstrip("/")
    return f"{base}/messaging/status?message={message_id}"


__all__ = [
    "SMS_FALLBACK_SEND_SECONDS",
    "ChannelFacts",
    "SecondCopyRefused",
    "WhatsAppSetup",
    "channel_for",
    "creditor_document",
    "refusal_reason",
    "second_copy_body",
    "second_copy_channel",
    "send_second_copy",
    "send_second_copy_by_sms_instead",
    "whatsapp_setup",
    "written_amount",
]
