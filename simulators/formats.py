"""Payload formats a simulated device publishes in, and the collector routes that read them.

Every format carries the metric names as they are, so the routes need no field maps; the
topic names the kind where the format itself does not. Device ids: ChirpStack reports the
DevEUI in lower case and Sensor.Community `esp8266-<chip id>`, so give such sensors ids of
that form. Sensor.Community bodies carry no time: the collector uses the receive time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone

from citydata.routes import Route
from simulators.faults import Outgoing, malform

ICT = timezone(timedelta(hours=7))
Encoder = Callable[[Outgoing], tuple[str, bytes]]


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def native(m: Outgoing) -> tuple[str, bytes]:
    return m.sensor.topic, _json({"ts": rfc3339(m.t), **m.values})


def ttn(m: Outgoing) -> tuple[str, bytes]:
    sid, app = m.sensor.sensor_id, f"{m.sensor.kind}@citydata"
    body = {
        "end_device_ids": {"device_id": sid, "application_ids": {"application_id": app}},
        "received_at": rfc3339(m.t),
        "uplink_message": {"f_port": 2, "received_at": rfc3339(m.t), "decoded_payload": m.values},
    }
    return f"v3/{app}/devices/{sid}/up", _json(body)


def chirpstack(m: Outgoing) -> tuple[str, bytes]:
    eui = m.sensor.sensor_id.lower()
    body = {
        "time": datetime.fromtimestamp(m.t, UTC).isoformat(),
        "deviceInfo": {"devEui": eui, "deviceName": m.sensor.name_en},
        "fPort": 2,
        "object": m.values,
    }
    return f"application/{m.sensor.kind}/device/{eui}/event/up", _json(body)


def tasmota(m: Outgoing) -> tuple[str, bytes]:
    local = datetime.fromtimestamp(m.t, ICT).replace(tzinfo=None).isoformat(timespec="seconds")
    return f"{m.sensor.kind}/{m.sensor.sensor_id}/tele/SENSOR", _json({"Time": local, **m.values})


def sensor_community(m: Outgoing) -> tuple[str, bytes]:
    chip = m.sensor.sensor_id.removeprefix("esp8266-")
    values = [{"value_type": k, "value": f"{v}"} for k, v in m.values.items()]
    body = {"esp8266id": chip, "software_version": "citydata-sim", "sensordatavalues": values}
    return f"luftdaten/{m.sensor.kind}/{m.sensor.sensor_id}", _json(body)


def senml(m: Outgoing) -> tuple[str, bytes]:
    records: list[dict[str, object]] = [{"n": k, "v": v} for k, v in m.values.items()]
    records[0] = {"bn": f"{m.sensor.sensor_id}:", "bt": m.t, **records[0]}
    return f"senml/{m.sensor.kind}/{m.sensor.sensor_id}", _json(records)


def lineprotocol(m: Outgoing) -> tuple[str, bytes]:
    fields = ",".join(f"{k}={float(v)!r}" for k, v in m.values.items())
    line = f"{m.sensor.kind},sensor_id={m.sensor.sensor_id} {fields} {round(m.t * 1e9)}"
    return f"lineprotocol/{m.sensor.kind}/{m.sensor.sensor_id}", line.encode()


ENCODERS: dict[str, Encoder] = {
    "native": native,
    "ttn": ttn,
    "chirpstack": chirpstack,
    "tasmota": tasmota,
    "sensor_community": sensor_community,
    "senml": senml,
    "lineprotocol": lineprotocol,
}


def encode(m: Outgoing, fmt: str = "native") -> tuple[str, bytes]:
    """Topic and payload of one message in format `fmt` (cut short when malformed)."""
    topic, body = ENCODERS[fmt](m)
    return topic, malform(body) if m.malformed else body


_TOPICS = {
    "chirpstack": "application/+/device/+/event/up",
    "sensor_community": "luftdaten/+/+",
    "senml": "senml/+/+",
    "lineprotocol": "lineprotocol/+/+",
}


def routes_for(formats: Iterable[str], kinds: Iterable[str]) -> list[Route]:
    """The collector routes that read these formats for these kinds (native last)."""
    wanted, routes = set(formats), []
    for fmt in sorted(wanted - {"native"}):
        if fmt == "ttn":
            routes += [
                Route(topic=f"v3/{k}@citydata/devices/+/up", format="ttn", kind=k)
                for k in sorted(set(kinds))
            ]
        elif fmt == "tasmota":
            routes.append(
                Route(topic="+/+/tele/SENSOR", format=fmt, kind_level=0, timezone="Asia/Bangkok")
            )
        else:
            routes.append(Route(topic=_TOPICS[fmt], format=fmt, kind_level=1))
    return [*routes, Route(topic="sensors/#")]
