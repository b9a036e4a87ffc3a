"""API hardening through the real app, registry and InfluxDB: expired keys, failed authentication
logged and limited per source address, security headers on every answer, body and nesting
limits; and `citydata api` believing X-Forwarded-For only from configured proxies."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.app import create_app
from api.failures import AuthFailures
from api.hardening import API_CSP, tiles_source
from api.routers.ingest import json_depth
from bench.api import ApiProcess
from citydata.influx import InfluxClient
from citydata.registry import Registry, Role, registry_url
from citydata.settings import Settings, load_settings
from tests.apiclient import TestClient, problem
from tests.helpers import api_key, register, wait_for

pytestmark = pytest.mark.integration

FORGED = "cdk_0123456789ab_" + "A" * 43  # well-formed, unknown


def _settings(influx: InfluxClient, tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(
        {}, influx_url=influx.url, influx_db=influx.database, data_dir=tmp_path / "var", **extra
    )


@pytest.fixture
def settings_(influx: InfluxClient, tmp_path: Path) -> Settings:
    settings = _settings(influx, tmp_path, api_auth_failures_per_minute=3)
    register(settings, {"air-1": "air"})
    return settings


@pytest.fixture
def client(settings_: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings_)) as c:
        yield c


def test_an_expired_key_gets_a_401_saying_when_without_the_key(
    client: TestClient, settings_: Settings
) -> None:
    created = datetime.now(UTC) - timedelta(days=100)
    expires = created + timedelta(days=90)
    with Registry.open(registry_url(settings_), clock=lambda: created) as registry:
        key, token = registry.create_key("contractor", Role.operator, expires_at=expires)
        _, valid = registry.create_key(
            "staff", Role.operator, expires_at=expires + timedelta(days=3650)
        )
    body = problem(client.get("/operations/collector", headers={"X-API-Key": token}), 401)
    assert f"{key.id} expired at {expires:%Y-%m-%dT%H:%M:%SZ}" in body["detail"]
    assert token not in client.get("/operations/collector", headers={"X-API-Key": token}).text
    assert client.get("/operations/collector", headers={"X-API-Key": valid}).status_code == 200
    unknown = problem(client.get("/operations/collector", headers={"X-API-Key": FORGED}), 401)
    assert "expired" not in unknown["detail"]


def test_failures_are_logged_with_source_and_key_id_never_the_secret(
    client: TestClient, settings_: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    revoked = api_key(settings_, "admin")
    with Registry.from_settings(settings_) as registry:
        registry.revoke_key(revoked.split("_")[1])
    caplog.set_level(logging.WARNING, logger="api.auth")
    problem(client.post("/sensors", json={}), 401)
    problem(client.post("/sensors", json={}, headers={"X-API-Key": revoked}), 401)
    problem(client.post("/sensors", json={}, headers={"Authorization": "Bearer nonsense"}), 401)
    lines = [r.getMessage() for r in caplog.records if r.name == "api.auth"]
    assert lines == [
        "authentication failed from testclient: missing key on POST /sensors (1 of 3 allowed "
        "per minute)",
        f"authentication failed from testclient: revoked key {revoked.split('_')[1]} on POST "
        "/sensors (2 of 3 allowed per minute)",
        "authentication failed from testclient: malformed key on POST /sensors (3 of 3 allowed "
        "per minute)",
    ]
    assert all(revoked.split("_", 2)[2] not in line for line in lines)


def test_a_source_past_the_limit_gets_429_until_its_failures_are_a_minute_old(
    settings_: Settings,
) -> None:
    now = [1000.0]
    app = create_app(settings_)
    reader = api_key(settings_, "operator")
    with TestClient(app) as attacker, TestClient(app, client=("192.0.2.9", 4000)) as other:
        app.state.auth_failures = AuthFailures(3, clock=lambda: now[0])
        for _ in range(3):
            problem(attacker.get("/operations/collector", headers={"X-API-Key": FORGED}), 401)
            now[0] += 10
        blocked = problem(attacker.get("/operations/collector", headers={"X-API-Key": FORGED}), 429)
        assert "too many failed authentications" in blocked["detail"]
        held = attacker.get("/operations/collector", headers={"X-API-Key": reader})
        assert held.status_code == 429 and held.headers["retry-after"] == "30"  # 1000 + 60 - 1030
        problem(attacker.post("/sensors", json={}), 429)  # a missing key counts as a try too
        assert attacker.get("/sensors/air-1").status_code == 200  # anonymous reading goes on
        assert other.get("/operations/collector", headers={"X-API-Key": reader}).status_code == 200
        now[0] = 1060.0  # the first failure has left the minute: one more try
        assert (
            attacker.get("/operations/collector", headers={"X-API-Key": reader}).status_code == 200
        )
        problem(attacker.get("/operations/collector", headers={"X-API-Key": FORGED}), 401)
        problem(attacker.get("/operations/collector", headers={"X-API-Key": reader}), 429)


def test_failure_counts_hold_bounded_memory() -> None:
    failures = AuthFailures(5, max_sources=100, clock=lambda: 0.0)
    for i in range(10_000):
        failures.record(f"10.0.{i // 256}.{i % 256}")
    for _ in range(50):
        failures.record("10.0.39.15")  # the newest source: kept, its deque at most 5 long
    assert len(failures) == 100
    assert failures.retry_after("10.0.39.15") == 60 and failures.retry_after("10.0.0.0") is None


SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    answers = {
        "ok": client.get("/health"),
        "data": client.get("/sensors"),
        "404": client.get("/sensors/nope"),
        "405": client.delete("/health"),
        "401": client.post("/sensors", json={}),
        "413": client.post("/sensors", content=b"x" * (1 << 21)),
        "422": client.get("/sensors/air-1/readings", params={"metric": "nope"}),
        "static": client.get("/static/city.js"),
        "openapi": client.get("/openapi.json"),
    }
    for what, answer in answers.items():
        for name, value in SECURITY.items():
            assert answer.headers.get(name) == value, (what, name)
        assert answer.headers["content-security-policy"] == API_CSP, what
        assert "strict-transport-security" not in answer.headers, what
        assert "server" not in answer.headers or "uvicorn" not in answer.headers["server"]


def test_the_city_page_policy_allows_no_inline_script_and_only_its_tile_server(
    client: TestClient, settings_: Settings
) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    policy = dict(
        [*part.split(" ", 1), ""][:2]
        for part in page.headers["content-security-policy"].split("; ")
    )
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    assert policy["img-src"] == "'self' data: https://tile.openstreetmap.org"
    assert policy["frame-ancestors"] == "'none'" and "'unsafe-inline'" not in policy["style-src"]
    # the page's data is in non-executed JSON blocks: no inline script the policy would block
    assert '<script id="city-data" type="application/json">' in page.text
    docs = client.get("/docs").headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in docs and "frame-ancestors 'none'" in docs
    assert tiles_source("https://{s}.tile.example.org/{z}/{x}/{y}.png") == (
        "https://*.tile.example.org"
    )
    assert tiles_source("") == ""


def test_hsts_only_when_configured(influx: InfluxClient, tmp_path: Path) -> None:
    settings = _settings(influx, tmp_path, api_hsts_max_age_s=31_536_000)
    with TestClient(create_app(settings)) as c:
        for path in ("/health", "/", "/nope"):
            hsts = c.get(path).headers["strict-transport-security"]
            assert hsts == "max-age=31536000; includeSubDomains", path


def test_large_bodies_get_a_413_problem_before_any_route_runs(
    client: TestClient, settings_: Settings
) -> None:
    admin = {"X-API-Key": api_key(settings_, "admin")}
    sensor = {
        "kind": "air",
        "name_th": "สถานี",
        "name_en": "Station",
        "latitude": 14.0,
        "longitude": 100.15,
        "zone": "test",
        "site": "lab",
    }
    big = {**sensor, "id": "air-big", "meta": {"pad": "x" * (1 << 20)}}
    body = problem(client.post("/sensors", json=big, headers=admin), 413)
    assert body["detail"] == "the request body is larger than 1024 KiB"

    def chunked() -> Iterator[bytes]:
        for _ in range(200):  # 1.6 MiB without a Content-Length
            yield b" " * 8192

    problem(client.post("/sensors", content=chunked(), headers=admin), 413)
    problem(client.get("/sensors/air-big"), 404)  # never created
    small = {**sensor, "id": "air-small", "meta": {"pad": "x" * 1000}}
    assert client.post("/sensors", json=small, headers=admin).status_code == 201


def test_ingest_refuses_json_nested_too_deep(client: TestClient, settings_: Settings) -> None:
    device = {"X-API-Key": api_key(settings_, "device", "air-1")}
    deep = b'{"ts": 1, "pm25": 1, "x": ' + b"[" * 40 + b"]" * 40 + b"}"
    body = problem(client.post("/ingest/native", content=deep, headers=device), 422)
    assert body["errors"] == [
        {"loc": ["body"], "msg": "JSON nested deeper than 16 levels", "type": "json_too_deep"}
    ]
    within = b'{"ts": 1, "pm25": 1, "x": ' + b"[" * 14 + b"]" * 14 + b"}"  # 15 levels
    answer = client.post("/ingest/native", content=within, headers=device)
    assert "json_too_deep" not in answer.text and answer.status_code in (202, 422, 503)
    assert json_depth(orjson.loads(within), 16) == 15
    assert json_depth(orjson.loads(b"[" * 30 + b"]" * 30), 16) == 17  # stops counting past it


def _logged(log: Path) -> bool:
    return "authentication failed" in log.read_text()


def test_forwarded_for_is_believed_only_from_configured_proxies(
    influx: InfluxClient, tmp_path: Path
) -> None:
    """`citydata api` as deployed: the source in the failure log is the peer address, unless the
    peer is a proxy listed in CITYDATA_API_FORWARDED_ALLOW_IPS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    settings = _settings(influx, tmp_path)
    for proxies, source in (("", "127.0.0.1"), ("127.0.0.1", "198.51.100.7")):
        log = tmp_path / f"api-{proxies or 'none'}.log"
        api = ApiProcess(
            {**env, **settings.env(), "CITYDATA_API_FORWARDED_ALLOW_IPS": proxies}, log
        )
        try:
            api.wait_up(60)
            answer = httpx.post(
                f"{api.url}/sensors", json={}, headers={"X-Forwarded-For": "198.51.100.7"}
            )
            assert answer.status_code == 401
            wait_for(partial(_logged, log), 10, what="the failure's log line")
        finally:
            api.stop()
        assert f"authentication failed from {source}: missing key" in log.read_text()
