"""Water stations now: level and DO of each, judged by citydata.stations.water."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import ReadAccess
from api.deps import InfluxDep, RegistryDep
from api.problems import problem_responses
from api.snapshot import DATA_CACHE, snapshot_body
from citydata.stations.base import sensor_of_kind
from citydata.stations.water import WaterStation, WaterStations, water_now, water_station_now
from citydata.water import M2_PERIOD_H, do_status, level_status

router = APIRouter(prefix="/water", tags=["water"])


def _example() -> dict[str, Any]:
    seen = {"time": "2026-01-31T02:58:00Z", "age_s": 120.0, "stale": False}
    thresholds = {"watch": 1.8, "warning": 2.0, "critical": 2.1, "bank": 2.4}
    return {
        "sensor_id": "lp-water-01",
        "name_th": "แม่น้ำท่าจีน ท่าน้ำลำพญา",
        "name_en": "Tha Chin river at Lam Phaya pier",
        "status": "active",
        "location": {
            "latitude": 14.0021,
            "longitude": 100.1418,
            "zone": "lam-phaya",
            "site": "waterway",
        },
        "datum": "MSL",
        "level": {
            "value_m": 2.04,
            "newest": seen,
            "thresholds": thresholds,
            "status": level_status(2.04, thresholds).model_dump(mode="json"),
            "rise": {
                "rate_m_per_h": 0.004,
                "change_m": 0.05,
                "start": "2026-01-30T14:32:48Z",
                "end": "2026-01-31T02:58:00Z",
                "lag_h": M2_PERIOD_H,
                "method": "same_tide_phase",
            },
        },
        "do": {
            "value_mg_l": 3.6,
            "newest": seen,
            "water_class": 3,
            "status": do_status(3.6, 3).model_dump(mode="json"),
        },
        "notes": [],
    }


EXAMPLE = _example()


@router.get(
    "/status",
    response_model=WaterStations,
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
async def water_status(
    request: Request,
    _: ReadAccess,
    registry: RegistryDep,
    influx: InfluxDep,
    zone: Annotated[str | None, Query(description="only stations in this zone")] = None,
) -> WaterStations:
    """Every water station's newest level against its thresholds (normal, watch, warning,
    critical, overflowing the bank) with the margin in metres, and DO against its class.
    Without `zone`, the answer comes from the city snapshot (at most CITYDATA_API_SNAPSHOT_S
    old) with an ETag."""
    if zone is None and (body := snapshot_body(request, "water")) is not None:
        return body.response(request, DATA_CACHE)  # type: ignore[return-value]
    return await run_in_threadpool(water_now, influx, registry, zone)


@router.get(
    "/status/{sensor_id}",
    response_model=WaterStation,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE}}},
        **problem_responses(404, 422),
    },
)
def water_station_status(
    _: ReadAccess, sensor_id: str, registry: RegistryDep, influx: InfluxDep
) -> WaterStation:
    """One water station's status; 404 when unknown, 422 when not a water station."""
    sensor = sensor_of_kind(registry, sensor_id, "water", "a water station")
    return water_station_now(influx, sensor)
