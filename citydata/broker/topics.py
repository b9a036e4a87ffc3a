"""Where each payload format carries a device's id in its MQTT topic: the one topic per route on
which the ACL lets a device publish, so that it can speak for no other sensor.

Per format (see each decoder in citydata/decoders/):

- native: `.../{kind}/{sensor_id}`, the last two levels;
- senml, lineprotocol, sensor_community: the last level (`luftdaten/esp8266-15225252`);
- tasmota: `tele/{device}/SENSOR` (or `{device}/tele/SENSOR`).

ttn and chirpstack messages are published by the network server, for all its devices, on
`.../devices/{device}/up` and `.../device/{dev_eui}/event/up`: devices never connect to the
broker themselves, so those formats (and any format not listed here) are left to gateway
credentials. Wildcards of the route's filter are filled as the HTTP ingestion fills them
(api/routers/ingest.py: `#` takes `{kind}/{id}` for native and `{id}` otherwise, a `+` the
id, or the kind at the route's `kind_level`); a `+` at a level naming neither stays a `+`.
"""

from __future__ import annotations

from collections.abc import Callable

from citydata.routes import Route

Levels = list[str]


def _fill(levels: Levels, index: int, value: str) -> bool:
    """Put `value` at `levels[index]` if that level is `+` or already `value`."""
    if -index > len(levels) or levels[index] not in ("+", value):
        return False
    levels[index] = value
    return True


def _kind_then_id(levels: Levels, sensor_id: str, kind: str) -> bool:
    if levels[-1] == "#":
        levels[-1:] = [kind, sensor_id]
        return True
    return _fill(levels, -2, kind) and _fill(levels, -1, sensor_id)


def _id_last(levels: Levels, sensor_id: str, kind: str) -> bool:
    if levels[-1] == "#":
        levels[-1:] = [sensor_id]
        return True
    return _fill(levels, -1, sensor_id)


def _tasmota(levels: Levels, sensor_id: str, kind: str) -> bool:
    if levels[-1] == "#":
        levels[-1:] = [sensor_id, "SENSOR"]
        return True
    device = -3 if len(levels) >= 3 and levels[-2] == "tele" else -2
    return _fill(levels, -1, "SENSOR") and _fill(levels, device, sensor_id)


PLACES: dict[str, Callable[[Levels, str, str], bool]] = {
    "native": _kind_then_id,
    "senml": _id_last,
    "lineprotocol": _id_last,
    "sensor_community": _id_last,
    "tasmota": _tasmota,
}


def carries_device_id(route: Route) -> bool:
    """True when devices of this route's format publish on a topic naming their id."""
    return route.format in PLACES


def device_topic(route: Route, sensor_id: str, kind: str) -> str | None:
    """The topic (a filter, when the route's has other wildcards) on which the device
    `sensor_id` of `kind` publishes for `route`; None when the route is not for this device
    (another kind, a filter that names other ids) or its format names no device in the topic."""
    place = PLACES.get(route.format)
    if place is None or (route.kind is not None and route.kind != kind):
        return None
    levels = route.topic.split("/")
    if route.kind_level is not None and not _fill(levels, route.kind_level, kind):
        return None
    return "/".join(levels) if place(levels, sensor_id, kind) else None
