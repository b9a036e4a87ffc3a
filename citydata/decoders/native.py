"""The native format: topic `sensors/{kind}/{sensor_id}`, payload a JSON object or array of them,
each `{"ts": <RFC 3339 | epoch s | epoch ms>, "<metric>": <number>, ...}`; `ts` is optional."""

from __future__ import annotations

import orjson

from citydata.decoders import DecodeError, Message, Problem, RawReading, Route
from citydata.timeutil import parse_timestamp

FORMAT = "native"


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
    try:
        data = orjson.loads(message.payload)
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8, NaN, and integers over 64 bits
        raise DecodeError("undecodable", f"not JSON: {exc}") from None
    if isinstance(data, list):
        if not data:
            raise DecodeError("undecodable", "empty JSON array")
        return [_element(item, i, kind, sensor_id) for i, item in enumerate(data)]
    return [_element(data, None, kind, sensor_id)]
