"""Validation of raw readings against their kind, with a fixed clock."""

from __future__ import annotations

import math

import pytest

from citydata.decoders import Problem, RawReading
from citydata.kinds import Kind, Metric, all_kinds
from citydata.reading import Reading
from citydata.validate import Validator

NOW = 1_700_000_000 * 1_000_000_000
SECOND = 1_000_000_000
MAX_FUTURE_S = 300
MAX_AGE_S = 86_400


@pytest.fixture
def validator() -> Validator:
    return Validator(MAX_FUTURE_S, MAX_AGE_S, clock=lambda: NOW)


def raw(
    values: dict[str, object],
    *,
    kind: str = "air",
    sensor_id: str = "lp-air-001",
    time_ns: int | None = NOW,
) -> RawReading:
    return RawReading(sensor_id, kind, time_ns, dict(values))


def test_valid_reading(validator: Validator) -> None:
    checked = validator.check(raw({"pm25": 12, "humidity": 70.5}, time_ns=NOW - 60 * SECOND), NOW)
    assert checked.problem is None
    assert checked.unknown == []
    assert checked.reading == Reading(
        kind="air",
        sensor_id="lp-air-001",
        time_ns=NOW - 60 * SECOND,
        fields={"pm25": 12.0, "humidity": 70.5},
    )
    assert checked.reading is not None
    assert all(type(v) is float for v in checked.reading.fields.values())


def test_a_decoder_problem_is_passed_on(validator: Validator) -> None:
    problem = Problem("bad_timestamp", "element 2: 'soon' is not a time")
    checked = validator.check(RawReading("s1", "air", None, {"pm25": 1}, problem), NOW)
    assert checked.reading is None
    assert checked.problem == problem


def test_unknown_kind(validator: Validator) -> None:
    checked = validator.check(raw({"laeq": 61.0}, kind="noise"), NOW)
    assert checked.reading is None
    assert checked.problem is not None
    assert checked.problem.reason == "unknown_kind"
    assert "noise" in checked.problem.detail
    assert "air" in checked.problem.detail  # says which kinds exist


def test_kinds_can_be_given(validator: Validator) -> None:
    noise = Kind("noise", "Sound level meter", (Metric("laeq", "dB(A)", 0, 140),))
    own = Validator(MAX_FUTURE_S, MAX_AGE_S, kinds={"noise": noise}, clock=lambda: NOW)
    checked = own.check(raw({"laeq": 61}, kind="noise"), NOW)
    assert checked.reading is not None
    assert checked.reading.fields == {"laeq": 61.0}
    air = own.check(raw({"pm25": 1}), NOW)
    assert air.problem is not None and air.problem.reason == "unknown_kind"


def test_missing_time_uses_the_receive_time(validator: Validator) -> None:
    received = NOW - 5 * SECOND
    checked = validator.check(raw({"pm25": 3}, time_ns=None), received)
    assert checked.reading is not None
    assert checked.reading.time_ns == received


@pytest.mark.parametrize(
    ("time_ns", "reason"),
    [
        (NOW + MAX_FUTURE_S * SECOND + 1, "future_timestamp"),
        (NOW + 3600 * SECOND, "future_timestamp"),
        (NOW - MAX_AGE_S * SECOND - 1, "stale_timestamp"),
        (0, "stale_timestamp"),
        (-SECOND, "stale_timestamp"),
    ],
)
def test_implausible_times(validator: Validator, time_ns: int, reason: str) -> None:
    checked = validator.check(raw({"pm25": 3}, time_ns=time_ns), NOW)
    assert checked.reading is None
    assert checked.problem is not None
    assert checked.problem.reason == reason


@pytest.mark.parametrize(
    "time_ns",
    [NOW + MAX_FUTURE_S * SECOND, NOW - MAX_AGE_S * SECOND, NOW, NOW + 1, NOW - 1],
)
def test_times_up_to_the_limits_are_accepted(validator: Validator, time_ns: int) -> None:
    checked = validator.check(raw({"pm25": 3}, time_ns=time_ns), NOW)
    assert checked.problem is None
    assert checked.reading is not None and checked.reading.time_ns == time_ns


def test_the_clock_is_read_at_check_time() -> None:
    now = [NOW]
    v = Validator(MAX_FUTURE_S, MAX_AGE_S, clock=lambda: now[0])
    reading = raw({"pm25": 3}, time_ns=NOW + 3600 * SECOND)
    assert v.check(reading, NOW).problem is not None
    now[0] = NOW + 3600 * SECOND
    assert v.check(reading, NOW).reading is not None


def test_zero_max_future_allows_now_but_not_later() -> None:
    v = Validator(0, MAX_AGE_S, clock=lambda: NOW)
    assert v.check(raw({"pm25": 3}, time_ns=NOW), NOW).reading is not None
    late = v.check(raw({"pm25": 3}, time_ns=NOW + 1), NOW)
    assert late.problem is not None and late.problem.reason == "future_timestamp"


@pytest.mark.parametrize("value", ["12", "", True, False, [1], {"v": 1}])
def test_non_numeric(validator: Validator, value: object) -> None:
    checked = validator.check(raw({"pm25": value}), NOW)
    assert checked.reading is None
    assert checked.problem is not None
    assert checked.problem.reason == "non_numeric"
    assert "pm25" in checked.problem.detail


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("pm25", -1),
        ("pm25", -0.001),
        ("pm25", 1000.5),
        ("humidity", 100.01),
        ("temperature", -41),
        ("pm25", math.nan),
        ("pm25", math.inf),
        ("pm25", -math.inf),
    ],
)
def test_out_of_bounds(validator: Validator, name: str, value: float) -> None:
    checked = validator.check(raw({name: value}), NOW)
    assert checked.reading is None
    assert checked.problem is not None
    assert checked.problem.reason == "out_of_bounds"
    assert name in checked.problem.detail


def test_one_bad_value_rejects_the_reading_and_every_error_is_listed(
    validator: Validator,
) -> None:
    checked = validator.check(raw({"pm25": 5, "pm10": -3, "humidity": "wet", "noise": 1}), NOW)
    assert checked.reading is None
    assert checked.problem is not None
    assert checked.problem.reason == "out_of_bounds"  # the first error found
    assert "pm10" in checked.problem.detail
    assert "humidity" in checked.problem.detail
    assert checked.unknown == ["noise"]


def test_a_huge_integer_is_out_of_bounds(validator: Validator) -> None:
    checked = validator.check(raw({"pm25": 10**400}), NOW)
    assert checked.problem is not None
    assert checked.problem.reason == "out_of_bounds"


@pytest.mark.parametrize(
    "values",
    [{}, {"battery": 3.7}, {"battery": 3.7, "rssi": -70}, {"pm25": None}, {"battery": None}],
)
def test_no_metrics(validator: Validator, values: dict[str, object]) -> None:
    checked = validator.check(raw(values), NOW)
    assert checked.reading is None
    assert checked.problem is not None
    assert checked.problem.reason == "no_metrics"
    assert checked.unknown == [n for n in values if n not in ("pm25",)]


def test_null_values_are_skipped(validator: Validator) -> None:
    checked = validator.check(raw({"pm25": 12, "pm10": None, "o3": None}), NOW)
    assert checked.problem is None
    assert checked.reading is not None
    assert checked.reading.fields == {"pm25": 12.0}


def test_unknown_names_are_dropped_and_reported(validator: Validator) -> None:
    checked = validator.check(
        raw({"battery": 3.7, "pm25": 12, "rssi": -70, "fw": "1.2", "pm10": 30.5}), NOW
    )
    assert checked.problem is None
    assert checked.reading is not None
    assert checked.reading.fields == {"pm25": 12.0, "pm10": 30.5}
    assert checked.unknown == ["battery", "rssi", "fw"]


def test_metric_names_are_per_kind(validator: Validator) -> None:
    # "level" is a water metric, not an air one.
    checked = validator.check(raw({"level": 1.0, "pm25": 2}), NOW)
    assert checked.reading is not None and checked.reading.fields == {"pm25": 2.0}
    assert checked.unknown == ["level"]


@pytest.mark.parametrize(
    "sensor_id",
    ["lp air", "lp\\air", "a/b", "a+b", "a#b", "tab\there", "nl\n", "ctl\x01", "x" * 129, ""],
)
def test_bad_sensor_id(validator: Validator, sensor_id: str) -> None:
    checked = validator.check(raw({"pm25": 1}, sensor_id=sensor_id), NOW)
    assert checked.reading is None
    assert checked.problem is not None
    assert checked.problem.reason == "bad_sensor_id"


@pytest.mark.parametrize("sensor_id", ["ท่าจีน-01", "a,b=c", 'q"1', "x" * 128, "A.B_C-9"])
def test_unusual_but_valid_sensor_ids(validator: Validator, sensor_id: str) -> None:
    checked = validator.check(raw({"pm25": 1}, sensor_id=sensor_id), NOW)
    assert checked.problem is None
    assert checked.reading is not None and checked.reading.sensor_id == sensor_id


def _metric_cases() -> list[object]:
    return [
        pytest.param(kind, metric, id=f"{kind.name}.{metric.name}")
        for kind in all_kinds().values()
        for metric in kind.metrics
    ]


@pytest.mark.parametrize(("kind", "metric"), _metric_cases())
def test_every_metric_accepts_its_bounds(validator: Validator, kind: Kind, metric: Metric) -> None:
    for value in (metric.min, metric.max, (metric.min + metric.max) / 2):
        checked = validator.check(raw({metric.name: value}, kind=kind.name), NOW)
        assert checked.problem is None, f"{metric.name}={value}: {checked.problem}"
        assert checked.reading is not None
        assert checked.reading.fields == {metric.name: float(value)}


@pytest.mark.parametrize(("kind", "metric"), _metric_cases())
def test_every_metric_refuses_just_outside_its_bounds(
    validator: Validator, kind: Kind, metric: Metric
) -> None:
    outside = (
        math.nextafter(metric.min, -math.inf),
        math.nextafter(metric.max, math.inf),
        metric.min - 1,
        metric.max + 1,
    )
    for value in outside:
        checked = validator.check(raw({metric.name: value}, kind=kind.name), NOW)
        assert checked.reading is None, f"{metric.name}={value!r} accepted"
        assert checked.problem is not None and checked.problem.reason == "out_of_bounds"
