"""citydata's reads and station judgments used directly, without FastAPI, against a real InfluxDB:
each gives what the API answers, since the API only shapes what they return."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from citydata.errors import QueryError, RangeTooLarge, UnknownMetric, WrongKind
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.lineprotocol import encode_point
from citydata.readings import pages
from citydata.readings.collector_health import collector_statuses
from citydata.readings.hourly import HOUR_NS, hourly_means
from citydata.readings.last_seen import heard
from citydata.readings.latest import LatestCache, latest_readings
from citydata.readings.ranges import MAX_POINTS, Every, sensor_range
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from citydata.stations.aqi import aqi_history, aqi_now
from citydata.stations.base import sensor_of_kind
from citydata.stations.traffic import traffic_now
from citydata.stations.water import water_now
from citydata.timeutil import parse_rfc3339
from tests.apiclient import TestClient
from tests.helpers import make_station

pytestmark = pytest.mark.integration


MIN = 60 * 1_000_000_000
END = parse_rfc3339("2026-01-31T12:00:00Z")
AT = "2026-01-31T12:00:00Z"


SENSORS = [
    make_station("air-1", "air"),
    make_station("air-2", "air"),
    make_station(
        "water-1", "water", meta={"water_class": "3"}, thresholds={"level": {"watch": 1.8}}
    ),
    make_station("traffic-1", "traffic", thresholds={"speed": {"free_flow": 60.0}}),
    make_station("traffic-2", "traffic"),
]


@pytest.fixture
def settings(influx: InfluxClient, tmp_path: Path) -> Settings:
    settings = load_settings(
        {},
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=tmp_path / "var",
        api_snapshot_s=0,  # data is written after the start: every answer computed afresh
    )
    with Registry.from_settings(settings) as registry:
        registry.upsert_many(SENSORS)
    return settings


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    with Registry.from_settings(settings) as registry:
        yield registry


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def _write(influx: InfluxClient, kind: str, sid: str, at: int, **fields: float) -> None:
    influx.write_lines([encode_point(kind, {"sensor_id": sid, "zone": "town"}, fields, at)])


def _air_day(influx: InfluxClient) -> None:
    """air-1: 24 hourly PM2.5 readings before END; air-2: too few hours for any average."""
    lines = [
        encode_point("air", {"sensor_id": "air-1"}, {"pm25": 30.0 + h, "pm10": 50.0}, t)
        for h in range(24)
        for t in [END - (h + 1) * HOUR_NS + 5 * MIN]
    ]
    lines.append(encode_point("air", {"sensor_id": "air-2"}, {"pm25": 80.0}, END - 30 * MIN))
    influx.write_lines(lines)


def _json(client: TestClient, url: str, **params: str) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_stations_aqi_from_citydata_is_the_apis_answer(
    client: TestClient, influx: InfluxClient, registry: Registry
) -> None:
    _air_day(influx)
    now = aqi_now(influx, registry, END + 17 * MIN)  # rounded down to END
    assert now.model_dump(mode="json") == _json(client, "/aqi", at=AT)
    one = {s.sensor_id: s for s in now.items}
    assert one["air-1"].aqi is not None and one["air-1"].aqi.dominant == "pm25"
    assert one["air-2"].aqi is None and one["air-2"].reason_en
    sensor = sensor_of_kind(registry, "air-1", "air", "an air-quality station")
    history = aqi_history(influx, sensor, END - 3 * HOUR_NS, END)
    url = "/aqi/air-1/history"
    start = "2026-01-31T09:00:00Z"
    assert history.model_dump(mode="json") == _json(client, url, start=start, end=AT)
    assert [p.hours_with_data["pm25"] for p in history.points] == [21, 22, 23, 24]
    assert history.points[-1].aqi == one["air-1"].aqi.aqi


def test_judgments_refuse_what_they_cannot_answer(influx: InfluxClient, registry: Registry) -> None:
    with pytest.raises(WrongKind, match="is a water sensor, not an air") as wrong:
        sensor_of_kind(registry, "water-1", "air", "an air-quality station")
    assert wrong.value.field == "sensor_id"
    air = registry.get("air-1")
    with pytest.raises(QueryError, match="start must not be after end"):
        aqi_history(influx, air, END, END - 1)
    with pytest.raises(RangeTooLarge, match="90 days") as large:
        aqi_history(influx, air, END - 91 * 24 * HOUR_NS, END)
    assert large.value.field == "start"


def test_water_and_traffic_from_citydata_are_the_apis_answers(
    client: TestClient, influx: InfluxClient, registry: Registry
) -> None:
    now = time.time_ns()
    _write(influx, "water", "water-1", now - MIN, level=1.9, do=5.0)
    _write(influx, "traffic", "traffic-1", now - MIN, count=10.0, speed=30.0, occupancy=12.0)

    def without_ages(answer: dict[str, Any]) -> dict[str, Any]:
        """The answer without what moves with the clock between two calls."""
        for item in answer["items"]:
            for part in (item, item.get("level") or {}, item.get("do") or {}):
                if part.get("newest"):
                    part["newest"].pop("age_s")
        return {k: v for k, v in answer.items() if k != "time"}

    water = water_now(influx, registry).model_dump(mode="json")
    assert without_ages(water) == without_ages(_json(client, "/water/status"))
    (station,) = water["items"]
    assert station["level"]["status"]["status"] == "watch" and station["do"]["status"]
    traffic = traffic_now(influx, registry).model_dump(mode="json")
    assert without_ages(traffic) == without_ages(_json(client, "/traffic/status"))
    one, two = traffic["items"]
    assert one["congestion"]["ratio"] == 0.5 and two["notes"] == ["no reading"]


def test_latest_readings_come_through_the_cache_for_whole_kinds_only(
    influx: InfluxClient, registry: Registry
) -> None:
    now = time.time_ns()
    _write(influx, "air", "air-1", now - 2 * MIN, pm25=10.0)
    cache = LatestCache(ttl_s=60.0)
    (first,) = latest_readings(influx, registry, cache, kind="air")
    assert (first.sensor_id, first.values) == ("air-1", {"pm25": 10.0})
    _write(influx, "air", "air-1", now - MIN, pm25=11.0)
    (cached,) = latest_readings(influx, registry, cache, kind="air")
    (fresh,) = latest_readings(influx, registry, cache, sensor_id="air-1")
    assert (cached.values["pm25"], fresh.values["pm25"]) == (10.0, 11.0)
    (uncached,) = latest_readings(influx, registry, LatestCache(0), kind="air")
    assert uncached.values["pm25"] == 11.0


def test_a_range_raw_and_per_bucket(influx: InfluxClient) -> None:
    air = all_kinds()["air"]
    for n in range(6):
        _write(influx, "air", "air-1", END + n * 10 * MIN, pm25=float(n))
    raw = sensor_range(influx, air, "air-1", "pm25", (END, END + HOUR_NS))
    assert [p.value for p in raw.points] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert (raw.unit, raw.every, raw.agg) == ("µg/m³", None, None)
    buckets = sensor_range(influx, air, "air-1", "pm25", (END, END + HOUR_NS), Every.m15, "max")
    assert [p.value for p in buckets.points] == [1.0, 2.0, 4.0, 5.0]
    with pytest.raises(UnknownMetric, match="no metric 'ph'") as unknown:
        sensor_range(influx, air, "air-1", "ph", (END, END + HOUR_NS))
    assert unknown.value.field == "metric"
    with pytest.raises(RangeTooLarge, match=f"more than {MAX_POINTS} points"):
        sensor_range(influx, air, "air-1", "pm25", (END, END + 8 * 24 * HOUR_NS), Every.m1)


def test_hourly_means_and_pages(influx: InfluxClient, monkeypatch: pytest.MonkeyPatch) -> None:
    for n, value in enumerate([10.0, 20.0, 60.0]):
        _write(influx, "air", "air-1", END + n * 35 * MIN, pm25=value, pm10=1.0)
    means = hourly_means(influx, "air", ["pm25", "o3"], END, END + 2 * HOUR_NS)
    assert means == {
        "air-1": {END: {"pm25": 15.0, "o3": None}, END + HOUR_NS: {"pm25": 60.0, "o3": None}}
    }
    monkeypatch.setattr(pages, "PAGE_ROWS", 2)
    found = list(pages.raw_pages(influx, "air", "air-1", ["pm25"], END, END + 2 * HOUR_NS))
    # A full page leaves the rows at its last time for the next page: one row per page here.
    assert [[row[1] for row in page.rows] for page in found] == [[10.0], [20.0], [60.0]]


def test_online_status_and_collector_health(influx: InfluxClient, registry: Registry) -> None:
    now = time.time_ns()
    _write(influx, "air", "air-1", now - MIN, pm25=1.0)
    _write(influx, "air", "air-2", now - 10 * 24 * HOUR_NS, pm25=1.0)
    sensors = [registry.get(sid) for sid in ("air-1", "air-2", "water-1")]
    assert [s.online for s in heard(influx, sensors)] == ["online", "offline", "never_seen"]
    with InfluxClient("http://127.0.0.1:9", "nowhere", timeout=0.5) as down:
        assert {s.online for s in heard(down, sensors)} == {"unknown"}
    influx.write_lines(
        [
            encode_point(
                "citydata_collector", {"collector": "c1", "host": "h"}, {"received": 5.0}, now
            )
        ]
    )
    (status,) = collector_statuses(influx, stale_after_s=30.0)
    assert (status.collector, status.figures, status.stale) == ("c1", {"received": 5.0}, False)
