"""ChirpStack v4 uplink events; ChirpStack reports the DevEUI in lower case, so ids are too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from citydata.routes import Route
from simulators.encoders._common import as_json

if TYPE_CHECKING:
    from simulators.faults import Outgoing

FORMAT = "chirpstack"


def encode(m: Outgoing) -> tuple[str, bytes]:
    eui = m.sensor.sensor_id.lower()
    body = {
        "time": datetime.fromtimestamp(m.t, UTC).isoformat(),
        "deviceInfo": {"devEui": eui, "deviceName": m.sensor.name_en},
        "fPort": 2,
        "object": m.values,
    }
    return f"application/{m.sensor.kind}/device/{eui}/event/up", as_json(body)


def routes(kinds: Sequence[str]) -> list[Route]:
    return [Route(topic="application/+/device/+/event/up", format=FORMAT, kind_level=1)]
