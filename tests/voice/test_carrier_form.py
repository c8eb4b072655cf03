"""The carrier's fields as the webhooks read them (ivr.voice.signatures.carrier_form and
carrier_values): the same fields Werkzeug's own form parsing gives, parsed once."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, request
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from ivr.voice.signatures import carrier_form, carrier_values

app = Flask(__name__)
URLENCODED = "application/x-www-form-urlencoded"

# Field names and values as text of every kind but lone surrogates (not encodable).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
fields = st.lists(st.tuples(text, text), max_size=8)
# Bodies written by hand: separators, pluses, blanks, broken escapes and escapes of ASCII
# (the hex digits here cannot make an escape of a byte above 0x7f: see the test below).
raw_bodies = st.text(st.sampled_from("xy=&+%20467;é "), max_size=40)


def _both(body: bytes | str, content_type: str = URLENCODED, query: str = ""):
    """What carrier_form gives for a POST of `body`, and what request.form gives."""
    data = body.encode() if isinstance(body, str) else body
    path = "/voice/answer" + (f"?{query}" if query else "")
    with app.test_request_context(path, method="POST", data=data, content_type=content_type):
        ours = list(carrier_form(request).items(multi=True))
    with app.test_request_context(path, method="POST", data=data, content_type=content_type):
        werkzeugs = list(request.form.items(multi=True))
    return ours, werkzeugs


@settings(max_examples=300, deadline=None)
@given(fields)
def test_an_encoded_form_gives_the_fields_werkzeug_gives(pairs):
    ours, werkzeugs = _both(urlencode(pairs))
    assert ours == werkzeugs
    named = [(k, v) for k, v in pairs if k]
    assert sorted((k, v) for k, v in ours if k) == sorted(named)  # every named field


@settings(max_examples=300, deadline=None)
@given(raw_bodies)
def test_a_body_written_by_hand_gives_the_fields_werkzeug_gives(body):
    ours, werkzeugs = _both(body)
    assert ours == werkzeugs


def test_a_body_that_is_not_utf8_gives_no_fields_as_with_werkzeug():
    assert _both(b"Body=\xff\xfe&From=%2B1") == ([], [])


def test_an_escape_that_is_not_utf8_is_a_replacement_character_where_werkzeug_keeps_it():
    """The one documented difference: no carrier sends such an escape."""
    assert _both("Body=caf%E9&From=%2B1") == (
        [("Body", "caf\ufffd"), ("From", "+1")],
        [("Body", "caf%E9"), ("From", "+1")],
    )


def test_a_multipart_form_goes_through_werkzeug():
    with app.test_request_context(
        "/voice/answer",
        method="POST",
        data={"CallSid": "CA1", "Digits": "9"},
        content_type="multipart/form-data",
    ):
        assert request.mimetype == "multipart/form-data"
        assert carrier_form(request).to_dict() == {"CallSid": "CA1", "Digits": "9"}


def test_a_get_has_no_form_and_its_values_are_the_query():
    with app.test_request_context("/voice/answer?attempt=3&CallSid=CA1", method="GET"):
        assert not carrier_form(request)
        assert carrier_values(request) == {"attempt": "3", "CallSid": "CA1"}


def test_values_are_the_query_first_then_the_form_the_first_value_of_each():
    form = urlencode([("Digits", "1"), ("Digits", "2"), ("tries", "9"), ("Blank", "")])
    with app.test_request_context(
        "/voice/step/menu?tries=1&lang=en-US", method="POST", data=form, content_type=URLENCODED
    ):
        values = carrier_values(request)
        assert values == {"tries": "1", "lang": "en-US", "Digits": "1", "Blank": ""}
        assert values == {k: request.values[k] for k in request.values}


def test_the_form_is_parsed_once_per_request_and_repeated_fields_are_all_signed():
    form = urlencode([("Digits", "1"), ("Digits", "2"), ("CallSid", "CA1")])
    with app.test_request_context(
        "/voice/answer", method="POST", data=form, content_type=URLENCODED
    ):
        first = carrier_form(request)
        assert carrier_form(request) is first
        assert first.getlist("Digits") == ["1", "2"]
        validator = RequestValidator("token")
        url = "https://cordial.example.com/voice/answer"
        # Twilio signs every value of a repeated field.
        assert validator.compute_signature(url, first) == validator.compute_signature(
            url, request.form
        )
        assert validator.compute_signature(url, first) != validator.compute_signature(
            url, {"Digits": "2", "CallSid": "CA1"}
        )
