"""Retention and downsampling against a real InfluxDB: `citydata db init` sets up the policies
and continuous queries, backfills the hourly series, and reads from it give the raw answer."""

from __future__ import annotations

import argparse
import math
import random
import time
from typing import Any

import pytest

from citydata import retention
from citydata.cli.db import cmd_db_init
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.lineprotocol import encode_point
from citydata.readings.ranges import Agg, Every, ReadingRange, sensor_range
from citydata.settings import load_settings

pytestmark = pytest.mark.integration

HOUR = retention.HOUR_NS
MINUTE = 60 * 1_000_000_000
AIR = all_kinds()["air"]


def _init(influx: InfluxClient, capsys: pytest.CaptureFixture[str], **settings: Any) -> str:
    s = load_settings({}, influx_url=influx.url, influx_db=influx.database, **settings)
    assert cmd_db_init(s, argparse.Namespace(backfill="changed")) == 0
    return capsys.readouterr().out


def _state(influx: InfluxClient) -> tuple[dict[str, tuple[str, bool]], dict[str, str]]:
    return retention.retention_policies(influx), retention.continuous_queries(influx)


def _write_minutes(influx: InfluxClient, sensor: str, start: int, minutes: int, seed: int) -> None:
    """One reading a minute with gaps (so hours hold different counts), random pm25 and pm10."""
    rng = random.Random(seed)
    lines = [
        encode_point(
            "air",
            {"sensor_id": sensor, "zone": "z", "site": "s"},
            {"pm25": round(rng.uniform(0, 300), 2), "pm10": round(rng.uniform(0, 500), 2)},
            start + i * MINUTE + rng.randrange(MINUTE),
        )
        for i in range(minutes)
        if rng.random() > 0.3
    ]
    for i in range(0, len(lines), 5000):
        influx.write_lines(lines[i : i + 5000])


def test_db_init_creates_policies_and_queries_and_is_idempotent(
    influx: InfluxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _init(influx, capsys)
    policies, queries = _state(influx)
    assert policies == {"autogen": ("17520h0m0s", True), "forever": ("0s", False)}
    assert set(queries) == {f"cq_{kind}_1h" for kind in all_kinds()}
    # the default collector_max_age_s (400 days) gives the longest look-back, 48 h
    assert "RESAMPLE EVERY 1h FOR 2d" in queries["cq_air_1h"]
    assert "INTO " + influx.database + ".forever.air_1h" in queries["cq_air_1h"]
    assert "created" in first and "duration set to 730d" in first

    again = _init(influx, capsys)
    assert _state(influx) == (policies, queries)
    assert "created" not in again and "set to" not in again
    assert again.count("unchanged") == len(all_kinds()) + 1


def test_raw_duration_and_look_back_follow_the_settings(
    influx: InfluxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _init(influx, capsys, influx_raw_retention="30d", collector_max_age_s=3 * 3600)
    policies, queries = _state(influx)
    assert policies["autogen"] == ("720h0m0s", True)
    assert "FOR 3h" in queries["cq_water_1h"]

    out = _init(influx, capsys, influx_raw_retention="INF")
    assert "FOR 2d" in retention.continuous_queries(influx)["cq_water_1h"]
    assert "cq_water_1h: updated" in out
    assert retention.retention_policies(influx)["autogen"] == ("0s", True)


def test_backfill_fills_the_hourly_series_of_existing_readings(
    influx: InfluxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    start = (time.time_ns() // HOUR - 24 * 40) * HOUR  # 40 days ago: two backfill statements
    for day in range(0, 40, 10):
        _write_minutes(influx, "air-1", start + day * 24 * HOUR, 120, seed=day)
    out = _init(influx, capsys)
    assert "cq_air_1h: created; backfilled" in out
    rows = influx.records('SELECT * FROM "forever"."air_1h" GROUP BY *')
    assert len(rows) == 4 * 2  # two hours on each of four days
    assert {row["sensor_id"] for row in rows} == {"air-1"}
    raw = influx.records(
        "SELECT count(pm25) AS n FROM air WHERE time >= 0 AND time < now() "
        "GROUP BY time(1h) fill(none)"
    )
    assert sorted(row["count_pm25"] for row in rows) == sorted(row["n"] for row in raw)
    assert "cq_water_1h: created; nothing to backfill" in out


def _ranges(influx: InfluxClient, span: tuple[int, int]) -> dict[tuple[Every, Agg], ReadingRange]:
    aggs: tuple[Agg, ...] = ("mean", "min", "max", "count")
    return {
        (every, agg): sensor_range(influx, AIR, "air-1", "pm25", span, every, agg)
        for every in (Every.h1, Every.d1)
        for agg in aggs
    }


def _same(a: ReadingRange, b: ReadingRange) -> None:
    assert [p.time_ns for p in a.points] == [p.time_ns for p in b.points]
    for p, q in zip(a.points, b.points, strict=True):
        assert (p.value is None) == (q.value is None), p.time
        if p.value is not None and q.value is not None:
            assert math.isclose(p.value, q.value, rel_tol=1e-9, abs_tol=1e-9), p.time


def test_raw_and_hourly_give_the_same_answer(
    influx: InfluxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    day0 = (time.time_ns() // (24 * HOUR) - 12) * 24 * HOUR
    _write_minutes(influx, "air-1", day0, 9 * 24 * 60, seed=1)
    _write_minutes(influx, "air-2", day0, 2 * 24 * 60, seed=2)  # another sensor, not counted
    # Not on hour boundaries: the partial first and last hours come from raw readings.
    span = (day0 + 17 * MINUTE, day0 + 8 * 24 * HOUR + 23 * MINUTE)
    from_raw = _ranges(influx, span)  # no continuous query yet: raw readings only
    _init(influx, capsys)
    from_hourly = _ranges(influx, span)
    for key, raw in from_raw.items():
        assert len(raw.points) > 8
        _same(raw, from_hourly[key])

    # Served by the hourly series: without the raw readings of its whole hours the answer stays.
    influx.query(f"DELETE FROM air WHERE time >= {day0 + HOUR} AND time < {span[1] - HOUR}")
    for key, answer in _ranges(influx, span).items():
        _same(from_raw[key], answer)


def test_recent_hours_come_from_raw_readings_and_late_ones_need_a_backfill(
    influx: InfluxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _init(influx, capsys)
    now = time.time_ns()
    # Written after db init, as a spool replays after an outage of 5 days.
    _write_minutes(influx, "air-1", now - 5 * 24 * HOUR, 5 * 24 * 60 - 5, seed=3)
    span = (now - 5 * 24 * HOUR, now)
    recent = now // HOUR * HOUR - 48 * HOUR  # the continuous query's look-back, 2d

    def gaps(agg: Agg) -> list[int]:
        """Hours without a value, but for the current one (maybe without a reading yet)."""
        got = sensor_range(influx, AIR, "air-1", "pm25", span, Every.h1, agg)
        return [p.time_ns for p in got.points if p.value is None and p.time_ns < now - HOUR]

    # The last 48 hours come from raw readings; `last` always does.
    assert gaps("last") == []
    assert gaps("mean") and min(gaps("mean")) >= span[0] and max(gaps("mean")) < recent
    # Older late readings reach the hourly series with a backfill (docs/retention.md).
    s = load_settings({}, influx_url=influx.url, influx_db=influx.database)
    assert cmd_db_init(s, argparse.Namespace(backfill="all")) == 0
    assert "cq_air_1h: recreated; backfilled" in capsys.readouterr().out
    assert gaps("mean") == []


def test_empty_range_is_empty_as_from_raw(
    influx: InfluxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _init(influx, capsys)
    now = time.time_ns()
    span = (now - 30 * 24 * HOUR, now)
    assert sensor_range(influx, AIR, "nobody", "pm25", span, Every.d1, "count").points == []


def test_the_continuous_query_runs(influx: InfluxClient) -> None:
    # InfluxDB runs a new continuous query at once (run-interval 1s), then every hour.
    hour = time.time_ns() // HOUR * HOUR
    _write_minutes(influx, "air-1", hour - 3 * HOUR, 3 * 60, seed=4)
    plan = retention.Plan("730d", 48, backfill="none", kinds=("air",))
    assert (
        retention.ensure(influx, plan, time.time_ns())[1] == "continuous query cq_air_1h: created"
    )
    deadline = time.monotonic() + 15
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(rows) < 3:
        time.sleep(0.25)
        rows = influx.records('SELECT * FROM "forever"."air_1h"')
    assert [row["time"] for row in rows] == [hour - 3 * HOUR, hour - 2 * HOUR, hour - HOUR]
    assert all(row["mean_pm25"] is not None and row["count_pm10"] > 0 for row in rows)
