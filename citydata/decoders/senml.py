"""SenML JSON (RFC 8428) packs: records resolved against their base fields, grouped into readings.

A pack is an array of records. Base fields (`bn` name, `bt` time, `bv` value, `bu` unit, `bver`)
apply to their own record and every later one until another record sets them again:

    [{"bn": "urn:dev:ow:10e2073a01080063:", "bt": 1768440600, "n": "temp", "u": "Cel", "v": 29.5},
     {"n": "hum", "u": "%RH", "v": 70.2},
     {"n": "temp", "t": -60, "v": 29.4}]

Sensor and metric: the resolved name is `bn + n`; the sensor id is the base name with trailing
`:` `/` `.` `-` stripped (`urn:dev:ow:10e2073a01080063`) and the metric key is `n` as sent
(`temp`; leading separators dropped, so `bn` "urn:...:0063" with `n` ":temp" gives the same;
renaming to metric names is the route's job). Without a base name the sensor id is the topic's
last level and the metric key is `n` as sent. A record whose name has nothing after the base
name is an `undecodable` element. A topic whose last level is a registered sensor is that
sensor's own: a base name there naming another sensor makes the message an `identity_mismatch`
(the pipeline checks, with the registry); other topics are gateways', which may carry any.

Time: `bt + t` seconds (either missing counts as 0), computed exactly in decimal. Per RFC 8428
§4.5.3 values of 2**28 and above are absolute epoch seconds and smaller ones are relative to
"now", for which the message's receive time stands; 0 means "roughly now" and gives no time
(the receive time is used). A `t` that is not a number is a `bad_timestamp` element.

Values: `bv + v` (exact decimal sum; numeric text in `v` is read as a number, other text in `v`
is kept for validation to report). A numeric `vs` ("12.5") is read as a number, without `bv`.
Records with only `vb` (boolean), `vd` (data), non-numeric `vs` or only a sum `s` are skipped:
no sensor kind has boolean or text metrics. Units (`bu`, `u`) are not applied: a raw reading has
no place for them, every metric has one fixed unit, and a route's `scale` converts.

Records of the same sensor at the same time become one reading, in first-seen order; a later
record for the same metric at that time overrides the earlier one. Per RFC 8428 a record with
a field ending in "_" that is not understood, or a `bver` above 10, rejects the whole pack; so
do base fields of the wrong type, since every later record depends on them. A lone record
object is read as a pack of one. The kind comes from the route.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from citydata.decoders import DecodeError, Message, Problem, RawReading, Route
from citydata.decoders._common import as_number, load_json, require_kind

FORMAT = "senml"

_VERSION = 10
_RELATIVE_BELOW = Decimal(2**28)
_NS_PER_S = Decimal(1_000_000_000)
_SEPARATORS = ":/.-"
_SKIP = object()  # a record without a numeric value


def _exact(value: int | float) -> Decimal:
    """A number as the decimal it was written as (floats by their shortest text)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _json_number(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


@dataclass(slots=True)
class _Base:
    name: str = ""
    time: Decimal = Decimal(0)
    value: int | float = 0

    def update(self, record: dict[str, object], index: int) -> None:
        """Take the base fields this record sets; a bad one rejects the pack."""
        where = f"record {index}"
        for key in record:
            if key.endswith("_"):
                raise DecodeError("undecodable", f"{where}: must-understand field {key!r}")
        if (version := record.get("bver")) is not None:
            number = _json_number(version)
            if number is None or number > _VERSION:
                raise DecodeError("undecodable", f"{where}: bver {version!r:.20} is not <= 10")
        if (name := record.get("bn")) is not None:
            if not isinstance(name, str):
                raise DecodeError("undecodable", f"{where}: bn {name!r:.40} is not text")
            self.name = name
        if (time := record.get("bt")) is not None:
            if (seconds := _json_number(time)) is None:
                raise DecodeError("bad_timestamp", f"{where}: bt {time!r:.40} is not a number")
            self.time = _exact(seconds)
        if (value := record.get("bv")) is not None:
            if (number := as_number(value)) is None:
                raise DecodeError("undecodable", f"{where}: bv {value!r:.40} is not a number")
            self.value = number

    def sensor_id(self, topic_sensor: str) -> str:
        return self.name.rstrip(_SEPARATORS) or topic_sensor


def _add(base: int | float, value: int | float) -> int | float:
    if base == 0:
        return value
    total = _exact(base) + _exact(value)
    both_int = isinstance(base, int) and isinstance(value, int)
    return int(total) if both_int else float(total)


def _value(record: dict[str, object], base: _Base) -> object:
    """The record's value with the base value added, or _SKIP."""
    if (value := record.get("v")) is not None:
        number = as_number(value)
        return value if number is None else _add(base.value, number)
    text = record.get("vs")
    number = as_number(text) if isinstance(text, str) else None
    return _SKIP if number is None else number


def _metric(record: dict[str, object], base: _Base) -> str:
    """The measurement name: `n`, without the separator that joins it to `bn`; "" if none."""
    name = record.get("n", "")
    if not isinstance(name, str):
        return ""
    return name.lstrip(_SEPARATORS) if base.name else name


def _time_ns(seconds: Decimal, received_ns: int) -> int | None:
    if seconds == 0:
        return None  # "roughly now": the receive time
    ns = int((seconds * _NS_PER_S).to_integral_value())
    return ns if seconds >= _RELATIVE_BELOW else received_ns + ns


def _records(payload: bytes) -> list[object]:
    data = load_json(payload)
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise DecodeError("undecodable", f"a SenML pack is an array, got {type(data).__name__}")
    if not data:
        raise DecodeError("undecodable", "empty SenML pack")
    return data


class _Pack:
    """Readings being assembled from one pack, keyed by (sensor id, time)."""

    def __init__(self, kind: str, topic: str, received_ns: int) -> None:
        self.kind = kind
        self.topic_sensor = topic_sensor(topic)
        self.received_ns = received_ns
        self.readings: list[RawReading] = []
        self.groups: dict[tuple[str, int | None], RawReading] = {}

    def problem(self, sensor_id: str, reason: str, detail: str) -> None:
        self.readings.append(
            RawReading(sensor_id, self.kind, None, problem=Problem(reason, detail))
        )

    def add(self, record: object, index: int, base: _Base) -> None:
        where = f"record {index}"
        if not isinstance(record, dict):
            kind = type(record).__name__
            self.problem(self.topic_sensor, "undecodable", f"{where}: not an object ({kind})")
            return
        base.update(record, index)
        value = _value(record, base)
        if value is _SKIP:
            return
        sensor_id, name = base.sensor_id(self.topic_sensor), _metric(record, base)
        if not name:
            n = record.get("n")
            detail = f"{where}: no measurement name after base name {base.name!r} (n={n!r:.40})"
            self.problem(sensor_id, "undecodable", detail)
            return
        if not sensor_id:
            self.problem(
                sensor_id, "bad_topic", f"{where}: no bn and the topic's last level is empty"
            )
            return
        time = record.get("t")
        offset = 0 if time is None else _json_number(time)
        if offset is None:
            self.problem(sensor_id, "bad_timestamp", f"{where}: t {time!r:.40} is not a number")
            return
        time_ns = _time_ns(base.time + _exact(offset), self.received_ns)
        reading = self.groups.get((sensor_id, time_ns))
        if reading is None:
            reading = self.groups[(sensor_id, time_ns)] = RawReading(sensor_id, self.kind, time_ns)
            self.readings.append(reading)
        reading.values[name] = value


def topic_sensor(topic: str) -> str:
    """The sensor a topic names: its last level (a sensor's own topic, or a gateway's)."""
    return topic.rsplit("/", 1)[-1]


def decode(message: Message, route: Route) -> list[RawReading]:
    kind = require_kind(route, FORMAT)
    pack = _Pack(kind, message.topic, message.received_ns)
    base = _Base()
    for index, record in enumerate(_records(message.payload)):
        pack.add(record, index, base)
    if not pack.readings:
        raise DecodeError(
            "undecodable", "no record has a numeric value (v, or vs holding a number)"
        )
    return pack.readings
