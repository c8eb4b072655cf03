"""Command-line input a user can get wrong is refused with the option named and what is
expected, never with a traceback (the `cli` fixture lets exceptions through)."""

from __future__ import annotations

import pytest

from ivr.clock import parse_instant

START = "2026-11-24T09:00-03:00"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("simulate", "--start", START, "--hours", "nan"), "'--hours'"),
        (("simulate", "--start", START, "--hours", "1", "--tick", "nan"), "'--tick'"),
        (("simulate", "--start", START, "--hours", "1", "--tick", "inf"), "'--tick'"),
        (("simulate", "--start", START, "--hours", "1", "--cps", "nan"), "'--cps'"),
        (("simulate", "--start", START, "--hours", "1", "--cps", "inf"), "'--cps'"),
        (("demo", "--hours", "nan", "--no-serve"), "'--hours'"),
        (("campaign", "create", "X", "--caller-id", "+551140000000", "--cps", "nan"), "'--cps'"),
    ],
)
def test_a_float_option_refuses_nan_and_infinity(cli, args, option) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}" in result.output
    assert "is not a finite number; expected a number x with " in result.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("why", "D-1", "--at", "9999-12-31T23:59-05:00"), "--at"),
        (("plan", "--at", "1969-12-31T23:59Z"), "--at"),
        (("simulate", "--start", "0001-01-01T00:00+01:00", "--hours", "1"), "--start"),
    ],
)
def test_an_instant_out_of_range_is_refused_naming_the_option(cli, args, option) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}: instant " in result.output
    assert "expected one in the years 1970 to 2100" in result.output


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59-05:00", "0001-01-01T00:00+01:00", "1969-12-31T23:59Z", "2101-01-01"]
)
def test_parse_instant_refuses_instants_outside_1970_to_2100(text) -> None:
    with pytest.raises(ValueError, match="out of range; expected one in the years 1970 to 2100"):
        parse_instant(text)


def test_parse_instant_takes_the_edges_of_its_range() -> None:
    assert parse_instant("1970-01-01T00:00Z").year == 1970
    assert parse_instant("2100-12-31T23:59").year == 2100


@pytest.mark.parametrize("url", ["garbage", "postgresql+nodriver://cordial:secret@db/cordial"])
def test_a_bad_database_url_names_the_setting_and_what_is_expected(cli, monkeypatch, url) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    result = cli("why", "D-1")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: DATABASE_URL is not a database URL")
    assert "expected sqlite:///" in result.output and "postgresql+psycopg://" in result.output
    assert "secret" not in result.output  # the URL's password is not echoed


@pytest.mark.parametrize(
    "url, reason",
    [
        ("postgresql+psycopg://cordial:secret@127.0.0.1:1/cordial", "Connection refused"),
        ("sqlite:////proc/no-such-folder/cordial.db", "No such file or directory"),
    ],
)
def test_a_database_that_cannot_be_opened_is_a_clear_error(cli, monkeypatch, url, reason) -> None:
    """No server at the address, a folder that cannot be made: one line naming DATABASE_URL
    (its password hidden) and the reason, not a traceback."""
    monkeypatch.setenv("DATABASE_URL", url)
    result = cli("why", "D-1")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: cannot open the database (DATABASE_URL=")
    assert reason in result.output and "secret" not in result.output
    assert "Traceback" not in result.output
