"""The collector's input checks through the pipeline: identity on gateway-capable formats (with
the registry), payloads over the size limit, JSON nested too deep, and their health counts."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from citydata import deadletters
from citydata.decoders import Message, Route
from citydata.registry import Registry
from citydata.replay import replayable
from citydata.validate import Validator
from collector.health import HealthReporter, Stats
from collector.pipeline import Pipeline
from collector.sensors import SensorCache
from tests.helpers import make_station

NOW = 1_700_000_000 * 1_000_000_000
SENML = Route(topic="senml/+/+", format="senml", kind_level=1)
LINES = Route(topic="lineprotocol/+/+", format="lineprotocol", kind_level=1)
STORED = f"air,sensor_id=lp-air-1,site=lab,zone=town pm25=12.0 {NOW}"


@pytest.fixture
def sensors(tmp_path: Path) -> Iterator[SensorCache]:
    with Registry.open(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
        for sid in ("lp-air-1", "lp-air-2"):
            registry.add(make_station(sid))
        yield SensorCache(registry, 60)


@pytest.fixture
def pipeline(sensors: SensorCache) -> Pipeline:
    validator = Validator(300, 400 * 86_400, clock=lambda: NOW)
    return Pipeline(validator, [SENML, LINES, Route()], sensors, max_payload_bytes=4096)


def _senml(sensor_id: str) -> bytes:
    return json.dumps([{"bn": f"{sensor_id}:", "bt": NOW / 1e9, "n": "pm25", "v": 12}]).encode()


def _line(sensor_id: str) -> bytes:
    return f"air,sensor_id={sensor_id} pm25=12 {NOW}".encode()


GATEWAY_FORMATS = pytest.mark.parametrize(
    ("prefix", "encode"), [("senml", _senml), ("lineprotocol", _line)], ids=["senml", "lines"]
)


@GATEWAY_FORMATS
def test_a_registered_sensors_own_topic_carries_only_that_sensor(
    pipeline: Pipeline, prefix: str, encode: Callable[[str], bytes]
) -> None:
    own = pipeline.process(Message(f"{prefix}/air/lp-air-1", encode("lp-air-1"), NOW))
    assert own.dead is None and own.lines == [STORED]

    spoof = pipeline.process(Message(f"{prefix}/air/lp-air-1", encode("lp-air-2"), NOW))
    assert spoof.lines == []
    assert spoof.dead is not None and spoof.dead["reason"] == "identity_mismatch"
    (error,) = spoof.dead["errors"]
    assert "'lp-air-2'" in error and "'lp-air-1'" in error
    # Found by either sensor's id when an operator looks for its dead letters.
    assert deadletters.names_sensor(spoof.dead, "lp-air-2")


@GATEWAY_FORMATS
def test_a_gateways_topic_may_carry_any_registered_sensor(
    pipeline: Pipeline, prefix: str, encode: Callable[[str], bytes]
) -> None:
    out = pipeline.process(Message(f"{prefix}/air/gw-01", encode("lp-air-1"), NOW))
    assert out.dead is None and out.lines == [STORED]


def test_one_foreign_line_refuses_the_whole_message(pipeline: Pipeline) -> None:
    body = _line("lp-air-1") + b"\n" + _line("lp-air-2")
    out = pipeline.process(Message("lineprotocol/air/lp-air-1", body, NOW))
    assert out.lines == [] and out.dead is not None
    assert out.dead["reason"] == "identity_mismatch"


def test_a_native_payload_naming_another_sensor_is_refused(pipeline: Pipeline) -> None:
    body = b'{"sensor_id": "lp-air-2", "pm25": 3}'
    out = pipeline.process(Message("sensors/air/lp-air-1", body, NOW))
    assert out.lines == [] and out.dead is not None
    assert out.dead["reason"] == "identity_mismatch"


def test_an_oversize_payload_keeps_its_beginning_size_and_hash(pipeline: Pipeline) -> None:
    # Thai text: three bytes a character, so the cut at 1 KiB falls inside one.
    body = json.dumps({"pm25": 1, "note": "ฝนตกหนัก" * 400}, ensure_ascii=False).encode()
    assert len(body) > 4096
    out = pipeline.process(Message("sensors/air/lp-air-1", body, NOW))
    assert out.lines == [] and out.dead is not None
    rec = out.dead
    assert rec["reason"] == "too_large" and "4096" in rec["errors"][0]
    assert rec["size"] == len(body)
    assert rec["sha256"] == hashlib.sha256(body).hexdigest()
    assert rec["payload_encoding"] == "utf-8"
    kept = rec["payload"].encode()
    assert body.startswith(kept) and deadletters.KEPT_BYTES - 3 <= len(kept) <= 1024
    assert not replayable(rec)  # only its beginning is left


def test_a_payload_at_the_limit_is_decoded(pipeline: Pipeline) -> None:
    body = b'{"pm25": 1, "x": "' + b"a" * 4000 + b'"}'
    body = body[:-2] + b"a" * (4096 - len(body)) + b'"}'
    assert len(body) == 4096
    out = pipeline.process(Message("sensors/air/lp-air-1", body, NOW))
    assert out.dead is None and len(out.lines) == 1


def test_the_mqtt_side_cuts_and_the_pipeline_dead_letters_what_it_was_given(
    pipeline: Pipeline,
) -> None:
    body = b"x" * 10_000
    head, cut = deadletters.cut(body, 4096)
    assert cut == (10_000, hashlib.sha256(body).hexdigest()) and head == body[:1024]
    out = pipeline.process(Message("sensors/air/lp-air-1", head, NOW), cut)
    assert out.dead is not None and out.dead["reason"] == "too_large"
    assert out.dead["size"] == 10_000 and out.dead["payload"] == "x" * 1024


def test_a_payload_within_the_limit_is_not_copied() -> None:
    body = b"y" * 100
    head, cut = deadletters.cut(body, 100)
    assert head is body and cut is None


@pytest.mark.parametrize(
    ("topic", "inner"),
    [
        ("sensors/air/lp-air-1", '{"pm25": 1, "x": %s}'),
        ("senml/air/lp-air-1", '[{"n": "pm25", "v": 1, "x": %s}]'),
    ],
)
def test_json_nested_too_deep_is_dead_lettered(pipeline: Pipeline, topic: str, inner: str) -> None:
    body = (inner % ("[" * 40 + "]" * 40)).encode()
    out = pipeline.process(Message(topic, body, NOW))
    assert out.lines == [] and out.dead is not None and out.dead["reason"] == "too_deep"


def test_identity_mismatches_are_a_health_field_of_their_own() -> None:
    stats = Stats()
    for reason in ("identity_mismatch", "undecodable", "identity_mismatch"):
        stats.dead_letter(reason)
    fields = HealthReporter("c1", host="h").fields(stats, 0, 0)
    assert fields["identity_mismatch"] == 2.0 and fields["dead_lettered"] == 3.0
    assert stats.deadletters_by_reason() == {"identity_mismatch": 2, "undecodable": 1}


def test_unknown_metric_names_are_remembered_within_a_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A device sending ever new (and long) field names: each logged once, cut short, and
    the worker stops remembering them past a bound instead of growing without end."""
    from collector.worker import Worker

    seen = SimpleNamespace(_unknown_seen=set())
    names = [("air", f"{i}-" + "n" * 10_000) for i in range(3000)]
    with caplog.at_level(logging.WARNING, logger="collector.worker"):
        for i in range(0, len(names), 100):
            Worker._log_unknown(seen, names[i : i + 100] * 2, "sensors/air/a1")  # type: ignore[arg-type]
    assert len(seen._unknown_seen) == 1001
    assert all(len(name) <= 64 for _, name in seen._unknown_seen)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1001 and "no longer logging" in lines[-1]
    assert max(len(line) for line in lines) < 300
