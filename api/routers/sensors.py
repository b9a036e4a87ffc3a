"""Sensors of the registry, read-only: list (filtered, paginated) and get one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.deps import RegistryDep
from api.problems import problem_responses
from citydata.registry import Sensor, Status

router = APIRouter(prefix="/sensors", tags=["sensors"])

SENSOR_EXAMPLE: dict[str, Any] = {
    "id": "lp-air-01",
    "kind": "air",
    "name_th": "สำนักงานเทศบาล",
    "name_en": "Municipal Office",
    "status": "active",
    "latitude": 14.0005,
    "longitude": 100.146,
    "zone": "lam-phaya",
    "site": "office",
    "datum": "MSL",
    "install_date": "2024-03-01",
    "calibration": {"pm25": {"scale": 1.02, "offset": 0.5}},
    "thresholds": {},
    "meta": {"model": "PMS7003"},
    "created_at": "2026-01-05T03:00:00Z",
    "updated_at": "2026-01-05T03:00:00Z",
}


class SensorPage(BaseModel):
    """One page of sensors, with the number matching the filters in all."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [SENSOR_EXAMPLE], "total": 1, "limit": 100, "offset": 0}]
        }
    )

    items: list[Sensor]
    total: int
    limit: int
    offset: int


@router.get("", response_model=SensorPage, responses=problem_responses(422))
def list_sensors(
    registry: RegistryDep,
    kind: Annotated[str | None, Query(description="only this kind, e.g. air")] = None,
    zone: Annotated[str | None, Query(description="only this zone tag")] = None,
    status: Annotated[Status | None, Query(description="only this status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="sensors per page")] = 100,
    offset: Annotated[int, Query(ge=0, description="sensors to skip")] = 0,
) -> SensorPage:
    """Registered sensors ordered by id, matching every filter given."""
    found = registry.list(kind=kind, zone=zone, status=status)
    return SensorPage(
        items=found[offset : offset + limit], total=len(found), limit=limit, offset=offset
    )


@router.get(
    "/{sensor_id}",
    response_model=Sensor,
    responses={
        200: {"content": {"application/json": {"example": SENSOR_EXAMPLE}}},
        **problem_responses(404),
    },
)
def get_sensor(sensor_id: str, registry: RegistryDep) -> Sensor:
    """One sensor; a 404 problem when no sensor has this id."""
    return registry.get(sensor_id)
