"""Thai AQI (PCD method): from concentrations in the query, for every air station now, and
one station's hourly history. Averaging and coverage rules: citydata.aqi_averages."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.auth import ReadAccess
from api.deps import InfluxDep, RegistryDep, SettingsDep
from api.problems import invalid_input, problem_responses
from api.stations import Station, sensor_of_kind, station, stations_of
from citydata.aqi import AVERAGING_HOURS, POLLUTANTS, UNITS, AboveMethod, AqiResult, calculate
from citydata.aqi_averages import (
    COVERAGE,
    HOUR_NS,
    LONGEST_H,
    WindowAverage,
    current_averages,
    floor_hour,
    hourly_means,
    min_hours,
    moving_averages,
    window_average,
)
from citydata.registry import Sensor
from citydata.timeutil import as_datetime, parse_rfc3339

router = APIRouter(prefix="/aqi", tags=["aqi"])

MAX_HISTORY_DAYS = 90
COVERAGE_RULE = (
    "Each average is the mean of the window's hourly means (an hour counts when it has a "
    f"reading); it is valid when at least {COVERAGE:.0%} of the window's hours have data "
    "(18 of 24 for PM2.5 and PM10, 6 of 8 for O3 and CO, 1 of 1 for NO2 and SO2), "
    "otherwise the pollutant is left out of the AQI."
)

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


class AqiStation(Station):
    """One air station's current AQI from its moving averages, or null with the reason."""

    as_of: datetime  # the end of every averaging window (a whole hour)
    aqi: AqiResult | None
    reason_en: str | None
    reason_th: str | None
    windows: list[WindowAverage]  # one per pollutant, in POLLUTANTS order
    newest_used: datetime | None  # the newest reading among the averages used
    stale: bool  # no pollutant reading within the kind's offline_after_s before as_of


class AqiStations(BaseModel):
    """The current AQI of every air station."""

    as_of: datetime
    coverage_rule: str
    items: list[AqiStation]


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


def _aqi_station(
    sensor: Sensor, end_ns: int, windows: dict[str, WindowAverage] | None, above_200: str
) -> AqiStation:
    if windows is None:
        windows = {p: window_average(p, end_ns, None, 0, None) for p in POLLUTANTS}
    used = [w for w in windows.values() if w.average is not None]
    result = (
        calculate({w.pollutant: w.average for w in used}, as_datetime(end_ns), above_200)
        if used
        else None
    )
    seen = [w.newest for w in windows.values() if w.newest is not None]
    reason_en = reason_th = None
    if not seen:
        before = f"{as_datetime(end_ns):%Y-%m-%dT%H:%MZ}"
        reason_en = f"no air-quality readings in the {LONGEST_H} h before {before}"
        reason_th = f"ไม่มีข้อมูลคุณภาพอากาศในช่วง {LONGEST_H} ชั่วโมงที่ผ่านมา"
    elif result is None:
        reason_en = "no pollutant has enough hourly data for its average (see windows)"
        reason_th = "ไม่มีสารมลพิษใดมีข้อมูลรายชั่วโมงเพียงพอสำหรับคำนวณค่าเฉลี่ย"
    return AqiStation(
        **station(sensor).model_dump(),
        as_of=as_datetime(end_ns),
        aqi=result,
        reason_en=reason_en,
        reason_th=reason_th,
        windows=[windows[p] for p in POLLUTANTS],
        newest_used=max((w.newest for w in used if w.newest is not None), default=None),
        stale=not seen or sensor.offline_after((as_datetime(end_ns) - max(seen)).total_seconds()),
    )


_AT_HELP = "RFC 3339 with a zone: when the windows end, rounded down to the hour; default now"


@router.get(
    "",
    response_model=AqiStations,
    responses={
        200: {"content": {"application/json": {"example": STATIONS_EXAMPLE}}},
        **problem_responses(422),
    },
)
def current_aqi(
    _: ReadAccess,
    settings: SettingsDep,
    registry: RegistryDep,
    influx: InfluxDep,
    zone: Annotated[str | None, Query(description="only stations in this zone")] = None,
    at: Annotated[str | None, _time(_AT_HELP)] = None,
) -> AqiStations:
    """Every air station's AQI from its moving averages: 24 h for PM2.5 and PM10, 8 h for O3
    and CO, 1 h for NO2 and SO2, each the mean of hourly means with enough hours of data."""
    end_ns = floor_hour(_ns(at, "at"))
    averages = current_averages(influx, end_ns)
    items = [
        _aqi_station(s, end_ns, averages.get(s.id), settings.aqi_above_200)
        for s in stations_of(registry, "air", zone)
    ]
    return AqiStations(as_of=as_datetime(end_ns), coverage_rule=COVERAGE_RULE, items=items)


class HistoryPoint(BaseModel):
    """The AQI as of one whole hour: its averages and how many hours each had."""

    time: datetime  # the end of every window
    aqi: int | None
    level: int | None
    colour_hex: str | None
    dominant: str | None
    estimate: bool
    sub_indices: dict[str, int]
    averages: dict[str, float | None]  # null: too few hours with data
    hours_with_data: dict[str, int]


class AqiHistory(BaseModel):
    """One air station's AQI hour by hour over [start, end]."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sensor_id": "lp-air-01",
                    "name_th": "สำนักงานเทศบาลตำบลลำพญา",
                    "name_en": "Lam Phaya Municipal Office",
                    "start": "2026-01-31T00:00:00Z",
                    "end": "2026-01-31T01:00:00Z",
                    "coverage_rule": COVERAGE_RULE,
                    "min_hours": {p: min_hours(h) for p, h in AVERAGING_HOURS.items()},
                    "points": [
                        {
                            "time": "2026-01-31T01:00:00Z",
                            "aqi": 105,
                            "level": 4,
                            "colour_hex": "#FFA200",
                            "dominant": "pm25",
                            "estimate": False,
                            "sub_indices": {"pm25": 105},
                            "averages": {p: 40.0 if p == "pm25" else None for p in POLLUTANTS},
                            "hours_with_data": {p: 24 if p == "pm25" else 0 for p in POLLUTANTS},
                        }
                    ],
                }
            ]
        }
    )

    sensor_id: str
    name_th: str
    name_en: str
    start: datetime
    end: datetime
    coverage_rule: str
    min_hours: dict[str, int]
    points: list[HistoryPoint]


def _history_point(
    end_ns: int, averages: dict[str, tuple[float | None, int]], above_200: str
) -> HistoryPoint:
    values = {p: avg for p, (avg, _) in averages.items() if avg is not None}
    result = calculate(values, as_datetime(end_ns), above_200)
    return HistoryPoint(
        time=as_datetime(end_ns),
        aqi=result.aqi,
        level=result.level,
        colour_hex=result.colour_hex,
        dominant=result.dominant,
        estimate=result.estimate,
        sub_indices={s.pollutant: s.aqi for s in result.sub_indices},
        averages={p: avg for p, (avg, _) in averages.items()},
        hours_with_data={p: n for p, (_, n) in averages.items()},
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
    if start_ns > end_ns:
        invalid_input(("query", "start"), "start must not be after end")
    if end_ns - start_ns > MAX_HISTORY_DAYS * 24 * HOUR_NS:
        invalid_input(("query", "start"), f"start/end span at most {MAX_HISTORY_DAYS} days")
    first, last = floor_hour(start_ns + HOUR_NS - 1), floor_hour(end_ns)
    ends = range(first, last + 1, HOUR_NS)
    hourly = (
        hourly_means(influx, first - LONGEST_H * HOUR_NS, last, sensor_id=sensor_id).get(
            sensor_id, {}
        )
        if ends
        else {}
    )
    return AqiHistory(
        sensor_id=sensor.id,
        name_th=sensor.name_th,
        name_en=sensor.name_en,
        start=as_datetime(start_ns),
        end=as_datetime(end_ns),
        coverage_rule=COVERAGE_RULE,
        min_hours={p: min_hours(h) for p, h in AVERAGING_HOURS.items()},
        points=[
            _history_point(t, moving_averages(hourly, t), settings.aqi_above_200) for t in ends
        ],
    )
