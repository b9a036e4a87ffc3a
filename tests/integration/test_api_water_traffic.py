"""GET /water/status and /traffic/status against a real InfluxDB and registered thresholds."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from citydata.influx import InfluxClient
from citydata.lineprotocol import encode_point
from citydata.registry import Registry, Sensor
from citydata.settings import Settings, load_settings
from tests.apiclient import TestClient, problem
from tests.helpers import make_station

pytestmark = pytest.mark.integration


MIN = 60 * 1_000_000_000
LEVELS = {"watch": 1.8, "warning": 2.0, "critical": 2.1, "bank": 2.4}


def _water(sid: str, water_class: str | None = "3", **fields: Any) -> Sensor:
    meta = {"water_class": water_class} if water_class is not None else {}
    return make_station(sid, "water", meta=meta, **fields)


def _traffic(sid: str, free_flow: float | None = 60.0, **thresholds: dict[str, float]) -> Sensor:
    if free_flow is not None:
        thresholds["speed"] = {"free_flow": free_flow}
    return make_station(sid, "traffic", thresholds=thresholds)


@pytest.fixture
def client(influx: InfluxClient, tmp_path: Path) -> Iterator[TestClient]:
    settings: Settings = load_settings(
        {},
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=tmp_path / "var",
        api_snapshot_s=0,  # data is written after the start: every answer computed afresh
    )
    with Registry.from_settings(settings) as registry:
        registry.upsert_many(
            [
                _water("water-1", thresholds={"level": LEVELS}),
                _water("water-2", thresholds={"level": LEVELS}),
                _water("water-3", "5", thresholds={"level": LEVELS}),
                _water("water-4", None, thresholds={"level": LEVELS}, zone="canal"),
                _water("water-5", "III"),
                _water("water-6", thresholds={"level": {"critical": 2.1}}),
                _water("water-7", thresholds={"level": {"watch": 2.0, "warning": 1.9}}),
                make_station("air-1", "air"),
                *(_traffic(f"traffic-{n}") for n in range(1, 7)),
                _traffic("traffic-7", None),
                _traffic("traffic-8"),
                _traffic("traffic-9", occupancy={"congested": 30.0}),
                _traffic("traffic-10"),
                _traffic("traffic-11"),
            ]
        )
    with TestClient(create_app(settings)) as c:
        yield c


def _write(influx: InfluxClient, points: list[tuple[str, str, int, dict[str, float]]]) -> None:
    influx.write_lines(
        encode_point(kind, {"sensor_id": sid, "zone": "town"}, fields, at)
        for kind, sid, at, fields in points
    )


def _items(client: TestClient, url: str, **params: str) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return {item["sensor_id"]: item for item in response.json()["items"]}


def test_water_levels_at_and_around_the_thresholds(
    client: TestClient, influx: InfluxClient
) -> None:
    now = time.time_ns()
    _write(
        influx,
        [
            ("water", "water-1", now - 2 * MIN, {"level": 2.5}),  # older: not the newest
            ("water", "water-1", now - MIN, {"level": 2.04}),
            ("water", "water-2", now - MIN, {"level": 2.1}),
            ("water", "water-3", now - MIN, {"level": 2.4}),
            ("water", "water-4", now - MIN, {"level": 1.79}),
            ("water", "water-5", now - 40 * MIN, {"level": 2.3}),
            ("water", "water-6", now - MIN, {"level": 2.04}),
            ("water", "water-7", now - MIN, {"level": 2.04}),
        ],
    )
    items = _items(client, "/water/status")
    assert sorted(items) == [f"water-{n}" for n in range(1, 8)]

    def status(sid: str) -> dict[str, Any]:
        result: dict[str, Any] = items[sid]["level"]["status"]
        return result

    one = status("water-1")
    assert (one["status"], one["next_threshold"], one["exceeded"]) == (
        "warning",
        "critical",
        "warning",
    )
    assert one["margin_m"] == pytest.approx(0.06) and one["excess_m"] == pytest.approx(0.04)
    assert one["message_th"] == "ระดับน้ำ 2.04 ม.รทก. ต่ำกว่าระดับวิกฤต 0.06 ม."
    assert items["water-1"]["level"]["value_m"] == 2.04
    assert items["water-1"]["level"]["thresholds"] == LEVELS
    two = status("water-2")  # exactly at critical: critical, 0.30 m below the bank
    assert (two["status"], two["next_threshold"], two["margin_m"]) == ("critical", "bank", 0.3)
    three = status("water-3")  # exactly at the bank: overflowing
    assert (three["status"], three["status_th"], three["margin_m"]) == (
        "overflow",
        "น้ำล้นตลิ่ง",
        None,
    )
    four = status("water-4")
    assert (four["status"], four["next_threshold"]) == ("normal", "watch")
    assert four["margin_m"] == pytest.approx(0.01)
    five = items["water-5"]
    assert five["level"]["status"] is None and five["level"]["newest"]["stale"] is True
    assert any("thresholds.level" in note for note in five["notes"])
    assert items["water-1"]["level"]["newest"]["stale"] is False
    six = status("water-6")  # only a critical level registered
    assert (six["status"], six["next_threshold"], six["margin_m"]) == ("normal", "critical", 0.06)
    seven = items["water-7"]  # watch above warning: refused, said in the entry
    assert seven["level"]["status"] is None
    assert any("must increase" in note for note in seven["notes"])
    assert list(_items(client, "/water/status", zone="canal")) == ["water-4"]


def test_each_metric_is_its_own_newest_however_old(
    client: TestClient, influx: InfluxClient
) -> None:
    now = time.time_ns()
    _write(
        influx,
        [
            ("water", "water-1", now - 3 * 60 * MIN, {"level": 1.5}),  # gauge silent for 3 h
            ("water", "water-1", now - 2 * MIN, {"do": 6.5}),  # probe reporting alone since
            ("water", "water-1", now - MIN, {"temperature": 30.0}),  # neither level nor DO
            ("water", "water-2", now - 30 * 24 * 60 * MIN, {"level": 1.9, "do": 5.5}),
        ],
    )
    items = _items(client, "/water/status")
    one = items["water-1"]
    assert (one["level"]["value_m"], one["do"]["value_mg_l"]) == (1.5, 6.5)
    assert one["level"]["newest"]["stale"] is True and one["do"]["newest"]["stale"] is False
    assert one["level"]["newest"]["age_s"] == pytest.approx(3 * 3600, abs=60)
    two = items["water-2"]
    assert (two["level"]["value_m"], two["do"]["value_mg_l"]) == (1.9, 5.5)
    assert two["level"]["newest"]["age_s"] == pytest.approx(30 * 86_400, abs=60)


def test_do_against_the_water_class(client: TestClient, influx: InfluxClient) -> None:
    now = time.time_ns()
    _write(
        influx,
        [
            ("water", "water-1", now - MIN, {"do": 3.9}),
            ("water", "water-2", now - MIN, {"do": 4.0}),
            ("water", "water-3", now - MIN, {"do": 1.0}),
            ("water", "water-4", now - MIN, {"do": 5.0}),
            ("water", "water-5", now - MIN, {"do": 5.0}),
        ],
    )
    items = _items(client, "/water/status")
    one = items["water-1"]["do"]
    assert (one["water_class"], one["status"]["state"]) == (3, "below")
    assert one["status"]["shortfall_mg_l"] == pytest.approx(0.1)
    assert one["status"]["minimum_mg_l"] == 4.0 and "class-3" in one["status"]["message_en"]
    assert items["water-2"]["do"]["status"]["state"] == "meets"  # at the minimum
    assert items["water-3"]["do"]["status"]["state"] == "no_minimum"  # class 5
    assert items["water-4"]["do"]["status"] is None
    assert any("meta.water_class" in n for n in items["water-4"]["notes"])
    assert any("'III'" in n for n in items["water-5"]["notes"])
    assert items["water-1"]["level"] is None and "no level reading" in items["water-1"]["notes"]


def test_rise_rate_over_a_tide_cycle_and_one_station(
    client: TestClient, influx: InfluxClient
) -> None:
    now = time.time_ns()

    # A 1 cm/h rise under a 30 cm semidiurnal tide, every 6 min for 14 h: compared at the same
    # tide phase (12.42 h back) the tide cancels; over the last hour it would dominate.
    def level(hours_ago: float) -> float:
        t = 14 - hours_ago
        return 1.0 + 0.01 * t + 0.3 * math.sin(2 * math.pi * t / 12.42)

    points = [("water", "water-1", now - k * 6 * MIN, {"level": level(k / 10)}) for k in range(141)]
    _write(influx, [*points, ("water", "water-5", now - 40 * MIN, {"level": 1.0})])
    one = client.get("/water/status/water-1")
    assert one.status_code == 200, one.text
    rise = one.json()["level"]["rise"]
    assert rise["rate_m_per_h"] == pytest.approx(0.01, abs=1e-4)
    assert abs(level(0) - level(1)) > 0.05  # a naive hourly rate would be far off
    assert rise["lag_h"] == pytest.approx(12.42) and rise["method"] == "same_tide_phase"
    assert _items(client, "/water/status")["water-1"]["level"]["rise"] == rise
    assert client.get("/water/status/water-5").json()["level"]["rise"] is None  # stale


def _problem(client: TestClient, url: str, status: int) -> dict[str, Any]:
    return problem(client.get(url), status)


def test_status_problems(client: TestClient) -> None:
    assert "nope" in _problem(client, "/water/status/nope", 404)["detail"]
    assert "nope" in _problem(client, "/traffic/status/nope", 404)["detail"]
    assert "air" in _problem(client, "/water/status/air-1", 422)["detail"]
    body = _problem(client, "/traffic/status/water-1", 422)
    assert "water" in body["detail"] and body["errors"][0]["loc"] == ["path", "sensor_id"]


def test_traffic_levels_by_speed_ratio(client: TestClient, influx: InfluxClient) -> None:
    now = time.time_ns()
    speeds = {1: 45.0, 2: 44.9, 3: 30.0, 4: 29.9, 5: 15.0, 6: 14.9}  # free-flow 60 km/h
    points = [
        ("traffic", f"traffic-{n}", now - MIN, {"count": 10.0, "speed": speed, "occupancy": 26.0})
        for n, speed in speeds.items()
    ]
    points += [
        ("traffic", "traffic-7", now - MIN, {"count": 10.0, "speed": 25.0}),
        ("traffic", "traffic-8", now - MIN, {"count": 0.0, "speed": 0.0}),
        ("traffic", "traffic-9", now - 5 * MIN, {"count": 30.0, "speed": 10.0}),
        ("traffic", "traffic-9", now - MIN, {"count": 12.0, "speed": 50.0, "occupancy": 28.0}),
        ("traffic", "traffic-10", now - 50 * MIN, {"count": 10.0, "speed": 50.0}),
    ]
    _write(influx, points)
    items = _items(client, "/traffic/status")
    levels = {n: items[f"traffic-{n}"]["congestion"]["level"] for n in speeds}
    assert levels == {
        1: "free",  # 0.75
        2: "moderate",
        3: "moderate",  # 0.50
        4: "heavy",
        5: "heavy",  # 0.25
        6: "stop_and_go",
    }
    one = items["traffic-1"]["congestion"]
    assert (one["ratio"], one["method"], one["colour"], one["name_th"]) == (
        0.75,
        "speed_ratio",
        "green",
        "คล่องตัว",
    )
    assert items["traffic-1"]["free_flow_kmh"] == 60.0 and items["traffic-1"]["notes"] == []
    seven = items["traffic-7"]
    assert (seven["congestion"]["level"], seven["congestion"]["method"]) == (
        "moderate",
        "thai_fallback",
    )
    assert any("thresholds.speed.free_flow" in n for n in seven["notes"])
    eight = items["traffic-8"]
    assert eight["congestion"] is None and any("no vehicles" in n for n in eight["notes"])
    nine = items["traffic-9"]  # the newest interval, with its own occupancy threshold
    assert nine["values"]["speed"] == 50.0 and nine["congestion"]["level"] == "free"
    assert nine["congestion"]["occupancy_congested"] is False
    assert nine["congestion"]["occupancy_threshold_pct"] == 30.0
    assert items["traffic-1"]["congestion"]["occupancy_congested"] is True  # 26 % > 25 %
    assert items["traffic-10"]["newest"]["stale"] is True  # 50 min > 45 min for traffic
    assert items["traffic-9"]["newest"]["stale"] is False
    assert items["traffic-11"]["newest"] is None and items["traffic-11"]["congestion"] is None
    single = client.get("/traffic/status/traffic-6").json()
    assert single["congestion"]["level"] == "stop_and_go" and single["sensor_id"] == "traffic-6"
