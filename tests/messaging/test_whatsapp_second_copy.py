"""The WhatsApp second copy: the approved template from the WhatsApp sender; SMS where
WhatsApp is not configured; SMS once more when WhatsApp reports the copy failed, never to a
number that may not get it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.app import create_app
from ivr.config import (
    EMULATOR_WHATSAPP_CONTENT_SIDS,
    EMULATOR_WHATSAPP_FROM,
    ConfigError,
    load_config,
)
from ivr.messaging.message_templates import message_book, message_books
from ivr.messaging.second_copy import (
    SecondCopyRefused,
    second_copy_channel,
)
from ivr.models import BlockListEntry, ContactEvent, Debt, Debtor, Phone, SmsMessage
from ivr.telephony.carrier import CarrierError, MessageInfo, MessageRequest
from ivr.telephony.dev_credentials import EMULATOR_AUTH_TOKEN
from ivr.telephony.emulator import CarrierEmulator, WsgiTransport
from tests.messaging.test_second_copy import _send

PT_SID = "HX" + "a" * 32
EN_SID = "HX" + "b" * 32
WHATSAPP_FROM = "+5511940000000"
ROOT = Path(__file__).resolve().parents[2]


def _use(runtime, **settings: str) -> None:
    """The runtime as an operator configured it (Twilio; the webhooks still signed with the
    token the test webhooks use)."""
    base = {
        "DATABASE_URL": runtime.config.database_url,
        "CORDIAL_INSTANCE_PATH": str(runtime.config.instance_path),
        "CORDIAL_CARRIER": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": EMULATOR_AUTH_TOKEN,
    }
    runtime.config = load_config({**base, **settings}, env_file=None)


def _events(runtime, kind: str) -> list[ContactEvent]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(ContactEvent).where(ContactEvent.kind == kind).order_by(ContactEvent.id)
            )
        )


def _messages(runtime) -> list[SmsMessage]:
    with runtime.db.session() as session:
        return list(session.scalars(select(SmsMessage).order_by(SmsMessage.id)))


def _report(hooks, message: SmsMessage, status: str, error_code: str | None = None):
    form = {"MessageSid": message.carrier_sid or "", "MessageStatus": status}
    if error_code:
        form["ErrorCode"] = error_code
    response = hooks.post(f"/messaging/status?message={message.id}", form)
    assert response.status_code == 200
    return response


# -- sending ------------------------------------------------------------------------------------


def test_a_whatsapp_second_copy_is_the_approved_template_from_the_whatsapp_sender(
    seed, carrier, sqlite_runtime
):
    _use(
        sqlite_runtime,
        TWILIO_WHATSAPP_FROM=f"whatsapp:{WHATSAPP_FROM}",
        TWILIO_WHATSAPP_CONTENT_SID_PT_BR=PT_SID,
    )
    seeded = seed("sp", preferred_channel="whatsapp")
    message = _send(sqlite_runtime, seeded)

    [request] = carrier.messages
    assert request.channel == "whatsapp" and request.to == seeded.profile.number
    assert request.from_ == WHATSAPP_FROM  # not the campaign's voice caller ID
    assert request.content_sid == PT_SID
    variables = dict(request.content_variables or {})
    assert list(variables) == ["1", "2", "3", "4", "5", "6", "7"]
    with sqlite_runtime.db.session() as session:
        creditor = session.get(Debt, seeded.debt_id).creditor
    # The same facts as the SMS: creditor and CNPJ (BR-CDC-42A), amount, due date, PIX.
    assert variables["1"] == creditor.name and variables["2"].startswith("CNPJ ")
    assert variables["3"] == "Cordial" and variables["4"] == "R$ 114,50"
    assert variables["5"] == "10/10/2026"
    assert variables["6"].startswith("PIX copia e cola 00020126360014BR.GOV.BCB.PIX")
    assert variables["7"] == "+551140000000"
    template = message_book("pt-BR").whatsapp_second_copy
    assert template is not None
    assert message.channel == "whatsapp" and message.body == template.render(variables)
    assert request.body == message.body and "responda SAIR" in message.body
    [sent] = _events(sqlite_runtime, "sms.sent")
    assert sent.channel == "whatsapp" and sent.data["content_sid"] == PT_SID
    assert "requested_channel" not in sent.data


def test_an_american_whatsapp_copy_uses_the_english_template(seed, carrier, sqlite_runtime):
    _use(
        sqlite_runtime,
        TWILIO_WHATSAPP_FROM=WHATSAPP_FROM,
        TWILIO_WHATSAPP_CONTENT_SID_PT_BR=PT_SID,
        TWILIO_WHATSAPP_CONTENT_SID_EN_US=EN_SID,
    )
    message = _send(sqlite_runtime, seed("us", preferred_channel="whatsapp"))
    [request] = carrier.messages
    assert request.content_sid == EN_SID and message.channel == "whatsapp"
    variables = dict(request.content_variables or {})
    assert variables["2"].startswith("EIN ") and variables["4"] == "$114.50"
    assert variables["5"] == "October 10, 2026"
    assert variables["6"].startswith("https://pay.example.com/c/")
    assert "Reply STOP to opt out." in message.body


def test_template_variables_are_one_line_and_never_empty(seed, carrier, sqlite_runtime):
    """WhatsApp fails a template whose variable has a new line, a tab, more than four
    spaces in a row, or nothing at all (Twilio error 63013)."""
    _use(
        sqlite_runtime, TWILIO_WHATSAPP_FROM=WHATSAPP_FROM, TWILIO_WHATSAPP_CONTENT_SID_PT_BR=PT_SID
    )
    seeded = seed(
        "mg", preferred_channel="whatsapp", instruments={"boleto": "3419\n\t1790      0101"}
    )
    _send(sqlite_runtime, seeded)
    [request] = carrier.messages
    variables = dict(request.content_variables or {})
    assert variables["6"] == "linha digitável do boleto 3419 1790 0101"
    assert all(v.strip() and "\n" not in v and "\t" not in v for v in variables.values())


@pytest.mark.parametrize(
    "settings",
    [
        {},  # nothing configured
        {"TWILIO_WHATSAPP_FROM": WHATSAPP_FROM},  # a sender, but no approved template
        {"TWILIO_WHATSAPP_FROM": WHATSAPP_FROM, "TWILIO_WHATSAPP_CONTENT_SID_EN_US": EN_SID},
    ],
)
def test_without_whatsapp_configured_the_second_copy_goes_by_sms(
    seed, carrier, sqlite_runtime, settings
):
    """The debtor prefers WhatsApp, but a free-form WhatsApp message would never arrive:
    the copy goes by SMS, and the record says SMS."""
    _use(sqlite_runtime, **settings)
    seeded = seed("mg", preferred_channel="whatsapp")
    message = _send(sqlite_runtime, seeded)

    [request] = carrier.messages
    assert request.channel == "sms" and request.content_sid is None
    assert request.from_ == "+551130000000"  # the campaign's registered number
    assert "Vencimento: 10/10/2026" in request.body and request.body.endswith("responda SAIR.")
    assert message.channel == "sms"
    [sent] = _events(sqlite_runtime, "sms.sent")
    assert sent.channel == "sms" and sent.data["requested_channel"] == "whatsapp"
    assert sent.data["sms_because"] == "whatsapp-not-configured"
    with sqlite_runtime.db.session() as session:
        debtor = session.get(Debtor, seeded.debtor_id)
        assert (
            second_copy_channel(sqlite_runtime.config, debtor.preferred_channel, "pt-BR") == "sms"
        )


def test_whatsapp_is_chosen_per_language(sqlite_runtime):
    _use(
        sqlite_runtime, TWILIO_WHATSAPP_FROM=WHATSAPP_FROM, TWILIO_WHATSAPP_CONTENT_SID_PT_BR=PT_SID
    )
    config = sqlite_runtime.config
    assert second_copy_channel(config, "whatsapp", "pt-BR") == "whatsapp"
    assert second_copy_channel(config, "whatsapp", "en-US") == "sms"
    assert second_copy_channel(config, "sms", "pt-BR") == "sms"


def test_the_sms_instead_of_whatsapp_honours_sms_opt_outs(seed, carrier, sqlite_runtime):
    _use(sqlite_runtime)
    seeded = seed("mg", preferred_channel="whatsapp")
    with sqlite_runtime.db.session() as session:
        session.get(Phone, seeded.phone_id).sms_opt_out_at = sqlite_runtime.clock.now()
    with pytest.raises(SecondCopyRefused) as refused:
        _send(sqlite_runtime, seeded)
    assert refused.value.reason == "no-phone" and carrier.messages == []
    with sqlite_runtime.db.session() as session:
        phone = session.get(Phone, seeded.phone_id)
    with pytest.raises(SecondCopyRefused, match="sms-opt-out"):
        _send(sqlite_runtime, seeded, phone=phone)


def test_on_the_emulator_whatsapp_works_with_no_settings(seed, carrier, sqlite_runtime):
    """`cordial demo` and the tests: the emulator's own sender and approved templates."""
    message = _send(sqlite_runtime, seed("mg", preferred_channel="whatsapp"))
    [request] = carrier.messages
    assert message.channel == "whatsapp" and request.from_ == EMULATOR_WHATSAPP_FROM
    assert request.content_sid == EMULATOR_WHATSAPP_CONTENT_SIDS["pt-BR"]


def test_a_whatsapp_copy_the_carrier_refuses_goes_by_sms_at_once(seed, carrier, sqlite_runtime):
    """Surely not sent (refused, not a lost answer): the caller on the line still gets it."""
    send = carrier.send_message

    def refuse_whatsapp(request: MessageRequest) -> MessageInfo:
        if request.channel == "whatsapp":
            raise CarrierError("Twilio refused to send whatsapp: The ContentSid is Invalid (test)")
        return send(request)

    carrier.send_message = refuse_whatsapp
    seeded = seed("mg", preferred_channel="whatsapp")
    message = _send(sqlite_runtime, seeded)
    assert message.channel == "sms" and [m.channel for m in carrier.messages] == ["sms"]
    whatsapp, sms = _messages(sqlite_runtime)
    assert (whatsapp.channel, whatsapp.status) == ("whatsapp", "failed") and sms.id == message.id
    [failed] = _events(sqlite_runtime, "sms.failed")
    assert failed.channel == "whatsapp" and failed.data["sms_id"] == whatsapp.id
    [sent] = _events(sqlite_runtime, "sms.sent")
    assert sent.channel == "sms" and sent.data["fallback_for"] == whatsapp.id


# -- falling back to SMS after WhatsApp reported a failure ----------------------------------------


@pytest.mark.parametrize(("status", "error_code"), [("failed", "63016"), ("undelivered", "63024")])
def test_a_whatsapp_copy_reported_failed_goes_again_by_sms_once(
    seed, hooks, carrier, sqlite_runtime, status, error_code
):
    seeded = seed("sp", preferred_channel="whatsapp")
    whatsapp = _send(sqlite_runtime, seeded, attempt_id=seeded.attempt_id)
    _report(hooks, whatsapp, "sent")
    _report(hooks, whatsapp, status, error_code)
    _report(hooks, whatsapp, status, error_code)  # the carrier repeats a callback
    _report(hooks, whatsapp, "failed", error_code)

    assert [m.channel for m in carrier.messages] == ["whatsapp", "sms"]
    sms_request = carrier.messages[1]
    assert sms_request.to == seeded.profile.number and sms_request.from_ == "+551130000000"
    assert "CNPJ" in sms_request.body and sms_request.body.endswith("responda SAIR.")
    assert sms_request.content_sid is None and sms_request.send_by is not None
    first, fallback = _messages(sqlite_runtime)
    assert (first.channel, first.status) == ("whatsapp", status)
    assert (fallback.channel, fallback.status) == (
        "sms",
        "queued",
    ) and fallback.debt_id == seeded.debt_id
    # The timeline: WhatsApp sent, its failure and why, the SMS that replaced it.
    statuses = [(e.channel, e.data["status"]) for e in _events(sqlite_runtime, "sms.status")]
    assert statuses == [("whatsapp", "sent"), ("whatsapp", status)]
    failure = _events(sqlite_runtime, "sms.status")[-1]
    assert failure.data["error_code"] == error_code and failure.data["fallback"] == "sms"
    sent = _events(sqlite_runtime, "sms.sent")
    assert [(e.channel, e.data.get("fallback_for")) for e in sent] == [
        ("whatsapp", None),
        ("sms", whatsapp.id),
    ]
    assert sent[1].actor == "system" and sent[1].attempt_id == seeded.attempt_id


def test_no_fallback_for_an_sms_that_failed(seed, hooks, carrier, sqlite_runtime):
    sms = _send(sqlite_runtime, seed("mg"))
    _report(hooks, sms, "undelivered", "30003")
    assert len(carrier.messages) == 1
    assert _events(sqlite_runtime, "sms.status")[-1].data.get("fallback") is None


def test_no_fallback_for_a_whatsapp_copy_that_arrived(seed, hooks, carrier, sqlite_runtime):
    whatsapp = _send(sqlite_runtime, seed("mg", preferred_channel="whatsapp"))
    for status in ("sent", "delivered", "read"):
        _report(hooks, whatsapp, status)
    assert [m.channel for m in carrier.messages] == ["whatsapp"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("phone_sms_opt_out", "sms-opt-out"),
        ("debtor_sms_opt_out", "sms-opt-out"),
        ("block_phone", "block-list"),
        ("wrong_number", "wrong-number"),
        ("debt_paid", "debt-not-open"),
    ],
)
def test_no_sms_fallback_to_a_number_that_may_not_get_it(
    seed, hooks, carrier, sqlite_runtime, change, reason
):
    """Between the WhatsApp copy and its failure report the debtor stopped SMS (or the
    number was listed, marked wrong, the debt paid): no SMS, and the record says why."""
    seeded = seed("mg", preferred_channel="whatsapp")
    whatsapp = _send(sqlite_runtime, seeded)
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        phone, debtor = session.get(Phone, seeded.phone_id), session.get(Debtor, seeded.debtor_id)
        if change == "phone_sms_opt_out":
            phone.sms_opt_out_at = now
        elif change == "debtor_sms_opt_out":
            debtor.sms_opt_out_at = now
        elif change == "block_phone":
            session.add(BlockListEntry(kind="phone", value=seeded.profile.number))
        elif change == "wrong_number":
            phone.wrong_number_at = now
        else:
            session.get(Debt, seeded.debt_id).status = "paid"
    _report(hooks, whatsapp, "failed", "63016")

    assert [m.channel for m in carrier.messages] == ["whatsapp"]
    assert [m.channel for m in _messages(sqlite_runtime)] == ["whatsapp"]
    [refused] = _events(sqlite_runtime, "sms.refused")
    assert refused.channel == "sms" and refused.data["reason"] == reason
    assert refused.data["fallback_for"] == whatsapp.id


def test_a_stop_sent_on_sms_stops_the_fallback(seed, hooks, carrier, sqlite_runtime):
    """The opt-out arrives as a reply (SAIR by SMS), the WhatsApp failure after it."""
    seeded = seed("mg", preferred_channel="whatsapp")
    whatsapp = _send(sqlite_runtime, seeded)
    hooks.post("/messaging/inbound", {"From": seeded.profile.number, "Body": "SAIR"})
    _report(hooks, whatsapp, "failed", "63016")
    assert [m.channel for m in carrier.messages] == ["whatsapp"]
    [refused] = _events(sqlite_runtime, "sms.refused")
    assert refused.data["reason"] == "sms-opt-out"


# -- end to end through the emulator --------------------------------------------------------------


@pytest.fixture
def network(sqlite_runtime, clock):
    app = create_app({"TESTING": True}, runtime=sqlite_runtime)
    emulator = CarrierEmulator(clock=clock, transport=WsgiTransport(app))
    sqlite_runtime.extras["carrier"] = emulator.carrier()
    return emulator


def test_through_the_emulator_the_template_is_delivered(seed, sqlite_runtime, network):
    seeded = seed("mg", preferred_channel="whatsapp")
    message = _send(sqlite_runtime, seeded)
    network.run_until_idle()
    [emulated] = network.messages.values()
    assert emulated.content_sid == EMULATOR_WHATSAPP_CONTENT_SIDS["pt-BR"]
    assert emulated.from_ == f"whatsapp:{EMULATOR_WHATSAPP_FROM}"
    assert emulated.body == message.body and emulated.status == "delivered"
    assert [m.status for m in _messages(sqlite_runtime)] == ["delivered"]


def test_through_the_emulator_a_failed_whatsapp_copy_arrives_by_sms(seed, sqlite_runtime, network):
    """WhatsApp fails the copy after accepting it (here: the sender is not WhatsApp-enabled,
    63007); the status callback brings Cordial to send it by SMS, which arrives."""
    network.whatsapp_senders.clear()
    seeded = seed("mg", preferred_channel="whatsapp")
    _send(sqlite_runtime, seeded)
    network.run_until_idle()

    whatsapp, sms = network.messages.values()
    assert (whatsapp.channel, whatsapp.status, whatsapp.error_code) == ("whatsapp", "failed", 63007)
    assert (sms.channel, sms.status, sms.to) == ("sms", "delivered", seeded.profile.number)
    assert "Vencimento: 10/10/2026" in sms.body
    assert [(m.channel, m.status) for m in _messages(sqlite_runtime)] == [
        ("whatsapp", "failed"),
        ("sms", "delivered"),
    ]


def test_through_the_emulator_no_fallback_to_a_number_that_stopped_sms(
    seed, sqlite_runtime, network
):
    network.whatsapp_senders.clear()
    seeded = seed("mg", preferred_channel="whatsapp")
    with sqlite_runtime.db.session() as session:
        session.get(Debtor, seeded.debtor_id).sms_opt_out_at = sqlite_runtime.clock.now()
    _send(sqlite_runtime, seeded)
    network.run_until_idle()
    assert [m.channel for m in network.messages.values()] == ["whatsapp"]
    [refused] = _events(sqlite_runtime, "sms.refused")
    assert refused.data["reason"] == "sms-opt-out"


# -- settings and the template texts ------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"TWILIO_WHATSAPP_FROM": "11 94000-0000"}, "TWILIO_WHATSAPP_FROM"),
        ({"TWILIO_WHATSAPP_FROM": "whatsapp:5511940000000"}, "TWILIO_WHATSAPP_FROM"),
        ({"TWILIO_WHATSAPP_CONTENT_SID_PT_BR": "HX123"}, "TWILIO_WHATSAPP_CONTENT_SID_PT_BR"),
        (
            {"TWILIO_WHATSAPP_CONTENT_SID_EN_US": "MG" + "a" * 32},
            "TWILIO_WHATSAPP_CONTENT_SID_EN_US",
        ),
        (
            {
                "CORDIAL_CARRIER": "twilio",
                "TWILIO_ACCOUNT_SID": "AC1",
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_WHATSAPP_CONTENT_SID_PT_BR": PT_SID,
            },
            "TWILIO_WHATSAPP_FROM",
        ),
    ],
)
def test_bad_whatsapp_settings_are_a_clear_error_naming_the_setting(settings, named):
    with pytest.raises(ConfigError, match=named):
        load_config(settings, env_file=None)


def test_whatsapp_settings_as_operators_write_them():
    config = load_config(
        {
            "CORDIAL_CARRIER": "twilio",
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_WHATSAPP_FROM": " whatsapp:+5511940000000 ",
            "TWILIO_WHATSAPP_CONTENT_SID_PT_BR": PT_SID,
        },
        env_file=None,
    )
    assert config.whatsapp_sender() == "+5511940000000"
    assert config.whatsapp_content_sid("pt-BR") == PT_SID
    assert config.whatsapp_content_sid("en-US") is None
    emulator = load_config({}, env_file=None)
    assert emulator.whatsapp_sender() == EMULATOR_WHATSAPP_FROM
    assert emulator.whatsapp_content_sid("en-US") == EMULATOR_WHATSAPP_CONTENT_SIDS["en-US"]


def test_the_whatsapp_templates_are_in_step_across_languages_and_in_the_readme():
    books = message_books()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    variables = {b.language: b.whatsapp_second_copy.variables for b in books.values()}  # type: ignore[union-attr]
    assert variables["pt-BR"] == variables["en-US"]
    for book in books.values():
        template = book.whatsapp_second_copy
        assert template is not None
        assert set(template.samples) == set(template.variables)
        indented = "\n".join("   " + line for line in template.text.splitlines())
        assert indented in readme, f"the README's {book.language} WhatsApp template is stale"
        rendered = template.render(template.content_variables(template.samples))
        assert "{{" not in rendered and len(rendered) <= 1024  # WhatsApp's limit
    assert "SAIR" in books["pt-BR"].whatsapp_second_copy.text  # type: ignore[union-attr]
    assert "STOP" in books["en-US"].whatsapp_second_copy.text  # type: ignore[union-attr]


def test_a_template_whatsapp_would_refuse_does_not_load():
    from ivr.messaging.message_templates import TemplateError, WhatsAppTemplate

    def load(text: str, names=("a", "b")):
        return WhatsAppTemplate.from_raw(
            {"text": text, "variables": [{n: "x"} for n in names]}, "test"
        )

    assert load("Hi {{1}}, pay {{2}} today.").variables == ("a", "b")
    for bad in (
        "{{1}} and {{2}} here",
        "Hi {{1}} {{2}} today",
        "Hi {{1}}, pay {{3}} now",
        "Hi {{1}}, {{2}}",
    ):
        with pytest.raises(TemplateError):
            load(bad)
    assert json.dumps(
        load("Hi {{1}}, pay {{2}} today.").content_variables({"a": "", "b": "x\ny"})
    ) == ('{"1": "-", "2": "x y"}')
