"""The readings routes against a real InfluxDB holding known points."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from citydata.influx import InfluxClient
from citydata.lineprotocol import encode_point
from citydata.readings.ranges import MAX_POINTS
from citydata.settings import Settings, load_settings
from citydata.timeutil import parse_rfc3339
from tests.apiclient import TestClient, problem
from tests.helpers import register

pytestmark = pytest.mark.integration

T0 = parse_rfc3339("2026-01-31T00:00:00Z")
MINUTE = 60 * 1_000_000_000


def _write(influx: InfluxClient, kind: str, sensor: str, at: int, **fields: float) -> None:
    tags = {"sensor_id": sensor, "zone": "test", "site": "lab"}
    influx.write_lines([encode_point(kind, tags, fields, at)])


@pytest.fixture
def client(influx: InfluxClient, tmp_path: Path) -> Iterator[TestClient]:
    settings: Settings = load_settings(
        {}, influx_url=influx.url, influx_db=influx.database, data_dir=tmp_path / "var"
    )
    register(settings, {"air-1": "air", "air-2": "air", "water-1": "water"})
    with TestClient(create_app(settings)) as c:
        yield c


def _range(client: TestClient, sensor: str, **params: str) -> Any:
    response = client.get(f"/sensors/{sensor}/readings", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _problem(client: TestClient, url: str, status: int, **params: str) -> dict[str, Any]:
    return problem(client.get(url, params=params), status)


def test_latest_per_sensor_and_filters(client: TestClient, influx: InfluxClient) -> None:
    _write(influx, "air", "air-1", T0, pm25=10.0, pm10=20.0)
    _write(influx, "air", "air-1", T0 + MINUTE, pm25=11.0, pm10=21.0)
    _write(influx, "air", "air-2", T0 + 2 * MINUTE, pm25=30.0)
    _write(influx, "water", "water-1", T0 + 3 * MINUTE, level=1.25)
    items = client.get("/readings/latest").json()["items"]
    assert [(i["kind"], i["sensor_id"]) for i in items] == [
        ("air", "air-1"),
        ("air", "air-2"),
        ("water", "water-1"),
    ]
    first = items[0]
    assert first["values"] == {"pm25": 11.0, "pm10": 21.0}
    assert first["time_ns"] == T0 + MINUTE and first["time"] == "2026-01-31T00:01:00Z"
    water = client.get("/readings/latest?kind=water").json()["items"]
    assert [(i["sensor_id"], i["values"]) for i in water] == [("water-1", {"level": 1.25})]
    one = client.get("/readings/latest?sensor_id=air-2").json()["items"]
    assert [(i["sensor_id"], i["values"]) for i in one] == [("air-2", {"pm25": 30.0})]
    assert client.get("/readings/latest?kind=air&sensor_id=water-1").json()["items"] == []


def test_latest_unknown_kind_is_a_422_problem(client: TestClient) -> None:
    body = _problem(client, "/readings/latest", 422, kind="noise")
    assert "noise" in body["detail"] and body["errors"][0]["loc"] == ["query", "kind"]


def test_raw_range_is_exactly_the_points_in_range_in_time_order(
    client: TestClient, influx: InfluxClient
) -> None:
    for n in (5, 0, 3, 1, 4, 2):  # written out of order
        _write(influx, "air", "air-1", T0 + n * MINUTE, pm25=float(n), pm10=100.0)
    _write(influx, "air", "air-2", T0 + 2 * MINUTE, pm25=99.0)
    body = _range(
        client,
        "air-1",
        metric="pm25",
        start="2026-01-31T07:01:00+07:00",  # T0 + 1 min, inclusive
        end="2026-01-31T00:04:00Z",  # exclusive
    )
    assert [(p["time_ns"], p["value"]) for p in body["points"]] == [
        (T0 + n * MINUTE, float(n)) for n in (1, 2, 3)
    ]
    assert body["unit"] == "µg/m³" and body["every"] is None and body["agg"] is None
    assert body["points"][0]["time"] == "2026-01-31T00:01:00Z"


@pytest.mark.parametrize(
    ("agg", "expected"),
    [("mean", 2.5), ("min", 1.0), ("max", 4.0), ("last", 3.0), ("count", 4.0)],
)
def test_each_aggregate_over_one_bucket(
    client: TestClient, influx: InfluxClient, agg: str, expected: float
) -> None:
    # values 1, 2, 4, 3 in time order: last (3) differs from max (4)
    for n, value in enumerate((1.0, 2.0, 4.0, 3.0)):
        _write(influx, "air", "air-1", T0 + n * MINUTE, pm25=value)
    _write(influx, "air", "air-1", T0 + 60 * MINUTE, pm25=50.0)  # the next hour's bucket
    body = _range(
        client,
        "air-1",
        metric="pm25",
        start="2026-01-31T00:00:00Z",
        end="2026-01-31T01:00:00Z",
        every="1h",
        agg=agg,
    )
    assert [(p["time_ns"], p["value"]) for p in body["points"]] == [(T0, expected)]
    assert (body["every"], body["agg"]) == ("1h", agg)


def test_aggregate_buckets_and_default_mean(client: TestClient, influx: InfluxClient) -> None:
    for n, value in enumerate((1.0, 3.0, 10.0, 20.0)):
        _write(influx, "water", "water-1", T0 + n * 5 * MINUTE, level=value)
    body = _range(
        client,
        "water-1",
        metric="level",
        start="2026-01-31T00:00:00Z",
        end="2026-01-31T00:20:00Z",
        every="15m",
    )
    assert [p["value"] for p in body["points"]] == [(1.0 + 3.0 + 10.0) / 3, 20.0]
    assert body["agg"] == "mean"


def test_start_after_end_is_a_422_problem(client: TestClient) -> None:
    body = _problem(
        client,
        "/sensors/air-1/readings",
        422,
        metric="pm25",
        start="2026-01-31T02:00:00Z",
        end="2026-01-31T01:00:00Z",
    )
    assert "start must be before end" in body["detail"]


def test_time_without_zone_is_a_422_problem(client: TestClient) -> None:
    body = _problem(client, "/sensors/air-1/readings", 422, metric="pm25", start="2026-01-31")
    assert body["errors"][0]["loc"] == ["query", "start"]


def test_unknown_metric_is_a_422_problem(client: TestClient) -> None:
    body = _problem(client, "/sensors/air-1/readings", 422, metric="level")
    assert "level" in body["detail"] and body["errors"][0]["loc"] == ["query", "metric"]


def test_bad_every_or_agg_is_a_422_problem(client: TestClient) -> None:
    _problem(client, "/sensors/air-1/readings", 422, metric="pm25", every="2m")
    _problem(client, "/sensors/air-1/readings", 422, metric="pm25", every="1h", agg="median")


def test_unknown_sensor_is_a_404_problem(client: TestClient) -> None:
    body = _problem(client, "/sensors/nope/readings", 404, metric="pm25")
    assert "nope" in body["detail"] and body["instance"] == "/sensors/nope/readings"


def test_point_limit_is_a_422_problem_saying_how_to_narrow(
    client: TestClient, influx: InfluxClient
) -> None:
    hour = parse_rfc3339("2026-01-02T00:00:00Z")
    _write(influx, "air", "air-1", hour + 30 * MINUTE, pm25=7.0)
    start = "2026-01-01T00:00:00Z"
    end = "2026-01-08T00:00:00Z"  # 10080 one-minute buckets
    assert MAX_POINTS < 7 * 24 * 60
    body = _problem(
        client, "/sensors/air-1/readings", 422, metric="pm25", start=start, end=end, every="1m"
    )
    assert "narrow" in body["detail"] and str(MAX_POINTS) in body["detail"]
    wider = _range(client, "air-1", metric="pm25", start=start, end=end, every="1h")
    assert len(wider["points"]) == 7 * 24
    assert [(p["time_ns"], p["value"]) for p in wider["points"] if p["value"] is not None] == [
        (hour, 7.0)
    ]


def test_latest_finds_recent_and_long_silent_sensors_alike(
    client: TestClient, influx: InfluxClient
) -> None:
    import time

    now = time.time_ns()
    _write(influx, "air", "air-1", now - 5 * MINUTE, pm25=12.0)
    _write(influx, "air", "air-1", now - 3 * 86_400 * 1_000_000_000, pm25=99.0)
    _write(influx, "air", "air-2", T0, pm25=30.0)  # silent for months
    _write(influx, "air", "air-2", T0 - MINUTE, pm25=31.0)
    _write(influx, "air", "air-9", now - MINUTE, pm25=5.0)  # not registered, yet stored
    body = client.get("/readings/latest", params={"kind": "air"}).json()
    got = {r["sensor_id"]: (r["time_ns"], r["values"]["pm25"]) for r in body["items"]}
    assert got == {
        "air-1": (now - 5 * MINUTE, 12.0),
        "air-2": (T0, 30.0),
        "air-9": (now - MINUTE, 5.0),
    }
    one = client.get("/readings/latest", params={"sensor_id": "air-2"}).json()["items"]
    assert [(r["sensor_id"], r["time_ns"]) for r in one] == [("air-2", T0)]
    assert client.get("/readings/latest", params={"sensor_id": "nobody"}).json()["items"] == []


def test_latest_of_whole_kinds_is_reused_for_the_cache_time(
    influx: InfluxClient, tmp_path: Path
) -> None:
    import time

    def settings(ttl: float) -> Settings:
        return load_settings(
            {},
            influx_url=influx.url,
            influx_db=influx.database,
            data_dir=tmp_path / "var",
            api_latest_cache_s=ttl,
        )

    def pm25(client: TestClient, **params: str) -> list[float]:
        items = client.get("/readings/latest", params=params).json()["items"]
        return [r["values"]["pm25"] for r in items]

    register(settings(0), {"air-1": "air"})
    now = time.time_ns()
    _write(influx, "air", "air-1", now - 2 * MINUTE, pm25=1.0)
    with TestClient(create_app(settings(0.5))) as client:
        assert pm25(client, kind="air") == [1.0]
        _write(influx, "air", "air-1", now - MINUTE, pm25=2.0)
        assert pm25(client, kind="air") == [1.0]  # within the cache time
        assert pm25(client, sensor_id="air-1") == [2.0]  # one sensor: always fresh
        assert pm25(client) == [2.0]  # every kind: a cache entry of its own
        time.sleep(0.6)
        assert pm25(client, kind="air") == [2.0]
    with TestClient(create_app(settings(0))) as client:
        assert pm25(client, kind="air") == [2.0]
        _write(influx, "air", "air-1", now, pm25=3.0)
        assert pm25(client, kind="air") == [3.0]


def test_latest_refuses_a_sensor_id_no_sensor_can_have(client: TestClient) -> None:
    body = _problem(client, "/readings/latest", 422, sensor_id="air-1\nDROP")
    assert body["errors"][0]["loc"] == ["query", "sensor_id"]


def test_a_one_value_parameter_given_twice_is_a_422_not_the_last_one(
    client: TestClient,
) -> None:
    twice = [("kind", "air"), ("kind", "water")]
    body = problem(client.get("/readings/latest", params=twice), 422)
    assert body["errors"] == [
        {
            "loc": ["query", "kind"],
            "msg": "given 2 times; this parameter takes one value",
            "type": "repeated",
        }
    ]
    # list parameters still repeat (the dead-letter filters), and a single value still works
    assert client.get("/readings/latest?kind=air").status_code == 200
