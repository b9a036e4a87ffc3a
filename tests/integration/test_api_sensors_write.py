"""Sensors through the HTTP API: create, update, retire (operator keys), and last-seen/online
status computed from points in a real InfluxDB."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from citydata.influx import InfluxClient
from citydata.settings import Settings, load_settings
from tests.apiclient import PROBLEM, TestClient
from tests.helpers import api_key, register

pytestmark = pytest.mark.integration

MINUTE_NS = 60 * 1_000_000_000
NEW: dict[str, Any] = {
    "id": "lp-air-01",
    "kind": "air",
    "name_th": "สำนักงานเทศบาล",
    "name_en": "Municipal Office",
    "latitude": 14.0005,
    "longitude": 100.146,
    "zone": "lam-phaya",
    "site": "office",
    "calibration": {"pm25": {"scale": 1.02, "offset": 0.5}},
    "meta": {"model": "PMS7003"},
}


@pytest.fixture
def api_settings(influx: InfluxClient, tmp_path: Path) -> Settings:
    settings = load_settings(
        {}, influx_url=influx.url, influx_db=influx.database, data_dir=tmp_path / "var"
    )
    register(settings, {f"air-{n}": "air" for n in range(4)} | {"water-0": "water"})
    register(settings, {"air-slow": "air"}, meta={"offline_after_s": "10800"})
    return settings


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


@pytest.fixture
def operator(api_settings: Settings) -> dict[str, str]:
    return {"X-API-Key": api_key(api_settings, "operator")}


def _us(ns: int) -> int:
    """`ns` cut to whole microseconds, which is what a datetime in the answer can carry."""
    return ns - ns % 1000


def _iso(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )


def _locs(response: Any) -> set[tuple[str | int, ...]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return {tuple(e["loc"]) for e in response.json()["errors"]}


def test_create_answers_201_and_the_sensor_is_then_readable(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.post("/sensors", json=NEW, headers=operator)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/sensors/lp-air-01"
    body = response.json()
    assert {k: body[k] for k in NEW} == NEW
    assert body["status"] == "active" and body["created_at"] and body["updated_at"]
    assert (body["last_seen"], body["online"], body["offline_after_s"]) == (
        None,
        "never_seen",
        1800.0,
    )
    assert client.get("/sensors/lp-air-01").json() == body
    assert client.get("/sensors?zone=lam-phaya").json()["total"] == 1


def test_create_refuses_a_taken_id_with_409(client: TestClient, operator: dict[str, str]) -> None:
    response = client.post("/sensors", json={**NEW, "id": "air-1"}, headers=operator)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "/problems/sensor-exists" and "air-1" in body["detail"]
    assert client.get("/sensors/air-1").json()["zone"] == "test"  # untouched


def test_create_lists_every_invalid_field(client: TestClient, operator: dict[str, str]) -> None:
    bad = {
        **NEW,
        "latitude": 200,
        "zone": "two words",
        "calibration": {"pm25": {"scale": 0}},
        "status": "lost",
    }
    del bad["name_en"]
    assert _locs(client.post("/sensors", json=bad, headers=operator)) == {
        ("body", "latitude"),
        ("body", "zone"),
        ("body", "calibration", "pm25", "scale"),
        ("body", "status"),
        ("body", "name_en"),
    }
    stamped = {**NEW, "created_at": "2026-01-01T00:00:00Z", "meta": {"offline_after_s": "-5"}}
    assert _locs(client.post("/sensors", json=stamped, headers=operator)) == {
        ("body", "created_at"),
        ("body", "meta"),
    }
    assert client.get("/sensors/lp-air-01").status_code == 404  # nothing was stored


def test_writes_need_an_operator_key(
    client: TestClient, api_settings: Settings, operator: dict[str, str]
) -> None:
    reader = {"X-API-Key": api_key(api_settings, "read")}
    writes = [
        ("POST", "/sensors", NEW),
        ("PATCH", "/sensors/air-1", {"zone": "elsewhere"}),
        ("POST", "/sensors/air-1/retire", None),
    ]
    for method, path, body in writes:
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["content-type"] == PROBLEM
        assert client.request(method, path, json=body, headers=reader).status_code == 403
    after = client.get("/sensors/air-1", headers=reader).json()
    assert (after["zone"], after["status"]) == ("test", "active")
    assert client.get("/sensors/lp-air-01").status_code == 404
    assert client.patch("/sensors/air-1", json={"zone": "x"}, headers=operator).status_code == 200


def test_patch_changes_only_the_fields_given(client: TestClient, operator: dict[str, str]) -> None:
    before = client.get("/sensors/air-2").json()
    response = client.patch(
        "/sensors/air-2",
        json={"zone": "market", "meta": {"note": "new inlet"}, "install_date": "2025-02-01"},
        headers=operator,
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert (after["zone"], after["meta"], after["install_date"]) == (
        "market",
        {"note": "new inlet"},
        "2025-02-01",
    )
    unchanged = {k: v for k, v in before.items() if k not in ("zone", "meta", "install_date")}
    assert {k: after[k] for k in unchanged if k != "updated_at"} == {
        k: v for k, v in unchanged.items() if k != "updated_at"
    }
    assert after["updated_at"] > before["updated_at"]
    assert client.get("/sensors/air-2").json()["zone"] == "market"


def test_patch_refuses_fixed_fields_and_checks_the_whole_sensor(
    client: TestClient, operator: dict[str, str]
) -> None:
    fixed = {"id": "x", "kind": "water", "created_at": "2026-01-01T00:00:00Z", "colour": "red"}
    assert _locs(
        client.patch("/sensors/air-3", json={**fixed, "longitude": None}, headers=operator)
    ) == {
        ("body", "id"),
        ("body", "kind"),
        ("body", "created_at"),
        ("body", "colour"),
        ("body", "longitude"),  # found by checking the changed sensor as a whole
    }
    # Each change is fine alone; only the merged sensor shows what is wrong.
    locs = _locs(
        client.patch(
            "/sensors/air-3",
            json={"thresholds": {"level": {"high": 3}}, "latitude": None},
            headers=operator,
        )
    )
    assert ("body", "latitude") in locs and any(loc[:2] == ("body", "thresholds") for loc in locs)
    meta = client.patch(
        "/sensors/air-3", json={"meta": {"offline_after_s": "soon"}}, headers=operator
    )
    assert _locs(meta) == {("body", "meta")}
    assert "offline_after_s must be a positive number of seconds" in meta.text
    assert client.get("/sensors/air-3").json()["zone"] == "test"
    missing = client.patch("/sensors/nope", json={"zone": "x"}, headers=operator)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


def test_retire_keeps_the_sensor_and_its_history(
    client: TestClient, influx: InfluxClient, operator: dict[str, str]
) -> None:
    seen = _us(time.time_ns() - 5 * MINUTE_NS)
    influx.write_lines([f"air,sensor_id=air-0,zone=test,site=lab pm25=12 {seen}"])
    response = client.post("/sensors/air-0/retire", headers=operator)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "retired"
    again = client.post("/sensors/air-0/retire", headers=operator).json()
    assert again["status"] == "retired" and again["updated_at"] == response.json()["updated_at"]
    kept = client.get("/sensors/air-0").json()
    assert kept["status"] == "retired" and kept["last_seen"] == _iso(seen).isoformat().replace(
        "+00:00", "Z"
    )
    history = client.get("/sensors/air-0/readings?metric=pm25").json()["points"]
    assert [p["value"] for p in history] == [12.0]
    assert client.get("/sensors?status=retired").json()["items"][0]["id"] == "air-0"
    assert client.post("/sensors/nope/retire", headers=operator).status_code == 404
    # A pending sensor (never placed) can be retired as it is; an active one needs a place.
    pending = {"id": "new-1", "kind": "air", "name_th": "n", "name_en": "n", "status": "pending"}
    made = client.post("/sensors", json={**pending, "zone": "z", "site": "s"}, headers=operator)
    assert made.status_code == 201, made.text
    retired = client.post("/sensors/new-1/retire", headers=operator)
    assert retired.status_code == 200, retired.text
    assert (retired.json()["status"], retired.json()["latitude"]) == ("retired", None)
    unplaced = client.patch("/sensors/new-1", json={"status": "active"}, headers=operator)
    assert unplaced.status_code == 422 and "latitude" in unplaced.text


def _page(client: TestClient, query: str = "") -> dict[str, Any]:
    response = client.get(f"/sensors{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_last_seen_and_online_from_the_newest_point(
    client: TestClient, influx: InfluxClient
) -> None:
    now = time.time_ns()
    recent, late = _us(now - MINUTE_NS), _us(now - 45 * MINUTE_NS)  # air is offline after 30 min
    old = _us(now - 120 * MINUTE_NS)
    influx.write_lines(
        [
            f"air,sensor_id=air-0,zone=test,site=lab pm25=10 {old}",
            f"air,sensor_id=air-0,zone=test,site=lab pm10=20 {recent}",  # another field
            f"air,sensor_id=air-1,zone=test,site=lab pm25=10 {late}",
            f"air,sensor_id=air-slow,zone=test,site=lab pm25=10 {old}",  # its meta allows 3 h
            f"water,sensor_id=water-0,zone=test,site=lab level=1.5 {_us(now - 20 * MINUTE_NS)}",
            f"water,sensor_id=air-2,zone=test,site=lab level=1.5 {recent}",  # not its kind
            # Newer than air-0's own, in another kind: must not hide air-0's newest point.
            f"water,sensor_id=air-0,zone=test,site=lab level=1.5 {_us(now - MINUTE_NS // 2)}",
        ]
    )
    got = {
        s["id"]: (s["online"], s["last_seen"], s["offline_after_s"]) for s in _page(client)["items"]
    }

    def at(ns: int) -> str:
        return _iso(ns).isoformat().replace("+00:00", "Z")

    assert got == {
        "air-0": ("online", at(recent), 1800.0),
        "air-1": ("offline", at(late), 1800.0),
        "air-2": ("never_seen", None, 1800.0),
        "air-3": ("never_seen", None, 1800.0),
        "air-slow": ("online", at(old), 10800.0),
        "water-0": ("online", at(_us(now - 20 * MINUTE_NS)), 1800.0),
    }
    assert client.get("/sensors/air-1").json()["online"] == "offline"
    offline = _page(client, "?online=offline")
    assert [s["id"] for s in offline["items"]] == ["air-1"] and offline["total"] == 1
    never = _page(client, "?online=never_seen&limit=1&offset=1")
    assert [s["id"] for s in never["items"]] == ["air-3"] and never["total"] == 2
    online = _page(client, "?online=online&kind=air")
    assert [s["id"] for s in online["items"]] == ["air-0", "air-slow"]
    for bad in ("online=asleep", "kind=boat"):
        refused = client.get(f"/sensors?{bad}")
        assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM


def test_last_seen_for_a_page_larger_than_one_query(
    client: TestClient, api_settings: Settings, influx: InfluxClient
) -> None:
    register(api_settings, {f"bulk-{n:03d}": "traffic" for n in range(450)})
    now = time.time_ns()
    heard = {"bulk-000": now - MINUTE_NS, "bulk-250": now - 2, "bulk-449": now - 100 * MINUTE_NS}
    influx.write_lines(
        f"traffic,sensor_id={sid},zone=test,site=lab count=3 {ns}" for sid, ns in heard.items()
    )
    body = _page(client, "?kind=traffic&limit=1000")
    assert body["total"] == 450 and len(body["items"]) == 450
    status = {s["id"]: s["online"] for s in body["items"] if s["online"] != "never_seen"}
    assert status == {"bulk-000": "online", "bulk-250": "online", "bulk-449": "offline"}
    page = _page(client, "?kind=traffic&limit=2&offset=249")
    assert [(s["id"], s["online"]) for s in page["items"]] == [
        ("bulk-249", "never_seen"),
        ("bulk-250", "online"),
    ]


def test_without_influxdb_the_registry_still_answers(api_settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    away = api_settings.model_copy(update={"influx_url": f"http://127.0.0.1:{closed}"})
    with TestClient(create_app(away)) as client:
        operator = {"X-API-Key": api_key(away, "operator")}
        created = client.post("/sensors", json=NEW, headers=operator)
        assert created.status_code == 201, created.text
        assert (created.json()["online"], created.json()["last_seen"]) == ("unknown", None)
        assert {s["online"] for s in _page(client)["items"]} == {"unknown"}
        filtered = client.get("/sensors?online=offline")
        assert filtered.status_code == 503 and filtered.headers["content-type"] == PROBLEM


def test_patch_takes_every_editable_field_of_the_registry() -> None:
    # SensorChanges spells the editable fields out for the schema; a field added to the
    # registry's Sensor must be added there too, or PATCH would refuse it by name.
    from api.routers.sensors import SensorChanges
    from citydata.registry.model import EDITABLE

    assert set(SensorChanges.model_fields) == set(EDITABLE) - {"id", "kind"}
