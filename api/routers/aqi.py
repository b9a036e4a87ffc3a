"""Thai AQI (PCD method): from concentrations in the query, for every air station now, and
one station's hourly history (citydata.stations.aqi)."""

from __future__ import annotations

import time
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import ReadAccess
from api.deps import InfluxDep, RegistryDep, SettingsDep
from api.problems import invalid_input, problem_responses
from api.snapshot import DATA_CACHE, snapshot_body
from citydata.aqi import AVERAGING_HOURS, UNITS, AboveMethod, AqiResult, calculate
from citydata.readings.hourly import HOUR_NS
from citydata.stations import aqi as stations_aqi
from citydata.stations.aqi import COVERAGE_RULE, AqiHistory, AqiStations
from citydata.stations.aqi_windows import window_average
from citydata.stations.base import sensor_of_kind
from citydata.timeutil import parse_rfc3339

router = APIRouter(prefix="/aqi", tags=["aqi"])

AQI_EXAMPLE: dict[str, Any] = calculate({"pm25": 40.0, "pm10": 60.0}).model_dump(mode="json")


def _concentration(pollutant: str) -> Any:
    return Query(
        ge=0,
        allow_inf_nan=False,
        description=f"{pollutant} in {UNITS[pollutant]}, {AVERAGING_HOURS[pollutant]} h average",
    )


@router.get(
    "/calculate",
    response_model=AqiResult,
    responses={
        200: {"content": {"application/json": {"example": AQI_EXAMPLE}}},
        **problem_responses(422),
    },
)
def calculate_aqi(
    _: ReadAccess,
    settings: SettingsDep,
    pm25: Annotated[float | None, _concentration("pm25")] = None,
    pm10: Annotated[float | None, _concentration("pm10")] = None,
    o3: Annotated[float | None, _concentration("o3")] = None,
    co: Annotated[float | None, _concentration("co")] = None,
    no2: Annotated[float | None, _concentration("no2")] = None,
    so2: Annotated[float | None, _concentration("so2")] = None,
    at: Annotated[
        datetime | None,
        Query(
            description="when the averages end (naive means Thai time); "
            "PM2.5 before June 2023 uses the old row"
        ),
    ] = None,
    above_200: Annotated[
        AboveMethod | None,
        Query(
            description="how to number level 5 (no official formula above 200): extrapolate "
            "the level-4 line, or cap at 201; default CITYDATA_AQI_ABOVE_200"
        ),
    ] = None,
) -> AqiResult:
    """The overall AQI, its level, colour, names and advice, and every sub-index."""
    values = {"pm25": pm25, "pm10": pm10, "o3": o3, "co": co, "no2": no2, "so2": so2}
    if all(v is None for v in values.values()):
        invalid_input(
            ("query",), "at least one pollutant is required: " + ", ".join(values), "missing"
        )
    try:
        return calculate(values, at, above_200 or settings.aqi_above_200)
    except ValueError as exc:
        invalid_input(("query",), str(exc))


def _example_station() -> dict[str, Any]:
    end = parse_rfc3339("2026-01-31T03:00:00Z")
    newest = end - 60_000_000_000
    windows = [
        window_average("pm25", end, 41.2, 24, newest),
        window_average("pm10", end, 66.0, 24, newest),
        window_average("o3", end, None, 4, newest),
        *(window_average(p, end, None, 0, None) for p in ("co", "no2", "so2")),
    ]
    return {
        "sensor_id": "lp-air-01",
        "name_th": "สำนักงานเทศบาลตำบลลำพญา",
        "name_en": "Lam Phaya Municipal Office",
        "status": "active",
        "location": {
            "latitude": 14.0005,
            "longitude": 100.146,
            "zone": "lam-phaya",
            "site": "community",
        },
        "as_of": "2026-01-31T03:00:00Z",
        "aqi": calculate({"pm25": 41.2, "pm10": 66.0}).model_dump(mode="json"),
        "reason_en": None,
        "reason_th": None,
        "windows": [w.model_dump(mode="json") for w in windows],
        "newest_used": "2026-01-31T02:59:00Z",
        "stale": False,
    }


STATIONS_EXAMPLE = {
    "as_of": "2026-01-31T03:00:00Z",
    "coverage_rule": COVERAGE_RULE,
    "items": [_example_station()],
}


# InfluxDB stores times from 1677-09-21 to 2262-04-11; times outside are clamped to this span.
EARLIEST_NS = parse_rfc3339("1678-01-01T00:00:00Z")
LATEST_NS = parse_rfc3339("2262-01-01T00:00:00Z")


def _time(description: str) -> Any:
    """An RFC 3339 date-time with a zone, given as text (parsed to the nanosecond by _ns)."""
    return Query(description=description, json_schema_extra={"format": "date-time"})


def _ns(value: str | None, name: str) -> int:
    """`value` (None means now) in epoch ns, clamped to the span InfluxDB stores."""
    if value is None:
        return time.time_ns()
    try:
        ns = parse_rfc3339(value)
    except ValueError as exc:
        invalid_input(("query", name), str(exc))
    return min(max(ns, EARLIEST_NS), LATEST_NS)


_AT_HELP = "RFC 3339 with a zone: when the windows end, rounded down to the hour; default now"


@router.get(
    "",
    response_model=AqiStations,
    responses={
        200: {"content": {"application/json": {"example": STATIONS_EXAMPLE}}},
        **problem_responses(422),
    },
)
async def current_aqi(
    request: Request,
    _: ReadAccess,
    settings: SettingsDep,
    registry: RegistryDep,
    influx: InfluxDep,
    zone: Annotated[str | None, Query(description="only stations in this zone")] = None,
    at: Annotated[str | None, _time(_AT_HELP)] = None,
) -> AqiStations:
    """Every air station's AQI from its moving averages: 24 h for PM2.5 and PM10, 8 h for O3
    and CO, 1 h for NO2 and SO2, each the mean of hourly means with enough hours of data.
    Without `zone` and `at`, the answer comes from the city snapshot (at most
    CITYDATA_API_SNAPSHOT_S old) with an ETag."""
    if zone is None and at is None and (body := snapshot_body(request, "aqi")) is not None:
        return body.response(request, DATA_CACHE)  # type: ignore[return-value]
    at_ns = _ns(at, "at")
    return await run_in_threadpool(
        partial(stations_aqi.aqi_now, zone=zone, above_200=settings.aqi_above_200),
        influx,
        registry,
        at_ns,
    )


@router.get(
    "/{sensor_id}/history",
    response_model=AqiHistory,
    responses=problem_responses(404, 422),
)
def aqi_history(
    _: ReadAccess,
    settings: SettingsDep,
    sensor_id: str,
    registry: RegistryDep,
    influx: InfluxDep,
    start: Annotated[str | None, _time("RFC 3339 with a zone; default end - 24 h")] = None,
    end: Annotated[str | None, _time("RFC 3339 with a zone; default now")] = None,
) -> AqiHistory:
    """The AQI at every whole hour in [start, end] (at most 90 days), each from the moving
    averages of hourly means ending at that hour, by the same rule as `GET /aqi`."""
    sensor = sensor_of_kind(registry, sensor_id, "air", "an air-quality station")
    end_ns = _ns(end, "end")
    start_ns = _ns(start, "start") if start else max(end_ns - 24 * HOUR_NS, EARLIEST_NS)
    return stations_aqi.aqi_history(influx, sensor, start_ns, end_ns, settings.aqi_above_200)
