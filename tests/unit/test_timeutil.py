"""Timestamps as sensors send them: RFC 3339 text, epoch seconds or milliseconds, to epoch ns."""

from __future__ import annotations

import pytest

from citydata.timeutil import parse_epoch, parse_rfc3339, parse_timestamp, retry_after

# 1 700 000 000 s after the epoch is 2023-11-14T22:13:20Z.
S = 1_700_000_000
NS = S * 1_000_000_000


@pytest.mark.parametrize(
    "text",
    [
        "2023-11-14T22:13:20Z",
        "2023-11-14T22:13:20z",
        "2023-11-14t22:13:20Z",
        "2023-11-14 22:13:20Z",
        "2023-11-14T22:13:20+00:00",
        "2023-11-14T22:13:20-00:00",
        "2023-11-15T05:13:20+07:00",  # Bangkok
        "2023-11-14T17:13:20-05:00",
        "2023-11-15T03:58:20+05:45",  # Kathmandu, a quarter-hour offset
    ],
)
def test_rfc3339_forms_of_one_instant(text: str) -> None:
    assert parse_rfc3339(text) == NS
    assert parse_timestamp(text) == NS


@pytest.mark.parametrize(
    ("fraction", "extra_ns"),
    [
        (".1", 100_000_000),
        (".123", 123_000_000),
        (".123456", 123_456_000),
        (".1234567", 123_456_700),
        (".123456789", 123_456_789),
        (".000000001", 1),
        (".999999999", 999_999_999),
    ],
)
def test_fractions_keep_every_nanosecond(fraction: str, extra_ns: int) -> None:
    assert parse_timestamp(f"2023-11-14T22:13:20{fraction}Z") == NS + extra_ns
    assert parse_timestamp(f"2023-11-15T05:13:20{fraction}+07:00") == NS + extra_ns


def test_fraction_before_1970_counts_forward() -> None:
    # Half a second before the epoch.
    assert parse_timestamp("1969-12-31T23:59:59.5Z") == -500_000_000


def test_epoch_zero_as_text() -> None:
    assert parse_timestamp("1970-01-01T00:00:00Z") == 0


@pytest.mark.parametrize(
    "text",
    [
        "2023-11-14T22:13:20",  # naive: no zone
        "2023-11-14 22:13:20",
        "2023-11-14T22:13:20.123",
        "2023-11-14",
        "2023-11-14T22:13Z",  # no seconds
        "2023-11-14T22:13:20.Z",
        "2023-11-14T22:13:20.1234567891Z",  # more than nanoseconds
        "2023-11-14T22:13:20+0700",
        "2023-11-14T22:13:20+07",
        "2023-11-14T22:13:20 UTC",
        "2023-02-30T00:00:00Z",  # no such day
        "2023-11-14T25:00:00Z",
        "2023-11-14T22:13:20+24:00",
        "20231114T221320Z",
        "1700000000",  # epoch as text is not a documented form
        "yesterday",
        "",
    ],
)
def test_bad_rfc3339_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_non_ascii_digits_in_the_fraction_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_timestamp("2023-11-14T22:13:20.๑Z")  # THAI DIGIT ONE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (S, NS),
        (0, 0),
        (1, 1_000_000_000),
        (S + 0.5, NS + 500_000_000),
        (1_700_000_000.123, NS + 123_000_000),  # exact, not 122999...
        (1_700_000_000.000001, NS + 1_000),
        (99_999_999_999, 99_999_999_999 * 1_000_000_000),  # largest seconds value
    ],
)
def test_epoch_seconds(value: float, expected: int) -> None:
    assert parse_epoch(value) == expected
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (S * 1000, NS),
        (1_700_000_000_123, NS + 123_000_000),
        (1_700_000_000_123.5, NS + 123_500_000),
        (100_000_000_000, 100_000_000_000 * 1_000_000),  # smallest milliseconds value
        (99_999_999_999_999, 99_999_999_999_999 * 1_000_000),
    ],
)
def test_epoch_milliseconds(value: float, expected: int) -> None:
    assert parse_epoch(value) == expected
    assert parse_timestamp(value) == expected


def test_epoch_results_are_ints() -> None:
    assert type(parse_timestamp(1_700_000_000.25)) is int
    assert type(parse_timestamp(S)) is int


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        -1,
        -0.5,
        100_000_000_000_000,  # 1e14: too big for milliseconds
        1e14,
        10**20,
        1e300,
        float("nan"),
        float("inf"),
        float("-inf"),
        None,
        [],
        [S],
        {"s": S},
        b"2023-11-14T22:13:20Z",
    ],
)
def test_what_is_not_a_time_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_retry_after_reads_seconds_or_an_http_date_and_nothing_else() -> None:
    now = 1_784_000_000.0
    assert retry_after("120") == 120.0
    assert retry_after("-5") == 0.0  # never a negative wait
    assert retry_after("nan") is None and retry_after("inf") is None
    assert retry_after(None) is None and retry_after("soon") is None
    date = "Wed, 14 Jul 2026 03:33:50 GMT"  # 30 s after `now`
    assert retry_after(date, now_s=now) == pytest.approx(30.0)
    assert retry_after(date, now_s=now + 60) == 0.0
