"""Operations through the HTTP API: collector health from real InfluxDB, dead letters from the
data directory, and replay through real Mosquitto into a running collector."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from citydata.deadletters import DeadLetter, DeadLetterStore, cut, record, too_large
from citydata.decoders import Message, Problem
from citydata.influx import InfluxClient
from citydata.settings import Settings, load_settings
from collector.health import HealthReporter, Stats
from collector.service import Collector
from tests.apiclient import PROBLEM, TestClient
from tests.helpers import api_key, publish_all, wait_for

pytestmark = pytest.mark.integration

S = 1_000_000_000
DAY = 86_400 * S
T0 = 1_764_000_000 * S  # 2025-11-24T16:00:00Z


@pytest.fixture
def api_settings(influx: InfluxClient, tmp_path: Path) -> Settings:
    """No broker: these tests only read; health is recorded every 10 s, stale after 30 s."""
    return load_settings(
        {}, influx_url=influx.url, influx_db=influx.database, data_dir=tmp_path / "var"
    )


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


@pytest.fixture
def operator(api_settings: Settings) -> dict[str, str]:
    return {"X-API-Key": api_key(api_settings, "operator")}


def _dead(topic: str, payload: bytes, ns: int, reason: str, detail: str) -> DeadLetter:
    return record(Message(topic, payload, ns), [Problem(reason, detail)])


# Oldest first, over two UTC days; the last is a point InfluxDB refused (no topic to replay to).
DEAD = [
    _dead("sensors/air/air-500", b'{"pm25": 7}', T0, "unregistered", "sensor 'air-500'"),
    _dead("sensors/air/air-1", b"not json", T0 + S, "bad_payload", "not JSON"),
    _dead("ttn/up", b'{"dev": "x"}', T0 + 2 * S, "unregistered", "sensor 'node-7' unknown"),
    _dead("sensors/air/air-500", b"\xff\x00", T0 + DAY, "bad_payload", "not UTF-8"),
    _dead("", b"air pm25=1", T0 + DAY + S, "rejected", "InfluxDB refused the point"),
]


def _list(client: TestClient, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    response = client.get(f"/operations/deadletters{query}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _times(body: dict[str, Any]) -> list[int]:
    return [d["received_ns"] for d in body["items"]]


def test_dead_letters_newest_first_filtered_and_paginated(
    client: TestClient, api_settings: Settings, operator: dict[str, str]
) -> None:
    DeadLetterStore(api_settings.data_dir).add(DEAD)
    everything = _list(client, operator)
    assert everything["total"] == 5
    assert _times(everything) == [r["received_ns"] for r in reversed(DEAD)]
    first = everything["items"][0]
    assert (first["reason"], first["topic"], first["replayable"]) == ("rejected", "", False)
    binary = everything["items"][1]
    assert (binary["payload_encoding"], binary["replayable"]) == ("base64", True)
    assert binary["time"] == "2025-11-25T16:00:00Z"
    ids = [d["id"] for d in everything["items"]]
    assert len(set(ids)) == 5 and ids == [d["id"] for d in _list(client, operator)["items"]]

    page = _list(client, operator, "?limit=2&offset=1")
    assert _times(page) == [DEAD[3]["received_ns"], DEAD[2]["received_ns"]]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert _times(_list(client, operator, "?reason=unregistered")) == [T0 + 2 * S, T0]
    both = _list(client, operator, "?reason=unregistered&reason=rejected")
    assert both["total"] == 3
    assert _times(_list(client, operator, "?sensor_id=air-500")) == [T0 + DAY, T0]
    assert _times(_list(client, operator, "?sensor_id=node-7")) == [T0 + 2 * S]  # in the errors
    assert _times(_list(client, operator, "?topic=sensors/air/")) == [T0 + DAY, T0 + S, T0]
    since = _list(client, operator, "?since=2025-11-24T16:00:01Z")  # inclusive
    assert _times(since) == [T0 + DAY + S, T0 + DAY, T0 + 2 * S, T0 + S]
    since = _list(client, operator, "?since=2025-11-24T16:00:01.5Z&reason=bad_payload")
    assert _times(since) == [T0 + DAY]
    bad = client.get("/operations/deadletters?since=yesterday", headers=operator)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert [e["loc"] for e in bad.json()["errors"]] == [["query", "since"]]


def test_a_cut_payload_is_listed_with_its_size_and_sha256_and_not_replayable(
    client: TestClient, api_settings: Settings, operator: dict[str, str]
) -> None:
    payload = b'{"pm25": [' + b"1," * 600_000 + b"1]}"
    head, size_and_hash = cut(payload, 256 * 1024)
    assert size_and_hash is not None
    big = too_large(Message("sensors/air/air-1", head, T0 + S), size_and_hash, 256 * 1024)
    DeadLetterStore(api_settings.data_dir).add([DEAD[0], big])
    cut_one, whole = _list(client, operator)["items"]
    assert (cut_one["reason"], cut_one["replayable"]) == ("too_large", False)
    assert cut_one["size"] == len(payload)
    assert cut_one["sha256"] == hashlib.sha256(payload).hexdigest()
    assert cut_one["payload"] == head.decode() and len(cut_one["payload"]) < 1025
    assert (whole["size"], whole["sha256"], whole["replayable"]) == (None, None, True)


def test_every_operations_route_needs_an_operator_key(
    client: TestClient, api_settings: Settings
) -> None:
    DeadLetterStore(api_settings.data_dir).add(DEAD[:1])
    reader = {"X-API-Key": api_key(api_settings, "read")}
    routes = [
        ("GET", "/operations/collector", None),
        ("GET", "/operations/deadletters", None),
        ("POST", "/operations/deadletters/replay", {"all": True, "dry_run": True}),
        ("POST", "/operations/deadletters/0123456789abcdef/replay", None),
    ]
    for method, path, body in routes:
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["content-type"] == PROBLEM
        assert "payload" not in anonymous.text
        assert client.request(method, path, json=body, headers=reader).status_code == 403, path


def test_collector_health_newest_per_instance_with_age(
    client: TestClient, influx: InfluxClient, operator: dict[str, str]
) -> None:
    now = time.time_ns()
    lines = []
    for name, host, ages_s, received in (
        ("collector-a", "ingest-1", (120, 2), 50),
        ("collector-b", "ingest-2", (3600,), 9),
    ):
        reporter = HealthReporter(name, host)
        for age in ages_s:
            fields = reporter.fields(Stats(received=received + age), queue_depth=3, spool_bytes=0)
            lines.append(reporter.line(fields, now - age * S))
    influx.write_lines(lines)
    response = client.get("/operations/collector", headers=operator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stale_after_s"] == 30.0
    a, b = body["items"]
    assert (a["collector"], a["host"], a["stale"]) == ("collector-a", "ingest-1", False)
    assert a["figures"]["received"] == 52.0 and a["figures"]["queue_depth"] == 3.0
    assert 2.0 <= a["age_s"] < 20.0
    assert (b["collector"], b["host"], b["stale"]) == ("collector-b", "ingest-2", True)
    assert b["figures"]["received"] == 3609.0 and 3600.0 <= b["age_s"] < 3620.0
    assert set(a["figures"]) == set(HealthReporter("x").fields(Stats(), 0, 0))


def test_replay_refuses_an_empty_filter_and_counts_a_dry_run(
    client: TestClient, api_settings: Settings, operator: dict[str, str]
) -> None:
    DeadLetterStore(api_settings.data_dir).add(DEAD)
    empty = client.post("/operations/deadletters/replay", json={}, headers=operator)
    assert empty.status_code == 422 and empty.headers["content-type"] == PROBLEM
    assert '"all": true' in empty.json()["detail"]
    dry = client.post(
        "/operations/deadletters/replay", json={"all": True, "dry_run": True}, headers=operator
    )
    assert dry.json() == {"replayed": 4, "skipped": 1, "dry_run": True}
    some = client.post(
        "/operations/deadletters/replay",
        json={"reason": ["unregistered"], "sensor_id": ["air-500"], "dry_run": True},
        headers=operator,
    )
    assert some.json() == {"replayed": 1, "skipped": 0, "dry_run": True}
    newest_two = [d["id"] for d in _list(client, operator, "?limit=2")["items"]]
    by_id = client.post(
        "/operations/deadletters/replay",
        json={"ids": newest_two, "dry_run": True},
        headers=operator,
    )
    assert by_id.json() == {"replayed": 1, "skipped": 1, "dry_run": True}
    # Only the refused point matches: nothing to publish, so no broker is needed.
    rejected = client.post(
        "/operations/deadletters/replay", json={"reason": ["rejected"]}, headers=operator
    )
    assert rejected.json() == {"replayed": 0, "skipped": 1, "dry_run": False}
    bad_bodies: list[dict[str, object]] = [{"reasons": []}, {"reason": "unregistered"}, {"all": 1}]
    for bad in bad_bodies:
        refused = client.post("/operations/deadletters/replay", json=bad, headers=operator)
        assert refused.status_code == 422, bad
    assert _list(client, operator)["total"] == 5  # a dry run moves nothing
    gone = client.post("/operations/deadletters/0123456789abcdef/replay", headers=operator)
    assert gone.status_code == 404 and gone.headers["content-type"] == PROBLEM


def test_unregistered_reading_is_registered_and_replayed_through_the_api(
    collector: Collector, registered: Settings, influx: InfluxClient
) -> None:
    settings = registered
    operator = {"X-API-Key": api_key(settings, "operator")}
    before = time.time_ns()
    publish_all(
        settings.mqtt_url,
        [
            ("sensors/air/air-500", b'{"pm25": 7}'),
            ("sensors/air/air-501", b'{"pm25": 8}'),
            ("sensors/air/air-502", b'{"pm25": 9}'),
        ],
    )
    wait_for(lambda: collector.stats.dead_lettered == 3, what="three dead letters")
    with TestClient(create_app(settings)) as client:
        listed = _list(client, operator, "?reason=unregistered&sensor_id=air-500")
        assert listed["total"] == 1
        (dead,) = listed["items"]
        assert dead["topic"] == "sensors/air/air-500" and dead["payload"] == '{"pm25": 7}'

        for sid in ("air-500", "air-501"):
            new = {
                "id": sid,
                "kind": "air",
                "name_th": sid,
                "name_en": sid,
                "latitude": 14.0,
                "longitude": 100.15,
                "zone": "test",
                "site": "lab",
            }
            assert client.post("/sensors", json=new, headers=operator).status_code == 201
        registered_at = time.monotonic()
        wait_for(lambda: collector.registry_read_at > registered_at, what="the registry reread")

        one = client.post(f"/operations/deadletters/{dead['id']}/replay", headers=operator)
        assert one.status_code == 200, one.text
        assert one.json() == {"replayed": 1, "skipped": 0, "dry_run": False}
        again = client.post(f"/operations/deadletters/{dead['id']}/replay", headers=operator)
        assert again.status_code == 404
        by_filter = client.post(
            "/operations/deadletters/replay", json={"sensor_id": ["air-501"]}, headers=operator
        )
        assert by_filter.json() == {"replayed": 1, "skipped": 0, "dry_run": False}
        wait_for(lambda: collector.stats.written == 2, what="the replayed readings")

        rows = influx.records('SELECT * FROM "air" GROUP BY "sensor_id"')
        stored = {row["sensor_id"]: (row["pm25"], row["time"]) for row in rows}
        assert stored["air-500"] == (7.0, dead["received_ns"]) and dead["received_ns"] >= before
        assert set(stored) == {"air-500", "air-501"}
        assert [d["topic"] for d in _list(client, operator)["items"]] == ["sensors/air/air-502"]
        seen = client.get("/sensors/air-500").json()
        assert seen["online"] == "online" and seen["last_seen"] == dead["time"]

        def health_recorded() -> bool:
            items = client.get("/operations/collector", headers=operator).json()["items"]
            return any(i["collector"] == settings.mqtt_client_id for i in items)

        wait_for(health_recorded, timeout=10, what="the collector's health point")
        (mine,) = client.get("/operations/collector", headers=operator).json()["items"]
        assert mine["stale"] is False and mine["figures"]["dead_lettered"] >= 3


def test_collector_health_is_a_503_problem_without_influxdb(api_settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    away = api_settings.model_copy(update={"influx_url": f"http://127.0.0.1:{closed}"})
    with TestClient(create_app(away)) as client:
        operator = {"X-API-Key": api_key(away, "operator")}
        response = client.get("/operations/collector", headers=operator)
    assert response.status_code == 503 and response.headers["content-type"] == PROBLEM
    assert "health" in response.json()["detail"]


def test_replay_while_the_broker_is_away_is_a_503_at_once_and_keeps_everything(
    api_settings: Settings,
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    away = api_settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{port}"})
    DeadLetterStore(away.data_dir).add(DEAD)
    with TestClient(create_app(away)) as client:
        operator = {"X-API-Key": api_key(away, "operator")}
        response = client.post(
            "/operations/deadletters/replay", json={"all": True}, headers=operator
        )
        assert response.status_code == 503 and response.headers["retry-after"] == "10"
        detail = response.json()["detail"]
        # answered from the API's own connection state, not after replay's 30 s connect wait
        assert "the API is not connected to it" in detail and "dead letters stay" in detail
        assert _list(client, operator)["total"] == 5


def test_replay_nobody_would_receive_is_refused_and_keeps_the_dead_letters(
    settings: Settings,
) -> None:
    """A broker with no collector subscribed acknowledges with 'no matching subscribers' and
    drops the message: such a replay must not move the dead letters to replayed/."""
    DeadLetterStore(settings.data_dir).add(DEAD)
    app = create_app(settings)
    with TestClient(app) as client:
        wait_for(lambda: app.state.publisher.connected, 10, "the API's MQTT connection")
        operator = {"X-API-Key": api_key(settings, "operator")}
        response = client.post(
            "/operations/deadletters/replay", json={"reason": ["unregistered"]}, headers=operator
        )
        assert response.status_code == 503, response.text
        detail = response.json()["detail"]
        assert "without passing them on" in detail and "dead letters stay" in detail
        assert _list(client, operator)["total"] == 5
    replayed = (settings.data_dir / "deadletter" / "replayed").glob("*.jsonl")
    assert sum(path.stat().st_size for path in replayed) == 0
