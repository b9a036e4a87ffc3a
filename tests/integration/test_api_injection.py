"""InfluxQL injection: attempts sent through every parameter of every GET route (read from the
OpenAPI schema, so a new route is covered) never reach InfluxDB outside a quoted literal or
identifier; InfluxDB parses every query the API sends, and the database and its data are intact.

Every query the API sends is recorded by a wrapper around InfluxClient.query in this process."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from api.app import create_app
from citydata.errors import QueryError
from citydata.influx import InfluxClient, quote_ident, quote_literal
from citydata.lineprotocol import encode_point
from citydata.readings.last_seen import fields_last_seen
from citydata.readings.ranges import field_since
from citydata.settings import Settings, load_settings
from tests.apiclient import TestClient
from tests.helpers import api_key, register

pytestmark = pytest.mark.integration

MARK = "zqinj"  # in every attempt: found outside quotes, an attempt got through
ATTEMPTS = [
    f"air-1' OR sensor_id =~ /.*/ --{MARK}",
    f'air-1"; DROP DATABASE "{MARK}',
    f"'; DROP DATABASE {MARK}; SELECT * FROM air WHERE '1'='1",
    f"/.*{MARK}/",
    f"air-1\nDROP MEASUREMENT air -- {MARK}",
    f"{MARK}\\' ; DELETE FROM air",
    f"สถานี-{MARK}'\"\\;ฯ",
    f'{MARK}" OR 1=1 OR "',
    f"{MARK}\nSHOW USERS",
    f"{MARK}\tSELECT\u2028*",
]
# Valid values for the parameters a route needs besides the one under attack.
VALID = {
    "sensor_id": "air-1",
    "metric": "pm25",
    "name": "pm25-high",
    "rule": "pm25-high",
    "subject": "air-1",
}
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)
_STATEMENTS = re.compile(r"\b(DROP|DELETE|CREATE|ALTER|GRANT|REVOKE|KILL|SHOW USERS)\b", re.I)


def _outside_quotes(q: str) -> str:
    return _QUOTED.sub("", q)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every InfluxQL query sent from this process while the test runs."""
    sent: list[str] = []
    original = InfluxClient.query

    def query(self: InfluxClient, q: str, **kwargs: Any) -> Any:
        sent.append(q)
        return original(self, q, **kwargs)

    monkeypatch.setattr(InfluxClient, "query", query)
    return sent


@pytest.fixture
def settings_(influx: InfluxClient, tmp_path: Path) -> Settings:
    settings = load_settings(
        {},
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=tmp_path / "var",
        api_snapshot_s=0,  # every city/status answer queries InfluxDB for the request
        api_latest_cache_s=0,
    )
    register(settings, {"air-1": "air", "water-1": "water", "traffic-1": "traffic"})
    now = time.time_ns() // 3_600_000_000_000 * 3_600_000_000_000
    lines = [
        encode_point("air", {"sensor_id": "air-1", "zone": "test"}, {"pm25": 20.0 + h}, t)
        for h in range(30)
        for t in [now - h * 3_600_000_000_000]
    ]
    influx.write_lines(lines)
    return settings


def _requests(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str], str]]:
    """(route, URL path, query, parameter under attack) for every attempt in every parameter of
    every GET route."""
    for template, operations in schema["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        params = operation.get("parameters", [])
        for target in params:
            for attempt in ATTEMPTS:
                path, query = template, {}
                for p in params:
                    value = attempt if p is target else VALID.get(p["name"])
                    if p["in"] == "path":
                        path = path.replace("{" + p["name"] + "}", quote(value or "x", safe=""))
                    elif value is not None and (p is target or p.get("required")):
                        query[p["name"]] = value
                yield template, path, query, target["name"]


def test_no_attempt_reaches_influxdb_unquoted(
    settings_: Settings, influx: InfluxClient, recorded: list[str]
) -> None:
    admin = {"X-API-Key": api_key(settings_, "admin")}
    before = influx.records('SELECT COUNT("pm25") FROM "air"')
    app = create_app(settings_)
    with TestClient(app) as client:
        schema = client.get("/openapi.json").json()
        tried: dict[str, int] = {}
        for route, path, query, param in _requests(schema):
            answer = client.get(path, params=query, headers=admin)
            assert answer.status_code < 500, (route, param, query, answer.text)
            tried[f"{route} {param}"] = tried.get(f"{route} {param}", 0) + 1
    for q in recorded:
        outside = _outside_quotes(q)
        assert MARK not in outside, q
        assert not _STATEMENTS.search(outside), q
    # every GET route with parameters was tried with every attempt (the routes' validation
    # refuses them all before InfluxDB today: the next test shows the quoting behind it)
    routes = {r.split(" ")[0] for r in tried}
    assert {"/aqi", "/sensors/{sensor_id}/readings", "/readings/latest", "/sensors"} <= routes
    assert all(n == len(ATTEMPTS) for n in tried.values())
    assert recorded  # the routes did query InfluxDB meanwhile
    # the database and its data are intact
    assert influx.database in {r["name"] for r in influx.records("SHOW DATABASES")}
    assert influx.records('SELECT COUNT("pm25") FROM "air"') == before
    measurements = {r["name"] for r in influx.records("SHOW MEASUREMENTS")}
    assert "air" in measurements and MARK not in str(measurements)


def test_the_query_builders_keep_every_attempt_quoted(
    settings_: Settings, influx: InfluxClient, recorded: list[str]
) -> None:
    """Behind the routes' validation: the query builders given each attempt as a sensor id, a
    measurement and a field send queries InfluxDB parses, with the attempt only inside quotes;
    they match nothing, and nothing is dropped."""
    before = influx.records('SELECT COUNT("pm25") FROM "air"')
    recorded.clear()
    since = time.time_ns() - 86_400_000_000_000
    for attempt in ATTEMPTS:
        assert field_since(influx, "air", "pm25", since, sensor_id=attempt) == {}
        assert field_since(influx, attempt, attempt, since) == {}
        spans = {"pm25": (since, time.time_ns())}
        assert fields_last_seen(influx, "air", spans, sensor_id=attempt) == {}
        q = f"SELECT * FROM {quote_ident(attempt)} WHERE sensor_id = {quote_literal(attempt)}"
        assert influx.records(q) == []
    for unquotable in (f"{MARK}\0' OR 1=1", f"{MARK}\r\nSHOW USERS"):  # no escape for them
        with pytest.raises(QueryError, match="NUL or carriage return"):
            field_since(influx, "air", "pm25", since, sensor_id=unquotable)
    assert len(recorded) == 4 * len(ATTEMPTS)
    for q in recorded:
        assert MARK in q and MARK not in _outside_quotes(q), q
        assert not _STATEMENTS.search(_outside_quotes(q)), q
    assert influx.database in {r["name"] for r in influx.records("SHOW DATABASES")}
    assert influx.records('SELECT COUNT("pm25") FROM "air"') == before
