"""The native format: JSON values with an RFC 3339 `ts`, on `sensors/{kind}/{sensor_id}`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from citydata.routes import Route
from simulators.encoders._common import as_json, rfc3339

if TYPE_CHECKING:
    from simulators.faults import Outgoing

FORMAT = "native"


def encode(m: Outgoing) -> tuple[str, bytes]:
    return m.sensor.topic, as_json({"ts": rfc3339(m.t), **m.values})


def routes(kinds: Sequence[str]) -> list[Route]:
    return [Route(topic="sensors/#")]  # the collector's default route
