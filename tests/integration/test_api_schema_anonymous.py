"""Schemathesis against the API without a key: generated requests to every route, served by a real
uvicorn on loopback with a real registry, InfluxDB and broker. No write route (POST, PUT, PATCH,
DELETE) succeeds or changes anything stored, no answer is a 5xx, and every answer matches the
schema (its 401, 403 and 429 problems included)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
import uvicorn
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from citydata import services
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from simulators.fleet import LAM_PHAYA
from simulators.registration import register_fleet
from tests.conftest import _need
from tests.helpers import api_key

pytestmark = pytest.mark.integration

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module")
def served(
    influx_server: services.InfluxService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Settings]]:
    """The API on a free loopback port with the Lam Phaya fleet registered, and its settings."""
    _need("mosquitto")
    tmp = tmp_path_factory.mktemp("anonymous")
    broker = services.mosquitto(tmp / "mosquitto").start()
    influx = InfluxClient(influx_server.url, f"test_{uuid.uuid4().hex[:12]}")
    influx.create_database()
    settings = load_settings(
        {},
        mqtt_url=broker.url,
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=tmp / "var",
        # every request judged by its key, not refused for the earlier ones' failures
        api_auth_failures_per_minute=100_000,
    )
    with Registry.from_settings(settings) as registry:
        register_fleet(registry, LAM_PHAYA)
    api_key(settings, "admin")  # a key exists: a guessed one must still fail
    port = services.free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    try:
        for _ in range(200):  # bounded: 10 s
            if server.started:
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(15)
        influx.query(f'DROP DATABASE "{influx.database}"', method="POST")
        influx.close()
        broker.stop()


def stored(settings: Settings) -> str:
    """A digest of every row of every registry table and of the data directory's file names."""
    digest = hashlib.sha256()
    with sqlite3.connect(f"file:{settings.data_dir / 'registry.db'}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in sorted(tables):
            rows = sorted(map(repr, db.execute(f'SELECT * FROM "{table}"')))
            digest.update(f"{table}:{rows}".encode())
    for path in sorted(Path(settings.data_dir).rglob("*")):
        if path.name != "registry.db" and not path.name.startswith("registry.db-"):
            digest.update(str(path).encode())
    return digest.hexdigest()


schema = schemathesis.openapi.from_dict(create_app(load_settings({})).openapi())


@schema.parametrize()
@hypothesis.settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_without_a_key_no_write_succeeds_and_nothing_fails(
    case: Case[Any], served: tuple[str, Settings]
) -> None:
    base, settings = served
    before = stored(settings) if case.method.upper() in WRITES else ""
    # schema-valid writes are refused for want of a key: that is the point here
    response = case.call_and_validate(
        base_url=base, timeout=30, excluded_checks=[positive_data_acceptance]
    )
    if case.method.upper() in WRITES:
        assert not 200 <= response.status_code < 300, (case.path, response.text)
        assert response.status_code in {400, 401, 403, 404, 405, 413, 422}, response.text
        assert stored(settings) == before, f"{case.method} {case.path} changed what is stored"
