"""The second copy by SMS / WhatsApp: what it carries, when it is refused, and opt-out replies."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from ivr.messaging.second_copy import (
    ChannelFacts,
    SecondCopyRefused,
    creditor_document,
    refusal_reason,
    send_second_copy,
    written_amount,
)
from ivr.models import (
    BlockListEntry,
    ContactEvent,
    Debt,
    Debtor,
    PaymentInstrument,
    Phone,
    SmsMessage,
)
from tests.voice.carrier_helpers import parse_twiml


def _send(runtime, seeded, **kwargs) -> SmsMessage:
    """As a caller should: catch the refusal inside the unit of work, so its record commits."""
    with runtime.db.session() as session:
        debtor = session.get(Debtor, seeded.debtor_id)
        debt = session.get(Debt, seeded.debt_id)
        try:
            return send_second_copy(session, runtime, debtor, debt, "user:7", **kwargs)
        except SecondCopyRefused as exc:
            refused = exc
    raise refused


def _events(runtime, kind: str) -> list[ContactEvent]:
    with runtime.db.session() as session:
        return list(session.scalars(select(ContactEvent).where(ContactEvent.kind == kind)))


def test_a_brazilian_second_copy_carries_creditor_cnpj_amount_due_date_pix_and_sair(
    seed, carrier, sqlite_runtime
):
    seeded = seed("sp")
    message = _send(sqlite_runtime, seeded)
    [sent] = carrier.messages
    assert sent.body == message.body and sent.to == "+5511987654321" and sent.channel == "sms"
    assert sent.from_ == "+551130000000"  # the campaign's registered number
    with sqlite_runtime.db.session() as session:
        legal_id = session.get(Debt, seeded.debt_id).creditor.legal_id
    body = message.body
    assert f"Banco Exemplo (CNPJ {creditor_document(legal_id, 'BR')})" in body  # BR-CDC-42A
    assert "R$ 114,50" in body and "Vencimento: 10/10/2026" in body
    assert "PIX copia e cola: 00020126360014BR.GOV.BCB.PIX" in body
    assert body.endswith("responda SAIR.")
    assert message.status == "queued" and message.carrier_sid.startswith("SM")
    [event] = _events(sqlite_runtime, "sms.sent")
    assert event.actor == "user:7" and event.data["sms_id"] == message.id


def test_without_pix_the_boleto_line_goes_and_without_anything_a_number_to_call(
    seed, carrier, sqlite_runtime
):
    boleto = "34191.79001 01043.510047 91020.150008 5 91370000011450"
    message = _send(sqlite_runtime, seed("mg", instruments={"boleto": boleto}))
    assert f"Linha digitavel do boleto: {boleto}." in message.body
    message = _send(sqlite_runtime, seed("mg", instruments={}))
    assert "Para pagar, ligue para +551140000000." in message.body


def test_an_expired_instrument_is_not_sent(seed, carrier, sqlite_runtime):
    seeded = seed("mg", instruments={"pix": "PIXCODE", "boleto": "BOLETO-LINE"})
    with sqlite_runtime.db.session() as session:
        pix = session.scalars(
            select(PaymentInstrument).where(PaymentInstrument.kind == "pix")
        ).one()
        pix.expires_on = date(2026, 11, 1)
    body = _send(sqlite_runtime, seeded).body
    assert "PIXCODE" not in body and "BOLETO-LINE" in body


def test_an_american_copy_is_in_english_with_a_link_and_stop(seed, carrier, sqlite_runtime):
    message = _send(sqlite_runtime, seed("us"))
    assert "Example Bank (EIN " in message.body and "Amount: $114.50" in message.body
    assert (
        "Due: October 10, 2026" in message.body
        and "Pay at: https://pay.example.com/c/" in message.body
    )
    assert message.body.endswith("Reply STOP to opt out.")


@pytest.mark.parametrize(
    ("profile", "written"), [("us", "Due: March 4, 2026"), ("sp", "Vencimento: 04/03/2026")]
)
def test_the_due_date_cannot_be_read_with_day_and_month_swapped(
    seed, carrier, sqlite_runtime, profile, written
):
    """03/04/2026 is 4 March to an American and 3 April to most others: US copies name the month."""
    seeded = seed(profile)
    with sqlite_runtime.db.session() as session:
        session.get(Debt, seeded.debt_id).due_date = date(2026, 3, 4)
    assert written in _send(sqlite_runtime, seeded).body


def test_an_instrument_expires_at_the_end_of_the_debtors_day_not_of_the_utc_day(
    seed, carrier, sqlite_runtime, clock
):
    """21:00 on 24 Nov in New York is 02:00 on 25 Nov in UTC: a link valid until 24 Nov
    still goes, one that expired on 23 Nov does not."""
    clock.set(datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
    seeded = seed("us", instruments={"link": "https://pay.example.com/c/today", "pix": "PIXCODE"})
    with sqlite_runtime.db.session() as session:
        link = session.scalars(
            select(PaymentInstrument)
            .where(PaymentInstrument.debt_id == seeded.debt_id)
            .where(PaymentInstrument.kind == "link")
        ).one()
        link.expires_on = date(2026, 11, 24)
        link_id = link.id
    assert "Pay at: https://pay.example.com/c/today" in _send(sqlite_runtime, seeded).body
    with sqlite_runtime.db.session() as session:
        session.get(PaymentInstrument, link_id).expires_on = date(2026, 11, 23)
    body = _send(sqlite_runtime, seeded).body
    assert "pay.example.com" not in body and "PIX code: PIXCODE" in body


def test_whatsapp_is_used_when_preferred_and_its_own_opt_out_is_honoured(
    seed, carrier, sqlite_runtime
):
    seeded = seed("mg", preferred_channel="whatsapp")
    assert _send(sqlite_runtime, seeded).channel == "whatsapp"
    with sqlite_runtime.db.session() as session:
        session.get(Phone, seeded.phone_id).whatsapp_opt_out_at = sqlite_runtime.clock.now()
    with pytest.raises(SecondCopyRefused) as refused:
        _send(sqlite_runtime, seeded, phone=None)
    assert refused.value.reason == "no-phone"  # the only phone opted out of WhatsApp


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("debtor_sms_opt_out", "sms-opt-out"),
        ("phone_sms_opt_out", "sms-opt-out"),
        ("wrong_number", "wrong-number"),
        ("block_phone", "block-list"),
        ("block_document", "block-list"),
        ("debt_paid", "debt-not-open"),
        ("payment_pending", "debt-not-open"),
    ],
)
def test_a_refusal_sends_nothing_and_records_why(seed, carrier, sqlite_runtime, change, reason):
    seeded = seed("sp")
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        debtor, phone = session.get(Debtor, seeded.debtor_id), session.get(Phone, seeded.phone_id)
        debt = session.get(Debt, seeded.debt_id)
        if change == "debtor_sms_opt_out":
            debtor.sms_opt_out_at = now
        elif change == "phone_sms_opt_out":
            phone.sms_opt_out_at = now
        elif change == "wrong_number":
            phone.wrong_number_at = now
        elif change == "block_phone":
            session.add(BlockListEntry(kind="phone", value="5511987654321"))
        elif change == "block_document":
            session.add(BlockListEntry(kind="document", value=debtor.document))
        elif change == "debt_paid":
            debt.status = "paid"
        else:
            debt.payment_pending = True
    with pytest.raises(SecondCopyRefused) as refused:
        _send(sqlite_runtime, seeded, phone=None if change == "wrong_number" else None)
    expected = "no-phone" if change in ("phone_sms_opt_out", "wrong_number") else reason
    assert refused.value.reason == expected
    assert carrier.messages == []
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(SmsMessage)).all() == []
    [event] = _events(sqlite_runtime, "sms.refused")
    assert event.data["reason"] == expected and event.debtor_id == seeded.debtor_id


def test_the_called_phone_is_checked_even_when_given(seed, carrier, sqlite_runtime):
    seeded = seed("mg")
    with sqlite_runtime.db.session() as session:
        phone = session.get(Phone, seeded.phone_id)
        phone.sms_opt_out_at = sqlite_runtime.clock.now()
        debtor, debt = session.get(Debtor, seeded.debtor_id), session.get(Debt, seeded.debt_id)
        with pytest.raises(SecondCopyRefused, match="sms-opt-out"):
            send_second_copy(session, sqlite_runtime, debtor, debt, "ivr", phone=phone)


def test_the_refusal_rule_in_order():
    base = ChannelFacts("sms", False, False, False, False, "open", False)
    assert refusal_reason(base) is None
    assert (
        refusal_reason(ChannelFacts("sms", True, False, True, True, "paid", True)) == "block-list"
    )
    assert (
        refusal_reason(ChannelFacts("whatsapp", False, True, False, False, "open", False))
        == "whatsapp-opt-out"
    )
    assert refusal_reason(ChannelFacts("sms", False, False, False, False, None, False)) == "no-debt"
    assert (
        refusal_reason(ChannelFacts("sms", False, False, False, False, "disputed", False))
        == "debt-not-open"
    )


def test_money_and_documents_are_written_as_people_write_them():
    from decimal import Decimal

    assert written_amount(Decimal("1234.5"), "BRL", "pt_BR") == "R$ 1.234,50"
    assert written_amount(Decimal("1234.5"), "USD", "en_US") == "$1,234.50"
    assert creditor_document("11222333000181", "BR") == "11.222.333/0001-81"
    assert creditor_document("123456789", "US") == "12-3456789"


# -- webhooks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "stops"),
    [
        ("SAIR", True),
        ("sair por favor", True),
        ("Stop", True),
        ("PARAR", True),
        ("Pare", True),
        ("REVOKE", True),
        ("opt out", True),
        ("Stop all", True),
        ("olá, quero pagar", False),
        ("opt in", False),
    ],
)
def test_a_reply_with_an_opt_out_keyword_stops_messages_to_that_number(
    seed, hooks, carrier, sqlite_runtime, body, stops
):
    seeded = seed("mg")
    response = hooks.post(
        "/messaging/inbound",
        {
            "From": seeded.profile.number,
            "To": "+551130000000",
            "Body": body,
            "MessageSid": "SM" + "1" * 32,
        },
    )
    assert response.status_code == 200
    reply = parse_twiml(response.data)
    with sqlite_runtime.db.session() as session:
        phone, debtor = session.get(Phone, seeded.phone_id), session.get(Debtor, seeded.debtor_id)
        assert (phone.sms_opt_out_at is not None) == stops == (debtor.sms_opt_out_at is not None)
        assert phone.voice_opt_out_at is None  # only the channel it was asked for
    if stops:
        assert "nao recebera mais mensagens" in "".join(reply.itertext())
        assert [e.data["opted_out_channel"] for e in _events(sqlite_runtime, "opt_out")] == ["sms"]
        with pytest.raises(SecondCopyRefused, match="sms-opt-out|no-phone"):
            _send(sqlite_runtime, seeded)
    else:
        assert len(_events(sqlite_runtime, "sms.received")) == 1


def test_an_opt_out_the_carrier_handled_stops_whatever_the_words(
    seed, hooks, carrier, sqlite_runtime
):
    """Twilio's Advanced Opt-Out may stop a number on words of its own (OptOutType=STOP);
    the carrier then sends its own confirmation, so Cordial sends none."""
    seeded = seed("mg")
    response = hooks.post(
        "/messaging/inbound",
        {"From": seeded.profile.number, "Body": "não quero mais", "OptOutType": "STOP"},
    )
    reply = parse_twiml(response.data)
    with sqlite_runtime.db.session() as session:
        assert session.get(Phone, seeded.phone_id).sms_opt_out_at is not None
        assert session.get(Debtor, seeded.debtor_id).sms_opt_out_at is not None
    assert "".join(reply.itertext()) == ""
    [event] = _events(sqlite_runtime, "opt_out")
    assert event.data["carrier_opt_out"] is True and event.data["opted_out_channel"] == "sms"


def test_no_write_lock_is_held_while_the_carrier_is_asked(seed, carrier, sqlite_runtime):
    """A slow carrier (retries, timeouts) must not stall every other webhook's write: the
    database takes another writer while the message is being sent."""
    import sqlite3

    seeded = seed("mg")
    path = sqlite_runtime.db.engine.url.database
    send = carrier.send_message
    other_writers: list[str] = []

    def send_while_another_writes(request):
        other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails with "database is locked" if held
            other.execute("ROLLBACK")
            other_writers.append("wrote")
        finally:
            other.close()
        with sqlite_runtime.db.session() as session:  # and through Cordial's own writer lock
            session.get(Debtor, seeded.debtor_id).city = "Uberlândia"
        return send(request)

    carrier.send_message = send_while_another_writes
    message = _send(sqlite_runtime, seeded)
    assert other_writers == ["wrote"] and message.status == "queued" and message.carrier_sid
    with sqlite_runtime.db.session() as session:
        assert session.get(SmsMessage, message.id).carrier_sid == message.carrier_sid
    assert len(_events(sqlite_runtime, "sms.sent")) == 1


def test_a_whatsapp_stop_opts_out_of_whatsapp_only(seed, hooks, sqlite_runtime):
    seeded = seed("mg")
    hooks.post("/messaging/inbound", {"From": f"whatsapp:{seeded.profile.number}", "Body": "SAIR"})
    with sqlite_runtime.db.session() as session:
        phone = session.get(Phone, seeded.phone_id)
        assert phone.whatsapp_opt_out_at is not None and phone.sms_opt_out_at is None


def test_delivery_status_only_moves_forward(seed, hooks, carrier, sqlite_runtime):
    message = _send(sqlite_runtime, seed("mg"))
    for status in ["sent", "delivered", "sent", "queued", "failed", "delivered"]:
        response = hooks.post(
            f"/messaging/status?message={message.id}",
            {"MessageSid": message.carrier_sid, "MessageStatus": status},
        )
        assert response.status_code == 200
    with sqlite_runtime.db.session() as session:
        assert session.get(SmsMessage, message.id).status == "failed"
    assert [e.data["status"] for e in _events(sqlite_runtime, "sms.status")] == [
        "sent",
        "delivered",
        "failed",
    ]


def test_a_copy_the_carrier_did_not_confirm_is_unconfirmed_not_failed(
    seed, hooks, carrier, sqlite_runtime
):
    """The send request's answer was lost: the message may have gone. It is recorded as
    unconfirmed (not the final "failed"), so the delivery report that follows still counts."""
    seeded = seed("mg")
    carrier.unconfirmed_messages = True
    with pytest.raises(SecondCopyRefused) as refused:
        _send(sqlite_runtime, seeded)
    assert refused.value.reason == "carrier-unconfirmed"
    [event] = _events(sqlite_runtime, "sms.unconfirmed")
    assert event.data["reason"] == "carrier-unconfirmed" and "no answer" in event.data["error"]
    assert _events(sqlite_runtime, "sms.failed") == []
    with sqlite_runtime.db.session() as session:
        [message] = session.scalars(select(SmsMessage)).all()
        assert message.status == "unconfirmed" and message.id == event.data["sms_id"]
    response = hooks.post(
        f"/messaging/status?message={message.id}",
        {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"},
    )
    assert response.status_code == 200
    with sqlite_runtime.db.session() as session:
        assert session.get(SmsMessage, message.id).status == "delivered"
