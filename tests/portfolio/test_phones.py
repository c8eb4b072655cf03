"""Phone numbers: the fast path gives exactly phonenumbers' answer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.portfolio.phones import (
    BR_DDD_STATE,
    PhoneError,
    _fast,
    parse_phone,
    parse_phone_slow,
)
from ivr.portfolio.validation import BR_STATES


def outcome(parse, text: str, region: str):
    try:
        return parse(text, region)
    except PhoneError:
        return "invalid"


digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def brazilian_numbers(draw) -> str:
    ddd = f"{draw(st.integers(10, 99))}"
    size = draw(st.sampled_from([7, 8, 9, 10]))
    first = draw(st.sampled_from("0123456789" if size != 9 else "9999876"))
    rest = draw(st.text(alphabet="0123456789", min_size=size - 1, max_size=size - 1))
    subscriber = first + rest
    style = draw(st.integers(0, 6))
    if style == 0:
        return ddd + subscriber
    if style == 1:
        return f"({ddd}) {subscriber[:-4]}-{subscriber[-4:]}"
    if style == 2:
        return f"+55 {ddd} {subscriber[:-4]}-{subscriber[-4:]}"
    if style == 3:
        return f"0{ddd} {subscriber}"  # long-distance prefix: the slow path
    if style == 4:
        return f"{ddd}.{subscriber[:-4]}.{subscriber[-4:]}"
    if style == 5:
        return f"55{ddd}{subscriber}"  # country code without +: the slow path
    return f" {ddd} {subscriber} "


@st.composite
def nanp_numbers(draw) -> str:
    npa = draw(st.integers(100, 999))
    nxx = draw(st.integers(100, 999))
    line = draw(st.integers(0, 9999))
    style = draw(st.integers(0, 5))
    if style == 0:
        return f"{npa}{nxx}{line:04d}"
    if style == 1:
        return f"({npa}) {nxx}-{line:04d}"
    if style == 2:
        return f"+1 {npa} {nxx} {line:04d}"
    if style == 3:
        return f"1-{npa}-{nxx}-{line:04d}"
    if style == 4:
        return f"{npa}.{nxx}.{line:04d}"
    return f"011 1 {npa} {nxx} {line:04d}"  # international prefix: the slow path


@settings(max_examples=3000, deadline=None)
@given(brazilian_numbers(), st.sampled_from(["BR", "US"]))
def test_fast_path_agrees_with_phonenumbers_on_brazilian_numbers(text: str, region: str) -> None:
    assert outcome(parse_phone, text, region) == outcome(parse_phone_slow, text, region)


@settings(max_examples=3000, deadline=None)
@given(nanp_numbers(), st.sampled_from(["US", "BR"]))
def test_fast_path_agrees_with_phonenumbers_on_nanp_numbers(text: str, region: str) -> None:
    assert outcome(parse_phone, text, region) == outcome(parse_phone_slow, text, region)


@settings(max_examples=2000, deadline=None)
@given(
    st.text(alphabet="0123456789 +-().", min_size=1, max_size=18),
    st.sampled_from(["BR", "US"]),
)
def test_fast_path_agrees_with_phonenumbers_on_any_text(text: str, region: str) -> None:
    assert outcome(parse_phone, text, region) == outcome(parse_phone_slow, text, region)


@pytest.mark.parametrize(
    ("text", "region", "e164", "line_type"),
    [
        ("(11) 98765-4321", "BR", "+5511987654321", "mobile"),
        ("11 3456-7890", "BR", "+551134567890", "landline"),
        ("+55 68 99999-1234", "US", "+5568999991234", "mobile"),
        ("(617) 555-0142", "US", "+16175550142", "unknown"),
        ("1-212-555-0199", "US", "+12125550199", "unknown"),
        ("+1 617 555 0142", "BR", "+16175550142", "unknown"),
    ],
)
def test_usual_numbers_take_the_fast_path(
    text: str, region: str, e164: str, line_type: str
) -> None:
    fast = _fast(text.strip(), region)
    assert fast is not None
    assert (fast.e164, fast.line_type) == (e164, line_type)
    assert parse_phone(text, region) == parse_phone_slow(text, region)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0800 123 4567", "toll-free"),
        ("(20) 98765-4321", "not a valid phone number"),
        ("12345", "not a valid phone number"),
        ("call me", "not a phone number"),
        ("", "empty"),
    ],
)
def test_unusable_numbers_say_why(text: str, reason: str) -> None:
    with pytest.raises(PhoneError, match=reason):
        parse_phone(text, "BR")


def test_every_area_code_phonenumbers_knows_has_a_state_and_no_other() -> None:
    valid = {
        f"{ddd}"
        for ddd in range(11, 100)
        if outcome(parse_phone_slow, f"({ddd}) 3456-7890", "BR") != "invalid"
    }
    assert valid == set(BR_DDD_STATE)
    assert set(BR_DDD_STATE.values()) == BR_STATES
