"""Traffic detectors now: congestion of the newest interval by speed ratio (DOMAIN.md section 4).

From the registry: thresholds.speed.free_flow (km/h), the detector's free-flow speed; without it
the Thai fallback bands by speed alone are used, and the entry says so.
thresholds.occupancy.congested (%, default 25) sets the occupancy hint.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import ReadAccess
from api.deps import InfluxDep, RegistryDep
from api.problems import problem_responses
from api.routers.readings import LatestReading, latest_of_kinds
from api.stations import Newest, Station, as_datetime, newest, sensor_of_kind, station, stations_of
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.registry import Sensor
from citydata.traffic import Congestion, congestion

router = APIRouter(prefix="/traffic", tags=["traffic"])

FREE_FLOW = ("speed", "free_flow")  # thresholds.speed.free_flow, km/h
OCCUPANCY = ("occupancy", "congested")  # thresholds.occupancy.congested, %
DEFAULT_OCCUPANCY_PCT = 25.0


class TrafficStation(Station):
    """One detector's newest interval and its congestion; notes say what could not be judged."""

    newest: Newest | None
    values: dict[str, float]  # every metric of the newest interval
    free_flow_kmh: float | None
    congestion: Congestion | None
    notes: list[str]


class TrafficStations(BaseModel):
    """Every traffic detector, by id."""

    time: datetime
    items: list[TrafficStation]


def _example() -> dict[str, Any]:
    values = {"count": 21.0, "interval_s": 60.0, "speed": 31.5, "occupancy": 18.2}
    return {
        "sensor_id": "lp-traffic-01",
        "name_th": "ทางหลวง 3233 ขาเข้า",
        "name_en": "Route 3233 northbound",
        "status": "active",
        "location": {
            "latitude": 13.9905,
            "longitude": 100.1565,
            "zone": "lam-phaya",
            "site": "road",
        },
        "newest": {"time": "2026-01-31T02:59:00Z", "age_s": 60.0, "stale": False},
        "values": values,
        "free_flow_kmh": 70.0,
        "congestion": congestion(31.5, 70.0, 18.2).model_dump(mode="json"),
        "notes": [],
    }


EXAMPLE = _example()


def _setting(sensor: Sensor, where: tuple[str, str]) -> float | None:
    return sensor.thresholds.get(where[0], {}).get(where[1])


def _judge(sensor: Sensor, reading: LatestReading | None, now_ns: int) -> TrafficStation:
    notes: list[str] = []
    free_flow = _setting(sensor, FREE_FLOW)
    occupancy_limit = _setting(sensor, OCCUPANCY) or DEFAULT_OCCUPANCY_PCT
    result = None
    if reading is None:
        notes.append("no reading")
    elif "speed" not in reading.values:
        notes.append("the newest interval has no speed")
    elif reading.values.get("count") == 0:
        notes.append("no vehicles in the newest interval: its speed says nothing of congestion")
    else:
        if free_flow is None:
            notes.append(
                "no free-flow speed registered (thresholds.speed.free_flow, km/h): "
                "Thai fallback bands by speed alone (> 25 km/h green, 15-25 yellow, < 15 red)"
            )
        try:
            result = congestion(
                reading.values["speed"], free_flow, reading.values.get("occupancy"), occupancy_limit
            )
        except ValueError as exc:
            notes.append(f"congestion not judged: {exc}")
    return TrafficStation(
        **station(sensor).model_dump(),
        newest=newest(sensor, reading.time_ns, now_ns) if reading else None,
        values=reading.values if reading else {},
        free_flow_kmh=free_flow,
        congestion=result,
        notes=notes,
    )


def _statuses(
    influx: InfluxClient, sensors: list[Sensor], sensor_id: str | None = None
) -> list[TrafficStation]:
    now_ns = time.time_ns()
    kind = all_kinds()["traffic"]
    expected = {s.id: kind.name for s in sensors}
    found = latest_of_kinds(
        influx,
        [kind],
        sensor_ids=[sensor_id] if sensor_id else None,
        expected=expected,
        now_ns=now_ns,
    )
    latest = {r.sensor_id: r for r in found}
    return [_judge(s, latest.get(s.id), now_ns) for s in sensors]


@router.get(
    "/status",
    response_model=TrafficStations,
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"time": "2026-01-31T03:00:00Z", "items": [EXAMPLE]}
                }
            }
        },
        **problem_responses(422),
    },
)
def traffic_status(
    _: ReadAccess,
    registry: RegistryDep,
    influx: InfluxDep,
    zone: Annotated[str | None, Query(description="only detectors in this zone")] = None,
) -> TrafficStations:
    """Every traffic detector's congestion level from its newest interval: speed over its
    free-flow speed (>= 0.75 free, 0.50-0.75 moderate, 0.25-0.50 heavy, < 0.25 stop-and-go)."""
    items = _statuses(influx, stations_of(registry, "traffic", zone))
    return TrafficStations(time=as_datetime(time.time_ns()), items=items)


@router.get(
    "/status/{sensor_id}",
    response_model=TrafficStation,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE}}},
        **problem_responses(404, 422),
    },
)
def traffic_station_status(
    _: ReadAccess, sensor_id: str, registry: RegistryDep, influx: InfluxDep
) -> TrafficStation:
    """One detector's congestion; 404 when unknown, 422 when not a traffic detector."""
    sensor = sensor_of_kind(registry, sensor_id, "traffic", "a traffic detector")
    return _statuses(influx, [sensor], sensor_id)[0]
