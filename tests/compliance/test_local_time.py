"""Local wall-clock ranges as instants, through skipped and repeated hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from ivr.compliance.local_time import end_of_local_day, local_range_instants, minutes_of

NEW_YORK = "America/New_York"
SAO_PAULO = "America/Sao_Paulo"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_skipped_hour_has_no_instants():
    assert local_range_instants(NEW_YORK, date(2026, 3, 8), 2 * 60, 3 * 60) == ()


def test_range_across_the_skipped_hour_is_an_hour_shorter():
    spans = local_range_instants(NEW_YORK, date(2026, 3, 8), 90, 210)  # 01:30-03:30
    assert spans == ((utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30)),)


def test_repeated_hour_counts_twice():
    spans = local_range_instants(NEW_YORK, date(2026, 11, 1), 60, 120)  # 01:00-02:00
    assert spans == ((utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 7, 0)),)


def test_part_of_the_repeated_hour_is_two_spans():
    spans = local_range_instants(NEW_YORK, date(2026, 11, 1), 90, 120)  # 01:30-02:00
    assert spans == (
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 0)),
        (utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 0)),
    )


def test_brazil_kept_daylight_saving_at_midnight_until_2019():
    # 4 Nov 2018: São Paulo jumped from 00:00 to 01:00; that day began at 01:00.
    assert local_range_instants(SAO_PAULO, date(2018, 11, 4), 0, 60) == ()
    assert end_of_local_day(SAO_PAULO, date(2018, 11, 3)) == utc(2018, 11, 4, 3, 0)
    # 17 Feb 2019: back from 00:00 to 23:00, so the 16th showed 23:xx twice.
    assert end_of_local_day(SAO_PAULO, date(2019, 2, 16)) == utc(2019, 2, 17, 3, 0)


def test_window_edges_with_seconds_round_inwards():
    assert minutes_of(time(8, 0, 30), is_end=False) == 8 * 60 + 1
    assert minutes_of(time(19, 59, 59), is_end=True) == 19 * 60 + 59
    assert minutes_of(time(0, 0), is_end=True) == 24 * 60
