"""Sensor.Community (airrohr firmware) custom-API bodies: values as text, no time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from citydata.routes import Route
from simulators.encoders._common import as_json

if TYPE_CHECKING:
    from simulators.faults import Outgoing

FORMAT = "sensor_community"
ID_FORM = "esp8266-<chip id>"  # the firmware's X-Sensor header
KINDS = ("air",)  # air-quality firmware
TIMED = False  # the collector stores the receive time


def encode(m: Outgoing) -> tuple[str, bytes]:
    chip = m.sensor.sensor_id.removeprefix("esp8266-")
    values = [{"value_type": k, "value": f"{v}"} for k, v in m.values.items()]
    body = {"esp8266id": chip, "software_version": "citydata-sim", "sensordatavalues": values}
    return f"luftdaten/{m.sensor.kind}/{m.sensor.sensor_id}", as_json(body)


def routes(kinds: Sequence[str]) -> list[Route]:
    return [Route(topic="luftdaten/+/+", format=FORMAT, kind_level=1)]
