"""The default simulated fleet: air, water and traffic sensors around Lam Phaya, Nakhon Pathom."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from citydata.registry import Registry, Sensor, UpsertResult

_SITES = {"air": "community", "water": "waterway", "traffic": "road"}


@dataclass(frozen=True, slots=True)
class SimSensor:
    sensor_id: str
    kind: str
    name_en: str
    name_th: str
    lat: float
    lon: float
    format: str = "native"  # payload format, one of simulators.formats.ENCODERS

    @property
    def topic(self) -> str:
        return f"sensors/{self.kind}/{self.sensor_id}"


# Lam Phaya municipality lies on the Tha Chin river around 14.0 N, 100.2 E (Bang Len district).
LAM_PHAYA: tuple[SimSensor, ...] = (
    SimSensor(
        "lp-air-01",
        "air",
        "Lam Phaya Municipal Office",
        "สำนักงานเทศบาลตำบลลำพญา",
        14.0005,
        100.1460,
    ),
    SimSensor("lp-air-02", "air", "Lam Phaya Floating Market", "ตลาดน้ำลำพญา", 14.0028, 100.1431),
    SimSensor("lp-air-03", "air", "Wat Lam Phaya", "วัดลำพญา", 14.0040, 100.1445),
    SimSensor("lp-air-04", "air", "Lam Phaya School", "โรงเรียนลำพญา", 13.9968, 100.1502),
    SimSensor(
        "lp-air-05",
        "air",
        "Health Promoting Hospital",
        "โรงพยาบาลส่งเสริมสุขภาพตำบลลำพญา",
        13.9941,
        100.1478,
    ),
    SimSensor("lp-air-06", "air", "Rice fields north", "ทุ่งนาด้านเหนือ", 14.0150, 100.1520),
    SimSensor("lp-air-07", "air", "Route 3233 junction", "แยกทางหลวง 3233", 13.9902, 100.1561),
    SimSensor("lp-air-08", "air", "Market road", "ถนนตลาด", 13.9985, 100.1410),
    SimSensor("lp-air-09", "air", "Community east", "ชุมชนฝั่งตะวันออก", 14.0060, 100.1605),
    SimSensor("lp-air-10", "air", "Community south", "ชุมชนฝั่งใต้", 13.9860, 100.1455),
    SimSensor(
        "lp-water-01",
        "water",
        "Tha Chin river at Lam Phaya pier",
        "แม่น้ำท่าจีน ท่าน้ำลำพญา",
        14.0021,
        100.1418,
    ),
    SimSensor(
        "lp-water-02", "water", "Tha Chin river downstream", "แม่น้ำท่าจีน ท้ายน้ำ", 13.9890, 100.1395
    ),
    SimSensor("lp-water-03", "water", "Khlong Lam Phaya", "คลองลำพญา", 14.0080, 100.1495),
    SimSensor("lp-water-04", "water", "Khlong Bang Len", "คลองบางเลน", 13.9950, 100.1550),
    SimSensor(
        "lp-traffic-01", "traffic", "Route 3233 northbound", "ทางหลวง 3233 ขาเข้า", 13.9905, 100.1565
    ),
    SimSensor(
        "lp-traffic-02", "traffic", "Route 3233 southbound", "ทางหลวง 3233 ขาออก", 13.9900, 100.1558
    ),
    SimSensor(
        "lp-traffic-03", "traffic", "Floating market road", "ถนนเข้าตลาดน้ำ", 14.0015, 100.1440
    ),
    SimSensor(
        "lp-traffic-04", "traffic", "Bridge over Tha Chin", "สะพานข้ามแม่น้ำท่าจีน", 14.0035, 100.1405
    ),
    SimSensor("lp-traffic-05", "traffic", "School road", "ถนนหน้าโรงเรียน", 13.9970, 100.1498),
    SimSensor(
        "lp-traffic-06",
        "traffic",
        "Municipal office road",
        "ถนนหน้าสำนักงานเทศบาล",
        14.0000,
        100.1470,
    ),
)


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
        from simulators.models.traffic import free_speed  # the models import this module

        return {"thresholds": {"speed": {"free_flow": free_speed(sensor)}}, "meta": meta}
    return {"meta": meta}


def register_fleet(
    registry: Registry, sensors: Iterable[SimSensor], zone: str = "lam-phaya"
) -> UpsertResult:
    """Add the fleet to the registry, or bring it up to date (safe to repeat)."""
    return registry.upsert_many(registry_entries(sensors, zone))
