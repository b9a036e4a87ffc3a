"""Sensors of the registry: list, get, create, update and retire, each with when it was last heard.

Every sensor answered carries `last_seen` (the time of its newest point in InfluxDB) and
`online` (see citydata.readings.last_seen): "never_seen", "offline", "online", or "unknown"
while InfluxDB cannot be asked, so the registry stays usable without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from api.auth import OperatorAccess, ReadAccess
from api.deps import InfluxDep, KindQuery, LatestCacheDep, RegistryDep
from api.problems import problem_responses
from citydata.influx import InfluxClient
from citydata.readings.last_seen import Heard, Online, heard
from citydata.readings.latest import LatestReading, latest_readings
from citydata.registry import Calibration, Sensor, Status
from citydata.registry.model import (
    TIMESTAMPS,
    Levels,
    Meta,
    MetricName,
    Name,
    Number,
    Tag,
)

router = APIRouter(prefix="/sensors", tags=["sensors"])

NEW_SENSOR_EXAMPLE: dict[str, Any] = {
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
}
SENSOR_EXAMPLE: dict[str, Any] = {
    **NEW_SENSOR_EXAMPLE,
    "created_at": "2026-01-05T03:00:00Z",
    "updated_at": "2026-01-05T03:00:00Z",
    "last_seen": "2026-01-31T07:00:00Z",
    "online": "online",
    "offline_after_s": 1800.0,
}


class SensorView(Sensor):
    """A registered sensor, with when it was last heard from and whether it is online."""

    model_config = ConfigDict(json_schema_extra={"examples": [SENSOR_EXAMPLE]})

    last_seen: datetime | None
    online: Online
    offline_after_s: float


class NewSensor(Sensor):
    """A sensor to register: the fields of Sensor but the timestamps, which the server sets."""

    model_config = ConfigDict(json_schema_extra={"examples": [NEW_SENSOR_EXAMPLE]})

    created_at: SkipJsonSchema[None] = None
    updated_at: SkipJsonSchema[None] = None


class SensorPage(BaseModel):
    """One page of sensors, with the number matching the filters in all."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [SENSOR_EXAMPLE], "total": 1, "limit": 100, "offset": 0}]
        }
    )

    items: list[SensorView]
    total: int
    limit: int
    offset: int


class SensorChanges(BaseModel):
    """The fields to change; absent ones stay. id and kind cannot change (register a new sensor
    and retire this one instead); the timestamps are the server's."""

    # Extra keys are collected and each refused by name, alongside every other problem.
    model_config = ConfigDict(
        extra="allow",
        str_strip_whitespace=True,
        json_schema_extra={
            "additionalProperties": False,
            "examples": [{"status": "maintenance", "meta": {"note": "cleaning the inlet"}}],
        },
    )

    name_th: Name | None = None
    name_en: Name | None = None
    status: Status | None = None
    latitude: Number | None = None
    longitude: Number | None = None
    zone: Tag | None = None
    site: Tag | None = None
    datum: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    install_date: date | None = None
    calibration: dict[MetricName, Calibration] | None = None
    thresholds: dict[MetricName, Levels] | None = None
    meta: Meta | None = None


def views(
    influx: InfluxClient,
    sensors: list[Sensor],
    every_latest: Callable[[], Sequence[LatestReading]] | None = None,
) -> list[SensorView]:
    """`sensors` with their last-seen time and online status, in the same order (from
    `every_latest` when given: see `heard`)."""
    return [
        SensorView.model_validate(
            {
                **sensor.model_dump(),
                "last_seen": seen.last_seen,
                "online": seen.online,
                "offline_after_s": sensor.offline_limit_s,
            }
        )
        for sensor, seen in zip(sensors, heard(influx, sensors, every_latest), strict=True)
    ]


@router.get("", response_model=SensorPage, responses=problem_responses(401, 403, 422, 503))
def list_sensors(
    registry: RegistryDep,
    influx: InfluxDep,
    cache: LatestCacheDep,
    _: ReadAccess,
    kind: KindQuery = None,
    zone: Annotated[str | None, Query(description="only this zone tag")] = None,
    status: Annotated[Status | None, Query(description="only this status")] = None,
    online: Annotated[
        Heard | None, Query(description="only sensors online, offline or never seen")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="sensors per page")] = 100,
    offset: Annotated[int, Query(ge=0, description="sensors to skip")] = 0,
) -> SensorPage:
    """Registered sensors ordered by id, matching every filter given, with their last-seen time
    and online status. Filtering by `online` looks up every matching sensor, not just a page.
    The last-seen times come from the latest readings of the whole registry, which every
    reader shares for CITYDATA_API_LATEST_CACHE_S (2 s), as `GET /readings/latest` does."""
    found = registry.list(kind=kind, zone=zone, status=status)
    every_latest = partial(latest_readings, influx, registry, cache)
    if online is None:
        items = views(influx, found[offset : offset + limit], every_latest)
        total = len(found)
    else:
        every = views(influx, found, every_latest)
        if any(v.online == "unknown" for v in every):
            raise HTTPException(503, detail="InfluxDB cannot be asked when sensors were last seen")
        matching = [v for v in every if v.online == online]
        items, total = matching[offset : offset + limit], len(matching)
    return SensorPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{sensor_id}",
    response_model=SensorView,
    responses={
        200: {"content": {"application/json": {"example": SENSOR_EXAMPLE}}},
        **problem_responses(401, 403, 404),
    },
)
def get_sensor(
    sensor_id: str, registry: RegistryDep, influx: InfluxDep, _: ReadAccess
) -> SensorView:
    """One sensor; a 404 problem when no sensor has this id."""
    (view,) = views(influx, [registry.get(sensor_id)])
    return view


def _from_pydantic(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ("body", *err["loc"]), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors()
    ]


@router.post(
    "",
    status_code=201,
    response_model=SensorView,
    responses=problem_responses(400, 401, 403, 409, 422),
)
def create_sensor(
    new: NewSensor,
    registry: RegistryDep,
    influx: InfluxDep,
    response: Response,
    _: OperatorAccess,
) -> SensorView:
    """Register a sensor; a 409 problem when the id is taken, a 422 listing every invalid
    field. Its readings are accepted as soon as the collectors reread the registry; replay its
    dead letters (POST /operations/deadletters/replay) to recover what it sent before."""
    stored = registry.add(Sensor.model_validate(new.model_dump()))
    response.headers["Location"] = f"/sensors/{stored.id}"
    (view,) = views(influx, [stored])
    return view


def _refused(extra: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A problem for each key of the body that is not an editable field."""
    out = []
    for name in sorted(extra or {}):
        if name in ("id", "kind"):
            msg = f"{name} cannot be changed: register a new sensor and retire this one"
        elif name in TIMESTAMPS:
            msg = "is set by the server"
        else:
            msg = f"not an editable field (editable: {', '.join(SensorChanges.model_fields)})"
        out.append({"loc": ("body", name), "msg": msg, "type": "read_only"})
    return out


@router.patch(
    "/{sensor_id}",
    response_model=SensorView,
    responses=problem_responses(400, 401, 403, 404, 422),
)
def update_sensor(
    sensor_id: str,
    changes: SensorChanges,
    registry: RegistryDep,
    influx: InfluxDep,
    _: OperatorAccess,
) -> SensorView:
    """Change some fields of a sensor. The result is validated as a whole (a metric must be
    one of its kind's, a placed status needs a location), and every problem is listed."""
    fields = changes.model_dump(exclude_unset=True, exclude=set(changes.model_extra or {}))
    problems = _refused(changes.model_extra)
    try:  # checked here too, so that one answer lists every problem
        Sensor.model_validate({**registry.get(sensor_id).as_dict(), **fields})
    except ValidationError as exc:
        problems += _from_pydantic(exc)
    if problems:
        raise RequestValidationError(problems)
    (view,) = views(influx, [registry.update(sensor_id, **fields)])
    return view


@router.post(
    "/{sensor_id}/retire",
    response_model=SensorView,
    responses=problem_responses(401, 403, 404),
)
def retire_sensor(
    sensor_id: str, registry: RegistryDep, influx: InfluxDep, _: OperatorAccess
) -> SensorView:
    """Mark a sensor retired: it stays registered with its history, and the collectors refuse
    its new readings (dead letters with reason `retired`). Retiring twice changes nothing; a
    pending sensor (auto-registered, never placed) can be retired as it is."""
    retired = registry.retire(sensor_id)
    (view,) = views(influx, [retired])
    return view
