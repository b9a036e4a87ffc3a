"""API keys and roles, anonymous open-data reading, and CORS, through the real app and registry."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter

from api.app import create_app
from api.auth import AdminAccess, DeviceAccess, OperatorAccess
from citydata.influx import InfluxClient
from citydata.registry import Registry, Role
from citydata.settings import Settings, load_settings
from tests.apiclient import TestClient, problem
from tests.helpers import api_key, register

pytestmark = pytest.mark.integration

# Routes that exist only in this test, one per access level, so each level is checked alone.
probe = APIRouter(prefix="/probe")


@probe.get("/operator")
def operator_only(who: OperatorAccess) -> dict[str, str]:
    return {"who": who.name}


@probe.get("/admin")
def admin_only(who: AdminAccess) -> dict[str, str]:
    return {"who": who.name}


@probe.get("/device")
def device_only(who: DeviceAccess) -> dict[str, str | None]:
    return {"who": who.name, "sensor": who.key.sensor_id if who.key else None}


def _settings(influx: InfluxClient, tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(
        {},
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=tmp_path / "var",
        **extra,
    )


@pytest.fixture
def settings_(influx: InfluxClient, tmp_path: Path) -> Settings:
    settings = _settings(influx, tmp_path)
    register(settings, {"air-1": "air", "air-2": "air"})
    return settings


def _client(settings: Settings) -> TestClient:
    app = create_app(settings)
    app.include_router(probe)
    return TestClient(app)


@pytest.fixture
def client(settings_: Settings) -> Iterator[TestClient]:
    with _client(settings_) as c:
        yield c


def test_open_data_reads_without_a_key_by_default(client: TestClient) -> None:
    assert client.get("/readings/latest").status_code == 200
    assert client.get("/sensors/air-1").status_code == 200


def test_reading_needs_a_key_when_anonymous_read_is_off(
    influx: InfluxClient, tmp_path: Path
) -> None:
    settings = _settings(influx, tmp_path, api_anonymous_read=False)
    register(settings, {"air-1": "air"})
    reader = api_key(settings, "read")
    with _client(settings) as client:
        body = problem(client.get("/readings/latest"), 401)
        assert "API key" in str(body["detail"])
        assert "Bearer" in client.get("/readings/latest").headers["www-authenticate"]
        assert client.get("/readings/latest", headers={"X-API-Key": reader}).status_code == 200
        bearer = {"Authorization": f"Bearer {reader}"}
        assert client.get("/readings/latest", headers=bearer).status_code == 200
        # liveness and readiness stay open for load balancers and probes
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("role", "operator", "admin"),
    [("read", 403, 403), ("operator", 200, 403), ("admin", 200, 200)],
)
def test_roles_rank_read_operator_admin(
    client: TestClient, settings_: Settings, role: str, operator: int, admin: int
) -> None:
    headers = {"X-API-Key": api_key(settings_, role)}
    assert client.get("/probe/operator", headers=headers).status_code == operator
    assert client.get("/probe/admin", headers=headers).status_code == admin
    if operator == 403:
        body = problem(client.get("/probe/operator", headers=headers), 403)
        assert "operator role" in str(body["detail"]) and role in str(body["detail"])


def test_missing_malformed_unknown_and_revoked_keys_are_401(
    client: TestClient, settings_: Settings
) -> None:
    problem(client.get("/probe/operator"), 401)
    good = api_key(settings_, "operator")
    key_id = good.split("_")[1]
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for bad in ("nonsense", good.replace(key_id, "0" * 12), forged):
        problem(client.get("/probe/operator", headers={"X-API-Key": bad}), 401)
    assert client.get("/probe/operator", headers={"X-API-Key": good}).json() == {
        "who": "test operator"
    }
    with Registry.from_settings(settings_) as registry:
        registry.revoke_key(key_id)
    problem(client.get("/probe/operator", headers={"X-API-Key": good}), 401)
    # a bad key is refused even where anonymous reading would be allowed
    problem(client.get("/readings/latest", headers={"X-API-Key": "nonsense"}), 401)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_device_keys_speak_for_their_own_sensor_only(
    client: TestClient, settings_: Settings
) -> None:
    device = api_key(settings_, "device", "air-1")
    answer = client.get("/probe/device", headers=_basic("air-1", device))
    assert answer.status_code == 200 and answer.json()["sensor"] == "air-1"
    body = problem(client.get("/probe/device", headers=_basic("air-2", device)), 401)
    assert "air-2" in str(body["detail"])
    # a device key is not a reader or operator key
    problem(client.get("/probe/operator", headers={"X-API-Key": device}), 403)
    operator = {"X-API-Key": api_key(settings_, "operator")}
    assert client.get("/probe/device", headers=operator).status_code == 200
    problem(client.get("/probe/device", headers={"X-API-Key": api_key(settings_, "read")}), 403)


def test_only_a_hash_of_the_key_is_stored(settings_: Settings) -> None:
    token = api_key(settings_, "admin")
    secret = token.split("_", 2)[2]
    stored = (Path(settings_.data_dir) / "registry.db").read_bytes()
    assert secret.encode() not in stored
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored


def test_device_keys_must_name_a_registered_sensor(settings_: Settings) -> None:
    from citydata.registry import RegistryError, SensorNotFound

    with Registry.from_settings(settings_) as registry:
        with pytest.raises(SensorNotFound):
            registry.create_key("gauge", Role.device, "nope")
        with pytest.raises(RegistryError, match="device key needs a sensor"):
            registry.create_key("gauge", Role.device)
        with pytest.raises(RegistryError, match="only a device key"):
            registry.create_key("ops", Role.operator, "air-1")
        assert registry.list_keys() == []


def test_cors_answers_configured_origins_only(influx: InfluxClient, tmp_path: Path) -> None:
    page = "https://data.lamphaya.go.th"
    settings = _settings(influx, tmp_path, api_cors_origins=[page])
    preflight = {"Access-Control-Request-Method": "GET"}
    with TestClient(create_app(settings)) as client:
        ok = client.options("/readings/latest", headers={"Origin": page, **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == page
        simple = client.get("/health", headers={"Origin": page})
        assert simple.headers["access-control-allow-origin"] == page
        other = client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    with TestClient(create_app(_settings(influx, tmp_path / "b"))) as client:
        plain = client.get("/health", headers={"Origin": page})
        assert "access-control-allow-origin" not in plain.headers
