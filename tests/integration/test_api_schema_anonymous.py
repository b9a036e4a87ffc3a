"""Schemathesis against the API without a key: generated requests to every route, served by a real
uvicorn on loopback with a real registry, InfluxDB and broker. No write route (POST, PUT, PATCH,
DELETE) succeeds or changes anything stored, no answer is a 5xx, and every answer matches the
schema (its 401, 403 and 429 problems included)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from citydata import services
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from simulators.fleet import LAM_PHAYA
from simulators.registration import register_fleet
from tests.apistack import served_api
from tests.helpers import api_key

pytestmark = pytest.mark.integration

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module")
def served(
    influx_server: services.InfluxService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Settings]]:
    """The API on a free loopback port with the Lam Phaya fleet registered, and its settings."""

    def prepare(settings: Settings, influx: InfluxClient) -> None:
        with Registry.from_settings(settings) as registry:
            register_fleet(registry, LAM_PHAYA)
        api_key(settings, "admin")  # a key exists: a guessed one must still fail

    with served_api(influx_server, tmp_path_factory.mktemp("anonymous"), prepare) as served:
        yield served


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
