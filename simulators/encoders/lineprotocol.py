"""InfluxDB line protocol, one line per reading with a nanosecond timestamp."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from citydata.routes import Route

if TYPE_CHECKING:
    from simulators.faults import Outgoing

FORMAT = "lineprotocol"


def encode(m: Outgoing) -> tuple[str, bytes]:
    fields = ",".join(f"{k}={float(v)!r}" for k, v in m.values.items())
    line = f"{m.sensor.kind},sensor_id={m.sensor.sensor_id} {fields} {round(m.t * 1e9)}"
    return f"lineprotocol/{m.sensor.kind}/{m.sensor.sensor_id}", line.encode()


def routes(kinds: Sequence[str]) -> list[Route]:
    return [Route(topic="lineprotocol/+/+", format=FORMAT, kind_level=1)]
