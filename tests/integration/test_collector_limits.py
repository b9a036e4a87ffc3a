"""The collector's input checks against real Mosquitto and InfluxDB: identity mismatches and
oversize payloads dead-lettered and counted, and thousands of fuzzed messages of every format
each stored or dead-lettered while the collector stays up."""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections import Counter

import pytest

from citydata.deadletters import DeadLetterStore
from citydata.decoders import Message
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.reading import SENSOR_ID_PATTERN
from citydata.registry import Registry
from citydata.routes import Route
from citydata.settings import Settings
from citydata.validate import Validator
from collector.pipeline import Pipeline
from collector.sensors import SensorCache
from tests import fuzzing
from tests.helpers import publish_all, register, running_collector, wait_for

pytestmark = pytest.mark.integration
FUZZED = 3000  # messages, spread over every format


def test_spoofed_identity_is_dead_lettered_and_counted(
    registered: Settings, influx: InfluxClient
) -> None:
    settings = registered.model_copy(
        update={"routes": [Route(topic="senml/+/+", format="senml", kind_level=1), Route()]}
    )
    senml = [{"bn": "air-2:", "n": "pm25", "v": 30}]
    messages = [
        ("sensors/air/air-1", b'{"sensor_id": "air-2", "pm25": 99}'),  # air-1 speaks for air-2
        ("senml/air/air-1", json.dumps(senml).encode()),  # likewise, in SenML
        ("senml/air/gw-7", json.dumps(senml).encode()),  # a gateway's topic: accepted
        ("sensors/air/air-1", b'{"sensor_id": "air-1", "pm25": 5}'),  # its own id: accepted
    ]
    with running_collector(settings) as c:
        publish_all(settings.mqtt_url, messages)
        wait_for(lambda: c.stats.acked == 4 and c.stats.written == 2, what="the four outcomes")
        assert (c.stats.identity_mismatch, c.stats.dead_lettered) == (2, 2)

        def health() -> list[dict[str, object]]:
            return influx.records('SELECT "identity_mismatch" FROM "citydata_collector"')

        wait_for(lambda: any(r["identity_mismatch"] == 2 for r in health()), what="health")
    records = list(DeadLetterStore(settings.data_dir))
    assert sorted((r["topic"], r["reason"]) for r in records) == [
        ("senml/air/air-1", "identity_mismatch"),
        ("sensors/air/air-1", "identity_mismatch"),
    ]
    rows = influx.records('SELECT "pm25", "sensor_id" FROM "air"')
    assert sorted((r["sensor_id"], r["pm25"]) for r in rows) == [("air-1", 5.0), ("air-2", 30.0)]
    counts = influx.records('SELECT last("count") FROM "citydata_deadletters" GROUP BY "reason"')
    assert {(r["reason"], r["last"]) for r in counts} == {("identity_mismatch", 2.0)}


def test_an_oversize_payload_is_cut_and_dead_lettered(
    registered: Settings, influx: InfluxClient
) -> None:
    settings = registered.model_copy(update={"collector_max_payload_bytes": 4096})
    big = json.dumps({"pm25": 1, "pad": "x" * 200_000}).encode()
    with running_collector(settings) as c:
        publish_all(
            settings.mqtt_url,
            [("sensors/air/air-1", big), ("sensors/air/air-1", b'{"pm25": 2}')],
        )
        wait_for(lambda: c.stats.acked == 2 and c.stats.written == 1, what="both outcomes")
        assert c.stats.dead_lettered == 1
    (rec,) = DeadLetterStore(settings.data_dir)
    assert rec["reason"] == "too_large" and rec["topic"] == "sensors/air/air-1"
    assert rec["size"] == len(big) and rec["sha256"] == hashlib.sha256(big).hexdigest()
    assert rec["payload"].encode() == big[:1024]
    (row,) = influx.records('SELECT "pm25" FROM "air"')
    assert row["pm25"] == 2.0


def _fuzz_messages(rng: random.Random) -> tuple[list[Route], list[tuple[str, bytes]]]:
    """Routes for every format (one per distinct case route, under fuzz/<format>/<i>/) and
    FUZZED messages mutated from the decoder test cases, plus three over the size limit (on
    fuzz/native/0, the native cases' route: they name no kind)."""
    routes: list[Route] = []
    prefixes: dict[tuple[str, str], str] = {}
    per_format = {fmt: fuzzing.cases(fmt) for fmt in fuzzing.formats()}
    for fmt, cases in per_format.items():
        for case in cases:
            key = (fmt, json.dumps(case.route, sort_keys=True))
            if key not in prefixes:
                prefixes[key] = f"fuzz/{fmt}/{sum(1 for f, _ in prefixes if f == fmt)}"
                routes.append(Route(topic=f"{prefixes[key]}/#", format=fmt, **case.route))
    messages = []
    for i in range(FUZZED):
        fmt = fuzzing.formats()[i % len(per_format)]
        case = rng.choice(per_format[fmt])
        topic, payload, _ = fuzzing.fuzzed(case, rng)
        prefix = prefixes[(fmt, json.dumps(case.route, sort_keys=True))]
        messages.append((f"{prefix}/{topic}", payload))
    messages += [("fuzz/native/0/sensors/air/air-1", b"[" + b"0," * 150_000 + b"0]")] * 3
    return routes, messages


def test_fuzzed_messages_are_each_stored_or_dead_lettered(
    settings: Settings, influx: InfluxClient
) -> None:
    routes, messages = _fuzz_messages(random.Random(16))
    settings = settings.model_copy(
        update={"routes": routes, "collector_max_age_s": 10 * 365 * 86_400.0}
    )
    valid_id = re.compile(SENSOR_ID_PATTERN)
    sensors = {
        sid: kind
        for fmt in fuzzing.formats()
        for case in fuzzing.cases(fmt)
        for sid, kind in case.sensors.items()
        if kind in all_kinds() and valid_id.match(sid)
    }
    register(settings, {**sensors, "air-1": "air"})
    # What the collector must do with each message, by the same pipeline and registry.
    with Registry.from_settings(settings) as registry:
        validator = Validator(settings.collector_max_future_s, settings.collector_max_age_s)
        pipeline = Pipeline(validator, routes, SensorCache(registry, 3600))
        now = time.time_ns()  # untimed readings take their receive time
        outcomes = [pipeline.process(Message(t, p, now)) for t, p in messages]
    dead = Counter(o.dead["reason"] for o in outcomes if o.dead is not None)
    lines = sum(len(o.lines) for o in outcomes)
    stored_only = sum(1 for o in outcomes if o.lines and o.dead is None)
    assert stored_only + sum(dead.values()) == len(messages), "a message became nothing"
    assert lines > 150 and len(dead) > 8, (
        f"the fuzzing should reach storage and many reasons: {dead}"
    )

    with running_collector(settings) as c:
        publish_all(settings.mqtt_url, messages)
        wait_for(
            lambda: c.stats.acked == len(messages) and c.stats.written == lines,
            what=f"{len(messages)} messages acknowledged and {lines} readings written",
        )
        # Still up and still storing: one more reading after all that.
        assert not c.failed.is_set() and c.worker_pid is not None
        publish_all(settings.mqtt_url, [("fuzz/native/0/sensors/air/air-1", b'{"pm25": 7}')])
        wait_for(lambda: c.stats.written == lines + 1, what="a reading after the fuzzing")
        assert c.stats.received == len(messages) + 1 and c.stats.rejected == 0
        assert c.stats.dead_lettered == sum(dead.values())
    records = list(DeadLetterStore(settings.data_dir))
    assert Counter(str(r["reason"]) for r in records) == dead
    assert dead["too_large"] >= 3
    stored = sum(len(influx.records(f'SELECT * FROM "{kind}"')) for kind in all_kinds())
    assert 0 < stored <= lines + 1  # equal points (same sensor and time) are one row
