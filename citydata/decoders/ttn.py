"""The Things Stack (TTN v3) uplinks: the values a device's payload formatter decoded.

Topic `v3/{application}@{tenant}/devices/{device}/up`; the payload is the JSON uplink message
(https://www.thethingsindustries.com/docs/integrations/data-formats/):

    {"end_device_ids": {"device_id": "lp-air-101", "dev_eui": "70B3D57ED005A1B2", ...},
     "received_at": "2026-01-15T01:30:00.412345678Z",
     "uplink_message": {"f_port": 2, "frm_payload": "...", "received_at": "...",
                        "decoded_payload": {"pm25": 12.5, "pm": {"10": 20}},
                        "decoded_payload_warnings": ["..."], "rx_metadata": [...]}}

Sensor id: `end_device_ids.device_id` (else the topic's `devices/{device}` level); when both
are there and differ, the message is an `identity_mismatch` (The Things Stack never sends
that: someone else published on its topic tree). Time:
`uplink_message.received_at`, else the top-level `received_at`. Values: `decoded_payload`,
numbers sent as text made numbers, one level of nesting flattened with "." (`{"pm": {"2_5": 3}}`
gives `pm.2_5`); deeper values are kept as they are for validation to judge. Formatter warnings
are not values and are ignored, except that they are quoted when there is no decoded payload.
The kind comes from the route. The Things Stack omits fields holding 0, so an absent `f_port`
means port 0 (MAC commands only, never an application payload).
"""

from __future__ import annotations

from collections.abc import Mapping

from citydata.decoders import DecodeError, Message, RawReading, Route, identity_mismatch
from citydata.decoders._common import (
    flatten,
    load_object,
    require_kind,
    rfc3339_or_none,
    topic_level_after,
)

FORMAT = "ttn"


def _device_id(data: Mapping[str, object], topic: str) -> str:
    ids = data.get("end_device_ids")
    device_id = ids.get("device_id") if isinstance(ids, dict) else None
    from_topic = topic_level_after(topic, "devices")
    if isinstance(device_id, str) and device_id:
        if from_topic is not None and from_topic != device_id:
            raise identity_mismatch(device_id, topic, from_topic)
        return device_id
    if from_topic is None:
        raise DecodeError(
            "undecodable", "no end_device_ids.device_id and no devices/{device} topic level"
        )
    return from_topic


def _missing_payload(uplink: Mapping[str, object]) -> DecodeError:
    f_port = uplink.get("f_port", 0)
    detail = (
        f"uplink on f_port {f_port} has no decoded_payload: the device's uplink payload "
        "formatter is missing or failed (set one in the console for the device or application)"
    )
    if f_port == 0:
        detail += "; f_port 0 carries MAC commands only"
    warnings = uplink.get("decoded_payload_warnings")
    if isinstance(warnings, list) and warnings:
        detail += f"; formatter warnings: {'; '.join(map(str, warnings))[:200]}"
    return DecodeError("no_decoded_payload", detail)


def decode(message: Message, route: Route) -> list[RawReading]:
    kind = require_kind(route, FORMAT)
    data = load_object(message.payload, "The Things Stack uplink")
    sensor_id = _device_id(data, message.topic)
    uplink = data.get("uplink_message")
    if not isinstance(uplink, dict):
        raise DecodeError(
            "undecodable", "no uplink_message object: not an uplink (subscribe to .../up only)"
        )
    payload = uplink.get("decoded_payload")
    if payload is None:
        raise _missing_payload(uplink)
    if not isinstance(payload, dict):
        raise DecodeError(
            "undecodable", f"decoded_payload is a {type(payload).__name__}, not an object"
        )
    where, received_at = "uplink_message.received_at", uplink.get("received_at")
    if received_at is None:
        where, received_at = "received_at", data.get("received_at")
    time_ns = rfc3339_or_none(received_at, where)
    return [RawReading(sensor_id, kind, time_ns, flatten(payload))]
