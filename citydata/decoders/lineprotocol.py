r"""InfluxDB line protocol, one reading per line: the measurement names the kind, a tag the sensor.

    air,sensor_id=lp-air-001,zone=north pm25=12.5,pm10=20i,note="fan \"B\"" 1768440600000000000

Each line is `measurement[,tag=value...] field=value[,field=value...] [timestamp]`:

- Kind: the route's kind if set, else the measurement. Sensor id: the `sensor_id` tag, else the
  topic's last level. Other tags are not kept (zone and site come from the registry). A topic
  whose last level is a registered sensor is that sensor's own: a `sensor_id` tag there naming
  another sensor makes the message an `identity_mismatch` (the pipeline checks, with the
  registry); other topics are gateways', whose lines may name any sensor.
- Fields keep their line protocol types: `1`, `1.5`, `-1.2e3` are floats, `12i` (and the
  unsigned `12u`) ints, `t`/`true`/`F`/`FALSE`... booleans and `"..."` strings, so validation
  reports booleans and strings as non_numeric. Anything else makes the line undecodable.
- The timestamp is epoch nanoseconds (no precision can be given over MQTT); without one the
  receive time is used. A timestamp that is not an integer is a `bad_timestamp` element.
- Escapes, as InfluxDB 1.x reads them: `\,` and `\ ` in the measurement; `\,` `\=` `\ ` in
  tag keys, tag values and field keys; `\"` and `\\` in string fields. A backslash always takes
  the next character with it when splitting, and a pair that is not an escape stays as written
  (`a\\b` stays `a\\b` in a tag, where InfluxDB 2's parser would give `a\b`).
- Blank lines and `#` comments are skipped; `\r\n` endings are accepted, and runs of spaces
  between sections are tolerated. Line breaks inside string fields are not supported.

A line that cannot be parsed becomes an `undecodable` element naming its line number; the
other lines are still read. `parse_line` is the parser on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citydata.decoders import DecodeError, Message, Problem, RawReading, Route

FORMAT = "lineprotocol"

FieldValue = float | int | bool | str

# Text up to an unescaped separator; a backslash always takes the next character with it.
_MEASUREMENT = re.compile(r"(?:[^\\, ]|\\.?)*")
_KEY = re.compile(r"(?:[^\\,= ]|\\.?)*")
_UNQUOTED = re.compile(r"[^, ]*")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT = re.compile(r"[+-]?[0-9]+i")
_UINT = re.compile(r"[0-9]+u")
_TIMESTAMP = re.compile(r"[+-]?[0-9]+")
_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})


class LineError(ValueError):
    """A line that cannot be read; `reason` is the dead-letter reason code."""

    def __init__(self, detail: str, reason: str = "undecodable") -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Point:
    """One parsed line."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time_ns: int | None


def _end(pattern: re.Pattern[str], line: str, pos: int) -> int:
    match = pattern.match(line, pos)
    assert match is not None  # every pattern used here also matches the empty string
    return match.end()


def _unescape(raw: str, escapable: str) -> str:
    if "\\" not in raw:
        return raw
    return _ESCAPED.sub(lambda m: m[1] if m[1] in escapable else m[0], raw)


def _key(line: str, pos: int, what: str) -> tuple[str, int]:
    """A tag or field key and the position after its '='."""
    end = _end(_KEY, line, pos)
    key = _unescape(line[pos:end], ",= ")
    if not key:
        raise LineError(f"empty {what} key at column {pos + 1}")
    if end == len(line) or line[end] != "=":
        raise LineError(f"{what} key {key!r:.40} is not followed by '='")
    return key, end + 1


def _tag(line: str, pos: int) -> tuple[str, str, int]:
    key, pos = _key(line, pos, "tag")
    end = _end(_KEY, line, pos)
    if end < len(line) and line[end] == "=":
        raise LineError(f"tag {key!r:.40}: unescaped '=' in its value")
    value = _unescape(line[pos:end], ",= ")
    if not value:
        raise LineError(f"tag {key!r:.40} has an empty value")
    return key, value, end


def _typed(text: str, key: str) -> FieldValue:
    if not text:
        raise LineError(f"field {key!r:.40} has no value")
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INT.fullmatch(text) or _UINT.fullmatch(text):
        return int(text[:-1])
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise LineError(f"field {key!r:.40}: {text!r:.40} is not a number, boolean or quoted string")


def _field(line: str, pos: int) -> tuple[str, FieldValue, int]:
    key, pos = _key(line, pos, "field")
    if line.startswith('"', pos):
        match = _STRING.match(line, pos)
        if match is None:
            raise LineError(f"field {key!r:.40}: string without its closing quote")
        return key, _unescape(match[1], '"\\'), match.end()
    end = _end(_UNQUOTED, line, pos)
    return key, _typed(line[pos:end], key), end


def _spaces(line: str, pos: int) -> int:
    while pos < len(line) and line[pos] == " ":
        pos += 1
    return pos


def _timestamp(rest: str) -> int | None:
    rest = rest.strip(" ")
    if not rest:
        return None
    if _TIMESTAMP.fullmatch(rest):
        return int(rest)
    if " " in rest:
        raise LineError(f"unexpected text after the fields: {rest!r:.60}")
    raise LineError(f"timestamp {rest!r:.40} is not an integer (epoch ns)", "bad_timestamp")


def parse_line(line: str) -> Point:
    """One line (no line break, not a comment) as a Point; LineError says what is wrong."""
    pos = _end(_MEASUREMENT, line, 0)
    measurement = _unescape(line[:pos], ", ")
    if not measurement:
        raise LineError("no measurement name")
    tags: dict[str, str] = {}
    while line.startswith(",", pos):
        tag_key, tag_value, pos = _tag(line, pos + 1)
        tags[tag_key] = tag_value
    pos = _spaces(line, pos)
    if pos == len(line):
        raise LineError("no fields")
    fields: dict[str, FieldValue] = {}
    while True:
        key, value, pos = _field(line, pos)
        fields[key] = value
        if not line.startswith(",", pos):
            break
        pos += 1
    if pos < len(line) and line[pos] != " ":
        raise LineError(f"unexpected {line[pos]!r} after field {key!r:.40}")
    return Point(measurement, tags, fields, _timestamp(line[pos:]))


def _reading(line: str, number: int, route: Route, topic_sensor: str) -> RawReading:
    try:
        point = parse_line(line)
    except LineError as exc:
        problem = Problem(exc.reason, f"line {number}: {exc}")
        return RawReading(topic_sensor, route.kind or "", None, problem=problem)
    sensor_id = point.tags.get("sensor_id") or topic_sensor
    kind = route.kind or point.measurement
    if not sensor_id:
        detail = f"line {number}: no sensor_id tag and the topic's last level is empty"
        return RawReading(sensor_id, kind, None, problem=Problem("bad_topic", detail))
    values: dict[str, object] = dict(point.fields)
    return RawReading(sensor_id, kind, point.time_ns, values)


def topic_sensor(topic: str) -> str:
    """The sensor a topic names: its last level (a sensor's own topic, or a gateway's)."""
    return topic.rsplit("/", 1)[-1]


def decode(message: Message, route: Route) -> list[RawReading]:
    try:
        text = message.payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("undecodable", f"not UTF-8: {exc}") from None
    own = topic_sensor(message.topic)
    readings: list[RawReading] = []
    # split("\n"), not splitlines(): only a newline ends a line, not \v, \f or U+2028.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r").lstrip(" ")
        if not line.strip() or line.startswith("#"):
            continue
        readings.append(_reading(line, number, route, own))
    if not readings:
        raise DecodeError("undecodable", "no line protocol lines (only blanks or comments)")
    return readings
