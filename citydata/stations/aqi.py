"""The Thai AQI of air stations: every station now from its moving averages, and one station
hour by hour. Averaging and coverage rules: citydata.stations.aqi_windows."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from citydata.aqi import AVERAGING_HOURS, POLLUTANTS, AqiResult, calculate
from citydata.errors import QueryError, RangeTooLarge
from citydata.influx import InfluxClient
from citydata.readings.hourly import HOUR_NS, hourly_means
from citydata.readings.last_seen import fields_last_seen
from citydata.registry import Registry, Sensor
from citydata.stations.aqi_windows import (
    COVERAGE,
    LONGEST_H,
    WindowAverage,
    floor_hour,
    min_hours,
    moving_averages,
    window_average,
)
from citydata.stations.base import Station, station, stations_of
from citydata.timeutil import as_datetime

AIR = "air"  # the kind, and the measurement, of air stations
MAX_HISTORY_DAYS = 90
COVERAGE_RULE = (
    "Each average is the mean of the window's hourly means (an hour counts when it has a "
    f"reading); it is valid when at least {COVERAGE:.0%} of the window's hours have data "
    "(18 of 24 for PM2.5 and PM10, 6 of 8 for O3 and CO, 1 of 1 for NO2 and SO2), "
    "otherwise the pollutant is left out of the AQI."
)


def current_averages(
    influx: InfluxClient, end_ns: int, measurement: str = AIR, sensor_id: str | None = None
) -> dict[str, dict[str, WindowAverage]]:
    """Each sensor's window averages ending at `end_ns` (a whole hour), from the hourly means of
    every sensor over the longest window (one query) and `moving_averages`, the rule the
    history uses too; one more query for the newest readings. A sensor with no pollutant
    reading in the longest window is absent."""
    if end_ns % HOUR_NS:
        raise ValueError("windows end on a whole hour")
    start_ns = end_ns - LONGEST_H * HOUR_NS
    hourly = hourly_means(influx, measurement, POLLUTANTS, start_ns, end_ns, sensor_id)
    spans = {p: (end_ns - AVERAGING_HOURS[p] * HOUR_NS, end_ns) for p in POLLUTANTS}
    newest = fields_last_seen(influx, measurement, spans, sensor_id)
    out: dict[str, dict[str, WindowAverage]] = {}
    for sid, hours in hourly.items():
        averages = moving_averages(hours, end_ns)
        if any(count for _, count in averages.values()):
            out[sid] = {
                p: window_average(p, end_ns, *averages[p], newest.get(sid, {}).get(p))
                for p in POLLUTANTS
            }
    return out


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


def station_aqi(
    sensor: Sensor, end_ns: int, windows: dict[str, WindowAverage] | None, above_200: str
) -> AqiStation:
    """The station's AQI from its window averages ending at `end_ns` (None: no readings)."""
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


def aqi_now(
    influx: InfluxClient,
    registry: Registry,
    at_ns: int,
    *,
    zone: str | None = None,
    above_200: str = "extrapolate",
) -> AqiStations:
    """Every air station's (in `zone`, when given) AQI as of the whole hour at or before
    `at_ns`, by station id."""
    end_ns = floor_hour(at_ns)
    averages = current_averages(influx, end_ns)
    items = [
        station_aqi(s, end_ns, averages.get(s.id), above_200)
        for s in stations_of(registry, AIR, zone)
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


def history_point(
    end_ns: int, averages: dict[str, tuple[float | None, int]], above_200: str
) -> HistoryPoint:
    """The AQI as of `end_ns` from each pollutant's (average or None, hours with data)."""
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


def aqi_history(
    influx: InfluxClient, sensor: Sensor, start_ns: int, end_ns: int, above_200: str = "extrapolate"
) -> AqiHistory:
    """The station's AQI at every whole hour in [start, end] (at most MAX_HISTORY_DAYS), each
    from the moving averages of hourly means ending at that hour, by the rule of `aqi_now`.
    QueryError (at `start`) when start is after end, RangeTooLarge when the span is longer."""
    if start_ns > end_ns:
        raise QueryError("start must not be after end", "start")
    if end_ns - start_ns > MAX_HISTORY_DAYS * 24 * HOUR_NS:
        raise RangeTooLarge(f"start/end span at most {MAX_HISTORY_DAYS} days", "start")
    first, last = floor_hour(start_ns + HOUR_NS - 1), floor_hour(end_ns)
    ends = range(first, last + 1, HOUR_NS)
    hourly = {}
    if ends:
        since = first - LONGEST_H * HOUR_NS
        found = hourly_means(influx, AIR, POLLUTANTS, since, last, sensor_id=sensor.id)
        hourly = found.get(sensor.id, {})
    return AqiHistory(
        sensor_id=sensor.id,
        name_th=sensor.name_th,
        name_en=sensor.name_en,
        start=as_datetime(start_ns),
        end=as_datetime(end_ns),
        coverage_rule=COVERAGE_RULE,
        min_hours={p: min_hours(h) for p, h in AVERAGING_HOURS.items()},
        points=[history_point(t, moving_averages(hourly, t), above_200) for t in ends],
    )
