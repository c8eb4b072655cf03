"""Messaging webhooks the carrier calls.

    POST /messaging/status?message=<id>   delivery status of a sent message; a WhatsApp
                                          second copy that failed goes again by SMS
    POST /messaging/inbound               a reply; SAIR / STOP (and friends) opt the number out

Signed like the voice webhooks (403 otherwise); always answer valid TwiML.
"""

from __future__ import annotations

import logging
import unicodedata

from flask import Blueprint, Flask, Response, request
from sqlalchemy import select, update
from twilio.twiml.messaging_response import MessagingResponse

from ivr.app import runtime_of
from ivr.db import rows_changed
from ivr.messaging.message_templates import message_book, message_books
from ivr.messaging.second_copy import send_second_copy_by_sms_instead
from ivr.models import ContactEvent, Debtor, Phone, SmsMessage
from ivr.voice.signatures import carrier_form, is_signed_by_carrier

log = logging.getLogger(__name__)

blueprint = Blueprint("messaging", __name__, url_prefix="/messaging")

# Delivery statuses only move forward; failures are final.
_STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
}
# A WhatsApp second copy reported so goes again by SMS.
_NOT_DELIVERED = frozenset({"failed", "undelivered"})


def register_messaging(app: Flask) -> None:
    message_books()
    app.register_blueprint(blueprint)


@blueprint.before_request
def _require_carrier_signature() -> Response | None:
    if is_signed_by_carrier(runtime_of().config, request):
        return None
    log.warning("messaging webhook %s refused: missing or invalid X-Twilio-Signature", request.path)
    return Response("invalid or missing X-Twilio-Signature\n", status=403, mimetype="text/plain")


def _twiml(response: MessagingResponse | None = None) -> Response:
    return Response(str(response or MessagingResponse()), status=200, mimetype="text/xml")


def delivery_status_advances(current: str, reported: str) -> bool:
    if reported not in _STATUS_RANK:
        return False
    return (
        _STATUS_RANK[reported] > _STATUS_RANK.get(current, 0) and _STATUS_RANK.get(current, 0) < 5
    )


@blueprint.route("/status", methods=["POST"])
def status() -> Response:
    runtime = runtime_of()
    raw = request.args.get("message", "")
    form = carrier_form(request)
    reported = (form.get("MessageStatus") or "").strip().lower()
    error_code = (form.get("ErrorCode") or "").strip()[:10]
    fall_back = None
    try:
        message_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
        with runtime.db.session() as session:
            message = session.get(SmsMessage, message_id) if message_id is not None else None
            if message is not None and delivery_status_advances(message.status, reported):
                # Moved only from the status it was read with: of two deliveries of one report
                # (the carrier may repeat a callback), one records it and may fall back.
                moved = rows_changed(
                    session.execute(
                        update(SmsMessage)
                        .where(SmsMessage.id == message.id, SmsMessage.status == message.status)
                        .values(status=reported)
                    )
                )
                if moved:
                    data: dict[str, object] = {"sms_id": message.id, "status": reported}
                    if error_code:
                        data["error_code"] = error_code
                    fall_back = message.id if _falls_back(message.channel, reported) else None
                    if fall_back is not None:
                        data["fallback"] = "sms"
                    session.add(
                        ContactEvent(
                            debtor_id=message.debtor_id,
                            phone_id=message.phone_id,
                            debt_id=message.debt_id,
                            kind="sms.status",
                            channel=message.channel,
                            actor="carrier",
                            occurred_at=runtime.clock.now(),
                            data=data,
                        )
                    )
        if fall_back is not None:
            # After the status is on record: its own unit of work, which records the SMS or
            # why it was not sent.
            with runtime.db.session() as session:
                send_second_copy_by_sms_instead(session, runtime, fall_back)
    except Exception:
        log.exception(
            "message status callback failed (message %s, status %s)", raw[:20], reported[:20]
        )
    return _twiml()


def _falls_back(channel: str, reported: str) -> bool:
    """WhatsApp did not deliver (outside the 24-hour window without a template, not a
    WhatsApp user, ...): the second copy goes by SMS. An SMS that failed does not."""
    return channel == "whatsapp" and reported in _NOT_DELIVERED


def _fold_keyword(word: str) -> str:
    folded = unicodedata.normalize("NFKD", word.upper())
    return "".join(c for c in folded if c.isalnum() and not unicodedata.combining(c))


def _keywords(body: str) -> tuple[str, str]:
    """The reply's first word and its first two words run together, folded: "Sair por
    favor" -> ("SAIR", "SAIRPOR"), "opt out" -> ("OPT", "OPTOUT"), "stop all" -> ("STOP",
    "STOPALL")."""
    words = (body or "").strip().split(maxsplit=2)
    first = _fold_keyword(words[0]) if words else ""
    return first, first + (_fold_keyword(words[1]) if len(words) > 1 else "")


@blueprint.route("/inbound", methods=["POST"])
def inbound() -> Response:
    """A message from a debtor. An opt-out keyword stops that channel for the number and its
    debtor at once (US-REGF-OPTOUT, BR-NAO-ME-LIGUE)."""
    runtime = runtime_of()
    form = carrier_form(request)
    sender = (form.get("From") or "").strip()
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    number = sender.removeprefix("whatsapp:")[:20]
    first_word, two_words = _keywords(form.get("Body", ""))
    # The carrier's own opt-out handling (Twilio Advanced Opt-Out) says it stopped the
    # number: then it is stopped here too, whatever the words, and the carrier replies.
    carrier_stopped = (form.get("OptOutType") or "").strip().upper() == "STOP"
    carrier_handled = bool(form.get("OptOutType"))
    reply = MessagingResponse()
    try:
        now = runtime.clock.now()
        with runtime.db.session() as session:
            rows = session.execute(
                select(Phone, Debtor)
                .join(Debtor, Debtor.id == Phone.debtor_id)
                .where(Phone.number == number)
            ).all()
            language = (
                rows[0][1].language if rows else runtime.config.get("CORDIAL_DEFAULT_LANGUAGE")
            )
            book = message_book(language)
            keywords = {k for b in (book, *message_books().values()) for k in b.opt_out_keywords}
            keyword = next((k for k in (first_word, two_words) if k in keywords), "")
            stopping = carrier_stopped or bool(keyword)
            for phone, debtor in rows:
                if stopping:
                    field = f"{channel}_opt_out_at"
                    for holder in (phone, debtor):
                        if getattr(holder, field) is None:
                            setattr(holder, field, now)
                session.add(
                    ContactEvent(
                        debtor_id=debtor.id,
                        phone_id=phone.id,
                        kind="opt_out" if stopping else "sms.received",
                        channel=channel,
                        actor="debtor",
                        occurred_at=now,
                        data={
                            "keyword": (keyword or first_word)[:20],
                            "carrier_opt_out": carrier_stopped,
                            "opted_out_channel": channel,
                            "scope": ["debtor", "phone"],
                        }
                        if stopping
                        else {"body": (form.get("Body") or "")[:500]},
                    )
                )
            if stopping and rows and not carrier_handled:
                reply.message(
                    book.render(
                        "opt_out_confirmed", {"company": runtime.config.get("CORDIAL_COMPANY_NAME")}
                    )
                )
    except Exception:
        log.exception("inbound message webhook failed (from %s)", number[-4:])
        return _twiml()
    return _twiml(reply)


__all__ = ["blueprint", "delivery_status_advances", "register_messaging"]
