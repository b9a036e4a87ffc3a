"""Property-based fuzzing of every registered decoder (hypothesis): arbitrary bytes, and
structure-aware mutations of each format's test cases (tests/fuzzing.py).

For every message: the decoder returns raw readings or raises its documented DecodeError, nothing
else; through the pipeline the message becomes stored lines or a dead letter (or both, for a
batch with bad elements), never neither and never an exception. Every dead-letter reason is a
documented code other than the catch-alls for decoder and validator bugs, every record
serializes as the store writes it, and every line parses back as line protocol. Formats are
discovered, so a new decoder is fuzzed with no new code here.

CITYDATA_FUZZ_EXAMPLES sets the examples per format and strategy (default 150, so the suite
stays fast); a long run: `CITYDATA_FUZZ_EXAMPLES=5000 pytest tests/unit/test_decoder_fuzz.py`.
"""

from __future__ import annotations

import json
import os
import random
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citydata.decoders import DecodeError, Message, RawReading, Route, all_decoders
from citydata.decoders.lineprotocol import parse_line
from citydata.kinds import all_kinds
from citydata.validate import Validator
from collector.pipeline import Pipeline
from tests import fuzzing

EXAMPLES = int(os.environ.get("CITYDATA_FUZZ_EXAMPLES", "150"))
NOW = 1_768_440_605 * 1_000_000_000  # near the cases' own times (2026-01-15)
YEARS = 10 * 365 * 86_400.0  # the 2023 cases are not stale, nor far-future ones refused early
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REASONS = fuzzing.documented_reasons()
BUGS = {"decoder_error", "validator_error"}  # the pipeline's catch-alls: a bug, whatever the input


@cache
def _pipeline(fmt: str, route_json: str) -> Pipeline:
    route = Route(topic="#", format=fmt, **json.loads(route_json))
    return Pipeline(Validator(YEARS, YEARS, clock=lambda: NOW), [route], max_payload_bytes=65536)


def _check_decoder(fmt: str, message: Message, route: Route) -> None:
    """The decoder's contract: readings, or DecodeError with a documented reason."""
    try:
        readings = all_decoders()[fmt](message, route)
    except DecodeError as exc:
        assert exc.problem.reason in REASONS, exc.problem
        assert exc.problem.detail
        return
    assert isinstance(readings, list) and readings
    for raw in readings:
        assert isinstance(raw, RawReading)
        assert isinstance(raw.sensor_id, str) and isinstance(raw.kind, str)
        assert raw.time_ns is None or isinstance(raw.time_ns, int)
        assert isinstance(raw.values, dict)
        assert raw.problem is None or raw.problem.reason in REASONS, raw.problem


def _check_pipeline(fmt: str, message: Message, route_json: str) -> None:
    """Stored or dead-lettered, never neither; what comes out is well formed."""
    out = _pipeline(fmt, route_json).process(message)
    assert out.lines or out.dead is not None, f"{message!r} became nothing"
    if out.dead is not None:
        assert out.dead["reason"] in REASONS - BUGS, out.dead["errors"]
        assert out.dead["errors"] and out.dead["topic"] == message.topic
        json.dumps(out.dead, ensure_ascii=False).encode("utf-8")  # as DeadLetterStore.add
    for line in out.lines:
        point = parse_line(line)
        assert point.measurement in all_kinds() and point.tags["sensor_id"]
        assert point.time_ns is not None and point.fields
        assert all(isinstance(v, float) for v in point.fields.values()), line


def _one(fmt: str, case: fuzzing.Case, topic: str, payload: bytes) -> None:
    route_json = json.dumps(case.route, sort_keys=True)
    message = Message(topic, payload, NOW)
    _check_decoder(fmt, message, Route(topic="#", format=fmt, **case.route))
    _check_pipeline(fmt, message, route_json)


@pytest.mark.parametrize("fmt", fuzzing.formats())
@FUZZ
@given(data=st.data(), payload=st.binary(max_size=512))
def test_arbitrary_bytes(fmt: str, data: st.DataObject, payload: bytes) -> None:
    case = data.draw(st.sampled_from(fuzzing.cases(fmt)), label="case")
    _one(fmt, case, case.topic, payload)


@pytest.mark.parametrize("fmt", fuzzing.formats())
@FUZZ
@given(data=st.data(), rng=st.randoms(use_true_random=False))
def test_mutated_cases(fmt: str, data: st.DataObject, rng: random.Random) -> None:
    case = data.draw(st.sampled_from(fuzzing.cases(fmt)), label="case")
    topic, payload, how = fuzzing.fuzzed(case, rng)
    data.draw(st.just(how), label="how")  # shown with a failing example
    _one(fmt, case, topic, payload)


@pytest.mark.parametrize("fmt", fuzzing.formats())
def test_every_format_has_cases_to_mutate(fmt: str) -> None:
    assert fuzzing.cases(fmt), f"no test cases to fuzz for {fmt}"
