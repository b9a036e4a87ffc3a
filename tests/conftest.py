"""Fixtures: real Mosquitto and InfluxDB on free loopback ports, each in a temporary directory.

InfluxDB starts once per session (each test gets its own database); Mosquitto starts per test,
since it is up in milliseconds and a fresh broker isolates sessions and queues. Without the
binaries a test is skipped locally, and fails when CI=true.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from citydata import services
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.settings import Settings, load_settings
from collector.service import Collector
from tests.helpers import register

IN_CI = os.environ.get("CI", "").lower() == "true"


def _need(name: str) -> None:
    try:
        services.find_binary(name)
    except services.ServiceError as exc:
        if IN_CI:
            pytest.fail(f"CI=true but {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.InfluxService]:
    _need("influxd")
    server = services.influxdb(tmp_path_factory.mktemp("influxdb")).start()
    yield server
    server.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[services.MosquittoService]:
    _need("mosquitto")
    server = services.mosquitto(tmp_path / "mosquitto", persistence=True).start()
    yield server
    server.stop()


@pytest.fixture
def influx(influx_server: services.InfluxService) -> Iterator[InfluxClient]:
    """A client on a fresh database of its own."""
    client = InfluxClient(influx_server.url, f"test_{uuid.uuid4().hex[:12]}")
    client.create_database()
    yield client
    client.query(f'DROP DATABASE "{client.database}"', method="POST")
    client.close()


@pytest.fixture
def settings(broker: services.MosquittoService, influx: InfluxClient, tmp_path: Path) -> Settings:
    return load_settings(
        {},
        mqtt_url=broker.url,
        mqtt_client_id=f"test-collector-{uuid.uuid4().hex[:8]}",
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=tmp_path / "var",
        collector_flush_interval_s=0.05,
        collector_health_interval_s=1.0,
        registry_refresh_s=0.3,
    )


# Sensors every collector test may use: "<kind>-<n>" for each kind, n from 0 to 99.
STANDARD_SENSORS = {f"{kind}-{n}": kind for kind in all_kinds() for n in range(100)}


@pytest.fixture
def registered(settings: Settings) -> Settings:
    """The settings, with STANDARD_SENSORS in their registry."""
    register(settings, STANDARD_SENSORS)
    return settings


@pytest.fixture
def collector(registered: Settings) -> Iterator[Collector]:
    """A collector running in this process, connected and subscribed; STANDARD_SENSORS are
    registered."""
    settings = registered
    c = Collector(settings)
    c.start()
    assert c.connected.wait(10), "collector did not connect to the broker"
    time.sleep(0.2)  # SUBACK: the subscription is in place before tests publish
    yield c
    c.stop()
