"""The Things Stack v3 uplinks, one application per kind (`<kind>@citydata`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from citydata.routes import Route
from simulators.encoders._common import as_json, rfc3339

if TYPE_CHECKING:
    from simulators.faults import Outgoing

FORMAT = "ttn"


def encode(m: Outgoing) -> tuple[str, bytes]:
    sid, app = m.sensor.sensor_id, f"{m.sensor.kind}@citydata"
    body = {
        "end_device_ids": {"device_id": sid, "application_ids": {"application_id": app}},
        "received_at": rfc3339(m.t),
        "uplink_message": {"f_port": 2, "received_at": rfc3339(m.t), "decoded_payload": m.values},
    }
    return f"v3/{app}/devices/{sid}/up", as_json(body)


def routes(kinds: Sequence[str]) -> list[Route]:
    return [Route(topic=f"v3/{k}@citydata/devices/+/up", format=FORMAT, kind=k) for k in kinds]
