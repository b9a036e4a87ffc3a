"""The collector against real Mosquitto and InfluxDB: exactly the valid readings stored, exactly
the invalid messages dead-lettered with the right reasons."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from citydata.deadletters import DeadLetterStore
from citydata.influx import InfluxClient
from citydata.mqtt import close, connect, make_client, received_properties
from citydata.settings import Settings
from collector.service import Collector
from tests.helpers import publish_all, wait_for

pytestmark = pytest.mark.integration

Point = tuple[str, str, int, tuple[tuple[str, float], ...]]  # kind, sensor, time, fields


@dataclass
class Expected:
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    points: set[Point] = field(default_factory=set)
    dead: Counter[tuple[str, str]] = field(default_factory=Counter)  # (topic, reason)
    unknown: int = 0


def _point(kind: str, sensor: str, t: int, fields: dict[str, float]) -> Point:
    return kind, sensor, t, tuple(sorted(fields.items()))


def make_traffic(n: int, seed: int = 7) -> Expected:
    """`n` messages, about a quarter of them invalid in every way the collector must catch."""
    rng = random.Random(seed)
    now_s = int(time.time())
    base_ms = (now_s - 3600) * 1000
    exp = Expected()
    valid_fields = {
        "air": lambda: {"pm25": round(rng.uniform(0, 300), 1), "humidity": rng.randint(0, 100)},
        "water": lambda: {"level": round(rng.uniform(-1, 5), 3), "ph": round(rng.uniform(5, 9), 2)},
        "traffic": lambda: {"count": rng.randint(0, 500), "speed": round(rng.uniform(0, 90), 1)},
    }
    for i in range(n):
        kind = rng.choice(sorted(valid_fields))
        sensor = f"{kind}-{i % 97}"  # registered (conftest.STANDARD_SENSORS)
        topic = f"sensors/{kind}/{sensor}"
        ts_ms = base_ms + i  # unique per message: nothing overwrites anything
        values = valid_fields[kind]()
        case = rng.random()
        reason = None
        if case < 0.60:
            body: object = {"ts": ts_ms, **values}
        elif case < 0.65:  # RFC 3339 time
            iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000))
            body = {"ts": f"{iso}.{ts_ms % 1000:03d}Z", **values}
        elif case < 0.70:  # an unknown metric rides along and is dropped
            body = {"ts": ts_ms, **values, "pm2_5": 3}
            exp.unknown += 1
        elif case < 0.74:  # an array: two valid readings and one out of bounds
            second = valid_fields[kind]()
            bad = {"air": {"pm25": -5}, "water": {"ph": 15}, "traffic": {"speed": 999}}[kind]
            body = [{"ts": ts_ms, **values}, {"ts": ts_ms + n, **second}, {"ts": ts_ms, **bad}]
            exp.points.add(_point(kind, sensor, (ts_ms + n) * 1_000_000, second))
            reason = "out_of_bounds"
        elif case < 0.76:
            body, reason = {"ts": ts_ms, **values, **{next(iter(values)): "high"}}, "non_numeric"
        elif case < 0.78:
            body, reason = {"ts": ts_ms, next(iter(values)): 1e9}, "out_of_bounds"
        elif case < 0.80:
            body, reason = {"ts": (now_s + 86_400) * 1000, **values}, "future_timestamp"
        elif case < 0.82:
            body, reason = {"ts": (now_s - 500 * 86_400) * 1000, **values}, "stale_timestamp"
        elif case < 0.84:
            body, reason = {"ts": "yesterday", **values}, "bad_timestamp"
        elif case < 0.86:
            body, reason = {"ts": ts_ms, "pm2_5": 1.0}, "no_metrics"
            exp.unknown += 1
        elif case < 0.88:
            topic, body, reason = f"sensors/noise/{sensor}", {"ts": ts_ms, "db": 50}, "unknown_kind"
        elif case < 0.90:
            topic, body, reason = "sensors/air", {"ts": ts_ms, **values}, "bad_topic"
        elif case < 0.92:  # a sensor nobody registered
            topic, reason = f"sensors/{kind}/{kind}-{500 + i % 50}", "unregistered"
            body = {"ts": ts_ms, **values}
        elif case < 0.94:  # a registered sensor publishing as another kind
            other = "water" if kind != "water" else "air"
            topic, reason = f"sensors/{other}/{sensor}", "wrong_kind"
            body = {"ts": ts_ms, **valid_fields[other]()}
        else:
            body, reason = None, "undecodable"
        payload = b'{"ts": 1, "pm25": ' if body is None else json.dumps(body).encode()
        if reason is None or isinstance(body, list):  # an array's first element is valid
            exp.points.add(_point(kind, sensor, ts_ms * 1_000_000, values))
        exp.dead.update([(topic, reason)] if reason else [])
        exp.messages.append((topic, payload))
    return exp


def stored_points(influx: InfluxClient) -> set[Point]:
    points: set[Point] = set()
    for kind in ("air", "water", "traffic"):
        for row in influx.records(f'SELECT * FROM "{kind}"'):
            t, sensor = row.pop("time"), row.pop("sensor_id")
            assert (row.pop("zone"), row.pop("site")) == ("test", "lab"), "registry tags"
            fields = {k: v for k, v in row.items() if v is not None}
            points.add(_point(kind, sensor, t, fields))
    return points


def test_10k_mixed_messages_store_exactly_the_valid(
    collector: Collector, influx: InfluxClient
) -> None:
    exp = make_traffic(10_000)
    assert 2000 < sum(exp.dead.values()) < 3000, "the traffic mix should be about 25% invalid"
    publish_all(collector.settings.mqtt_url, exp.messages)
    wait_for(
        lambda: (
            collector.stats.written >= len(exp.points)
            and collector.stats.dead_lettered >= sum(exp.dead.values())
        ),
        what=f"{len(exp.points)} points written and {sum(exp.dead.values())} dead letters",
    )
    time.sleep(0.5)  # anything extra would arrive now
    assert collector.stats.received == len(exp.messages)
    assert collector.stats.written == len(exp.points)
    assert collector.stats.unknown_fields == exp.unknown
    assert stored_points(influx) == exp.points

    collector.stop()  # dead letters are flushed with their batch; stop() flushes everything
    records = list(DeadLetterStore(collector.settings.data_dir))
    assert Counter((r["topic"], r["reason"]) for r in records) == exp.dead
    assert all(r["errors"] and r["payload"] for r in records)


def test_health_is_recorded(collector: Collector, influx: InfluxClient) -> None:
    publish_all(collector.settings.mqtt_url, [("sensors/air/air-1", b'{"pm25": 12}')] * 3)
    wait_for(lambda: collector.stats.written == 3, what="3 readings")

    def health() -> list[dict[str, object]]:
        return influx.records('SELECT * FROM "citydata_collector"')

    wait_for(lambda: any(r["written"] == 3 for r in health()), what="a health point")
    row = next(r for r in health() if r["written"] == 3)
    assert row["received"] == 3 and row["dead_lettered"] == 0 and row["queue_depth"] == 0
    assert row["collector"] == collector.settings.mqtt_client_id
    assert row["write_latency_ms"] is not None


def test_dead_letters_are_recorded_by_reason(collector: Collector, influx: InfluxClient) -> None:
    """Invalid messages of three reasons and a point InfluxDB refuses (a field type conflict):
    `citydata_deadletters` holds each reason's count, and neither it nor health counts as
    written readings."""
    influx.write_lines([f'water,sensor_id=water-99 ph="acid" {time.time_ns()}'])
    future = json.dumps({"ts": int(time.time()) + 86_400, "pm25": 1}).encode()
    messages = [
        ("sensors/air/air-1", b'{"pm25": 12}'),
        ("sensors/air/air-2", b'{"pm25": 13}'),
        ("sensors/air/air-3", b"not json"),
        ("sensors/water/water-1", b"{"),
        ("sensors/air/air-4", future),
        *[(f"sensors/air/air-{n}", b'{"pm25": 14}') for n in (500, 501, 502)],
        ("sensors/water/water-2", b'{"ph": 7.0}'),  # InfluxDB refuses: ph is a string there
    ]
    expected = {"undecodable": 2, "future_timestamp": 1, "unregistered": 3, "influx_rejected": 1}
    publish_all(collector.settings.mqtt_url, messages)
    wait_for(
        lambda: collector.stats.dead_lettered == 6 and collector.stats.rejected == 1,
        what="6 dead letters and 1 refused point",
    )

    def counts() -> dict[str, float]:
        rows = influx.records(
            'SELECT last("count") AS "count", "collector", "host" FROM "citydata_deadletters" '
            'GROUP BY "reason"'
        )
        assert all(r["collector"] == collector.settings.mqtt_client_id for r in rows)
        assert all(r["host"] for r in rows)
        return {r["reason"]: r["count"] for r in rows}

    wait_for(lambda: counts() == expected, what=f"dead-letter counts {expected}")
    assert collector.stats.written == 2  # the collector's own points are not readings


def test_lag_is_recorded_from_arrival_here(collector: Collector, influx: InfluxClient) -> None:
    """`lag_ms`/`lag_max_ms` are in every health point, the mean never above the max, and
    counted from arrival at this collector: a replayed message's first receive time (an hour
    ago) is where its reading is stored, not where its lag starts."""
    hour_ago = time.time_ns() - 3600 * 1_000_000_000
    client, host, port = make_client(collector.settings.mqtt_url, "test-replayer")
    connect(client, host, port)
    try:
        props = received_properties(hour_ago)
        info = client.publish("sensors/air/air-7", b'{"pm25": 3}', qos=1, properties=props)
        info.wait_for_publish(timeout=10)
    finally:
        close(client)
    publish_all(collector.settings.mqtt_url, [("sensors/air/air-8", b'{"pm25": 4}')] * 20)
    wait_for(lambda: collector.stats.written == 21, what="21 readings")
    (stored,) = influx.records('SELECT "pm25" FROM "air" WHERE "sensor_id" = \'air-7\'')
    assert stored["time"] == hour_ago

    def health() -> list[dict[str, Any]]:
        return influx.records('SELECT * FROM "citydata_collector"')

    wait_for(lambda: any(r["acked"] == 21 for r in health()), what="health after the readings")
    rows = health()
    assert all(0 <= r["lag_ms"] <= r["lag_max_ms"] for r in rows)
    busy = [r for r in rows if r["lag_max_ms"] > 0]
    assert busy, "some interval made messages durable"
    # An hour is no timing figure: it tells arrival here from the replayed receive time.
    assert max(r["lag_max_ms"] for r in rows) < 3_600_000


def test_readings_without_time_get_the_receive_time(
    collector: Collector, influx: InfluxClient
) -> None:
    before = time.time_ns()
    publish_all(collector.settings.mqtt_url, [("sensors/water/water-1", b'{"level": 1.5}')])
    wait_for(lambda: collector.stats.written == 1, what="1 reading")
    (row,) = influx.records('SELECT * FROM "water"')
    assert before <= row["time"] <= time.time_ns()
    assert row["level"] == 1.5 and row["sensor_id"] == "water-1"


def test_acknowledgements_reach_the_broker(registered: Settings, influx: InfluxClient) -> None:
    """With Receive Maximum 100 the broker sends 100 messages and waits for acknowledgements:
    2,000 messages only get through if the batched PUBACKs arrive. A second run of the same
    session then receives nothing again: everything was acknowledged."""
    settings = registered.model_copy(update={"collector_queue_size": 100})
    base_ms = (int(time.time()) - 600) * 1000
    messages = [
        (f"sensors/air/air-{i % 7}", f'{{"ts": {base_ms + i}, "pm25": 1}}'.encode())
        for i in range(2000)
    ]
    first = Collector(settings)
    first.start()
    try:
        assert first.subscribed.wait(10)
        publish_all(settings.mqtt_url, messages)
        wait_for(lambda: first.stats.written == 2000, what="2,000 readings written")
    finally:
        first.stop()
    second = Collector(settings)
    second.start()
    try:
        assert second.connected.wait(10)
        time.sleep(1.0)
        assert second.stats.received == 0
    finally:
        second.stop()
    (row,) = influx.records('SELECT count("pm25") FROM "air"')
    assert row["count"] == 2000


def test_a_dead_worker_fails_the_collector_and_loses_nothing(
    registered: Settings, influx: InfluxClient
) -> None:
    """If the worker process dies, the collector says so (run() exits 1); the messages it had
    not acknowledged come again to the next collector."""
    settings = registered
    base_ms = (int(time.time()) - 600) * 1000
    first = Collector(settings)
    first.start()
    try:
        assert first.connected.wait(10)
        wait_for(first.ready.is_set, what="worker ready")
        assert first.subscribed.wait(10)
        assert first.worker_pid is not None
        os.kill(first.worker_pid, signal.SIGKILL)
        wait_for(first.failed.is_set, timeout=10, what="the collector to notice")
        publish_all(
            settings.mqtt_url,
            [
                (f"sensors/air/air-{i}", f'{{"ts": {base_ms + i}, "pm25": 2}}'.encode())
                for i in range(50)
            ],
        )
    finally:
        first.stop()
    second = Collector(settings)
    second.start()
    try:
        wait_for(lambda: second.stats.written == 50, what="the 50 readings after restart")
    finally:
        second.stop()
