"""The emulator's REST API as a plain HTTP client (and the SDK) sees it:
Twilio's JSON shapes, errors, authentication, pagination, fault injection."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest
import requests

from ivr.telephony.emulator import CarrierEmulator

from .conftest import RealTimeWorld, VirtualWorld

DEBTOR = "+5511999990001"


@pytest.fixture
def rest(realtime_world: RealTimeWorld):
    emulator = realtime_world.emulator
    session = requests.Session()
    session.auth = (emulator.account_sid, emulator.auth_token)
    base = f"{realtime_world.emulator_url}/2010-04-01/Accounts/{emulator.account_sid}"
    return session, base, realtime_world


def test_call_json_has_twilio_fields(rest) -> None:
    session, base, world = rest
    world.emulator.assign_persona(DEBTOR, "no_answer")
    created = session.post(
        f"{base}/Calls.json",
        data={
            "To": DEBTOR,
            "From": "+551140000000",
            "Url": f"{world.origin}/voice",
            "Timeout": "20",
        },
    )
    assert created.status_code == 201
    body = created.json()
    assert body["sid"].startswith("CA") and len(body["sid"]) == 34
    assert body["status"] == "queued" and body["direction"] == "outbound-api"
    assert body["to"] == DEBTOR and body["from"] == "+551140000000"
    assert (
        body["uri"] == f"/2010-04-01/Accounts/{world.emulator.account_sid}/Calls/{body['sid']}.json"
    )
    assert parsedate_to_datetime(body["date_created"]).utcoffset().total_seconds() == 0
    assert body["api_version"] == "2010-04-01"
    for field in ("start_time", "end_time", "duration", "answered_by", "parent_call_sid", "price"):
        assert field in body

    fetched = session.get(f"{base}/Calls/{body['sid']}.json").json()
    assert fetched["sid"] == body["sid"]


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": "+551140000000", "Url": "http://x.test/v"}, 21201),
        ({"To": DEBTOR, "Url": "http://x.test/v"}, 21213),
        ({"To": "not-a-number", "From": "+551140000000", "Url": "http://x.test/v"}, 21211),
        ({"To": DEBTOR, "From": "+551140000000"}, 21205),
        (
            {
                "To": DEBTOR,
                "From": "+551140000000",
                "Url": "http://x.test/v",
                "StatusCallbackEvent": "hung",
            },
            21626,
        ),
    ],
)
def test_bad_input_gets_twilio_error_json(rest, form: dict[str, str], code: int) -> None:
    session, base, _ = rest
    response = session.post(f"{base}/Calls.json", data=form)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and body["status"] == 400
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert body["message"]


def test_authentication_is_required(rest) -> None:
    _, base, _ = rest
    assert requests.get(f"{base}/Calls.json").status_code == 401
    wrong = requests.get(f"{base}/Calls.json", auth=("AC" + "0" * 32, "nope"))
    assert wrong.status_code == 401 and wrong.json()["code"] == 20003


def test_unknown_call_is_404(rest) -> None:
    session, base, _ = rest
    response = session.get(f"{base}/Calls/CA{'9' * 32}.json")
    assert response.status_code == 404 and response.json()["code"] == 20404


def test_injected_faults(rest) -> None:
    session, base, world = rest
    world.emulator.faults.fail_next("calls.list", count=1, status=429)
    limited = session.get(f"{base}/Calls.json")
    assert limited.status_code == 429 and limited.json()["code"] == 20429
    assert session.get(f"{base}/Calls.json").status_code == 200
    with pytest.raises(ValueError, match="unknown operation"):
        world.emulator.faults.fail_next("calls.delete")


def test_recording_media_is_served(realtime_world: RealTimeWorld) -> None:
    from ivr.telephony.emulator import Persona

    realtime_world.emulator.assign_persona(
        DEBTOR, Persona(name="talker", ring_seconds=1, speech="Hello there, I paid.")
    )
    info = realtime_world.carrier.place_call(realtime_world.call_request(DEBTOR, path="/record"))
    realtime_world.emulator.wait_for_call_end(info.sid, timeout=30)
    assert realtime_world.received.wait_for(lambda: realtime_world.received.forms("/recorded"))
    url = realtime_world.received.forms("/recorded")[0]["RecordingUrl"]
    assert url.startswith(realtime_world.emulator_url)
    media = requests.get(url)
    assert media.status_code == 200 and media.content[:4] == b"RIFF"


def test_sdk_pages_through_a_long_call_list(world: VirtualWorld) -> None:
    for n in range(7):
        world.place(f"+55119000000{n:02d}", "busy")
    calls = world.carrier.client.calls.list(page_size=3)
    assert len(calls) == 7
    assert len({c.sid for c in calls}) == 7
    assert [c.date_created for c in calls] == sorted((c.date_created for c in calls), reverse=True)


def test_list_filters_by_start_day_and_status(world: VirtualWorld) -> None:
    sid = world.place(DEBTOR, "busy")
    client = world.carrier.client
    assert [c.sid for c in client.calls.list(to=DEBTOR, status="queued")] == [sid]
    assert client.calls.list(to=DEBTOR, start_time_after="2026-11-24") == []  # not started yet
    world.emulator.run_until_idle()
    assert [c.sid for c in client.calls.list(to=DEBTOR, start_time_after="2026-11-24")] == [sid]
    assert client.calls.list(to=DEBTOR, start_time_after="2026-11-25") == []
    assert [c.sid for c in client.calls.list(to=DEBTOR, start_time="2026-11-24")] == [sid]
    assert [c.sid for c in client.calls.list(to=DEBTOR, status="busy")] == [sid]


def test_messages_fetch_and_list(world: VirtualWorld) -> None:
    message = world.carrier.client.messages.create(to=DEBTOR, from_="+551140000000", body="Olá")
    assert message.sid.startswith("SM") and message.status == "queued"
    world.emulator.run_until_idle()
    assert world.carrier.client.messages(message.sid).fetch().status == "delivered"
    assert [m.sid for m in world.carrier.client.messages.list(to=DEBTOR)] == [message.sid]


def test_servers_listen_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        CarrierEmulator().serve(host="0.0.0.0")
