"""Retention bench: a 1-year chart (1d buckets, 365 days of one sensor at one reading a minute,
525,600 points) read from raw readings versus from the hourly series.

Everything runs for real on 127.0.0.1: InfluxDB from `citydata.services`, loaded by
bench/api.py's loader (deterministic values, gzip line protocol), then `citydata db init`'s
retention set-up (its backfill timed too). The raw figure is the query `sensor_range` sends
without an hourly series; the hourly figure is `sensor_range` itself once the continuous query
exists (the whole hours from the hourly series, the recent 48 h and partial hours raw); the
panel figure is the air dashboard's Long term PM2.5 query over the same year.
Figures are printed, never asserted.

Run:  .venv/bin/python bench/retention.py              # 365 days, 20 timed reads each
      .venv/bin/python bench/retention.py --days 30    # quick
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common, bench.api

from bench.api import load, settle
from bench.common import run_with_influxdb
from citydata import retention, services
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.readings.ranges import Every, _range_query, sensor_range
from dashboards.common import hourly_mean
from simulators.sensor import SimSensor

DAY_NS = 86_400 * 1_000_000_000
SENSOR = "bench-air-000"


def timed(fn: object, runs: int) -> tuple[float, float]:
    """Median and max milliseconds of `runs` calls after one warm-up."""
    assert callable(fn)
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


def run(args: argparse.Namespace, influx_server: services.InfluxService) -> None:
    influx = InfluxClient(influx_server.url, "bench", timeout=600)
    influx.create_database()
    kind = all_kinds()["air"]
    end = time.time_ns() // DAY_NS * DAY_NS
    start = end - args.days * DAY_NS
    t0 = time.perf_counter()
    points = load(influx, [SimSensor(SENSOR, "air", "bench", "bench", 14, 100)], start, args.days)
    settle(influx_server, 120)
    print(f"loaded {points:,} points of {SENSOR} in {time.perf_counter() - t0:.1f} s")
    span = (start, end)
    raw_q = _range_query("air", SENSOR, "pm25", span, Every.d1, "mean")

    def from_raw() -> None:
        influx.records(raw_q)

    raw = timed(from_raw, args.runs)
    t0 = time.perf_counter()
    plan = retention.Plan("INF", 48, kinds=("air",))
    lines = retention.ensure(influx, plan, time.time_ns())
    print(f"db init (backfill) in {time.perf_counter() - t0:.1f} s: {lines[1]}")

    def from_hourly() -> None:
        sensor_range(influx, kind, SENSOR, "pm25", span, Every.d1, "mean")

    hourly = timed(from_hourly, args.runs)
    # The air dashboard's Long term PM2.5 panel, as Grafana sends it for this range and sensor.
    panel_q = (
        hourly_mean("air", "pm25", "pm25")
        .replace("$timeFilter", f"time >= {start} AND time < {end}")
        .replace("$__interval", "1d")
        .replace("$zone", ".*")
        .replace("$sensor", SENSOR)
    )

    def from_panel() -> None:
        influx.records(panel_q)

    panel = timed(from_panel, args.runs)
    a = sensor_range(influx, kind, SENSOR, "pm25", span, Every.d1, "mean").points
    b = [row["value"] for row in influx.records(raw_q)]
    worst = max(abs((p.value or 0) - (v or 0)) for p, v in zip(a, b, strict=True))
    print(f"{args.days}-day chart ({args.days} x 1d buckets, mean pm25), {args.runs} runs:")
    print(f"  raw     median {raw[0]:8.1f} ms   max {raw[1]:8.1f} ms")
    print(f"  hourly  median {hourly[0]:8.1f} ms   max {hourly[1]:8.1f} ms")
    print(f"  panel   median {panel[0]:8.1f} ms   max {panel[1]:8.1f} ms   (dashboard Long term)")
    print(
        f"  speed-up x{raw[0] / hourly[0]:.1f} (API), x{raw[0] / panel[0]:.1f} (dashboard); "
        f"largest difference {worst:.2e} µg/m³"
    )
    influx.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--days", type=int, default=365, help="days of one-minute readings")
    parser.add_argument("--runs", type=int, default=20, help="timed reads of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    return run_with_influxdb(
        "citydata-bench-retention-", args.keep, lambda tmp, influx: run(args, influx)
    )


if __name__ == "__main__":
    sys.exit(main())
