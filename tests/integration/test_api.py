"""The HTTP API against a real InfluxDB and a registry in a temporary directory."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from api.app import create_app
from api.deps import get_registry
from citydata import services
from citydata.aqi import calculate
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from tests.apiclient import PROBLEM, TestClient
from tests.helpers import register, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def api_settings(influx: InfluxClient, tmp_path: Path) -> Settings:
    settings = load_settings(
        {}, influx_url=influx.url, influx_db=influx.database, data_dir=tmp_path / "var"
    )
    register(settings, {f"air-{n}": "air" for n in range(5)})
    register(settings, {f"water-{n}": "water" for n in range(3)})
    with Registry.from_settings(settings) as registry:
        registry.update("air-4", status="maintenance")
        for n in range(3):
            registry.update(f"water-{n}", zone="river")
    return settings


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_influxdb_registry_and_broker_answer(
    api_settings: Settings, broker: services.MosquittoService
) -> None:
    settings = api_settings.model_copy(update={"mqtt_url": broker.url})
    with TestClient(create_app(settings)) as client:
        # The API connects to the broker in the background: ready once it has.
        wait_for(lambda: client.get("/ready").status_code == 200, 10, "/ready")
        response = client.get("/ready")
    checks = {"influxdb": "ok", "registry": "ok", "mqtt": "ok"}
    assert response.json() == {"status": "ready", "checks": checks}


def test_not_ready_names_influxdb_when_it_is_away(api_settings: Settings) -> None:
    away = api_settings.model_copy(update={"influx_url": f"http://127.0.0.1:{_closed_port()}"})
    with TestClient(create_app(away)) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 503 and body["instance"] == "/ready"
    assert "influxdb" in body["detail"] and "registry" not in body["detail"]


def _ids(client: TestClient, query: str) -> tuple[list[str], int]:
    response = client.get(f"/sensors{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    return [s["id"] for s in body["items"]], body["total"]


def test_sensors_list_and_filters(client: TestClient) -> None:
    ids, total = _ids(client, "")
    assert total == 8 and ids == sorted(ids) and len(ids) == 8
    assert _ids(client, "?kind=water") == (["water-0", "water-1", "water-2"], 3)
    assert _ids(client, "?zone=river&kind=air") == ([], 0)
    assert _ids(client, "?zone=test")[1] == 5
    assert _ids(client, "?status=maintenance") == (["air-4"], 1)
    first = client.get("/sensors").json()["items"][0]
    assert first["kind"] == "air" and first["zone"] == "test" and first["created_at"]


def test_sensors_pagination(client: TestClient) -> None:
    body = client.get("/sensors?limit=3&offset=2").json()
    assert [s["id"] for s in body["items"]] == ["air-2", "air-3", "air-4"]
    assert (body["total"], body["limit"], body["offset"]) == (8, 3, 2)
    assert _ids(client, "?offset=7") == (["water-2"], 8)
    assert _ids(client, "?offset=50") == ([], 8)
    for bad in ("limit=0", "limit=1001", "offset=-1", "status=gone"):
        response = client.get(f"/sensors?{bad}")
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_get_sensor_and_404_problem(client: TestClient) -> None:
    assert client.get("/sensors/water-1").json()["zone"] == "river"
    response = client.get("/sensors/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404 and body["instance"] == "/sensors/nope"
    assert "nope" in body["detail"] and {"type", "title"} <= body.keys()


def test_aqi_calculate_matches_the_library(client: TestClient) -> None:
    response = client.get("/aqi/calculate?pm25=40&pm10=60&o3=20&at=2024-01-15T10:00:00%2B07:00")
    assert response.status_code == 200
    expected = calculate(
        {"pm25": 40.0, "pm10": 60.0, "o3": 20.0}, datetime.fromisoformat("2024-01-15T10:00+07:00")
    )
    assert response.json() == expected.model_dump(mode="json")
    old = client.get("/aqi/calculate?pm25=40&at=2023-01-15T10:00:00").json()
    assert old == calculate({"pm25": 40.0}, datetime(2023, 1, 15, 10)).model_dump(mode="json")


def test_aqi_lists_every_bad_parameter(client: TestClient) -> None:
    response = client.get("/aqi/calculate?pm25=-1&co=abc")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 422
    assert sorted(tuple(e["loc"]) for e in body["errors"]) == [("query", "co"), ("query", "pm25")]


def test_aqi_needs_a_pollutant(client: TestClient) -> None:
    response = client.get("/aqi/calculate?at=2024-01-01T00:00:00Z")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "at least one pollutant" in response.json()["detail"]


def test_unexpected_error_is_a_problem_without_traceback(api_settings: Settings) -> None:
    def broken() -> Registry:
        raise RuntimeError("secret internals")

    app = create_app(api_settings)
    app.dependency_overrides[get_registry] = broken
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/sensors")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 500
    assert "Traceback" not in response.text and "secret internals" not in response.text


def test_openapi_schema_has_a_response_model_for_every_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/health", "/ready", "/sensors", "/sensors/{sensor_id}", "/aqi/calculate"} <= set(paths)
    for path, methods in paths.items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            ok = [r for status, r in operation["responses"].items() if status.startswith("2")]
            assert len(ok) == 1, f"{where} documents {len(ok)} success responses"
            (success,) = ok
            if "application/json" in success.get("content", {}):
                media = success["content"]["application/json"]
                assert "$ref" in media["schema"], f"{where} has no response model"
                model = schema["components"]["schemas"][media["schema"]["$ref"].split("/")[-1]]
                assert {"example", "examples"} & (media.keys() | model.keys()), (
                    f"{where} shows no example answer"
                )
            else:  # a file download: its media types are documented instead
                assert success.get("content"), f"{where} documents no content"
            assert operation.get("summary") and operation.get("description"), where
            errors = {s for s in operation["responses"] if s.startswith(("4", "5"))}
            assert errors or path == "/health", f"{where} documents no error answers"
            if operation.get("security"):
                assert {"401", "403"} <= errors, f"{where} takes a key but documents no 401/403"


def test_aqi_above_200_method_is_a_setting_and_a_parameter(api_settings: Settings) -> None:
    extrapolated = calculate({"pm25": 300.0}).aqi
    assert extrapolated is not None and extrapolated > 201
    with TestClient(create_app(api_settings)) as client:
        assert client.get("/aqi/calculate?pm25=300").json()["aqi"] == extrapolated
        capped = client.get("/aqi/calculate?pm25=300&above_200=cap").json()
        assert (capped["aqi"], capped["level"], capped["estimate"]) == (201, 5, True)
    capping = api_settings.model_copy(update={"aqi_above_200": "cap"})
    with TestClient(create_app(capping)) as client:
        assert client.get("/aqi/calculate?pm25=300").json()["aqi"] == 201
        again = client.get("/aqi/calculate?pm25=300&above_200=extrapolate").json()
        assert again["aqi"] == extrapolated
