"""GET /aqi and /aqi/{id}/history against a real InfluxDB holding hand-built hours of data.

Expected AQI numbers are worked out by hand from the PCD table (DOMAIN.md section 1) in the
comments; the windows end at END, a whole hour, passed as `at` so the tests never race the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from citydata.influx import InfluxClient
from citydata.lineprotocol import encode_point
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from citydata.timeutil import parse_rfc3339
from tests.apiclient import PROBLEM, TestClient, problem
from tests.helpers import make_station

pytestmark = pytest.mark.integration


H = 3600 * 1_000_000_000
MIN = 60 * 1_000_000_000
END = parse_rfc3339("2026-01-31T12:00:00Z")  # 19:00 ICT
AT = "2026-01-31T12:00:00Z"


class Air:
    """Line protocol for air points, written in one batch."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def at(self, sid: str, t: int, **fields: float) -> None:
        self.lines.append(encode_point("air", {"sensor_id": sid, "zone": "town"}, fields, t))

    def hours(self, sid: str, first: int, last: int, per_hour: int = 1, **fields: float) -> None:
        """`fields` in each hour [END - first h, END - (first - 1) h) down to `last`,
        `per_hour` readings spread over the hour."""
        for back in range(first, last - 1, -1):
            for k in range(per_hour):
                self.at(sid, END - back * H + 5 * MIN + k * (50 * MIN // per_hour), **fields)


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
        registry.upsert_many(
            [
                *(make_station(f"air-{n}") for n in range(1, 7)),
                make_station("air-7", zone="north"),
                make_station("air-8", status="retired"),
                make_station("water-1", kind="water"),
            ]
        )
    return settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def _stations(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/aqi", params={"at": AT, **params})
    assert response.status_code == 200, response.text
    return {item["sensor_id"]: item for item in response.json()["items"]}


def _window(station: dict[str, Any], pollutant: str) -> dict[str, Any]:
    windows: list[dict[str, Any]] = station["windows"]
    (found,) = [w for w in windows if w["pollutant"] == pollutant]
    return found


def test_constant_pm25_gives_the_hand_computed_aqi(
    client: TestClient, influx: InfluxClient
) -> None:
    data = Air()
    data.hours("air-1", 24, 1, per_hour=2, pm25=40.0)
    data.at("air-1", END + 10 * MIN, pm25=500.0)  # after the window: must not count
    influx.write_lines(data.lines)
    station = _stations(client)["air-1"]
    # 40 in 37.6-75.0 -> 101-200: 99 / 37.4 * (40 - 37.6) + 101 = 107.35 -> 107
    aqi = station["aqi"]
    assert (aqi["aqi"], aqi["level"], aqi["colour"], aqi["dominant"]) == (107, 4, "orange", "pm25")
    assert aqi["name_th"] == "เริ่มมีผลกระทบต่อสุขภาพ" and aqi["advice_en"]
    pm25 = _window(station, "pm25")
    assert pm25["average"] == pytest.approx(40.0)
    assert (pm25["hours_with_data"], pm25["min_hours"], pm25["averaging_hours"]) == (24, 18, 24)
    assert (pm25["start"], pm25["end"]) == ("2026-01-30T12:00:00Z", AT)
    assert pm25["newest"] == "2026-01-31T11:30:00Z"  # last hour: readings at :05 and :30
    assert station["newest_used"] == "2026-01-31T11:30:00Z" and station["stale"] is False
    assert station["reason_en"] is None and station["as_of"] == AT
    assert station["name_th"] == "สถานี air-1" and station["location"]["zone"] == "town"


def test_too_few_hours_leave_a_pollutant_out_not_zero(
    client: TestClient, influx: InfluxClient
) -> None:
    data = Air()
    data.hours("air-2", 10, 1, pm25=40.0)  # 10 of 24 hours: PM2.5 missing
    data.hours("air-2", 1, 1, no2=60.0)  # 60 ppb at the top of 0-60 -> 0-25: AQI 25
    data.hours("air-3", 24, 7, pm10=100.0)  # hours 24..7 back: 18 of 24, valid
    data.hours("air-4", 24, 8, pm10=100.0)  # 17 of 24: missing
    influx.write_lines(data.lines)
    items = _stations(client)
    two = items["air-2"]
    assert (two["aqi"]["aqi"], two["aqi"]["dominant"]) == (25, "no2")
    assert [s["pollutant"] for s in two["aqi"]["sub_indices"]] == ["no2"]
    pm25 = _window(two, "pm25")
    assert pm25["average"] is None and pm25["hours_with_data"] == 10
    assert "10 of 24" in pm25["note_en"] and "18" in pm25["note_en"] and pm25["note_th"]
    # 100 in 81-120 -> 51-100: 49 / 39 * (100 - 81) + 51 = 74.87 -> 75
    three = items["air-3"]
    assert three["aqi"]["aqi"] == 75 and _window(three, "pm10")["hours_with_data"] == 18
    assert three["stale"] is True  # its newest reading is 6 h before as_of
    four = items["air-4"]
    assert four["aqi"] is None and _window(four, "pm10")["hours_with_data"] == 17
    assert "enough hourly data" in four["reason_en"] and four["reason_th"]


def test_each_pollutant_uses_its_own_window_of_hourly_means(
    client: TestClient, influx: InfluxClient
) -> None:
    data = Air()
    # PM2.5: 16 h at 10 (one reading each), then 8 h at 50 (six readings each). The 24 h mean of
    # hourly means is (16*10 + 8*50) / 24 = 23.33; a raw mean would be 40, an 8 h mean 50.
    data.hours("air-5", 24, 9, pm25=10.0)
    data.hours("air-5", 8, 1, per_hour=6, pm25=50.0)
    # O3: 100 ppb in hours 24..9 back, 20 in hours 8..2, 60 in the last: 8 h mean 25
    # (24 h would be 75, 1 h 60).
    data.hours("air-5", 24, 9, o3=100.0)
    data.hours("air-5", 8, 2, o3=20.0)
    data.hours("air-5", 1, 1, o3=60.0)
    # NO2: 10 ppb for 23 h, then 100 in the last hour: 1 h mean 100 (8 h would be 21.25).
    data.hours("air-5", 24, 2, no2=10.0)
    data.hours("air-5", 1, 1, no2=100.0)
    influx.write_lines(data.lines)
    station = _stations(client)["air-5"]
    subs = {s["pollutant"]: s["aqi"] for s in station["aqi"]["sub_indices"]}
    # PM2.5 23.33 in 15.1-25.0 -> 26-50: 24 / 9.9 * (23.33 - 15.1) + 26 = 45.96 -> 46
    # O3 25 in 0-35 -> 0-25: 25 / 35 * 25 = 17.86 -> 18
    # NO2 100 in 61-106 -> 26-50: 24 / 45 * (100 - 61) + 26 = 46.8 -> 47
    assert subs == {"pm25": 46, "o3": 18, "no2": 47}
    assert (station["aqi"]["aqi"], station["aqi"]["level"], station["aqi"]["dominant"]) == (
        47,
        2,
        "no2",
    )
    assert _window(station, "pm25")["average"] == pytest.approx(70 / 3)
    assert _window(station, "o3")["average"] == pytest.approx(25.0)
    assert _window(station, "no2")["average"] == pytest.approx(100.0)
    starts = {w["pollutant"]: w["start"] for w in station["windows"]}
    assert (starts["pm25"], starts["o3"], starts["no2"]) == (
        "2026-01-30T12:00:00Z",
        "2026-01-31T04:00:00Z",
        "2026-01-31T11:00:00Z",
    )
    assert _window(station, "co")["average"] is None and _window(station, "co")["note_en"]


def test_stations_without_data_zone_filter_and_retired(
    client: TestClient, influx: InfluxClient
) -> None:
    data = Air()
    data.hours("air-7", 1, 1, so2=100.0)  # top of 0-100 -> AQI 25
    data.hours("unregistered", 1, 1, so2=300.0)
    influx.write_lines(data.lines)
    items = _stations(client)
    assert sorted(items) == [f"air-{n}" for n in range(1, 8)]  # no retired, water or unknown
    six = items["air-6"]
    assert six["aqi"] is None and six["stale"] is True and six["newest_used"] is None
    assert "no air-quality readings" in six["reason_en"] and six["reason_th"]
    north = _stations(client, zone="north")
    assert list(north) == ["air-7"] and north["air-7"]["aqi"]["aqi"] == 25
    assert _stations(client, zone="nowhere") == {}


def test_at_is_rounded_down_to_the_hour_and_checked(
    client: TestClient, influx: InfluxClient
) -> None:
    data = Air()
    data.at("air-1", END - 30 * MIN, no2=60.0)
    data.at("air-1", END + 5 * MIN, no2=340.0)
    influx.write_lines(data.lines)
    # 12:59 still means the hour that ended at 12:00: the 12:05 reading is not in it.
    response = client.get("/aqi", params={"at": "2026-01-31T19:59:00+07:00"})
    body = response.json()
    assert body["as_of"] == AT
    assert {i["sensor_id"]: i["aqi"] for i in body["items"]}["air-1"]["aqi"] == 25
    naive = client.get("/aqi", params={"at": "2026-01-31T19:30:00"})  # which zone?
    assert naive.status_code == 422 and naive.headers["content-type"] == PROBLEM
    ancient = client.get("/aqi", params={"at": "0001-01-01T00:00:00Z"})  # before InfluxDB's span
    assert ancient.status_code == 200 and ancient.json()["as_of"] == "1678-01-01T00:00:00Z"
    bad = client.get("/aqi", params={"at": "0.5"})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert bad.json()["errors"][0]["loc"] == ["query", "at"]


def test_history_counts_hours_at_each_hour(client: TestClient, influx: InfluxClient) -> None:
    data = Air()
    data.hours("air-1", 24, 1, pm25=40.0)  # hours END-24h .. END
    influx.write_lines(data.lines)
    response = client.get(
        "/aqi/air-1/history",
        params={"start": "2026-01-31T04:30:00Z", "end": "2026-01-31T19:00:00Z"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    points = body["points"]
    # whole hours from 05:00 (start rounded up) to 19:00, each ending its windows
    assert [p["time"][11:16] for p in points] == [f"{h:02d}:00" for h in range(5, 20)]
    # at 05:00 the 24 h window holds hours 05:00 yesterday..04:00: data from 12:00 yesterday
    # on, so 17 hours; 18 at 06:00; all 24 at 12:00; 18 at 18:00 (data ends at 12:00)
    hours = [p["hours_with_data"]["pm25"] for p in points]
    assert hours == [17, 18, 19, 20, 21, 22, 23, 24, 23, 22, 21, 20, 19, 18, 17]
    assert [p["aqi"] for p in points] == [None] + [107] * 13 + [None]
    assert points[0]["averages"]["pm25"] is None and points[1]["averages"]["pm25"] == 40.0
    assert points[1]["level"] == 4 and points[1]["sub_indices"] == {"pm25": 107}
    assert body["min_hours"] == {"pm25": 18, "pm10": 18, "o3": 6, "co": 6, "no2": 1, "so2": 1}


def test_history_matches_the_current_aqi(client: TestClient, influx: InfluxClient) -> None:
    data = Air()
    data.hours("air-5", 24, 9, pm25=10.0)
    data.hours("air-5", 8, 1, per_hour=6, pm25=50.0)
    data.hours("air-5", 7, 1, o3=30.0, co=5.0)
    influx.write_lines(data.lines)
    now = _stations(client)["air-5"]
    span = {"start": "2026-01-31T11:30:00Z", "end": AT}  # one whole hour: 12:00
    history = client.get("/aqi/air-5/history", params=span).json()
    (point,) = history["points"]
    assert point["aqi"] == now["aqi"]["aqi"]
    assert point["averages"] == {w["pollutant"]: w["average"] for w in now["windows"]}
    assert point["hours_with_data"]["o3"] == 7 and point["averages"]["o3"] == 30.0


def _problem(client: TestClient, url: str, status: int, **params: str) -> dict[str, Any]:
    return problem(client.get(url, params=params), status)


def test_history_problems(client: TestClient) -> None:
    assert "nope" in _problem(client, "/aqi/nope/history", 404)["detail"]
    body = _problem(client, "/aqi/water-1/history", 422)
    assert "water" in body["detail"] and body["errors"][0]["loc"] == ["path", "sensor_id"]
    too_long = _problem(
        client,
        "/aqi/air-1/history",
        422,
        start="2025-10-01T00:00:00Z",
        end="2026-01-01T00:00:00Z",
    )
    assert "90 days" in too_long["detail"]
    ok = client.get(
        "/aqi/air-1/history",
        params={"start": "2025-10-03T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    )
    assert ok.status_code == 200 and len(ok.json()["points"]) == 90 * 24 + 1
    backwards = _problem(client, "/aqi/air-1/history", 422, start=AT, end="2026-01-31T00:00:00Z")
    assert "after" in backwards["detail"]


def test_a_key_is_needed_when_anonymous_reading_is_off(settings: Settings) -> None:
    closed = settings.model_copy(update={"api_anonymous_read": False})
    with TestClient(create_app(closed)) as client:
        for url in ("/aqi", "/aqi/air-1/history", "/water/status", "/traffic/status/x"):
            response = client.get(url)
            assert response.status_code == 401, url
            assert response.headers["content-type"] == PROBLEM
