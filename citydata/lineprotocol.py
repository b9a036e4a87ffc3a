"""InfluxDB line protocol encoding, with the escaping rules of the 1.x/2.x/3 parsers.

Measurements escape commas and spaces; tag keys, tag values and field keys escape commas,
equals signs and spaces. Quotes and non-ASCII text (Thai names) need no escaping. Line breaks
cannot be represented, and InfluxDB reads a backslash before an escaped character differently
in tag values and field keys (a field key of backslash and comma fails to parse), so both are
refused. Numeric fields are always floats: InfluxDB rejects a float after an integer in one
field, and every metric is a float in this platform. The few string fields (names and labels of
the derived series, docs/derived.md) are quoted, with backslashes and double quotes escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ "})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})


class LineProtocolError(ValueError):
    """A name, tag or value that line protocol cannot carry."""


def _check_text(what: str, text: str) -> None:
    if not text:
        raise LineProtocolError(f"{what} is empty")
    if "\n" in text or "\r" in text:
        raise LineProtocolError(f"{what} {text!r} contains a line break")
    if "\\" in text:
        raise LineProtocolError(f"{what} {text!r} contains a backslash")


def escape_measurement(name: str) -> str:
    """A measurement name as written in a line."""
    _check_text("measurement", name)
    if name.startswith("#"):  # the line would be read as a comment
        raise LineProtocolError(f"measurement {name!r} starts with '#'")
    return name.translate(_MEASUREMENT)


def escape_key(text: str, what: str = "key") -> str:
    """A tag key, tag value or field key as written in a line."""
    _check_text(what, text)
    return text.translate(_KEY)


def format_float(value: float) -> str:
    """A field value: the shortest text that reads back as the same float."""
    if not math.isfinite(value):
        raise LineProtocolError(f"field value {value} is not finite")
    return repr(float(value))


def format_string(value: str) -> str:
    """A string field value, quoted; line breaks cannot be carried."""
    if "\n" in value or "\r" in value:
        raise LineProtocolError(f"string field {value[:64]!r} contains a line break")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_field(value: float | str) -> str:
    """A field value: a float, or a quoted string."""
    return format_string(value) if isinstance(value, str) else format_float(value)


# The same few names, sensor ids and tag sets recur in every batch: escape each once.
_measurement = lru_cache(maxsize=1024)(escape_measurement)
_key = lru_cache(maxsize=65536)(escape_key)


@lru_cache(maxsize=65536)
def _series(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """The measurement and sorted tags of a line, as written: the same for every reading of a
    sensor, so made once per sensor rather than once per reading."""
    tag_text = "".join(f",{_key(k, 'tag key')}={_key(v, 'tag value')}" for k, v in tags)
    return _measurement(measurement) + tag_text


@lru_cache(maxsize=65536)
def _field_key(name: str) -> str:
    return escape_key(name, "field key")


def encode_point(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, float | str],
    time_ns: int,
) -> str:
    """One line, without its newline. Tags are sorted, as InfluxDB prefers; fields keep their
    order (floats, or strings where a schema names them)."""
    if not fields:
        raise LineProtocolError("a point needs at least one field")
    series = _series(measurement, tuple(sorted(tags.items())))
    # A finite float (v - v is 0.0; NaN and infinities are not) is written as format_float
    # writes it, without its calls; anything else goes through format_field and its checks.
    field_text = ",".join(
        [
            f"{_field_key(k)}={repr(v) if type(v) is float and v - v == 0.0 else format_field(v)}"
            for k, v in fields.items()
        ]
    )
    return f"{series} {field_text} {int(time_ns)}"
