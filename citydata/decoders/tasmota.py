"""Tasmota telemetry (`tele/{device}/SENSOR`): sensor objects flattened, device local time read.

Payload, as Tasmota publishes it every TelePeriod:

    {"Time": "2026-01-15T08:30:00", "SDS0X1": {"PM2.5": 12.3, "PM10": 20.1},
     "BME280": {"Temperature": 29.5, "Humidity": 70.2, "Pressure": 1008.1},
     "PressureUnit": "hPa", "TempUnit": "C"}

Sensor id: the `{device}` topic level (the level before `SENSOR`; with FullTopic
`%topic%/%prefix%/` the level before `tele`). Values: each sensor object's numbers as
`<Sensor>.<Key>` (`SDS0X1.PM2.5`, `BME280.Temperature`) and top-level numbers by their key;
numeric text becomes a number. Everything else is dropped: unit strings (TempUnit,
PressureUnit), other text (`DS18B20.Id`, `ENERGY.TotalStartTime`), booleans, arrays and objects
nested deeper. `Time` is the device's local time without a zone, read in the route's
`timezone` (an ambiguous or skipped local time at a DST change resolves as `zoneinfo` does,
fold 0); with SetOption52 Tasmota appends an offset, which is used instead. Until NTP has set
its clock Tasmota counts from 1970-01-01T00:00:00: a time before 2000 is taken as unknown (the
receive time is used). The kind comes from the route.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from citydata.decoders import DecodeError, Message, RawReading, Route
from citydata.decoders._common import as_number, load_object, require_kind
from citydata.timeutil import parse_rfc3339

FORMAT = "tasmota"

_LOCAL = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?"
)
# 2000-01-01T00:00:00Z: earlier times come from a clock NTP has not set yet.
_CLOCK_SET_FROM_NS = 946_684_800 * 1_000_000_000


def _sensor_id(topic: str) -> str:
    levels = topic.split("/")
    if len(levels) >= 3 and levels[-2] == "tele":
        device = levels[-3]  # FullTopic %topic%/%prefix%/: {device}/tele/SENSOR
    else:
        device = levels[-2] if len(levels) >= 2 else ""
    if not device:
        raise DecodeError("bad_topic", f"topic {topic!r} is not tele/{{device}}/SENSOR")
    return device


def _local_ns(text: str, zone_name: str) -> int:
    """Local time without a zone (as Tasmota sends it) or RFC 3339 with an offset, to ns."""
    match = _LOCAL.fullmatch(text)
    if match is None:
        try:
            return parse_rfc3339(text)
        except ValueError as exc:
            raise DecodeError("bad_timestamp", f"Time: {exc}") from None
    base, fraction = match.groups()
    try:
        local = datetime.fromisoformat(f"{base[:10]}T{base[11:]}")
    except ValueError as exc:
        raise DecodeError("bad_timestamp", f"Time {text!r}: {exc}") from None
    zone = ZoneInfo(zone_name)  # a known zone: Route checks it when it is built
    seconds = int(local.replace(tzinfo=zone).timestamp())
    return seconds * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def _time_ns(value: object, zone_name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DecodeError("bad_timestamp", f"Time {value!r:.64} is not a date-time text")
    time_ns = _local_ns(value.strip(), zone_name)
    return time_ns if time_ns >= _CLOCK_SET_FROM_NS else None


def _values(data: dict[str, object]) -> dict[str, object]:
    values: dict[str, object] = {}
    for key, item in data.items():
        if key == "Time":
            continue
        if isinstance(item, dict):
            for inner, value in item.items():
                number = as_number(value)
                if number is not None:
                    values[f"{key}.{inner}"] = number
        elif (number := as_number(item)) is not None:
            values[key] = number
    return values


def decode(message: Message, route: Route) -> list[RawReading]:
    kind = require_kind(route, FORMAT)
    sensor_id = _sensor_id(message.topic)
    data = load_object(message.payload, "Tasmota telemetry")
    time_ns = _time_ns(data.get("Time"), route.timezone)
    return [RawReading(sensor_id, kind, time_ns, _values(data))]
