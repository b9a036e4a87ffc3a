"""Derived series: judgments to points (docs/derived.md), and the same judgment, the same line."""

from __future__ import annotations

import pytest

from citydata.aqi import POLLUTANTS, level_of, sub_index
from citydata.derived.judge import Snapshot, snapshot, status_rank
from citydata.derived.points import aqi_point, station_point, traffic_point, water_point
from citydata.readings.latest import LatestReading
from citydata.stations.aqi import station_aqi
from citydata.stations.aqi_windows import window_average
from citydata.stations.base import newest, station
from citydata.stations.traffic import judge
from citydata.stations.water import DoState, LevelState, WaterStation
from citydata.timeutil import as_datetime
from citydata.water import do_status, level_status
from tests.helpers import make_station

HOUR = 3600 * 1_000_000_000
T = 1_800_000_000 // 3600 * 3600 * 1_000_000_000  # a whole hour
LEVELS = {"watch": 1.8, "warning": 2.0, "critical": 2.1, "bank": 2.4}


def _fields(line: str) -> str:
    return line.split(" ")[1]


def test_aqi_point_carries_the_result_and_each_valid_average() -> None:
    windows = {
        "pm25": window_average("pm25", T, 40.0, 24, T - 60),
        "pm10": window_average("pm10", T, 70.0, 10, T - 60),  # too few hours: no average
        "o3": window_average("o3", T, None, 0, None),
        "co": window_average("co", T, None, 0, None),
        "no2": window_average("no2", T, 20.0, 1, T - 60),
        "so2": window_average("so2", T, None, 0, None),
    }
    item = station_aqi(make_station("air-1", zone="town"), T, windows, "extrapolate")
    pm25, no2 = (sub_index(p, v, as_datetime(T)).aqi for p, v in (("pm25", 40.0), ("no2", 20.0)))
    assert pm25 > no2
    assert aqi_point(item, T) == (
        "city_aqi,sensor_id=air-1,site=lab,zone=town "
        f'aqi={pm25:.1f},level={level_of(pm25):.1f},estimate=0.0,dominant="pm25",'
        f"pm25_avg=40.0,pm25_aqi={pm25:.1f},pm25_hours=24.0,"
        f"no2_avg=20.0,no2_aqi={no2:.1f},no2_hours=1.0 "
        f"{T}"
    )


def test_no_aqi_no_point() -> None:
    item = station_aqi(make_station("air-1"), T, None, "extrapolate")
    assert item.aqi is None and aqi_point(item, T) is None


def _water(level_m: float | None, do: float | None, age_s: float = 30.0) -> WaterStation:
    sensor = make_station(
        "water-1", "water", thresholds={"level": LEVELS}, meta={"water_class": "3"}
    )
    seen = newest(sensor, T - int(age_s * 1e9), T)
    level = (
        LevelState(
            value_m=level_m,
            newest=seen,
            thresholds=LEVELS,
            status=level_status(level_m, LEVELS),
            rise=None,
        )
        if level_m is not None
        else None
    )
    do_state = (
        DoState(value_mg_l=do, newest=seen, water_class=3, status=do_status(do, 3))
        if do is not None
        else None
    )
    return WaterStation(
        **station(sensor).model_dump(), datum="MSL", level=level, do=do_state, notes=[]
    )


def test_water_point_level_thresholds_margin_and_do() -> None:
    line = water_point(_water(2.05, 3.5), T)
    assert line == (
        "city_water,sensor_id=water-1,site=lab,zone=town "
        'level=2.05,level_age_s=30.0,stale=0.0,status_rank=2.0,status="warning",'
        'watch=1.8,warning=2.0,critical=2.1,bank=2.4,next_threshold="critical",'
        f"margin_m=0.05,do=3.5,water_class=3.0,do_min=4.0,do_below=1.0 {T}"
    )


def test_water_point_without_readings_is_none_and_stale_follows_the_reading() -> None:
    assert water_point(_water(None, None), T) is None
    only_do = water_point(_water(None, 6.0, age_s=7200), T)
    assert only_do is not None and "stale=1.0" in only_do and "level" not in only_do
    overflow = water_point(_water(2.5, None), T)
    assert overflow is not None and 'status="overflow"' in overflow
    assert "next_threshold" not in overflow and "margin_m" not in overflow


def _reading(**values: float) -> LatestReading:
    at = T - 120 * 1_000_000_000
    return LatestReading(
        sensor_id="traffic-1", kind="traffic", time=as_datetime(at), time_ns=at, values=values
    )


def test_traffic_point_congestion_and_raw_values() -> None:
    sensor = make_station("traffic-1", "traffic", thresholds={"speed": {"free_flow": 60.0}})
    item = judge(sensor, _reading(speed=12.0, count=30.0, occupancy=40.0), T)
    assert traffic_point(item, T) == (
        "city_traffic,sensor_id=traffic-1,site=lab,zone=town "
        'severity=3.0,level="stop_and_go",ratio=0.2,speed=12.0,occupancy=40.0,count=30.0,'
        f"free_flow=60.0,stale=0.0 {T}"
    )


def test_traffic_without_vehicles_is_written_unjudged_and_without_reading_not_at_all() -> None:
    sensor = make_station("traffic-1", "traffic")
    quiet = traffic_point(judge(sensor, _reading(speed=0.0, count=0.0), T), T)
    assert quiet is not None and "severity" not in quiet and "count=0.0" in quiet
    assert traffic_point(judge(sensor, None, T), T) is None


def test_station_point_online_age_state_and_names() -> None:
    sensor = make_station("air-1", status="maintenance")
    snap = snapshot(sensor, T - 60 * 1_000_000_000, T, 3)
    assert station_point(snap, T) == (
        "city_station,kind=air,sensor_id=air-1,site=lab,zone=town "
        "latitude=14.0,longitude=100.15,online=1.0,age_s=60.0,state=3.0,"
        f'status="maintenance",name_th="สถานี air-1",name_en="Station air-1" {T}'
    )


def test_offline_or_never_seen_is_state_zero() -> None:
    sensor = make_station("air-1")
    assert snapshot(sensor, T - 2 * HOUR, T, 3) == Snapshot(sensor, T - 2 * HOUR, False, 0)
    never = station_point(snapshot(sensor, None, T, 3), T)
    assert "online=0.0" in never and "age_s" not in never and "state=0.0" in never


def test_pending_station_has_no_coordinates() -> None:
    sensor = make_station("air-1").model_copy(
        update={"status": "pending", "latitude": None, "longitude": None}
    )
    assert "latitude" not in station_point(snapshot(sensor, None, T, 0), T)


@pytest.mark.parametrize(
    ("status", "rank"),
    [("normal", 0), ("watch", 1), ("warning", 2), ("critical", 3), ("overflow", 4)],
)
def test_status_rank(status: str, rank: int) -> None:
    assert status_rank(status) == rank


def test_the_same_judgment_encodes_to_the_same_line() -> None:
    """Idempotence of the encoding: a judgment rebuilt from the same data gives the same line,
    so InfluxDB overwrites the earlier point."""
    windows = {p: window_average(p, T, None, 0, None) for p in POLLUTANTS}
    windows["pm25"] = window_average("pm25", T, 37.123456789, 20, T - 1)
    lines = {
        aqi_point(station_aqi(make_station("a"), T, dict(windows), "extrapolate"), T)
        for _ in range(3)
    }
    water = {water_point(_water(1.9, 5.0), T) for _ in range(3)}
    assert len(lines) == 1 and len(water) == 1 and None not in lines
