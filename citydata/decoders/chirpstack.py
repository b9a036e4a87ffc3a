"""ChirpStack v4 uplink events: the values a device profile's codec decoded.

Topic `application/{application_id}/device/{dev_eui}/event/up`; the payload is the JSON
uplink event (protobuf JSON, camelCase, fields holding 0 or "" omitted):

    {"deduplicationId": "...", "time": "2026-01-15T01:30:00.412345+00:00",
     "deviceInfo": {"devEui": "0004a30b001c0530", "deviceName": "...", "tags": {...}, ...},
     "fCnt": 10, "fPort": 2, "data": "...", "object": {"pm25": 12.5}, "rxInfo": [...]}

Sensor id: `deviceInfo.devEui` in lower case (else the topic's `device/{dev_eui}` level); when
both are there and differ (in any case), the message is an `identity_mismatch`.
Time: `time` (RFC 3339). Values: `object`, flattened like the TTN decoder's (one level joined
with ".", numeric text made numbers). `object` is only present when the device profile has a
codec and it succeeded; without it the message is `no_decoded_payload`. The kind comes from
the route.
"""

from __future__ import annotations

from citydata.decoders import DecodeError, Message, RawReading, Route, identity_mismatch
from citydata.decoders._common import (
    flatten,
    load_object,
    require_kind,
    rfc3339_or_none,
    topic_level_after,
)

FORMAT = "chirpstack"


def _dev_eui(data: dict[str, object], topic: str) -> str:
    info = data.get("deviceInfo")
    dev_eui = info.get("devEui") if isinstance(info, dict) else None
    from_topic = topic_level_after(topic, "device")
    if not (isinstance(dev_eui, str) and dev_eui):
        dev_eui = from_topic
    elif from_topic is not None and from_topic.lower() != dev_eui.lower():
        raise identity_mismatch(dev_eui, topic, from_topic.lower())
    if dev_eui is None:
        raise DecodeError("undecodable", "no deviceInfo.devEui and no device/{devEui} topic level")
    return dev_eui.lower()


def decode(message: Message, route: Route) -> list[RawReading]:
    kind = require_kind(route, FORMAT)
    data = load_object(message.payload, "ChirpStack uplink event")
    sensor_id = _dev_eui(data, message.topic)
    values = data.get("object")
    if values is None:
        f_port = data.get("fPort", 0)
        raise DecodeError(
            "no_decoded_payload",
            f"uplink on fPort {f_port} has no object: the device profile has no payload codec "
            "or the codec failed (ChirpStack then logs an UPLINK_CODEC event for the device)",
        )
    if not isinstance(values, dict):
        raise DecodeError("undecodable", f"object is a {type(values).__name__}, not an object")
    time_ns = rfc3339_or_none(data.get("time"), "time")
    return [RawReading(sensor_id, kind, time_ns, flatten(values))]
