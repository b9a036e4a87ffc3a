"""Water stations now: the level against the station's thresholds, DO against its water class.

From the registry: thresholds.level.{watch,warning,critical,bank} in metres above the station's
datum, and meta.water_class (1-5, NEB notification No. 8). A station that lacks one gets a note
in its entry instead of that status.
"""

from __future__ import annotations

import time
from datetime import datetime

from pydantic import BaseModel

from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.readings.latest import latest_of_kinds
from citydata.readings.ranges import field_since
from citydata.registry import Registry, Sensor
from citydata.stations.base import Newest, Station, newest, station, stations_of
from citydata.timeutil import as_datetime
from citydata.water import (
    M2_PERIOD_H,
    THRESHOLDS,
    DoStatus,
    LevelStatus,
    RiseRate,
    do_status,
    level_status,
    rise_rate,
)

WATER = "water"  # the kind, and the measurement, of water stations
LEVEL_THRESHOLDS = "level"  # thresholds.level.{watch,warning,critical,bank}, metres
WATER_CLASS_META = "water_class"  # meta.water_class: "1" to "5"
RISE_WINDOW_H = 12.5  # one semidiurnal tide cycle (citydata.water.rise_rate)
_MAX_GAP_H = 1.0
_HOUR_NS = 3600 * 1_000_000_000


class LevelState(BaseModel):
    """The newest level, its status against the thresholds and the tide-aware rate of rise."""

    value_m: float
    newest: Newest
    thresholds: dict[str, float]  # the station's level thresholds used
    status: LevelStatus | None  # null when the station has no usable thresholds
    rise: RiseRate | None  # null when stale or the series does not reach a tide cycle back


class DoState(BaseModel):
    """The newest dissolved oxygen against the minimum for the station's water class."""

    value_mg_l: float
    newest: Newest
    water_class: int | None
    status: DoStatus | None  # null when the station has no valid water class


class WaterStation(Station):
    """One water station's newest level and DO, judged; notes say what could not be judged."""

    datum: str
    level: LevelState | None
    do: DoState | None
    notes: list[str]


class WaterStations(BaseModel):
    """Every water station, by id."""

    time: datetime
    items: list[WaterStation]


def _level_thresholds(sensor: Sensor, notes: list[str]) -> dict[str, float]:
    given = sensor.thresholds.get(LEVEL_THRESHOLDS, {})
    used: dict[str, float] = {name: given[name] for name in THRESHOLDS if name in given}
    if not used:
        notes.append(
            "no level thresholds registered (thresholds.level: watch, warning, critical, bank); "
            "the level is not judged"
        )
    return used


def _water_class(sensor: Sensor, notes: list[str]) -> int | None:
    text = sensor.meta.get(WATER_CLASS_META)
    if text is None:
        notes.append("no water class registered (meta.water_class, 1-5); DO is not judged")
        return None
    if text.strip() not in ("1", "2", "3", "4", "5"):
        notes.append(f"meta.water_class {text!r} is not a class 1-5; DO is not judged")
        return None
    return int(text)


def _level(
    sensor: Sensor, reading: tuple[int, float], now_ns: int, series: list[tuple[datetime, float]]
) -> tuple[LevelState, list[str]]:
    notes: list[str] = []
    thresholds = _level_thresholds(sensor, notes)
    status = None
    if thresholds:
        try:
            status = level_status(reading[1], thresholds, sensor.datum)
        except ValueError as exc:
            notes.append(f"level thresholds unusable: {exc}")
    seen = newest(sensor, reading[0], now_ns)
    rise = None if seen.stale else rise_rate(series, RISE_WINDOW_H, _MAX_GAP_H)
    state = LevelState(
        value_m=reading[1], newest=seen, thresholds=thresholds, status=status, rise=rise
    )
    return state, notes


def _do(sensor: Sensor, reading: tuple[int, float], now_ns: int) -> tuple[DoState, list[str]]:
    notes: list[str] = []
    water_class = _water_class(sensor, notes)
    status = do_status(reading[1], water_class) if water_class is not None else None
    seen = newest(sensor, reading[0], now_ns)
    return DoState(
        value_mg_l=reading[1], newest=seen, water_class=water_class, status=status
    ), notes


def _newest(
    influx: InfluxClient, sensors: list[Sensor], metric: str, now_ns: int, until_ns: int | None
) -> dict[str, tuple[int, float]]:
    """Each station's newest value of `metric` (at or before `until_ns`) with its time (ns)."""
    found = latest_of_kinds(
        influx,
        [all_kinds()[WATER]],
        sensor_ids=[s.id for s in sensors],
        metric=metric,
        now_ns=now_ns,
        until_ns=until_ns,
    )
    return {r.sensor_id: (r.time_ns, r.values[metric]) for r in found if metric in r.values}


def water_statuses(
    influx: InfluxClient,
    sensors: list[Sensor],
    sensor_id: str | None = None,
    now_ns: int | None = None,
) -> list[WaterStation]:
    """Each of `sensors` (water stations; only `sensor_id`'s series read when given) judged as
    of `now_ns` (default now), in the same order. Readings after an explicit `now_ns` are left
    out, so a past time is judged as it was then; "now" keeps a clock's slightly early ones."""
    until_ns = now_ns
    now_ns = time.time_ns() if now_ns is None else now_ns
    levels = _newest(influx, sensors, "level", now_ns, until_ns)
    dos = _newest(influx, sensors, "do", now_ns, until_ns)
    fresh = [
        levels[s.id][0]
        for s in sensors
        if s.id in levels and not newest(s, levels[s.id][0], now_ns).stale
    ]
    lag_ns = int((M2_PERIOD_H * round(RISE_WINDOW_H / M2_PERIOD_H) + _MAX_GAP_H) * _HOUR_NS)
    series = (
        field_since(influx, WATER, "level", min(fresh) - lag_ns, sensor_id, until_ns)
        if fresh
        else {}
    )
    items = []
    for sensor in sensors:
        notes: list[str] = []
        level = do = None
        if sensor.id in levels:
            level, more = _level(sensor, levels[sensor.id], now_ns, series.get(sensor.id, []))
            notes += more
        else:
            notes.append("no level reading")
        if sensor.id in dos:
            do, more = _do(sensor, dos[sensor.id], now_ns)
            notes += more
        else:
            notes.append("no DO reading")
        items.append(
            WaterStation(
                **station(sensor).model_dump(), datum=sensor.datum, level=level, do=do, notes=notes
            )
        )
    return items


def water_now(influx: InfluxClient, registry: Registry, zone: str | None = None) -> WaterStations:
    """Every water station (in `zone`, when given) judged now, by id."""
    items = water_statuses(influx, stations_of(registry, WATER, zone))
    return WaterStations(time=as_datetime(time.time_ns()), items=items)


def water_station_now(influx: InfluxClient, sensor: Sensor) -> WaterStation:
    """One water station judged now."""
    return water_statuses(influx, [sensor], sensor.id)[0]
