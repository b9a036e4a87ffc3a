"""The line protocol decoder's parser: escaping, field types, errors, and round trips of what
citydata.lineprotocol.encode_point writes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citydata.decoders import Message, Route
from citydata.decoders.lineprotocol import LineError, Point, decode, parse_line
from citydata.lineprotocol import encode_point

T = 1_768_440_600_000_000_000  # 2026-01-15T01:30:00Z
LP = Route(topic="lp/#", format="lineprotocol")


@pytest.mark.parametrize(
    ("line", "measurement"),
    [
        ("air f=1", "air"),
        (r"air\ quality f=1", "air quality"),
        (r"air\,v2 f=1", "air,v2"),
        (r"a\,\ b f=1", "a, b"),
        ("a=b f=1", "a=b"),  # '=' is plain in a measurement
        (r"a\=b f=1", r"a\=b"),  # so its escape is not one: both characters stay
        ('say"hi" f=1', 'say"hi"'),
        ("คุณภาพอากาศ f=1", "คุณภาพอากาศ"),
        (r"a\\b f=1", r"a\\b"),  # a pair that is no escape stays as written
        ("a\tb f=1", "a\tb"),  # only spaces separate
    ],
)
def test_measurement_escapes(line: str, measurement: str) -> None:
    assert parse_line(line).measurement == measurement


@pytest.mark.parametrize(
    ("line", "tags"),
    [
        ("m,zone=north f=1", {"zone": "north"}),
        (r"m,zone\ name=north\ bank f=1", {"zone name": "north bank"}),
        (r"m,a\,b=c\,d f=1", {"a,b": "c,d"}),
        (r"m,a\=b=c\=d f=1", {"a=b": "c=d"}),
        (r"m,k=a\,\ b\=c,z=1 f=1", {"k": "a, b=c", "z": "1"}),
        ('m,q="x" f=1', {"q": '"x"'}),  # quotes are plain in tags
        (r"m,path=C:\temp f=1", {"path": r"C:\temp"}),
        (r"m,k=a\\ f=1", {"k": r"a\\"}),  # \\ is a pair: the space after it still separates
        ("m,site=ท่าจีน f=1", {"site": "ท่าจีน"}),
    ],
)
def test_tag_escapes(line: str, tags: dict[str, str]) -> None:
    assert parse_line(line).tags == tags


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        (r"m pm\ 2.5=1", {"pm 2.5": 1.0}),
        (r"m a\,b=1,c\=d=2", {"a,b": 1.0, "c=d": 2.0}),
        ('m s="a b,c=d"', {"s": "a b,c=d"}),
        (r'm s="say \"hi\""', {"s": 'say "hi"'}),
        (r'm s="C:\\temp\\"', {"s": "C:\\temp\\"}),
        (r'm s="a\nb"', {"s": "a\\nb"}),  # \n is no escape in a string field (InfluxDB 1.x)
        ('m s=""', {"s": ""}),
        ('m s="ลำพญา 🚀"', {"s": "ลำพญา 🚀"}),
        (r'm s="\\",n=1', {"s": "\\", "n": 1.0}),  # an escaped backslash does not hide the quote
    ],
)
def test_field_key_and_string_escapes(line: str, fields: dict[str, object]) -> None:
    assert parse_line(line).fields == fields


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        ("-1.5", -1.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e3", 1000.0),
        ("-1.234456e+78", -1.234456e78),
        ("12i", 12),
        ("-9223372036854775808i", -9223372036854775808),
        ("18446744073709551615u", 18446744073709551615),
        ("t", True),
        ("TRUE", True),
        ("True", True),
        ("f", False),
        ("false", False),
        ("FALSE", False),
    ],
)
def test_field_value_types(text: str, value: object) -> None:
    got = parse_line(f"m v={text}").fields["v"]
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(
    "line",
    [
        "",
        " f=1",
        ",t=1 f=1",
        "m",
        "m ",
        "m,t f=1",
        "m,t= f=1",
        "m,=v f=1",
        "m,t=v",
        "m,t=a=b f=1",
        "m f",
        "m f=",
        "m =1",
        "m f=1,",
        "m f=1,,g=2",
        "m f=abc",
        "m f=1.2.3",
        "m f=1x",
        "m f=nan",
        "m f=inf",
        "m f=0x10",
        "m f=1_000",
        "m f=-1u",
        "m f=1.5i",
        "m f=yes",
        'm f="open',
        'm f="a\\"',
        'm f="a"b',
        "m f=1 1 2",
    ],
)
def test_unparseable_lines(line: str) -> None:
    with pytest.raises(LineError) as exc:
        parse_line(line)
    assert exc.value.reason == "undecodable"
    assert str(exc.value)


@pytest.mark.parametrize("stamp", ["1.5", "2026-01-15", "abc", "1e9"])
def test_timestamp_that_is_not_an_integer(stamp: str) -> None:
    with pytest.raises(LineError) as exc:
        parse_line(f"m f=1 {stamp}")
    assert exc.value.reason == "bad_timestamp"


@pytest.mark.parametrize(
    ("line", "time_ns"),
    [
        (f"m f=1 {T}", T),
        ("m f=1", None),
        ("m f=1 ", None),
        (f"m f=1 {T}  ", T),
        ("m f=1 -5", -5),
        ("m f=1 0", 0),
        (f"m  f=1   {T}", T),  # runs of spaces between sections are tolerated
    ],
)
def test_timestamps(line: str, time_ns: int | None) -> None:
    assert parse_line(line).time_ns == time_ns


def test_a_full_line() -> None:
    line = r'air\ q,sensor_id=lp-air-001,zone\,x=n\ 1 pm25=12.5,n=3i,ok=f,s="a \"b\"" 17'
    assert parse_line(line) == Point(
        "air q",
        {"sensor_id": "lp-air-001", "zone,x": "n 1"},
        {"pm25": 12.5, "n": 3, "ok": False, "s": 'a "b"'},
        17,
    )


def _decode(text: str, topic: str = "lp/gw-01", route: Route = LP) -> list[tuple[object, ...]]:
    readings = decode(Message(topic, text.encode(), T + 5), route)
    return [
        (r.sensor_id, r.kind, r.time_ns, r.values, r.problem and r.problem.reason) for r in readings
    ]


def test_decode_skips_comments_and_blank_lines_and_numbers_lines_from_one() -> None:
    text = "# head\n\n   \n  # indented\r\nair,sensor_id=a pm25=1\nbroken\n"
    readings = decode(Message("lp/gw-01", text.encode(), T), LP)
    assert [r.values for r in readings] == [{"pm25": 1.0}, {}]
    assert readings[1].problem is not None
    assert readings[1].problem.detail.startswith("line 6: ")


def test_only_a_newline_ends_a_line() -> None:
    # \v, \f and U+2028 are line breaks to str.splitlines(), not to line protocol.
    text = 'air,sensor_id=a note="x\x0by\x0cz\u2028w",pm25=1'
    assert _decode(text) == [("a", "air", None, {"note": "x\x0by\x0cz\u2028w", "pm25": 1.0}, None)]


def test_sensor_id_falls_back_to_the_topic_and_kind_to_the_route() -> None:
    route = Route(topic="lp/#", format="lineprotocol", kind="water")
    assert _decode("gauge level=1.5", "lp/wl-01", route) == [
        ("wl-01", "water", None, {"level": 1.5}, None)
    ]


def test_an_empty_last_topic_level_without_a_sensor_id_tag_is_bad_topic() -> None:
    assert _decode("air pm25=1", "lp/") == [("", "air", None, {}, "bad_topic")]


# Round trips of what this platform writes: encode_point escapes, parse_line must undo it.

# encode_point refuses backslashes, line breaks and empty text, and '#' first in a measurement.
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\\\n\r"), min_size=1)
_MEASUREMENTS = _TEXT.filter(lambda s: not s.startswith("#"))
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_TIMES = st.integers(min_value=-(2**63) + 2, max_value=2**63 - 2)


@pytest.mark.parametrize(
    ("measurement", "tags", "fields"),
    [
        ("air", {"sensor_id": "lp-air-001"}, {"pm25": 12.5}),
        ("air quality", {"zone name": "ท่าจีน, ใต้", "sensor_id": 'lp "01"'}, {"pm 2.5": 1.0}),
        ("a,b", {"k=v": "x=y", "a, b": "c, d"}, {"f=1,g": -0.0, "x": 1e-300}),
        ("it's", {"#t": "#v"}, {'"q"': 5e20, "#": -1.5}),
    ],
)
def test_round_trip_examples(
    measurement: str, tags: dict[str, str], fields: dict[str, float]
) -> None:
    line = encode_point(measurement, tags, fields, T)
    assert parse_line(line) == Point(measurement, tags, {**fields}, T)


@given(
    measurement=_MEASUREMENTS,
    tags=st.dictionaries(_TEXT, _TEXT, max_size=4),
    fields=st.dictionaries(_TEXT, _FLOATS, min_size=1, max_size=4),
    time_ns=_TIMES,
)
def test_round_trip_of_encode_point(
    measurement: str, tags: dict[str, str], fields: dict[str, float], time_ns: int
) -> None:
    point = parse_line(encode_point(measurement, tags, fields, time_ns))
    assert point.measurement == measurement
    assert point.tags == tags
    assert point.time_ns == time_ns
    assert point.fields.keys() == fields.keys()
    for key, value in fields.items():
        got = point.fields[key]
        assert isinstance(got, float)
        assert got == value and math.copysign(1, got) == math.copysign(1, value)


@given(
    measurement=_MEASUREMENTS,
    sensor_id=_TEXT,
    fields=st.dictionaries(_TEXT, _FLOATS, min_size=1, max_size=3),
)
def test_round_trip_through_decode(
    measurement: str, sensor_id: str, fields: dict[str, float]
) -> None:
    lines = [encode_point(measurement, {"sensor_id": sensor_id}, fields, T + i) for i in range(2)]
    payload = ("# from encode_point\r\n" + "\r\n".join(lines) + "\n").encode()
    readings = decode(Message("lp/gw-01", payload, T), LP)
    assert [(r.sensor_id, r.kind, r.time_ns, r.problem) for r in readings] == [
        (sensor_id, measurement, T, None),
        (sensor_id, measurement, T + 1, None),
    ]
    assert all(r.values == fields for r in readings)
