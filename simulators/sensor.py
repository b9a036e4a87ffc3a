"""A simulated sensor: its id, kind, names, place and the payload format it publishes in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimSensor:
    sensor_id: str
    kind: str
    name_en: str
    name_th: str
    lat: float
    lon: float
    format: str = "native"  # payload format, one of simulators.encoders.all_encoders()

    @property
    def topic(self) -> str:
        return f"sensors/{self.kind}/{self.sensor_id}"
