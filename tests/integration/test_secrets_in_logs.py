"""Secrets never appear in logs, problem bodies or /operations answers.

The real programs (`citydata api` and `citydata collector`, at DEBUG) run with known secrets set:
the MQTT URL's password, the InfluxDB password, the LINE token, the webhook secret, the SMTP URL's
password, and an API key. The test goes through success and failure paths (good, forged and
malformed keys, HTTP Basic with a wrong key, a valid and an invalid reading, the broker down,
InfluxDB down) and then greps every line the programs wrote and every answer's headers and body
for each secret."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.api import ApiProcess
from bench.common import stop_process
from citydata import services
from citydata.influx import InfluxClient
from citydata.settings import Settings, load_settings
from tests.conftest import _need
from tests.helpers import api_key, publish_all, register, wait_for

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:6]
SECRETS = {
    "mqtt password": f"mqttPw-{RUN}-s3cret",
    "influx password": f"influxPw-{RUN}-s3cret",
    "line token": f"lineTok-{RUN}-s3cret",
    "webhook secret": f"hookKey-{RUN}-s3cret",
    "smtp password": f"smtpPw-{RUN}-s3cret",
}
FORGED_SECRET = "F" * 35 + RUN + "xy"  # 43 characters: a well-formed key's secret part


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[services.MosquittoService, services.InfluxService]]:
    """A broker and an InfluxDB of this test's own, so it can stop them."""
    _need("mosquitto")
    _need("influxd")
    broker = services.mosquitto(tmp_path / "mosquitto").start()
    influx = services.influxdb(tmp_path / "influxdb").start()
    try:
        yield broker, influx
    finally:
        broker.stop()
        influx.stop()


def _settings(broker: services.MosquittoService, influx: str, tmp_path: Path) -> Settings:
    return load_settings(
        {},
        mqtt_url=f"mqtt://citydata:{SECRETS['mqtt password']}@127.0.0.1:{broker.port}",
        mqtt_client_id=f"collector-{RUN}",
        influx_url=influx,
        influx_user="citydata",
        influx_password=SECRETS["influx password"],
        alerts_line_token=SECRETS["line token"],
        alerts_webhook_secret=SECRETS["webhook secret"],
        alerts_smtp_url=f"smtp://citydata:{SECRETS['smtp password']}@127.0.0.1:2525",
        data_dir=tmp_path / "var",
        log_level="DEBUG",
        api_snapshot_s=1,
    )


class Collector:
    """`python -m citydata collector`, its output to a file; stopped by PID."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "citydata", "collector"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        stop_process(self.proc, 30)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_no_secret_in_any_log_line_or_answer(
    servers: tuple[services.MosquittoService, services.InfluxService], tmp_path: Path
) -> None:
    broker, influx_server = servers
    with InfluxClient(influx_server.url, "citydata") as influx:
        influx.create_database()
    settings = _settings(broker, influx_server.url, tmp_path)
    register(settings, {"air-1": "air"})
    admin = api_key(settings, "admin")
    secrets = {**SECRETS, "api key": admin, "api key secret": admin.split("_", 2)[2]}
    secrets["forged key secret"] = FORGED_SECRET
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    env |= settings.env()
    logs = [tmp_path / "api.log", tmp_path / "collector.log"]
    api = ApiProcess(env, logs[0])
    collector = Collector(env, logs[1])
    answers: list[httpx.Response] = []
    try:
        api.wait_up(60, "/ready")
        wait_for(lambda: "subscribing to" in logs[1].read_text(), 60, "collector subscribing")
        good = {"X-API-Key": admin}
        forged = f"cdk_0123456789ab_{FORGED_SECRET}"
        with httpx.Client(base_url=api.url, timeout=30) as http:
            publish_all(settings.mqtt_url, [("sensors/air/air-1", b'{"pm25": 12.5}')])
            publish_all(settings.mqtt_url, [("sensors/air/air-1", b'{"pm25": "bad"}')])
            requests = [
                ("GET", "/ready", {}),
                ("GET", "/operations/collector", good),
                ("GET", "/operations/deadletters", good),
                ("GET", "/operations/collector", {"X-API-Key": forged}),
                ("GET", "/operations/collector", {"Authorization": f"Bearer {admin[:-1]}"}),
                ("GET", "/operations/collector", {"X-API-Key": FORGED_SECRET}),
                ("POST", "/ingest/native", {**_basic("air-1", forged), "X-Sensor": "air-1"}),
                ("POST", "/ingest/native", {**good, "X-Sensor": "air-1"}),
            ]
            for method, path, headers in requests:
                answers.append(http.request(method, path, headers=headers, content=b'{"pm25":3}'))
            wait_for(
                lambda: http.get("/readings/latest").json()["items"] != [], 60, "a stored reading"
            )
            broker.stop()  # the broker down: both programs lose it and say so
            wait_for(lambda: "disconnected" in logs[1].read_text().lower(), 30, "collector noticed")
            answers.append(http.get("/ready"))
            answers.append(http.post("/ingest/native", headers={**good, "X-Sensor": "air-1"}))
            influx_server.stop()  # InfluxDB down too
            for path in ("/ready", "/sensors/air-1/readings?metric=pm25", "/readings/latest"):
                answers.append(http.get(path))
            answers.append(http.get("/operations/collector", headers=good))
    finally:
        api.stop()
        collector.stop()
    statuses = [a.status_code for a in answers]
    assert 401 in statuses and 503 in statuses and 202 in statuses, statuses
    api_log = logs[0].read_text()
    assert "authentication failed" in api_log and "0123456789ab" in api_log
    texts = {str(log.name): log.read_text(errors="replace") for log in logs}
    for i, answer in enumerate(answers):
        texts[f"answer {i} {answer.request.url.path}"] = f"{answer.headers}\n{answer.text}"
    leaks = [
        f"{what} in {where}: {line.strip()[:200]}"
        for where, text in texts.items()
        for line in text.splitlines()
        for what, secret in secrets.items()
        if secret in line
    ]
    assert leaks == []
    assert sum(len(t.splitlines()) for t in texts.values()) > 50  # there was plenty to grep
