"""Schemathesis over the API's own OpenAPI schema: generated requests to every route, served by
a real uvicorn on loopback with real InfluxDB (two days of simulated Lam Phaya data), a real
registry and a real broker. Nothing may answer 5xx, and every answer must match the schema
(status codes, content types, bodies)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis import Case
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from citydata import services
from citydata.influx import InfluxClient
from citydata.lineprotocol import encode_point
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from simulators.fleet import LAM_PHAYA
from simulators.models import model_for
from simulators.registration import register_fleet
from tests.apiclient import TestClient
from tests.apistack import served_api
from tests.helpers import api_key

pytestmark = pytest.mark.integration

DAYS, STEP_S = 2, 900


def _simulated(influx: InfluxClient) -> None:
    rng = random.Random(5)
    now = int(time.time()) // STEP_S * STEP_S
    lines = []
    for sensor in LAM_PHAYA:
        for t in range(now - DAYS * 86_400, now, STEP_S):
            values = model_for(sensor.kind)(sensor, float(t), rng)
            tags = {"sensor_id": sensor.sensor_id, "zone": "lam-phaya"}
            lines.append(encode_point(sensor.kind, tags, values, t * 1_000_000_000))
    influx.write_lines(lines)


@pytest.fixture(scope="module")
def served(
    influx_server: services.InfluxService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Settings]]:
    """The API on a free loopback port, and its settings."""

    def prepare(settings: Settings, influx: InfluxClient) -> None:
        _register_fleet(settings)
        _simulated(influx)

    with served_api(influx_server, tmp_path_factory.mktemp("schema"), prepare) as served:
        yield served


def _register_fleet(settings: Settings) -> None:
    with Registry.from_settings(settings) as registry:
        register_fleet(registry, LAM_PHAYA)


@pytest.fixture
def pristine(served: tuple[str, Settings], tmp_path: Path) -> Iterator[TestClient]:
    """The API on the served data with a registry of its own, as registered: the schemathesis
    run creates, changes and retires sensors in the served one, in whatever order tests run."""
    settings = served[1].model_copy(update={"data_dir": tmp_path / "var"})
    _register_fleet(settings)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def admin_key(served: tuple[str, Settings]) -> str:
    return api_key(served[1], "admin")


def test_indices_of_the_simulated_fleet(pristine: TestClient) -> None:
    """Two days of the simulated Lam Phaya fleet, judged by the index routes as the demo shows
    them: every station answers with a full judgement, none with a note of missing settings."""
    aqi = pristine.get("/aqi").json()["items"]
    water = pristine.get("/water/status").json()["items"]
    traffic = pristine.get("/traffic/status").json()["items"]
    fleet = {s.sensor_id: s.kind for s in LAM_PHAYA}
    assert {s["sensor_id"] for s in aqi} == {i for i, k in fleet.items() if k == "air"}
    for station in aqi:
        result = station["aqi"]
        assert result is not None, station
        assert 1 <= result["level"] <= 5 and result["aqi"] >= 0
        # 15-minute data for two days: every window has all its hours, every pollutant counts
        assert {s["pollutant"] for s in result["sub_indices"]} == {
            "pm25",
            "pm10",
            "o3",
            "co",
            "no2",
            "so2",
        }
    assert {s["sensor_id"] for s in water} == {i for i, k in fleet.items() if k == "water"}
    for station in water:
        assert station["notes"] == [], station
        level = station["level"]
        assert level["status"]["status"] in {"normal", "watch", "warning", "critical", "overflow"}
        assert level["rise"] is not None and station["do"]["water_class"] == 3
    assert {s["sensor_id"] for s in traffic} == {i for i, k in fleet.items() if k == "traffic"}
    for station in traffic:
        assert station["free_flow_kmh"] in (45.0, 70.0) and station["newest"] is not None


# The schema the app generates (it needs no services); the requests go to the served app.
# (schemathesis.pytest.from_fixture would load it from the server, but fails on pytest 9.)
schema = schemathesis.openapi.from_dict(create_app(load_settings({})).openapi())


# Operations whose valid inputs depend on each other in ways OpenAPI cannot state, so a
# schema-valid request can rightly be refused with a 422 (the 422 is checked by other tests).
CROSS_FIELD_RULES = {
    "GET /aqi/calculate": "at least one of the six pollutants",
    "POST /sensors": "metrics of the sensor's kind; a location unless pending",
    "PATCH /sensors/{sensor_id}": "the changed sensor as a whole: metrics of its kind, a location",
    "POST /operations/deadletters/replay": "at least one criterion, or all: true",
    "POST /ingest/{format}": "a body that decodes in its format, for a named sensor",
    "GET /aqi/{sensor_id}/history": "the sensor is an air station; start before end",
    "GET /water/status/{sensor_id}": "the sensor is a water station",
    "GET /traffic/status/{sensor_id}": "the sensor is a traffic detector",
    "POST /alerts/rules": "a coherent rule naming recipients of the rules file",
    "PUT /alerts/rules/{name}": "a coherent rule named as in the path, naming known recipients",
    "POST /alerts/silences": "ends_at in the future, after starts_at; at least one matcher",
}


@schema.parametrize()
@hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_route_answers_5xx_or_off_schema(
    case: Case[Any], served: tuple[str, Settings], admin_key: str
) -> None:
    operation = f"{case.method.upper()} {case.path}"
    excluded: list[CheckFunction] = (
        [positive_data_acceptance] if operation in CROSS_FIELD_RULES else []
    )
    case.call_and_validate(
        base_url=served[0],
        headers={"X-API-Key": admin_key},
        timeout=30,
        excluded_checks=excluded,
    )


def test_schema_documents_every_route(served: tuple[str, Settings]) -> None:
    base, _ = served
    paths = httpx.get(f"{base}/openapi.json", timeout=10).json()["paths"]
    for path in ("/health", "/ready", "/sensors", "/readings/latest", "/aqi/calculate"):
        assert path in paths, path
    assert "securitySchemes" in httpx.get(f"{base}/openapi.json", timeout=10).json()["components"]
