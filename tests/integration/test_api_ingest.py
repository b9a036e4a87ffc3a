"""HTTP ingestion: posts through the API onto real Mosquitto, stored by a running collector in
real InfluxDB; refusals publish nothing; a broker that is away or silent answers 503."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from citydata import services
from citydata.influx import InfluxClient
from citydata.mqtt import close, connect, make_client
from citydata.routes import NATIVE, Route
from citydata.settings import Settings
from tests.apiclient import TestClient, problem
from tests.helpers import api_key, register, running_collector, wait_for

pytestmark = pytest.mark.integration

CHIP = "15225252"
SC_ID = f"esp8266-{CHIP}"
SC_ROUTE = Route(
    topic="luftdaten/+",
    format="sensor_community",
    kind="air",
    fields={
        "SDS_P1": "pm10",
        "SDS_P2": "pm25",
        "BME280_temperature": "temperature",
        "BME280_humidity": "humidity",
    },
)


def sc_body(pm10: str, pm25: str, chip: str = CHIP) -> bytes:
    """A body as airrohr firmware posts it to a custom API."""
    values = {
        "SDS_P1": pm10,
        "SDS_P2": pm25,
        "BME280_temperature": "29.10",
        "BME280_humidity": "70.20",
        "BME280_pressure": "100812.50",
        "signal": "-71",
    }
    return json.dumps(
        {
            "esp8266id": chip,
            "software_version": "NRZ-2020-133",
            "sensordatavalues": [{"value_type": k, "value": v} for k, v in values.items()],
        }
    ).encode()


@pytest.fixture
def ingest_settings(registered: Settings) -> Settings:
    """STANDARD_SENSORS plus two Sensor.Community boards; routes: luftdaten/+ then native."""
    settings = registered.model_copy(update={"routes": [SC_ROUTE, NATIVE]})
    register(settings, {SC_ID: "air", "esp8266-1": "air"})
    return settings


@pytest.fixture
def app(ingest_settings: Settings) -> FastAPI:
    return create_app(ingest_settings)


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        wait_for(lambda: app.state.publisher.connected, 10, "the API's MQTT connection")
        yield client


@contextmanager
def subscribed(url: str) -> Iterator[list[tuple[str, bytes]]]:
    """Every message published on the broker from now on, as (topic, payload)."""
    got: list[tuple[str, bytes]] = []
    done = threading.Event()
    client, host, port = make_client(url, f"watch-{uuid.uuid4().hex[:8]}")
    client.on_message = lambda c, u, m: got.append((m.topic, bytes(m.payload)))
    client.on_subscribe = lambda *args: done.set()
    connect(client, host, port)
    try:
        client.subscribe("#", qos=1)
        assert done.wait(5), "no SUBACK"
        yield got
    finally:
        close(client)


def test_sensor_community_posts_land_in_influxdb(
    ingest_settings: Settings, api: TestClient, influx: InfluxClient
) -> None:
    key = api_key(ingest_settings, "device", SC_ID)
    with running_collector(ingest_settings) as c:
        before = time.time_ns()
        basic = api.post(
            "/ingest/sensor_community",
            content=sc_body("23.40", "11.10"),
            headers={"X-Sensor": SC_ID, "X-Pin": "1", "Content-Type": "application/json"},
            auth=(SC_ID, key),  # the firmware's "send to own API" user and password
        )
        middle = time.time_ns()
        header = api.post(
            "/ingest/sensor_community",
            content=sc_body("30", "15.5"),
            headers={"X-Sensor": SC_ID, "X-API-Key": key},
        )
        after = time.time_ns()
        wait_for(lambda: c.stats.written == 2, 10, "both readings")
    assert basic.status_code == 202, basic.text
    assert basic.json() == {
        "status": "published",
        "topic": f"luftdaten/{SC_ID}",
        "sensor_ids": [SC_ID],
        "readings": 1,
        "ignored": ["BME280_pressure", "signal"],
    }
    assert header.status_code == 202, header.text
    rows = influx.records('SELECT * FROM "air"')
    values = [(r["pm10"], r["pm25"], r["temperature"], r["humidity"]) for r in rows]
    assert values == [(23.4, 11.1, 29.1, 70.2), (30.0, 15.5, 29.1, 70.2)]
    assert {(r["sensor_id"], r["zone"]) for r in rows} == {(SC_ID, "test")}
    # Stored at the time the API received each body (the payload has none).
    assert before <= rows[0]["time"] <= middle <= rows[1]["time"] <= after


def test_an_esp32_board_is_stored_under_its_own_id(
    ingest_settings: Settings, api: TestClient, influx: InfluxClient
) -> None:
    board = "esp32-3183740"  # its firmware still writes esp8266id in the body
    register(ingest_settings, {board: "air"})
    key = api_key(ingest_settings, "device", board)
    with running_collector(ingest_settings) as c:
        posted = api.post(
            "/ingest/sensor_community",
            content=sc_body("31.00", "18.25", chip="3183740"),
            headers={"X-Sensor": board, "Content-Type": "application/json"},
            auth=(board, key),
        )
        wait_for(lambda: c.stats.written == 1, 10, "the reading")
    assert posted.status_code == 202, posted.text
    assert posted.json()["topic"] == f"luftdaten/{board}"
    assert posted.json()["sensor_ids"] == [board]
    (row,) = influx.records('SELECT * FROM "air"')
    assert (row["sensor_id"], row["pm10"], row["pm25"]) == (board, 31.0, 18.25)


def test_native_posts_land_in_influxdb(
    ingest_settings: Settings, api: TestClient, influx: InfluxClient
) -> None:
    device = api_key(ingest_settings, "device", "air-1")
    operator = api_key(ingest_settings, "operator")
    t0 = int(time.time()) - 60
    with running_collector(ingest_settings) as c:
        one = api.post(
            "/ingest/native", json={"ts": t0, "pm25": 12.5}, headers={"X-API-Key": device}
        )
        batch = api.post(
            "/ingest/native",
            json=[{"ts": t0 + 1, "pm25": 1}, {"ts": t0 + 2, "pm25": 2, "colour": "blue"}],
            headers={"Authorization": f"Bearer {device}"},
        )
        water = api.post(
            "/ingest/native",
            json={"ts": t0, "level": 1.25},
            headers={"X-API-Key": operator, "X-Sensor": "water-1"},
        )
        wait_for(lambda: c.stats.written == 4, 10, "four readings")
    assert one.status_code == 202, one.text
    assert one.json()["topic"] == "sensors/air/air-1"
    assert batch.json()["readings"] == 2 and batch.json()["ignored"] == ["colour"]
    assert water.json()["topic"] == "sensors/water/water-1"
    air = influx.records('SELECT "pm25", "sensor_id" FROM "air"')
    second = 1_000_000_000
    assert [(r["time"], r["pm25"], r["sensor_id"]) for r in air] == [
        (t0 * second, 12.5, "air-1"),
        ((t0 + 1) * second, 1.0, "air-1"),
        ((t0 + 2) * second, 2.0, "air-1"),
    ]
    (row,) = influx.records('SELECT * FROM "water"')
    assert (row["level"], row["sensor_id"]) == (1.25, "water-1")


def test_refusals_publish_nothing(ingest_settings: Settings, api: TestClient) -> None:
    sc_key = api_key(ingest_settings, "device", SC_ID)
    air_key = api_key(ingest_settings, "device", "air-1")
    operator = api_key(ingest_settings, "operator")
    reader = api_key(ingest_settings, "read")

    def sc(body: bytes, **headers: str) -> httpx.Response:
        response: httpx.Response = api.post(
            "/ingest/sensor_community", content=body, headers=headers
        )
        return response

    def native(body: Any, **headers: str) -> httpx.Response:
        response: httpx.Response = api.post("/ingest/native", json=body, headers=headers)
        return response

    # No collector and no one else subscribed: the broker would drop it, so it is refused.
    nobody = problem(sc(sc_body("1", "1"), **{"X-API-Key": sc_key}), 503)
    assert "No matching subscribers" in nobody["detail"]

    with subscribed(ingest_settings.mqtt_url) as got:
        unauthenticated = problem(sc(sc_body("1", "1")), 401)
        assert "API key" in unauthenticated["detail"]
        problem(sc(sc_body("1", "1"), **{"X-API-Key": reader}), 403)
        other = problem(native({"pm25": 1}, **{"X-API-Key": air_key, "X-Sensor": "air-2"}), 403)
        assert "'air-1' only" in other["detail"]
        not_its_body = problem(sc(sc_body("1", "1"), **{"X-API-Key": air_key}), 403)
        assert f"the body is for {SC_ID!r}" in not_its_body["detail"]
        wrong_user = api.post(
            "/ingest/sensor_community", content=sc_body("1", "1"), auth=("esp8266-1", sc_key)
        )
        problem(wrong_user, 401)

        unknown = problem(
            api.post("/ingest/nope", content=b"{}", headers={"X-API-Key": sc_key}), 404
        )
        assert "sensor_community" in unknown["detail"] and "native" in unknown["detail"]

        bad_json = problem(sc(b'{"esp8266id": ', **{"X-API-Key": sc_key}), 422)
        assert bad_json["errors"][0]["loc"] == ["body"]
        assert bad_json["errors"][0]["type"] == "undecodable"
        no_values = problem(sc(b'{"esp8266id": "15225252"}', **{"X-API-Key": sc_key}), 422)
        assert "sensordatavalues" in no_values["detail"]
        empty = b'{"esp8266id": "15225252", "sensordatavalues": []}'
        no_metrics = problem(sc(empty, **{"X-API-Key": sc_key}), 422)
        assert no_metrics["errors"] == [
            {
                "loc": ["body"],
                "msg": "no known air metric in the reading (got nothing)",
                "type": "no_metrics",
            }
        ]
        # An X-Sensor not in the firmware's form cannot name the board on the topic, so the
        # collector would store the body's esp8266id instead: refused.
        mismatch = problem(
            sc(sc_body("1", "1"), **{"X-API-Key": operator, "X-Sensor": "air-1"}), 422
        )
        assert mismatch["errors"][0]["loc"] == ["header", "X-Sensor"]
        assert f"the body is for {SC_ID!r}" in mismatch["detail"]

        bounds = problem(native([{"pm25": 3}, {"pm25": -5}], **{"X-API-Key": air_key}), 422)
        assert [(e["loc"], e["type"]) for e in bounds["errors"]] == [(["body", 1], "out_of_bounds")]
        text = problem(native({"pm25": "lots"}, **{"X-API-Key": air_key}), 422)
        assert text["errors"][0]["type"] == "non_numeric"
        anonymous = problem(native({"pm25": 1}, **{"X-API-Key": operator}), 422)
        assert anonymous["errors"][0]["loc"] == ["header", "X-Sensor"]
        no_route = problem(
            api.post(
                "/ingest/ttn", content=b"{}", headers={"X-API-Key": operator, "X-Sensor": "air-1"}
            ),
            422,
        )
        assert '"format": "ttn"' in no_route["detail"] and "CITYDATA_ROUTES" in no_route["detail"]

        huge = b'{"pm25": 1, "pad": "' + b"x" * (300 * 1024) + b'"}'
        too_large = problem(
            api.post("/ingest/native", content=huge, headers={"X-API-Key": air_key}), 413
        )
        assert "256 KiB" in too_large["detail"]

        body = sc_body("5", "2")
        assert sc(body, **{"X-API-Key": sc_key}).status_code == 202
        wait_for(lambda: len(got) >= 1, 5, "the accepted message")
        time.sleep(0.2)  # anything published before it would have arrived before it
        assert got == [(f"luftdaten/{SC_ID}", body)]  # published byte for byte, and alone


def test_broker_away_answers_503_then_recovers(
    ingest_settings: Settings,
    broker: services.MosquittoService,
    api: TestClient,
    influx: InfluxClient,
) -> None:
    key = api_key(ingest_settings, "device", "air-3")
    with running_collector(ingest_settings) as c:
        ready = api.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"influxdb": "ok", "registry": "ok", "mqtt": "ok"}

        broker.stop()
        wait_for(lambda: api.get("/ready").status_code == 503, 10, "/ready to notice")
        detail = problem(api.get("/ready"), 503)["detail"]
        assert "mqtt" in detail and "influxdb" not in detail and "registry" not in detail
        away = api.post("/ingest/native", json={"pm25": 1}, headers={"X-API-Key": key})
        assert problem(away, 503)["detail"].startswith("not connected to the MQTT broker")
        assert away.headers["Retry-After"] == "10"

        broker.start()
        wait_for(lambda: api.get("/ready").status_code == 200, 20, "the API to reconnect")
        back = api.post("/ingest/native", json={"pm25": 2}, headers={"X-API-Key": key})
        assert back.status_code == 202, back.text
        wait_for(lambda: c.stats.written == 1, 20, "the reading after the restart")
    (row,) = influx.records('SELECT * FROM "air"')
    assert (row["pm25"], row["sensor_id"]) == (2.0, "air-3")  # the refused one is not there


def test_unacknowledged_publish_answers_503(
    ingest_settings: Settings,
    broker: services.MosquittoService,
    app: FastAPI,
    api: TestClient,
    influx: InfluxClient,
) -> None:
    key = api_key(ingest_settings, "device", "air-4")
    app.state.publisher.ack_timeout_s = 0.5
    with running_collector(ingest_settings) as c:
        before = time.time_ns()
        broker.signal(signal.SIGSTOP)  # connected, but answering nothing
        try:
            started = time.monotonic()
            silent = api.post("/ingest/native", json={"pm25": 7}, headers={"X-API-Key": key})
            took = time.monotonic() - started
            answered = time.time_ns()  # the broker is stopped: the collector has nothing yet
        finally:
            broker.signal(signal.SIGCONT)
        assert "did not acknowledge within 0.5s" in problem(silent, 503)["detail"]
        assert silent.headers["Retry-After"] == "10"
        assert 0.5 <= took < 3
        # At least once: the broker got it after all, and it is stored at the API's receive time.
        wait_for(lambda: c.stats.written == 1, 10, "the late message")
    (row,) = influx.records('SELECT * FROM "air"')
    assert row["pm25"] == 7.0 and before <= row["time"] <= answered  # the API's receive time
