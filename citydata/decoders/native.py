"""The native format: topic `sensors/{kind}/{sensor_id}`, payload a JSON object or array of them,
each `{"ts": <RFC 3339 | epoch s | epoch ms>, "<metric>": <number>, ...}`; `ts` is optional.

The topic names the sensor. An object may repeat it as `"sensor_id"` (some firmware does); one
that names another sensor makes the whole message an `identity_mismatch`: a device may publish
only on its own topic, so a payload speaking for another sensor is not believed."""

from __future__ import annotations

from citydata.decoders import DecodeError, Message, Problem, RawReading, Route, identity_mismatch
from citydata.decoders._common import load_json
from citydata.timeutil import parse_timestamp

FORMAT = "native"
ID_KEY = "sensor_id"


def split_topic(topic: str) -> tuple[str, str]:
    """(kind, sensor_id) from `sensors/{kind}/{sensor_id}` (any prefix levels are ignored)."""
    levels = topic.split("/")
    if len(levels) < 3 or not levels[-1] or not levels[-2]:
        raise DecodeError("bad_topic", f"topic {topic!r} is not sensors/{{kind}}/{{sensor_id}}")
    return levels[-2], levels[-1]


def _element(item: object, index: int | None, kind: str, sensor_id: str) -> RawReading:
    where = "" if index is None else f"element {index}: "
    if not isinstance(item, dict):
        return RawReading(
            sensor_id,
            kind,
            None,
            problem=Problem(
                "undecodable", f"{where}expected a JSON object, got {type(item).__name__}"
            ),
        )
    values = dict(item)
    values.pop(ID_KEY, None)  # the same as the topic's: decode checked it
    ts = values.pop("ts", None)
    time_ns = None
    if ts is not None:
        try:
            time_ns = parse_timestamp(ts)
        except ValueError as exc:
            return RawReading(
                sensor_id, kind, None, values, Problem("bad_timestamp", f"{where}{exc}")
            )
    return RawReading(sensor_id, kind, time_ns, values)


def decode(message: Message, route: Route) -> list[RawReading]:
    kind, sensor_id = split_topic(message.topic)
    kind = route.kind or kind
    data = load_json(message.payload)
    items = data if isinstance(data, list) else [data]
    _check_identity(items, sensor_id, message.topic)
    if isinstance(data, list):
        if not data:
            raise DecodeError("undecodable", "empty JSON array")
        return [_element(item, i, kind, sensor_id) for i, item in enumerate(data)]
    return [_element(data, None, kind, sensor_id)]


def _check_identity(items: list[object], sensor_id: str, topic: str) -> None:
    """DecodeError("identity_mismatch") if an object names a sensor other than the topic's."""
    for item in items:
        named = item.get(ID_KEY) if isinstance(item, dict) else None
        if named is not None and named != sensor_id:
            raise identity_mismatch(named, topic, sensor_id)
