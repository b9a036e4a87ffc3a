"""SenML (RFC 8428) JSON records, the base name carrying the sensor id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from citydata.routes import Route
from simulators.encoders._common import as_json

if TYPE_CHECKING:
    from simulators.faults import Outgoing

FORMAT = "senml"


def encode(m: Outgoing) -> tuple[str, bytes]:
    records: list[dict[str, object]] = [{"n": k, "v": v} for k, v in m.values.items()]
    records[0] = {"bn": f"{m.sensor.sensor_id}:", "bt": m.t, **records[0]}
    return f"senml/{m.sensor.kind}/{m.sensor.sensor_id}", as_json(records)


def routes(kinds: Sequence[str]) -> list[Route]:
    return [Route(topic="senml/+/+", format=FORMAT, kind_level=1)]
