"""What every station judgment shares: the stations of a kind, their identity and place, and
how old their newest value is."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from citydata.errors import WrongKind
from citydata.registry import Registry, Sensor
from citydata.timeutil import as_datetime

_NS = 1_000_000_000


class Location(BaseModel):
    """Where a station is; latitude and longitude are null only for a pending sensor."""

    latitude: float | None
    longitude: float | None
    zone: str
    site: str


class Station(BaseModel):
    """A registered station: id, names and place."""

    sensor_id: str
    name_th: str
    name_en: str
    status: str
    location: Location


class Newest(BaseModel):
    """When a value was measured, how old it is, and whether it is too old to trust."""

    time: datetime
    age_s: float
    stale: bool  # older than the kind's offline_after_s


def station(sensor: Sensor) -> Station:
    return Station(
        sensor_id=sensor.id,
        name_th=sensor.name_th,
        name_en=sensor.name_en,
        status=sensor.status,
        location=Location(
            latitude=sensor.latitude,
            longitude=sensor.longitude,
            zone=sensor.zone,
            site=sensor.site,
        ),
    )


def stations_of(registry: Registry, kind: str, zone: str | None) -> list[Sensor]:
    """Sensors of `kind` (in `zone` when given) by id, retired ones left out."""
    return [s for s in registry.list(kind=kind, zone=zone) if s.status != "retired"]


def sensor_of_kind(registry: Registry, sensor_id: str, kind: str, what: str) -> Sensor:
    """The sensor (SensorNotFound when unknown); WrongKind when it is not of `kind`, `what`
    naming what was asked for ("an air-quality station")."""
    sensor = registry.get(sensor_id)
    if sensor.kind != kind:
        raise WrongKind(
            f"sensor {sensor_id!r} is {'an' if sensor.kind[:1] in 'aeiou' else 'a'} "
            f"{sensor.kind} sensor, not {what}",
            "sensor_id",
        )
    return sensor


def newest(sensor: Sensor, time_ns: int, now_ns: int) -> Newest:
    age_s = (now_ns - time_ns) / _NS
    return Newest(time=as_datetime(time_ns), age_s=age_s, stale=sensor.offline_after(age_s))
