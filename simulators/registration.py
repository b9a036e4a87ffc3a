"""A simulated fleet in the sensor registry: its sensors as an operator would register them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from citydata.registry import Sensor
from simulators.models.traffic import free_speed
from simulators.sensor import SimSensor

if TYPE_CHECKING:  # the registry's database libraries load only when one is opened
    from citydata.registry import Registry, UpsertResult

_SITES = {"air": "community", "water": "waterway", "traffic": "road"}


def registry_entries(sensors: Iterable[SimSensor], zone: str = "lam-phaya") -> list[Sensor]:
    """The fleet as registry sensors (active, placed, tagged with a zone and a site)."""
    return [
        Sensor(
            id=s.sensor_id,
            kind=s.kind,
            name_th=s.name_th,
            name_en=s.name_en,
            latitude=s.lat,
            longitude=s.lon,
            zone=zone,
            site=_SITES.get(s.kind, s.kind),
            **_station_settings(s),
        )
        for s in sensors
    ]


def _station_settings(sensor: SimSensor) -> dict[str, Any]:
    """Thresholds and metadata the status routes read, as an operator would register them.
    The levels are made up for the simulated gauges (m MSL, around T.15's critical 2.10 m),
    not official figures."""
    meta = {"source": "simulator"}
    if sensor.kind == "water":
        canal = sensor.name_en.startswith("Khlong")
        levels = (1.6, 1.8, 1.9, 2.0) if canal else (1.8, 2.0, 2.1, 2.3)
        names = ("watch", "warning", "critical", "bank")
        return {
            "thresholds": {"level": dict(zip(names, levels, strict=True))},
            "meta": {**meta, "water_class": "3"},  # DOMAIN.md: the Tha Chin is probably class 3
        }
    if sensor.kind == "traffic":
        return {"thresholds": {"speed": {"free_flow": free_speed(sensor)}}, "meta": meta}
    return {"meta": meta}


def register_fleet(
    registry: Registry, sensors: Iterable[SimSensor], zone: str = "lam-phaya"
) -> UpsertResult:
    """Add the fleet to the registry, or bring it up to date (safe to repeat)."""
    return registry.upsert_many(registry_entries(sensors, zone))
