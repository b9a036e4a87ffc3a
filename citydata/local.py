"""`citydata local`: the whole platform on this machine with a simulated fleet, until Ctrl-C.

Starts Mosquitto and InfluxDB (data under `<data_dir>/local/`), then the collector, the HTTP
API and the simulator as child processes, prints where to look, and on Ctrl-C or SIGTERM stops
everything it started, by PID, newest first, letting the collector flush.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from citydata.registry import Registry
from citydata.services import Service, influxdb, mosquitto
from citydata.settings import Settings
from simulators.fleet import LAM_PHAYA, register_fleet


def _banner(settings: Settings, mqtt_port: int, influx_port: int, api_port: int, logs: Path) -> str:
    q = "SELECT * FROM air ORDER BY time DESC LIMIT 5"
    return f"""
citydata is running locally with a simulated Lam Phaya fleet. Ctrl-C stops everything.

  MQTT broker    {settings.mqtt_url}
                 watch:  mosquitto_sub -h 127.0.0.1 -p {mqtt_port} -t 'sensors/#' -v
  InfluxDB       {settings.influx_url}  database '{settings.influx_db}'
                 query:  curl -sG {settings.influx_url}/query \\
                           --data-urlencode db={settings.influx_db} --data-urlencode "q={q}"
  HTTP API       http://127.0.0.1:{api_port}/docs
                 try:    curl -s http://127.0.0.1:{api_port}/aqi
                         curl -s http://127.0.0.1:{api_port}/water/status
  Collector      health every {settings.collector_health_interval_s:g}s below
                 and in InfluxDB measurement citydata_collector
  Dead letters   {settings.data_dir / "deadletter"}/
  Server logs    {logs}/
"""


def run_local(
    settings: Settings, mqtt_port: int, influx_port: int, api_port: int, interval_s: float
) -> int:
    base = settings.data_dir / "local"
    services: list[Service] = []
    children: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        services.append(mosquitto(base / "mosquitto", mqtt_port, persistence=True).start())
        services.append(influxdb(base / "influxdb", influx_port).start())
        settings = settings.model_copy(
            update={
                "mqtt_url": f"mqtt://127.0.0.1:{mqtt_port}",
                "influx_url": f"http://127.0.0.1:{influx_port}",
            }
        )
        with Registry.from_settings(settings) as registry:
            register_fleet(registry, LAM_PHAYA)  # the collector quarantines unknown sensors
        env = {**os.environ, **settings.env()}
        env.pop("CITYDATA_CONFIG", None)  # children get every setting explicitly
        programs = {
            "collector": ["collector"],
            "api": ["api", "--port", str(api_port)],
            "simulator": ["simulate", "--interval", str(interval_s)],
        }
        for args in programs.values():
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "citydata", *args], env=env, start_new_session=True
                )
            )
            stop.wait(2.0)  # let the collector subscribe before the first readings go out
        print(_banner(settings, mqtt_port, influx_port, api_port, base), flush=True)
        while not stop.wait(1.0):
            for name, child in zip(programs, children, strict=True):
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping", file=sys.stderr)
                    stop.set()
        return 0
    finally:
        print("stopping...", flush=True)
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(60)
                except subprocess.TimeoutExpired:
                    child.kill()
        for service in reversed(services):
            service.stop()
        print("stopped.", flush=True)
