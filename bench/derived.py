"""Derived-series benchmark: one cycle (the minute series, one AQI hour) and a 2-day backfill,
for the simulated Lam Phaya fleet and for 1,000 simulated stations.

Everything runs for real on 127.0.0.1: InfluxDB from `citydata.services`, each fleet in a
database and a registry (SQLite in a temporary data directory) of its own, its readings written
directly as line protocol (the collector is not what is measured):

- the fleet: `simulators.fleet.LAM_PHAYA` (10 air, 4 water, 6 traffic), registered as
  `citydata local` does, with the simulator's models, every 5 minutes over --days days;
- the thousand: --stations synthetic stations (40 % air, 30 % water, 30 % traffic, registered
  with the fleet's thresholds and free-flow speeds), every --interval seconds over --days days.

Figures: the median of --repeat minute cycles (water, traffic and the map snapshot of every
station) and of --repeat AQI hours; the backfill of the --days days, the AQI of every hour and
the minute series every 300 s (what `citydata local` does) and, for the fleet, every 60 s.
Printed, never asserted.

Run:  .venv/bin/python bench/derived.py                 # about 5 minutes on 2 cores
      .venv/bin/python bench/derived.py --stations 200 --days 1
Options: --help. Everything started is stopped by PID.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common

from bench.common import run_with_influxdb
from citydata import services
from citydata.derived.backfill import backfill
from citydata.derived.deriver import MINUTE_NS, Deriver, floor_to
from citydata.influx import InfluxClient
from citydata.lineprotocol import encode_point
from citydata.readings.hourly import HOUR_NS
from citydata.registry import Registry
from citydata.settings import load_settings
from simulators.fleet import LAM_PHAYA
from simulators.publisher import Simulation, backfill_times
from simulators.registration import registry_entries
from simulators.sensor import SimSensor

SHARES = (("air", 0.4), ("water", 0.3), ("traffic", 0.3))
BATCH = 20_000  # lines per /write


def thousand(n: int) -> list[SimSensor]:
    """n stations split between the kinds by SHARES, spread over a few km around Lam Phaya.
    Water stations named "Khlong ..." get canal thresholds, as the fleet's do."""
    counts = [round(n * share) for _, share in SHARES[:-1]]
    counts.append(n - sum(counts))
    return [
        SimSensor(
            f"bench-{kind}-{i:04d}",
            kind,
            f"Khlong bench {i}" if kind == "water" and i % 2 else f"Bench {kind} {i}",
            f"สถานีทดสอบ {i}",
            13.95 + (i % 40) * 0.002,
            100.10 + (i // 40) * 0.002,
        )
        for (kind, _), count in zip(SHARES, counts, strict=True)
        for i in range(count)
    ]


def lines(
    sensors: Sequence[SimSensor], days: float, interval_s: float, end: float
) -> Iterator[str]:
    """The fleet's readings as line protocol, from the simulator's models (seed 1)."""
    sim = Simulation(sensors, seed=1)
    for t in backfill_times(days, interval_s, end):
        for m in sim.round(t):
            tags = {"sensor_id": m.sensor.sensor_id, "zone": "bench", "site": m.sensor.kind}
            yield encode_point(m.sensor.kind, tags, m.values, round(m.t * 1e9))


def load(influx: InfluxClient, sensors: Sequence[SimSensor], days: float, interval_s: float,
         end: float) -> tuple[int, float]:  # fmt: skip
    """Write the readings; how many, and the seconds it took."""
    started, batch, n = time.monotonic(), [], 0
    for line in lines(sensors, days, interval_s, end):
        batch.append(line)
        if len(batch) == BATCH:
            influx.write_lines(batch)
            n, batch = n + len(batch), []
    influx.write_lines(batch)
    return n + len(batch), time.monotonic() - started


def median_s(calls: Sequence[Callable[[], object]]) -> float:
    """The median duration of the calls."""
    took = []
    for call in calls:
        t0 = time.monotonic()
        call()
        took.append(time.monotonic() - t0)
    return statistics.median(took)


def measure(
    name: str, deriver: Deriver, sensors: int, days: float, end_ns: int, repeat: int,
    steps: Sequence[int],
) -> None:  # fmt: skip
    """Print one fleet's cycle and backfill figures."""
    last_minute = floor_to(end_ns, MINUTE_NS)
    hours = [floor_to(end_ns, HOUR_NS) - k * HOUR_NS for k in range(repeat)]
    deriver.aqi_levels(hours[0])  # the minute cycles read this hour's levels
    minutes = range(last_minute - (repeat - 1) * MINUTE_NS, last_minute + 1, MINUTE_NS)
    minute = median_s([partial(deriver.minute, m) for m in minutes])
    hour = median_s([partial(deriver.hour, h) for h in hours])
    print(f"{name}: {sensors} stations")
    print(f"  one minute cycle (water, traffic, map snapshot): {minute * 1000:7.1f} ms (median)")
    print(f"  one AQI hour (every air station):                {hour * 1000:7.1f} ms (median)")
    start_ns = end_ns - int(days * 86_400e9)
    for step in steps:
        done = backfill(deriver, start_ns, end_ns, step_s=step)
        print(
            f"  backfill {days:g} days, minute series every {step:>3} s: {done.seconds:6.1f} s "
            f"({done.hours} hours, {done.minutes} minutes, {done.points} points; "
            f"{1000 * done.seconds / max(done.minutes, 1):.1f} ms a minute)"
        )


def run_fleet(
    tmp: Path,
    server: services.InfluxService,
    name: str,
    sensors: list[SimSensor],
    args: argparse.Namespace,
    interval_s: float,
    steps: Sequence[int],
) -> None:
    settings = load_settings({}, influx_url=server.url, influx_db=name, data_dir=tmp / name)
    end = time.time() // 300 * 300
    with InfluxClient(server.url, name) as influx, Registry.from_settings(settings) as registry:
        influx.create_database()
        registry.upsert_many(registry_entries(sensors, zone="bench"))
        n, took = load(influx, sensors, args.days, interval_s, end)
        print(f"\n{name}: wrote {n} readings (every {interval_s:g} s) in {took:.1f} s")
        deriver = Deriver(influx, registry, settings.aqi_above_200)
        measure(name, deriver, len(sensors), args.days, int(end * 1e9), args.repeat, steps)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=1000, help="the large fleet (1000)")
    parser.add_argument("--days", type=float, default=2.0, help="days of readings (2)")
    parser.add_argument("--interval", type=float, default=300.0,
                        help="seconds between the large fleet's readings (300)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=10, help="cycles timed for medians (10)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}")  # fmt: skip

    def body(tmp: Path, server: services.InfluxService) -> None:
        run_fleet(tmp, server, "fleet", list(LAM_PHAYA), args, 300.0, (300, 60))
        big = thousand(args.stations)
        run_fleet(tmp, server, "thousand", big, args, args.interval, (300,))

    return run_with_influxdb("citydata-bench-derived-", args.keep, body)


if __name__ == "__main__":
    sys.exit(main())
