"""`citydata local`: the whole platform on this machine with a simulated fleet, until Ctrl-C.

Starts Mosquitto and InfluxDB (data under `<data_dir>/local/`), then the collector and the HTTP
API as child processes. On a first start (no readings yet) it backfills the fleet's last days
through the real collector, so the city has history and a Thai AQI at once, and then the
derived series (docs/derived.md) over the same days; then the simulator and the derived-series
service go live. On Ctrl-C or SIGTERM it stops everything it started, by PID, newest first,
letting the collector flush.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from citydata.cli._common import stop_on_signals

if TYPE_CHECKING:  # the servers, InfluxDB and the registry load only when `local` runs
    from citydata.cli._common import Subparsers
    from citydata.services import Service
    from citydata.settings import Settings

BACKFILL_INTERVAL_S = 300.0  # one reading per sensor every 5 minutes of history
BACKFILL_DONE = "backfilled.json"  # written once a backfill completed
STORE_WAIT_S = 60.0  # for the collector to store what it acknowledged, before deriving


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "local",
        help="run the platform locally with simulated sensors",
        description="Start Mosquitto and InfluxDB under CITYDATA_DATA_DIR/local, "
        "the collector and the HTTP API; on a first start backfill the simulated fleet's "
        "last days and their derived series (citydata derive), then run the simulator and "
        "citydata derive live. Ctrl-C stops everything.",
    )
    p.add_argument("--mqtt-port", type=int, default=11883, help="Mosquitto port (11883)")
    p.add_argument("--influx-port", type=int, default=18086, help="InfluxDB port (18086)")
    p.add_argument("--api-port", type=int, default=18000, help="HTTP API port (18000)")
    p.add_argument("--interval", type=float, default=5.0, help="simulator interval (5 s)")
    p.add_argument(
        "--backfill-days",
        type=float,
        default=2.0,
        help="on a first start (no readings yet), first publish the fleet's last N days "
        "through the collector and compute their derived series (2; 0 for none)",
    )
    p.set_defaults(func=cmd_local)


def cmd_local(settings: Settings, args: argparse.Namespace) -> int:
    return run_local(
        settings,
        args.mqtt_port,
        args.influx_port,
        args.api_port,
        args.interval,
        backfill_days=args.backfill_days,
    )


def _banner(
    settings: Settings, mqtt_port: int, influx_port: int, api_port: int, logs: Path, backup: str
) -> str:
    q = "SELECT * FROM air ORDER BY time DESC LIMIT 5"
    return f"""
citydata is running locally with a simulated Lam Phaya fleet. Ctrl-C stops everything.

  City page      http://127.0.0.1:{api_port}/   <- open this in a browser first
                 Lam Phaya's air, river and roads now, Thai first, live (docs/city-page.md)
  HTTP API       http://127.0.0.1:{api_port}/docs
                 try:    curl -s http://127.0.0.1:{api_port}/aqi
                         curl -s http://127.0.0.1:{api_port}/water/status
  MQTT broker    {settings.mqtt_url}
                 watch:  mosquitto_sub -h 127.0.0.1 -p {mqtt_port} -t 'sensors/#' -v
  InfluxDB       {settings.influx_url}  database '{settings.influx_db}'
                 query:  curl -sG {settings.influx_url}/query \\
                           --data-urlencode db={settings.influx_db} --data-urlencode "q={q}"
  Collector      health every {settings.collector_health_interval_s:g}s below
                 and in InfluxDB measurement citydata_collector
  Derived series city_aqi (each hour), city_water, city_traffic, city_station (each
                 minute) in InfluxDB, by citydata derive; see docs/derived.md
  Alerts         rules {settings.alerts_rules_file or "(none)"}
                 evaluated every minute (citydata derive --alerts); no channel is set up
                 locally, so see them in the API: curl -s http://127.0.0.1:{api_port}/alerts
                 make one fire (another terminal, this folder): docs/alerts.md#demo
                   CITYDATA_MQTT_URL={settings.mqtt_url} \\
                     .venv/bin/citydata simulate --scenario flood
  Backup         (another terminal, this folder; docs/backup.md)
                   CITYDATA_INFLUX_URL={settings.influx_url} \\
                   CITYDATA_INFLUX_BACKUP_ADDR={backup} \\
                     .venv/bin/citydata backup var/backups/first
  Dead letters   {settings.data_dir / "deadletter"}/
  Server logs    {logs}/
"""


def shipped_rules() -> Path | None:
    """deploy/alerts.yaml of this checkout (the Lam Phaya rules), when there is one."""
    path = Path(__file__).resolve().parents[2] / "deploy" / "alerts.yaml"
    return path if path.is_file() else None


def has_readings(settings: Settings) -> bool:
    """Whether InfluxDB holds any reading of a sensor kind (creating the database if need be)."""
    from citydata.influx import InfluxClient, quote_ident
    from citydata.kinds import all_kinds

    with InfluxClient.from_settings(settings) as client:
        client.create_database()
        return any(
            client.records(f"SELECT * FROM {quote_ident(kind)} LIMIT 1") for kind in all_kinds()
        )


class Children:
    """The citydata programs this run started, each a child process in a session of its own
    (so a terminal's Ctrl-C reaches only us, and we stop them in order)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            [sys.executable, "-m", "citydata", *args], env=self.env, start_new_session=True
        )
        self.running[name] = child
        return child

    def exited(self, *names: str) -> str | None:
        """The first of `names` that has exited, with its status, or None."""
        for name in names:
            child = self.running.get(name)
            if child is not None and child.poll() is not None:
                return f"{name} exited with {child.returncode}"
        return None

    def stop(self) -> None:
        for child in reversed(self.running.values()):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def _wait_child(children: Children, child: subprocess.Popen[bytes], stop: threading.Event) -> bool:
    """Wait for `child` to finish; False when stopped or the collector or API exited first."""
    while child.poll() is None:
        if stop.wait(0.2):
            return False
        problem = children.exited("collector", "api")
        if problem:
            print(f"{problem}; stopping", file=sys.stderr)
            stop.set()
            return False
    return True


def _stored(settings: Settings) -> int:
    """How many readings InfluxDB holds (the most-counted field of each kind)."""
    from citydata.influx import InfluxClient, quote_ident
    from citydata.kinds import all_kinds

    total = 0
    with InfluxClient.from_settings(settings) as client:
        for kind in all_kinds():
            for row in client.records(f"SELECT count(*) FROM {quote_ident(kind)}"):
                total += max((v for k, v in row.items() if k.startswith("count_")), default=0)
    return total


def _wait_stored(settings: Settings, expected: int, stop: threading.Event) -> None:
    """Wait (up to STORE_WAIT_S) until the collector stored what it acknowledged."""
    deadline = time.monotonic() + STORE_WAIT_S
    while _stored(settings) < expected and time.monotonic() < deadline:
        if stop.wait(0.5):
            return


def _derive_backfill(children: Children, stop: threading.Event, days: float) -> None:
    """The derived series over the backfilled days: the AQI of every hour, the minute series
    at the readings' interval (a minute's judgments would all repeat the last reading)."""
    print(f"Computing the derived series of the last {days:g} days.", flush=True)
    child = children.start(
        "derive-backfill",
        "derive",
        "--once",
        "--since",
        f"{days * 24:g}h",
        "--step",
        f"{BACKFILL_INTERVAL_S:.0f}",
    )
    if _wait_child(children, child, stop) and child.returncode != 0:
        print("the derived backfill failed (see above); going on without it", file=sys.stderr)


def _db_init(children: Children, stop: threading.Event) -> None:
    """`citydata db init`, as on a server: retention, the continuous queries of the hourly
    series, and the hourly means of the readings so far (after the backfill: a continuous query
    only recomputes its last hours)."""
    child = children.start("db-init", "db", "init")
    if _wait_child(children, child, stop) and child.returncode != 0:
        print(
            "citydata db init failed (see above); going on without the hourly series",
            file=sys.stderr,
        )


def _backfill(
    settings: Settings, children: Children, stop: threading.Event, days: float, marker: Path
) -> None:
    """Publish the fleet's last `days` through the collector, then derive their series;
    `marker` records a complete backfill of the readings."""
    from simulators.fleet import LAM_PHAYA
    from simulators.publisher import backfill_size

    print(
        f"First start: backfilling the last {days:g} days of the simulated fleet "
        f"(a reading every {BACKFILL_INTERVAL_S / 60:g} min per sensor) through the collector.",
        flush=True,
    )
    started = time.monotonic()
    child = children.start(
        "backfill",
        "simulate",
        "--backfill-days",
        f"{days:g}",
        "--interval",
        f"{BACKFILL_INTERVAL_S:g}",
    )
    if not _wait_child(children, child, stop):
        return
    if child.returncode != 0:
        print("the backfill failed (see above); going on without it", file=sys.stderr)
        return
    marker.write_text(
        json.dumps({"days": days, "interval_s": BACKFILL_INTERVAL_S, "finished": time.time()}),
        encoding="utf-8",
    )
    _wait_stored(settings, backfill_size(LAM_PHAYA, days, BACKFILL_INTERVAL_S), stop)
    if not stop.is_set():
        _derive_backfill(children, stop, days)
    if not stop.is_set():
        print(f"Backfill done in {time.monotonic() - started:.1f} s.", flush=True)


LOCAL_PLAIN_MQTT = ("mqtt_ca_file", "mqtt_client_cert", "mqtt_client_key")


def run_local(
    settings: Settings,
    mqtt_port: int,
    influx_port: int,
    api_port: int,
    interval_s: float,
    backfill_days: float = 2.0,
) -> int:
    from citydata.registry import Registry
    from citydata.services import influxdb, mosquitto
    from simulators.fleet import LAM_PHAYA
    from simulators.registration import register_fleet

    base = settings.data_dir / "local"
    services: list[Service] = []
    stop = stop_on_signals()
    settings = settings.model_copy(
        update={
            "mqtt_url": f"mqtt://127.0.0.1:{mqtt_port}",
            # plain MQTT on loopback: a server's TLS files from the environment do not apply
            **dict.fromkeys(LOCAL_PLAIN_MQTT, None),
            "influx_url": f"http://127.0.0.1:{influx_port}",
            "alerts_rules_file": settings.alerts_rules_file or shipped_rules(),
            "local_run": True,  # its children accept placeholder secrets too
        }
    )
    children = Children({**os.environ, **settings.env()})
    children.env.pop("CITYDATA_CONFIG", None)  # children get every setting explicitly
    for name in LOCAL_PLAIN_MQTT:
        children.env.pop(f"CITYDATA_{name.upper()}", None)
    try:
        services.append(mosquitto(base / "mosquitto", mqtt_port, persistence=True).start())
        influx = influxdb(base / "influxdb", influx_port).start()
        services.append(influx)
        marker = base / BACKFILL_DONE
        backfill = backfill_days > 0 and not (marker.exists() and has_readings(settings))
        with Registry.from_settings(settings) as registry:
            register_fleet(registry, LAM_PHAYA)  # the collector quarantines unknown sensors
        children.start("collector", "collector")
        children.start("api", "api", "--port", str(api_port))
        stop.wait(2.0)  # let the collector subscribe before the first readings go out
        banner = _banner(settings, mqtt_port, influx_port, api_port, base, influx.backup_addr)
        print(banner, flush=True)
        if backfill and not stop.is_set():
            _backfill(settings, children, stop, backfill_days, marker)
        elif backfill_days > 0 and not stop.is_set():
            print(f"Keeping the readings already in {base}; no backfill.", flush=True)
        if not stop.is_set():
            _db_init(children, stop)
        if not stop.is_set():
            print(f"Set-up done; going live (a reading every {interval_s:g} s).", flush=True)
            children.start("simulator", "simulate", "--interval", f"{interval_s:g}")
            children.start("derive", "derive", "--alerts")
        while not stop.wait(1.0):
            problem = children.exited("collector", "api", "simulator", "derive")
            if problem:
                print(f"{problem}; stopping", file=sys.stderr)
                stop.set()
        return 0
    finally:
        print("stopping...", flush=True)
        children.stop()
        for service in reversed(services):
            service.stop()
        print("stopped.", flush=True)
