"""twiml_text writes exactly what twilio's TwiML.to_xml() writes, on documents built with
the SDK's classes: the replies the call flow gives, and generated documents with every
shape the SDK allows (attributes of every kind, text that needs escaping, string
children as text and tails, empty verbs, nesting)."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.twiml import GenericNode, TwiML
from twilio.twiml.voice_response import VoiceResponse

from ivr.voice.twiml_text import twiml_text

TAGS = ["Say", "Play", "Gather", "Pause", "Redirect", "Hangup", "Dial", "Number", "Enqueue", "Start"]
# Text with XML's special characters, whitespace ElementTree escapes in attributes,
# accents, and characters outside the BMP; no lone surrogates (below).
TEXT = st.text(
    alphabet=st.one_of(st.sampled_from('&<>"\'\r\n\t ;#'), st.characters(codec="utf-8")),
    max_size=12,
)
ATTRIBUTE_VALUE = st.one_of(TEXT, st.booleans(), st.integers(-5, 100), st.floats(0, 10, allow_nan=False))
ATTRIBUTE_NAME = st.from_regex(r"[a-z][a-zA-Z_]{0,8}", fullmatch=True)


def _node(tag: str, value, attributes: dict) -> TwiML:
    return GenericNode(tag, value, **attributes)


@st.composite
def documents(draw, depth: int = 0) -> TwiML:
    node = VoiceResponse() if depth == 0 else _node(
        draw(st.sampled_from(TAGS)),
        draw(st.one_of(st.none(), TEXT, st.dictionaries(ATTRIBUTE_NAME, TEXT, max_size=2))),
        draw(st.dictionaries(ATTRIBUTE_NAME, ATTRIBUTE_VALUE, max_size=4)),
    )
    for _ in range(draw(st.integers(0, 4 if depth < 3 else 0))):
        if draw(st.booleans()):
            node.nest(draw(TEXT))
        else:
            node.nest(draw(documents(depth + 1)))
    return node


@settings(max_examples=400, deadline=None)
@given(documents())
def test_generated_documents_are_written_as_the_sdk_writes_them(document: TwiML) -> None:
    expected = copy.deepcopy(document).to_xml()
    assert twiml_text(document) == expected


def test_a_reply_with_every_verb_the_flow_uses() -> None:
    response = VoiceResponse()
    gather = response.gather(action="https://x.example/voice/step/menu?attempt=1&lang=pt-BR&tries=0",
                             method="POST", num_digits=1, timeout=6, action_on_empty_result=True)
    gather.say('Olá, "Ana" & <família>', language="pt-BR", voice='odd\tvoice\r\n"&<>')
    gather.play("https://x.example/audio/pt-BR/menu.wav")
    gather.pause(length=1)
    response.redirect("https://x.example/voice/step/menu?attempt=1&lang=pt-BR&tries=1", method="POST")
    dial = response.dial(caller_id="+5511", timeout=20, record="record-from-answer")
    dial.sip("sip:agents@example.com")
    response.enqueue("agents", wait_url="https://x.example/voice/queue/wait?attempt=1", wait_url_method="POST")
    start = response.start()
    start.stream(url="wss://x.example/media?attempt=1", track="inbound_track")
    response.hangup()
    assert twiml_text(response) == copy.deepcopy(response).to_xml()
    assert twiml_text(VoiceResponse()) == VoiceResponse().to_xml()


def test_a_lone_surrogate_is_written_as_the_sdk_writes_it() -> None:
    response = VoiceResponse()
    response.say("broken \ud800 text")
    assert twiml_text(response) == copy.deepcopy(response).to_xml()
