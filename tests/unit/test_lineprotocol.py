"""Line protocol encoding: escaping, refused text, sorted tags and float fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citydata.lineprotocol import (
    LineProtocolError,
    encode_point,
    escape_key,
    escape_measurement,
    format_float,
)

T = 1_700_000_000_000_000_000


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("air", "air"),
        ("air quality", r"air\ quality"),
        ("air,v2", r"air\,v2"),
        ("a=b", "a=b"),  # equals signs are plain in a measurement
        ('say "hi"', r'say\ "hi"'),
        ("it's", "it's"),
        ("คุณภาพอากาศ", "คุณภาพอากาศ"),
        ("a, b", r"a\,\ b"),
    ],
)
def test_measurement_escapes_commas_and_spaces_only(name: str, expected: str) -> None:
    assert escape_measurement(name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zone", "zone"),
        ("zone name", r"zone\ name"),
        ("a,b", r"a\,b"),
        ("a=b", r"a\=b"),
        ("a, b=c", r"a\,\ b\=c"),
        ('"quoted"', '"quoted"'),
        ("it's", "it's"),
        ("ลำพญา", "ลำพญา"),
        ("ท่าจีน ฝั่งตะวันออก", r"ท่าจีน\ ฝั่งตะวันออก"),
    ],
)
def test_key_escapes_commas_equals_and_spaces(text: str, expected: str) -> None:
    assert escape_key(text) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "a\nb", "a\rb", "line\n", "ends\\", "mid\\dle", "\\,", "#comment"],
)
def test_measurement_refuses_what_a_line_cannot_carry(bad: str) -> None:
    with pytest.raises(LineProtocolError):
        escape_measurement(bad)


@pytest.mark.parametrize("bad", ["", "a\nb", "a\rb", "ends\\", "mid\\dle", "\\,"])
def test_key_refuses_what_a_line_cannot_carry(bad: str) -> None:
    with pytest.raises(LineProtocolError):
        escape_key(bad)


def test_line_protocol_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        escape_key("", "tag value")


def test_point_with_escaping_everywhere() -> None:
    line = encode_point(
        "air quality",
        {"zone name": "ท่าจีน, ใต้", "sensor_id": 'lp "01"'},
        {"pm 2.5": 12.5, "a=b": 3},
        T,
    )
    assert line == (
        r'air\ quality,sensor_id=lp\ "01",zone\ name=ท่าจีน\,\ ใต้ pm\ 2.5=12.5,a\=b=3.0 '
        "1700000000000000000"
    )


def test_point_without_tags() -> None:
    assert encode_point("water", {}, {"level": 1.25}, 0) == "water level=1.25 0"


def test_tags_are_sorted_and_fields_keep_their_order() -> None:
    line = encode_point(
        "m", {"site": "s", "b": "2", "a": "1", "zone": "z"}, {"z": 1.0, "a": 2.0}, 5
    )
    assert line == "m,a=1,b=2,site=s,zone=z z=1.0,a=2.0 5"


def test_point_needs_a_field() -> None:
    with pytest.raises(LineProtocolError, match="field"):
        encode_point("air", {"sensor_id": "s1"}, {}, T)


@pytest.mark.parametrize(
    ("tags", "fields"),
    [
        ({"": "v"}, {"f": 1.0}),
        ({"k": ""}, {"f": 1.0}),
        ({"k": "two\nlines"}, {"f": 1.0}),
        ({"k": "back\\"}, {"f": 1.0}),
        ({"k\\": "v"}, {"f": 1.0}),
        ({"k": "v"}, {"": 1.0}),
        ({"k": "v"}, {"f\n": 1.0}),
        ({"k": "v"}, {"f\\": 1.0}),
    ],
)
def test_point_refuses_bad_tags_and_field_keys(
    tags: dict[str, str], fields: dict[str, float]
) -> None:
    with pytest.raises(LineProtocolError):
        encode_point("m", tags, fields, T)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_field_values_are_refused(value: float) -> None:
    with pytest.raises(LineProtocolError, match="finite"):
        format_float(value)
    with pytest.raises(LineProtocolError):
        encode_point("m", {}, {"ok": 1.0, "bad": value}, T)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0.0"),
        (3, "3.0"),
        (-7, "-7.0"),
        (12.5, "12.5"),
        (0.1, "0.1"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (1.5e-7, "1.5e-07"),
    ],
)
def test_floats_are_written_as_floats(value: float, expected: str) -> None:
    assert format_float(value) == expected


def test_an_int_field_is_written_as_a_float() -> None:
    # InfluxDB would store "3i" or "3" differently from later floats: always a float.
    assert encode_point("m", {}, {"count": 3}, 1) == "m count=3.0 1"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_reads_back_exactly(value: float) -> None:
    text = format_float(value)
    assert float(text) == value
    assert "." in text or "e" in text  # never an integer literal
    assert text == repr(value)  # the shortest round-tripping text


def test_time_is_written_as_integer_nanoseconds() -> None:
    assert encode_point("m", {}, {"f": 1.0}, 1_700_000_000_123_456_789).endswith(
        " 1700000000123456789"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("normal", '"normal"'),
        ("สถานี 1", '"สถานี 1"'),
        ('say "hi"', r'"say \"hi\""'),
        ("a\\b", r'"a\\b"'),
        ("a, b=c", '"a, b=c"'),
        ("", '""'),
    ],
)
def test_string_fields_are_quoted_with_quotes_and_backslashes_escaped(
    value: str, expected: str
) -> None:
    assert encode_point("m", {}, {"f": value}, T) == f"m f={expected} {T}"


def test_string_fields_cannot_carry_line_breaks() -> None:
    with pytest.raises(LineProtocolError, match="line break"):
        encode_point("m", {}, {"f": "two\nlines"}, T)
