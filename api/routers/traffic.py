"""Traffic detectors now: each one's congestion, judged by citydata.stations.traffic."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import ReadAccess
from api.deps import InfluxDep, RegistryDep
from api.problems import problem_responses
from api.snapshot import DATA_CACHE, snapshot_body
from citydata.stations.base import sensor_of_kind
from citydata.stations.traffic import (
    TrafficStation,
    TrafficStations,
    traffic_now,
    traffic_station_now,
)
from citydata.traffic import congestion

router = APIRouter(prefix="/traffic", tags=["traffic"])


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
async def traffic_status(
    request: Request,
    _: ReadAccess,
    registry: RegistryDep,
    influx: InfluxDep,
    zone: Annotated[str | None, Query(description="only detectors in this zone")] = None,
) -> TrafficStations:
    """Every traffic detector's congestion level from its newest interval: speed over its
    free-flow speed (>= 0.75 free, 0.50-0.75 moderate, 0.25-0.50 heavy, < 0.25 stop-and-go).
    Without `zone`, the answer comes from the city snapshot (at most CITYDATA_API_SNAPSHOT_S
    old) with an ETag."""
    if zone is None and (body := snapshot_body(request, "traffic")) is not None:
        return body.response(request, DATA_CACHE)  # type: ignore[return-value]
    return await run_in_threadpool(traffic_now, influx, registry, zone)


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
    return traffic_station_now(influx, sensor)
