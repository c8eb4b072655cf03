"""Whatever goes wrong, the carrier gets valid TwiML with status 200: an apology when the
database is down, a polite goodbye for nonsense, never a 5xx or a stack trace."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.db import Database

from .carrier_helpers import Call, assert_speaks_before_hanging_up, said, verbs

CLOSED_SERVER = "postgresql+psycopg://cordial@127.0.0.1:9/cordial?connect_timeout=2"


def test_the_database_going_down_mid_call_gets_an_apology_not_an_error(start_call, sqlite_runtime):
    call, _ = start_call("sp")
    call.answer()
    healthy = sqlite_runtime.db
    sqlite_runtime.db = Database(CLOSED_SERVER)
    try:
        twiml = call.press("1")
        assert verbs(twiml) == ["Say", "Hangup"]
        assert "dificuldade técnica" in said(twiml) and twiml.find("Say").get("language") == "pt-BR"
        status = call.status("completed", CallDuration="20")
        assert status.status_code == 200
        wait = call.hooks.post(
            f"/voice/queue/wait?attempt={call.attempt_id}&lang=pt-BR&limit=60", {"QueueTime": "3"}
        )
        assert wait.status_code == 200 and b"<Say" in wait.data  # the hold prompt needs no database
    finally:
        sqlite_runtime.db.dispose()
        sqlite_runtime.db = healthy


def test_a_disposed_engine_is_no_excuse_either(start_call, sqlite_runtime):
    call, _ = start_call("us")
    sqlite_runtime.db.dispose()  # pools reconnect; the call goes on
    assert call.answer().find("Gather") is not None


def test_an_answer_with_the_database_down_apologises_in_the_language_of_the_url(
    hooks, sqlite_runtime
):
    healthy = sqlite_runtime.db
    sqlite_runtime.db = Database(CLOSED_SERVER)
    try:
        response = hooks.post(
            "/voice/answer?attempt=1&lang=en-US", {"CallSid": "CA1", "AnsweredBy": "human"}
        )
        assert response.status_code == 200
        assert "technical difficulty" in said(ET.fromstring(response.data))
    finally:
        sqlite_runtime.db.dispose()
        sqlite_runtime.db = healthy


text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
digits = st.one_of(
    st.none(), st.sampled_from(["1", "2", "3", "9", "*", "#", "", "0", "1985", "12#"]), text
)
FIELDS = {
    "Digits": digits,
    "AnsweredBy": st.one_of(
        st.sampled_from(["human", "machine_start", "machine_end_beep", "fax", "unknown"]), text
    ),
    "CallStatus": st.one_of(
        st.sampled_from(["ringing", "in-progress", "completed", "busy", "no-answer"]), text
    ),
    "CallDuration": st.one_of(st.sampled_from(["0", "12", "-1", "99999999999999999999"]), text),
    "QueueResult": st.one_of(
        st.sampled_from(["leave", "bridged", "hangup", "queue-full", "error"]), text
    ),
    "QueueTime": st.one_of(st.sampled_from(["0", "45", "-5", "1e9", "99999999999999999999"]), text),
    "CallSid": st.one_of(st.just("CA" + "a" * 32), text),
    "slots": st.one_of(
        st.sampled_from(["1795000000", "0", "-1,2", "1,2,3,4", "99999999999999"]), text
    ),
    "then": text,
    "tries": st.one_of(st.sampled_from(["0", "1", "2", "3", "-7", "1" * 30]), text),
}
PATHS = [
    "/voice/answer",
    "/voice/step/right_party",
    "/voice/step/second_factor",
    "/voice/step/menu",
    "/voice/step/callback",
    "/voice/step/queue_result",
    "/voice/step/nonsense",
    "/voice/queue/wait",
    "/voice/status",
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(PATHS),
    attempt=st.one_of(st.sampled_from(["1", "2", "0", "-1", "abc", "", "9" * 40]), text),
    lang=st.one_of(st.sampled_from(["pt-BR", "en-US", "xx"]), text),
    limit=st.one_of(st.sampled_from(["60", "0", "-1", "abc"]), text),
    form=st.fixed_dictionaries({}, optional=FIELDS),
    junk=st.dictionaries(st.text(alphabet="abcXYZ_", min_size=1, max_size=8), text, max_size=3),
)
def test_fuzzed_webhooks_never_fail_and_always_answer_twiml(
    hooks, seed, fake_facts, path, attempt, lang, limit, form, junk
):
    if not hasattr(hooks, "_seeded"):
        hooks._seeded = [
            seed("sp", second_factor="birth_year"),
            seed("us", callback_due_at=fake_facts.slots[0]),
        ]
    from urllib.parse import urlencode

    query = urlencode(
        {
            "attempt": attempt,
            "lang": lang,
            "limit": limit,
            "tries": form.get("tries", "0"),
            "slots": form.get("slots", ""),
            "then": form.get("then", ""),
        }
    )
    params = {k: v for k, v in {**junk, **form}.items() if v is not None}
    response = hooks.post(f"{path}?{query}", params)
    assert response.status_code == 200, response.data
    root = ET.fromstring(response.data)
    assert root.tag == "Response"
    assert_speaks_before_hanging_up(root)


def test_a_call_driven_by_random_keys_always_gets_a_prompt_or_a_polite_end(start_call, fake_facts):
    call, _ = start_call("sp")
    call.answer()
    for key in ["7", "1", "8", "2", "*", "4", "6", "#", "1"]:
        if call.hung_up:
            break
        twiml = call.press(key)
        assert twiml.find("Gather") is not None or call.hung_up
        assert isinstance(call, Call)
