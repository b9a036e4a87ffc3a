"""Fixtures: real Mosquitto and InfluxDB on free loopback ports, each in a temporary directory.

InfluxDB starts once per session (each test gets its own database); Mosquitto starts per test,
since it is up in milliseconds and a fresh broker isolates sessions and queues. Without the
binaries a test is skipped locally, and fails when CI=true.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import sqlalchemy

from citydata import services
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.settings import Settings, load_settings
from collector.service import Collector
from tests.city import City, build_city
from tests.helpers import register, running_collector

IN_CI = os.environ.get("CI", "").lower() == "true"

# CI runs the same examples every time, so a run that lands is reproducible; locally each run
# explores new ones (and keeps failures in .hypothesis/ to try first next time).
hypothesis.settings.register_profile("ci", derandomize=True, database=None)
if IN_CI:
    hypothesis.settings.load_profile("ci")


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


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.PostgresService]:
    try:
        services.postgres_binary("initdb")
    except services.ServiceError as exc:
        if IN_CI:
            pytest.fail(f"CI=true but {exc}")
        pytest.skip(str(exc))
    server = services.postgres(tmp_path_factory.mktemp("postgres")).start()
    yield server
    server.stop()
    if server.cluster.parent.name.startswith("citydata-pg-"):
        shutil.rmtree(server.cluster.parent, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: services.PostgresService) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh PostgreSQL database of its own."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    yield postgres_server.url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


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
    with running_collector(registered) as c:
        yield c


@pytest.fixture(scope="session")
def city(
    influx_server: services.InfluxService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[City]:
    """The simulated Lam Phaya fleet's last 2 days, ingested through a real broker and
    collector, with dead letters, health points and derived series (tests/city.py). Shared by
    the session: read it, do not write to it."""
    _need("mosquitto")
    workdir = tmp_path_factory.mktemp("city")
    server = services.mosquitto(workdir / "mosquitto").start()
    client = InfluxClient(influx_server.url, f"city_{uuid.uuid4().hex[:12]}")
    client.create_database()
    try:
        yield build_city(server, client, workdir / "var")
    finally:
        client.close()
        server.stop()
