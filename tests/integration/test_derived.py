"""The derived series against the API's judgments, on the simulated city (tests/city.py), and
the service's behaviour against a real InfluxDB: idempotence, retired stations, an outage."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from citydata import services
from citydata.cli import main
from citydata.derived.backfill import catch_up_since
from citydata.derived.deriver import MINUTE_NS, Deriver, floor_to
from citydata.derived.judge import status_rank
from citydata.derived.points import MEASUREMENTS
from citydata.derived.schedule import Loop
from citydata.influx import InfluxClient
from citydata.lineprotocol import encode_point
from citydata.readings.hourly import HOUR_NS
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from citydata.timeutil import as_datetime, parse_rfc3339
from simulators.fleet import LAM_PHAYA
from tests.apiclient import TestClient
from tests.city import City
from tests.helpers import make_station, wait_for

pytestmark = pytest.mark.integration
AIR = sorted(s.sensor_id for s in LAM_PHAYA if s.kind == "air")


@pytest.fixture(scope="module")
def api(city: City) -> Iterator[TestClient]:
    with TestClient(create_app(city.settings)) as client:
        yield client


def _rfc(ns: int) -> str:
    return as_datetime(ns).isoformat()


def _by(rows: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    """{pollutant: value} of the row's `<pollutant><suffix>` fields that have a value."""
    return {
        k.removesuffix(suffix): v
        for k, v in rows[0].items()
        if k.endswith(suffix) and v is not None
    }


def _compare_hour(point: dict[str, Any], row: dict[str, Any]) -> None:
    assert (row["aqi"], row["level"], row["dominant"]) == (
        point["aqi"],
        point["level"],
        point["dominant"],
    )
    assert bool(row["estimate"]) is point["estimate"]
    assert _by([row], "_aqi") == point["sub_indices"]
    valid = {p: v for p, v in point["averages"].items() if v is not None}
    assert _by([row], "_avg") == pytest.approx(valid, rel=1e-12)
    assert _by([row], "_hours") == {p: point["hours_with_data"][p] for p in valid}


def test_city_aqi_agrees_with_the_api_history_for_every_air_station(
    city: City, api: TestClient
) -> None:
    for sid in AIR:
        body = api.get(
            f"/aqi/{sid}/history", params={"start": _rfc(city.start_ns), "end": _rfc(city.end_ns)}
        ).json()
        rows = {
            r["time"]: r
            for r in city.influx.records(
                f"SELECT * FROM city_aqi WHERE sensor_id = '{sid}' "
                f"AND time >= {city.start_ns} AND time <= {city.end_ns}"
            )
        }
        judged = [p for p in body["points"] if p["aqi"] is not None]
        # Every whole hour in [start, end]: 49 when both ends are whole hours, else 48.
        hours = len(range(-(-city.start_ns // HOUR_NS), city.end_ns // HOUR_NS + 1))
        assert len(body["points"]) == hours and len(judged) >= 40, sid  # first hours: no data
        assert sorted(rows) == [parse_rfc3339(p["time"]) for p in judged], sid
        for point in judged:
            _compare_hour(point, rows[parse_rfc3339(point["time"])])


def _snapshot(influx: InfluxClient, *times: int) -> dict[str, list[dict[str, Any]]]:
    """Every derived point at `times` (InfluxQL has no OR on time: one query each)."""
    return {
        m: [r for t in times for r in influx.records(f'SELECT * FROM "{m}" WHERE time = {t}')]
        for m in MEASUREMENTS
    }


def _counts(influx: InfluxClient) -> dict[str, Any]:
    return {m: influx.records(f'SELECT count(*) FROM "{m}"') for m in MEASUREMENTS}


def test_recomputing_an_hour_and_a_minute_writes_the_same_points(city: City) -> None:
    hour = floor_to(city.end_ns, HOUR_NS) - 5 * HOUR_NS
    minute = hour + 25 * MINUTE_NS  # a backfilled minute (every 5 minutes)
    before, counts = _snapshot(city.influx, hour, minute), _counts(city.influx)
    assert all(before.values()) and len(before["city_aqi"]) == len(AIR)
    with Registry.from_settings(city.settings) as registry:
        deriver = Deriver(city.influx, registry, city.settings.aqi_above_200)
        assert deriver.hour(hour).points == len(AIR)
        at_minute = sum(r["time"] == minute for rows in before.values() for r in rows)
        assert deriver.minute(minute).points == at_minute
    assert _snapshot(city.influx, hour, minute) == before
    assert _counts(city.influx) == counts


def _at_one_minute(
    city: City, api: TestClient, scratch: InfluxClient
) -> tuple[int, dict[str, Any]]:
    """Judge the current minute into `scratch` and ask the API, within the same minute."""
    while True:
        minute = floor_to(time.time_ns(), MINUTE_NS)
        with Registry.from_settings(city.settings) as registry:
            deriver = Deriver(city.influx, registry, city.settings.aqi_above_200)
            _, lines = deriver.judge_minute(minute)
        answers = {
            kind: api.get(f"/{kind}/status").json()["items"] for kind in ("water", "traffic")
        }
        if floor_to(time.time_ns(), MINUTE_NS) == minute:
            scratch.write_lines(lines)
            return minute, answers


def test_water_and_traffic_points_agree_with_the_api_at_the_same_minute(
    city: City, api: TestClient, influx: InfluxClient
) -> None:
    minute, answers = _at_one_minute(city, api, influx)
    water = {r["sensor_id"]: r for r in influx.records("SELECT * FROM city_water")}
    assert sorted(water) == sorted(w["sensor_id"] for w in answers["water"])
    for item in answers["water"]:
        row, level, do = water[item["sensor_id"]], item["level"], item["do"]
        assert (row["time"], row["level"], row["do"]) == (
            minute,
            level["value_m"],
            do["value_mg_l"],
        )
        assert row["status"] == level["status"]["status"]
        assert row["status_rank"] == status_rank(level["status"]["status"])
        assert {k: row[k] for k in level["thresholds"]} == level["thresholds"]
        assert (row["next_threshold"], row["margin_m"]) == (
            level["status"]["next_threshold"],
            level["status"]["margin_m"],
        )
        assert row["rise_m_per_h"] == (level["rise"] or {}).get("rate_m_per_h")
        assert bool(row["stale"]) is level["newest"]["stale"]
        assert row["level_age_s"] == pytest.approx(level["newest"]["age_s"], abs=60)
        assert (row["water_class"], row["do_min"], bool(row["do_below"])) == (
            do["water_class"],
            do["status"]["minimum_mg_l"],
            do["status"]["state"] == "below",
        )
    traffic = {r["sensor_id"]: r for r in influx.records("SELECT * FROM city_traffic")}
    assert sorted(traffic) == sorted(t["sensor_id"] for t in answers["traffic"])
    for item in answers["traffic"]:
        row, judged = traffic[item["sensor_id"]], item["congestion"]
        assert row["severity"] == (judged and judged["severity"])
        assert row["level"] == (judged and judged["level"])
        assert row["ratio"] == (judged and judged["ratio"])
        assert (row["speed"], row["count"], row["occupancy"]) == tuple(
            item["values"].get(k) for k in ("speed", "count", "occupancy")
        )
        assert (row["free_flow"], bool(row["stale"])) == (
            item["free_flow_kmh"],
            item["newest"]["stale"],
        )


def test_a_station_snapshot_for_every_station_at_every_judged_minute(city: City) -> None:
    at = city.end_ns
    rows = {
        r["sensor_id"]: r
        for r in city.influx.records(f"SELECT * FROM city_station WHERE time = {at}")
    }
    assert sorted(rows) == sorted(s.sensor_id for s in LAM_PHAYA)
    for sim in LAM_PHAYA:
        row = rows[sim.sensor_id]
        assert (row["kind"], row["latitude"], row["longitude"]) == (sim.kind, sim.lat, sim.lon)
        assert (row["online"], row["age_s"], row["status"], row["name_th"]) == (
            1,
            0,
            "active",
            sim.name_th,
        )
    aqi = city.influx.records(
        f"SELECT level FROM city_aqi WHERE time = {floor_to(at, HOUR_NS)} GROUP BY sensor_id"
    )
    water = city.influx.records(
        f"SELECT status_rank FROM city_water WHERE time = {at} GROUP BY sensor_id"
    )
    traffic = city.influx.records(
        f"SELECT severity FROM city_traffic WHERE time = {at} GROUP BY sensor_id"
    )
    expected = {r["sensor_id"]: r["level"] for r in aqi}
    expected |= {r["sensor_id"]: r["status_rank"] + 1 for r in water}
    # A detector not judged (no vehicles in its newest interval, at night) has no severity
    # field, so InfluxDB answers no row for it: state 0.
    expected |= {s.sensor_id: 0 for s in LAM_PHAYA if s.kind == "traffic"}
    expected |= {r["sensor_id"]: r["severity"] + 1 for r in traffic if r["severity"] is not None}
    assert {sid: r["state"] for sid, r in rows.items()} == expected
    (count,) = city.influx.records(
        f"SELECT count(state) FROM city_station WHERE time > {city.start_ns} AND time <= {at}"
    )
    assert count["count"] == 576 * len(LAM_PHAYA)  # every 5 minutes of the 2 days


def _local_settings(influx: InfluxClient, tmp_path: Path) -> Settings:
    return load_settings(
        {}, influx_url=influx.url, influx_db=influx.database, data_dir=tmp_path / "var"
    )


def test_retired_stations_are_left_out_and_maintenance_is_written_as_measured(
    influx: InfluxClient, tmp_path: Path
) -> None:
    settings = _local_settings(influx, tmp_path)
    now = floor_to(time.time_ns(), MINUTE_NS)
    with Registry.from_settings(settings) as registry:
        registry.upsert_many(
            [
                make_station("air-1"),
                make_station("air-2", status="retired"),
                make_station("air-3", status="maintenance"),
            ]
        )
        influx.write_lines(
            encode_point("air", {"sensor_id": sid}, {"pm25": 20.0}, now - 90 * 10**9)
            for sid in ("air-1", "air-2", "air-3")
        )
        Deriver(influx, registry, "extrapolate").minute(now)
    rows = {r["sensor_id"]: r for r in influx.records("SELECT * FROM city_station")}
    assert sorted(rows) == ["air-1", "air-3"]
    assert (rows["air-3"]["status"], rows["air-3"]["online"], rows["air-3"]["age_s"]) == (
        "maintenance",
        1,
        90,
    )
    assert rows["air-1"]["state"] == 0  # no AQI yet: one reading is not an hour of data


def test_influxdb_unreachable_is_one_logged_line_and_the_next_cycle_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = services.influxdb(tmp_path / "influxdb").start()
    try:
        influx = InfluxClient(server.url, "outage")
        influx.create_database()
        settings = _local_settings(influx, tmp_path)
        hour = floor_to(time.time_ns(), HOUR_NS)
        influx.write_lines(
            encode_point(
                "air", {"sensor_id": "air-1"}, {"pm25": 30.0, "no2": 10.0}, hour - k * 600 * 10**9
            )
            for k in range(1, 4)
        )
        with Registry.from_settings(settings) as registry:
            registry.upsert_many([make_station("air-1")])
            loop = Loop(Deriver(influx, registry, "extrapolate"))
            server.stop()
            with caplog.at_level(logging.DEBUG, "citydata.derived"):
                assert loop.step(hour) is None
            failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(failures) == 1 and "trying again next minute" in failures[0].getMessage()
            server.start()
            done = loop.step(hour + MINUTE_NS)
        assert done is not None and [h.time_ns for h in done.hours] == [hour - HOUR_NS, hour]
        (row,) = influx.records("SELECT aqi, dominant FROM city_aqi")
        assert (row["time"], row["dominant"]) == (hour, "no2")  # 1 h NO2; PM2.5 needs 18 h
        influx.close()
    finally:
        server.stop()


def test_the_command_backfills_then_does_one_cycle(
    influx: InfluxClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = _local_settings(influx, tmp_path)
    for name, value in {
        "INFLUX_URL": influx.url,
        "INFLUX_DB": influx.database,
        "DATA_DIR": str(settings.data_dir),
    }.items():
        monkeypatch.setenv(f"CITYDATA_{name}", value)
    now = time.time_ns()
    with Registry.from_settings(settings) as registry:
        registry.upsert_many([make_station("air-1"), make_station("water-1", "water")])
    influx.write_lines(
        encode_point("air", {"sensor_id": "air-1"}, {"no2": 10.0}, now - k * 300 * 10**9)
        for k in range(60)  # 5 hours: every hour judged has an hour of NO2 before it
    )
    assert main(["derive", "--since", "3h", "--step", "300", "--once"]) == 0
    assert "backfilled the derived series: 4 hours of AQI, 36 minutes every 300 s" in (
        capsys.readouterr().out
    )
    (aqi,) = influx.records("SELECT count(aqi) FROM city_aqi")
    (stations,) = influx.records("SELECT count(state) FROM city_station")
    assert (aqi["count"], stations["count"]) == (4, 2 * 36)
    assert main(["derive", "--once"]) == 0
    (stations,) = influx.records("SELECT count(state) FROM city_station")
    assert stations["count"] in (2 * 37, 2 * 36)  # the current minute (unless on a 5-minute)


def test_string_fields_read_back_as_written(influx: InfluxClient) -> None:
    texts = ['say "hi"', "a\\b", "สถานี, ที่ 1 = ดี", "trailing\\"]
    influx.write_lines(
        encode_point("city_station", {"sensor_id": f"s{i}"}, {"name_en": t, "state": 1.0}, i + 1)
        for i, t in enumerate(texts)
    )
    rows = influx.records("SELECT name_en FROM city_station")
    assert [r["name_en"] for r in rows] == texts


def _derive_until(settings: Settings, done: Callable[[], bool], what: str) -> tuple[int, str]:
    """Run `citydata derive` as a process until `done`, then SIGTERM: its status and stderr."""
    env = {**os.environ, **settings.env()}
    env.pop("CITYDATA_CONFIG", None)
    with subprocess.Popen(
        [sys.executable, "-m", "citydata", "derive"], env=env, stderr=subprocess.PIPE
    ) as proc:
        try:
            wait_for(done, what=what)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return proc.returncode, err.decode()


def test_the_service_writes_each_minute_and_stops_on_sigterm(
    influx: InfluxClient, tmp_path: Path
) -> None:
    settings = _local_settings(influx, tmp_path)
    with Registry.from_settings(settings) as registry:
        registry.upsert_many([make_station("water-1", "water")])
    before = time.time_ns() - 61 * 10**9  # a minute judged counts readings up to it only
    influx.write_lines([encode_point("water", {"sensor_id": "water-1"}, {"level": 1.2}, before)])
    status, err = _derive_until(
        settings, lambda: bool(influx.records("SELECT * FROM city_water")), "a cycle"
    )
    assert status == 0 and "Traceback" not in err, err
    row = influx.records("SELECT level, status_rank FROM city_water")[0]  # a minute or two
    assert row["level"] == 1.2 and row["status_rank"] is None  # no thresholds registered


def test_a_restart_resumes_after_the_last_points_written(influx: InfluxClient) -> None:
    now = time.time_ns()
    assert catch_up_since(influx, now) is None  # a first start: nothing to fill
    last = floor_to(now, MINUTE_NS) - 40 * MINUTE_NS
    influx.write_lines([encode_point("city_station", {"sensor_id": "s"}, {"state": 0.0}, last)])
    assert catch_up_since(influx, now) == last + MINUTE_NS
    assert catch_up_since(influx, last + 90 * 10**9) is None  # stopped for less than a step
    assert catch_up_since(influx, last + 3 * 24 * HOUR_NS) is None  # too long: --since


def test_the_service_fills_the_gap_since_it_was_stopped(
    influx: InfluxClient, tmp_path: Path
) -> None:
    settings = _local_settings(influx, tmp_path)
    with Registry.from_settings(settings) as registry:
        registry.upsert_many([make_station("water-1", "water")])
    now = time.time_ns()
    last = floor_to(now, MINUTE_NS) - 40 * MINUTE_NS  # stopped 40 minutes ago
    influx.write_lines(
        [
            encode_point("water", {"sensor_id": "water-1"}, {"level": 1.2}, last - MINUTE_NS),
            encode_point("city_station", {"sensor_id": "water-1"}, {"state": 0.0}, last),
        ]
    )
    q = f"SELECT count(state) FROM city_station WHERE time > {last} AND time < {now}"

    def filled() -> bool:
        rows = influx.records(q)
        return bool(rows) and rows[0]["count"] >= 7  # every 5 minutes of the 40 missed

    status, err = _derive_until(settings, filled, "the gap filled")
    assert status == 0, err
    assert "filling the derived series since" in err
