"""Backup benchmark: size and time of `citydata backup` and `citydata restore` for 30 days of the
simulated fleet.

Everything runs for real on 127.0.0.1: InfluxDB from `citydata.services`, the registry in a
temporary data directory, and the commands as operators run them (`python -m citydata backup
DIR`, then `restore DIR` into a second, empty InfluxDB and data directory).

1. Load: the Lam Phaya fleet (20 sensors; --sensors N for a bench fleet of N instead),
   registered, then D days of one-minute points for each, written as line protocol (bench/api.py's
   loader), and InfluxDB left to settle (compactions done).
   `citydata db init` then makes the hourly means, as on a real installation.
2. Backup: wall time of the command, the backup's size on disk and per part (InfluxDB, registry).
3. Restore: wall time into the empty installation (restore runs db init's continuous queries
   and hourly backfill too); then every measurement's point count, raw and hourly, is compared
   with the source's (a mismatch fails the bench).

Run:  .venv/bin/python bench/backup.py                 # Lam Phaya, 30 days (about a minute)
      .venv/bin/python bench/backup.py --sensors 200   # a larger town
Options: --help. Everything started is stopped by PID.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common, bench.api

from bench.api import DAY_NS, fleet, load, settle
from bench.common import BenchError, run_with_influxdb
from citydata import services
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from simulators.fleet import LAM_PHAYA
from simulators.registration import registry_entries


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--days", type=int, default=30, help="days of one-minute points (30)")
    p.add_argument("--sensors", type=int, default=0, help="a bench fleet of N (0: Lam Phaya)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return p.parse_args(argv)


def citydata(settings: Settings, *args: str) -> float:
    """Run `citydata ARGS` with these settings; its wall time in seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "citydata", *args],
        env={**env, **settings.env()},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - t0
    if done.returncode != 0:
        raise BenchError(f"citydata {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return seconds


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def counts(settings: Settings) -> dict[str, dict[str, int]]:
    """Every measurement's point count per field."""
    with InfluxClient.from_settings(settings) as client:
        return {
            f"{rp}.{series.name}": {k: v for k, v in row.items() if k != "time"}
            for rp in ("autogen", "forever")
            for series in client.query(f"SELECT count(*) FROM {rp}./.*/")
            for row in series.records()
        }


def run(args: argparse.Namespace, tmp: Path, influx: services.InfluxService) -> None:
    sensors = fleet(args.sensors) if args.sensors else list(LAM_PHAYA)
    source = load_settings(
        {},
        influx_url=influx.url,
        influx_db="citydata",
        influx_backup_addr=influx.backup_addr,
        data_dir=tmp / "var",
    )
    with Registry.from_settings(source) as registry:
        registry.upsert_many(registry_entries(sensors, "bench"))
    client = InfluxClient(influx.url, "citydata", timeout=120)
    client.create_database()
    t0 = time.monotonic()
    start_ns = (time.time_ns() // DAY_NS - args.days) * DAY_NS
    points = load(client, sensors, start_ns, args.days)
    client.close()
    print(
        f"loaded {points:,} points ({len(sensors)} sensors x {args.days} days x 1440) in "
        f"{time.monotonic() - t0:.1f} s; settled in {settle(influx, 300):.1f} s"
    )
    init_s = citydata(source, "db", "init")
    print(f"citydata db init (hourly means of the {args.days} days): {init_s:.1f} s")
    data_bytes = du(influx.workdir / "data") + du(influx.workdir / "wal")
    backup_s = citydata(source, "backup", str(tmp / "backup"))
    size = du(tmp / "backup")
    parts = {part: du(tmp / "backup" / part) for part in ("influxdb",)}
    parts["registry.db"] = (tmp / "backup" / "registry.db").stat().st_size
    target_server = services.influxdb(tmp / "influxdb-restored").start()
    try:
        target = source.model_copy(
            update={
                "influx_url": target_server.url,
                "influx_backup_addr": target_server.backup_addr,
                "data_dir": tmp / "var-restored",
            }
        )
        restore_s = citydata(target, "restore", str(tmp / "backup"))
        if counts(target) != counts(source):
            raise BenchError(f"restored counts {counts(target)} != {counts(source)}")
    finally:
        target_server.stop()
    mb = 1 << 20
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"InfluxDB data on disk: {data_bytes / mb:.1f} MB")
    print(
        f"backup:  {backup_s:.1f} s, {size / mb:.1f} MB "
        f"(InfluxDB {parts['influxdb'] / mb:.1f} MB, registry {parts['registry.db'] / 1024:.0f} KB)"
    )
    print(
        f"restore: {restore_s:.1f} s (with db init's continuous queries and hourly backfill), "
        f"every measurement's count identical ({points:,} raw points and the hourly means)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_with_influxdb(
        "citydata-bench-backup-", args.keep, lambda tmp, influx: run(args, tmp, influx)
    )


if __name__ == "__main__":
    sys.exit(main())
