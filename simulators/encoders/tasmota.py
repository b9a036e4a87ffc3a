"""Tasmota telemetry, its `Time` in device-local time (ICT) without a zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from citydata.routes import Route
from simulators.encoders._common import ICT, as_json

if TYPE_CHECKING:
    from simulators.faults import Outgoing

FORMAT = "tasmota"


def encode(m: Outgoing) -> tuple[str, bytes]:
    local = datetime.fromtimestamp(m.t, ICT).replace(tzinfo=None).isoformat(timespec="seconds")
    return f"{m.sensor.kind}/{m.sensor.sensor_id}/tele/SENSOR", as_json({"Time": local, **m.values})


def routes(kinds: Sequence[str]) -> list[Route]:
    return [Route(topic="+/+/tele/SENSOR", format=FORMAT, kind_level=0, timezone="Asia/Bangkok")]
