"""WhatsApp through the real twilio SDK against the emulator, as the network behaves: an
approved template (ContentSid + ContentVariables) is delivered at any time; a free-form
message reaches only a user who wrote within 24 hours, and otherwise is accepted as queued
and then fails with 63016 through the status callback; a WhatsApp message from a number
that is not a WhatsApp sender fails with 63007."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from ivr.config import EMULATOR_WHATSAPP_CONTENT_SIDS, EMULATOR_WHATSAPP_FROM
from ivr.messaging.message_templates import message_book
from ivr.telephony.carrier import MessageRequest
from ivr.telephony.twilio_carrier import TwilioCarrierError

from .conftest import RealTimeWorld, VirtualWorld

DEBTOR = "+5511999990001"
PT_TEMPLATE = EMULATOR_WHATSAPP_CONTENT_SIDS["pt-BR"]
VARIABLES = {
    "1": "Banco Exemplo",
    "2": "CNPJ 11.222.333/0001-81",
    "3": "Cordial",
    "4": "R$ 114,50",
    "5": "10/10/2026",
    "6": "PIX copia e cola 0002012636",
    "7": "+551140000000",
}


def _whatsapp(world: VirtualWorld | RealTimeWorld, **kwargs) -> MessageRequest:
    kwargs.setdefault("from_", EMULATOR_WHATSAPP_FROM)
    kwargs.setdefault("body", "Segunda via: R$ 114,50")
    return MessageRequest(
        to=DEBTOR,
        channel="whatsapp",
        status_callback=f"{world.origin}/sms-status",
        **kwargs,
    )


def _statuses(world: VirtualWorld | RealTimeWorld, sid: str) -> list[tuple[str, str | None]]:
    return [
        (s["MessageStatus"], s.get("ErrorCode"))
        for s in world.received.message_statuses
        if s["MessageSid"] == sid
    ]


def test_a_template_goes_through_the_sdk_with_its_content_sid_and_variables(
    world: VirtualWorld,
) -> None:
    info = world.carrier.send_message(
        _whatsapp(world, content_sid=PT_TEMPLATE, content_variables=VARIABLES)
    )
    world.emulator.run_until_idle()

    message = world.emulator.messages[info.sid]
    assert info.status == "queued"
    assert (
        message.to == f"whatsapp:{DEBTOR}" and message.from_ == f"whatsapp:{EMULATOR_WHATSAPP_FROM}"
    )
    assert message.content_sid == PT_TEMPLATE and message.content_variables == VARIABLES
    # The network renders the approved text: Cordial's body was not sent.
    template = message_book("pt-BR").whatsapp_second_copy
    assert template is not None and message.body == template.render(VARIABLES)
    assert "Banco Exemplo (CNPJ 11.222.333/0001-81)" in message.body
    assert "Como pagar: PIX copia e cola 0002012636" in message.body
    assert _statuses(world, info.sid) == [("queued", None), ("sent", None), ("delivered", None)]
    [audited] = world.emulator.audit_log()["messages"]
    assert audited["content_sid"] == PT_TEMPLATE and audited["content_variables"] == VARIABLES
    [created] = [e for e in audited["log"] if e["kind"] == "created"]
    assert created["content_sid"] == PT_TEMPLATE and created["content_variables"] == VARIABLES


def test_a_template_over_http_is_in_the_emulators_audit(realtime_world: RealTimeWorld) -> None:
    """The same over loopback HTTP (the SDK's own HTTP client), as `cordial demo` runs it;
    the emulator's audit endpoint shows the template and its variables."""
    world = realtime_world
    info = world.carrier.send_message(
        _whatsapp(world, content_sid=PT_TEMPLATE, content_variables=VARIABLES)
    )
    assert world.received.wait_for(lambda: len(_statuses(world, info.sid)) == 3, timeout=10)
    assert _statuses(world, info.sid)[-1] == ("delivered", None)
    audit = requests.get(
        f"{world.emulator_url}/_emulator/audit.json",
        auth=(world.emulator.account_sid, world.emulator.auth_token),
        timeout=5,
    ).json()
    [audited] = audit["messages"]
    assert audited["content_sid"] == PT_TEMPLATE and audited["content_variables"] == VARIABLES


def test_a_free_form_whatsapp_message_is_queued_then_fails_with_63016(
    world: VirtualWorld,
) -> None:
    """The defect this guards against: the API accepts a free-form business-initiated
    WhatsApp message, and only the status callback says it never went."""
    info = world.carrier.send_message(_whatsapp(world))
    assert info.status == "queued"  # accepted: no error at send time
    world.emulator.run_until_idle()

    assert _statuses(world, info.sid) == [("queued", None), ("failed", "63016")]
    message = world.emulator.messages[info.sid]
    assert message.status == "failed" and message.error_code == 63016 and message.date_sent is None
    fetched = world.carrier.client.messages(info.sid).fetch()
    assert fetched.status == "failed" and fetched.error_code == 63016
    assert "Message Template" in fetched.error_message


def test_a_free_form_reply_within_24_hours_of_the_users_message_is_delivered(
    world: VirtualWorld,
) -> None:
    world.emulator.receive_whatsapp(f"whatsapp:{DEBTOR}")
    world.emulator.run_for(23 * 3600)
    inside = world.carrier.send_message(_whatsapp(world))
    world.emulator.run_until_idle()
    world.emulator.run_for(3600)
    outside = world.carrier.send_message(_whatsapp(world, body="Mais uma"))
    world.emulator.run_until_idle()

    assert _statuses(world, inside.sid)[-1] == ("delivered", None)
    assert _statuses(world, outside.sid)[-1] == ("failed", "63016")


def test_whatsapp_from_a_number_that_is_not_a_whatsapp_sender_fails_with_63007(
    world: VirtualWorld,
) -> None:
    """A campaign's voice caller ID is not a WhatsApp sender unless registered as one."""
    info = world.carrier.send_message(
        _whatsapp(
            world, from_="+551130000000", content_sid=PT_TEMPLATE, content_variables=VARIABLES
        )
    )
    world.emulator.run_until_idle()
    assert _statuses(world, info.sid) == [("queued", None), ("failed", "63007")]


def test_an_sms_needs_no_window(world: VirtualWorld) -> None:
    info = world.carrier.send_message(
        MessageRequest(
            to=DEBTOR,
            from_="+551130000000",
            body="Segunda via",
            status_callback=f"{world.origin}/sms-status",
        )
    )
    world.emulator.run_until_idle()
    assert _statuses(world, info.sid)[-1] == ("delivered", None)


def test_an_unknown_template_is_refused_at_once(world: VirtualWorld) -> None:
    with pytest.raises(TwilioCarrierError, match="ContentSid is Invalid") as refused:
        world.carrier.send_message(
            _whatsapp(world, content_sid="HX" + "f" * 32, content_variables=VARIABLES)
        )
    assert refused.value.code == 21655 and world.emulator.messages == {}


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"ContentVariables": json.dumps(VARIABLES)}, 21654),  # variables without a template
        ({"ContentSid": "HX123"}, 21655),
        ({"ContentSid": PT_TEMPLATE, "ContentVariables": "not json"}, 21656),
        ({"ContentSid": PT_TEMPLATE, "ContentVariables": "[1, 2]"}, 21656),
    ],
)
def test_bad_template_parameters_get_twilios_errors(
    realtime_world: RealTimeWorld, form: dict[str, str], code: int
) -> None:
    emulator = realtime_world.emulator
    response = requests.post(
        f"{realtime_world.emulator_url}/2010-04-01/Accounts/{emulator.account_sid}/Messages.json",
        data={"To": f"whatsapp:{DEBTOR}", "From": f"whatsapp:{EMULATOR_WHATSAPP_FROM}", **form},
        auth=(emulator.account_sid, emulator.auth_token),
        timeout=5,
    )
    assert response.status_code == 400 and response.json()["code"] == code


def test_the_window_is_per_sender(world: VirtualWorld) -> None:
    other = "+551140000009"
    world.emulator.whatsapp_senders.add(other)
    world.emulator.receive_whatsapp(DEBTOR, other)
    to_other = world.carrier.send_message(_whatsapp(world, from_=other))
    to_default = world.carrier.send_message(_whatsapp(world, body="Outro"))
    world.emulator.run_for(timedelta(minutes=1).total_seconds())
    assert _statuses(world, to_other.sid)[-1] == ("delivered", None)
    assert _statuses(world, to_default.sid)[-1] == ("failed", "63016")
