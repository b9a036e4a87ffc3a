"""The `citydata` command as operators run it: config errors, SIGTERM flush, the local run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from subprocess import Popen
from typing import IO

import httpx
import psutil
import pytest

from citydata import services
from citydata.influx import InfluxClient
from citydata.settings import load_settings
from tests.helpers import left_running, publish_all, register, wait_for

pytestmark = pytest.mark.e2e


def citydata(
    *args: str, env: dict[str, str], stderr_to: IO[str] | None = None, cwd: Path | None = None
) -> Popen[str]:
    """Run `citydata ARGS` with only the given CITYDATA_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    return subprocess.Popen(
        [sys.executable, "-m", "citydata", *args],
        cwd=cwd,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=stderr_to or subprocess.PIPE,
        text=True,
    )


def test_invalid_config_stops_at_start_listing_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "citydata.toml"
    config.write_text('influx_db = ""\ncolector_batch_size = 10\n')
    env = {
        "CITYDATA_CONFIG": str(config),
        "CITYDATA_MQTT_URL": "http://broker:1883",
        "CITYDATA_COLLECTOR_BATCH_SIZE": "lots",
        "CITYDATA_INFLUX_ULR": "http://x:8086",
    }
    proc = citydata("collector", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    for problem in (
        "CITYDATA_MQTT_URL",
        "CITYDATA_COLLECTOR_BATCH_SIZE",
        "CITYDATA_INFLUX_ULR: unknown setting",
        "colector_batch_size: unknown setting",
        "CITYDATA_INFLUX_DB",
    ):
        assert problem in err, f"{problem!r} missing from:\n{err}"
    assert "Traceback" not in err


def test_check_config_accepts_valid_settings(tmp_path: Path) -> None:
    proc = citydata("collector", "--check-config", env={"CITYDATA_DATA_DIR": str(tmp_path)})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "configuration OK" in out


def test_sigterm_flushes_everything_held(
    broker: services.MosquittoService, influx: InfluxClient, tmp_path: Path
) -> None:
    env = {
        "CITYDATA_MQTT_URL": broker.url,
        "CITYDATA_INFLUX_URL": influx.url,
        "CITYDATA_INFLUX_DB": influx.database,
        "CITYDATA_DATA_DIR": str(tmp_path / "var"),
        # Nothing is written before the signal: the batch waits a minute and holds 100k.
        "CITYDATA_COLLECTOR_FLUSH_INTERVAL_S": "60",
        "CITYDATA_COLLECTOR_BATCH_SIZE": "100000",
    }
    register(load_settings({}, data_dir=tmp_path / "var"), {f"air-{i}": "air" for i in range(10)})
    log = tmp_path / "collector.log"
    with open(log, "w") as stderr:
        proc = citydata("collector", env=env, stderr_to=stderr)
    try:
        wait_for(lambda: "subscribing" in log.read_text(), timeout=30, what="subscription")
        time.sleep(0.3)
        t0 = (int(time.time()) - 3600) * 1000
        messages = [
            (f"sensors/air/air-{i % 10}", f'{{"ts": {t0 + i}, "pm25": 5}}'.encode())
            for i in range(2000)
        ]
        publish_all(broker.url, messages)
        time.sleep(0.5)
        count = influx.records('SELECT count("pm25") FROM "air"')
        assert count == [], "nothing should be written before the signal"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    (row,) = influx.records('SELECT count("pm25") FROM "air"')
    assert row["count"] == 2000


def test_local_stops_everything_on_ctrl_c_during_its_backfill(tmp_path: Path) -> None:
    """Started in a folder of its own with the default, relative data directory (./var), the
    local run backfills; Ctrl-C half-way stops every server, and the interrupted backfill is not
    recorded as complete, so the next start backfills again."""
    for binary in ("mosquitto", "influxd"):
        services.find_binary(binary)  # a missing one raises, failing here as in CI
    mqtt_port, influx_port, api_port = (services.free_port() for _ in range(3))
    ports = ["--mqtt-port", str(mqtt_port), "--influx-port", str(influx_port)]
    proc = citydata("local", *ports, "--api-port", str(api_port), "--backfill-days", "60",
                    env={}, cwd=tmp_path)  # fmt: skip
    client = InfluxClient(f"http://127.0.0.1:{influx_port}", "citydata")
    try:

        def air_rows() -> int:
            try:
                rows = client.records('SELECT count("pm25") FROM "air"')
            except Exception:
                return 0
            return int(rows[0]["count"]) if rows else 0

        wait_for(lambda: air_rows() >= 500, timeout=90, what="backfilled air readings")

        def api_ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{api_port}/ready", timeout=2).is_success
            except httpx.HTTPError:
                return False

        wait_for(api_ready, timeout=60, what="the local API ready")  # a loaded machine is slow
        stations = httpx.get(f"http://127.0.0.1:{api_port}/water/status", timeout=10).json()
        assert {s["sensor_id"] for s in stations["items"]} >= {"lp-water-01", "lp-water-04"}
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        client.close()
        if proc.poll() is None:  # failed half-way: let it stop its servers, then insist
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert "backfilling the last 60 days" in out and "going live" not in out, out
    assert f"127.0.0.1:{api_port}/docs" in out and "Ctrl-C" in out and "stopped." in out
    assert left_running(tree) == []
    for port in (mqtt_port, influx_port, api_port):  # every server is gone
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1)
    data = tmp_path / "var"
    assert (data / "local" / "influxdb" / "data").is_dir() and (data / "registry.db").is_file()
    assert not (data / "local" / "backfilled.json").exists()
