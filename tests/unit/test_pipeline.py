"""A message end to end: decode → validate → line protocol, or a dead-letter record."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from citydata.deadletters import DeadLetter, DeadLetterStore, record
from citydata.decoders import Message, Problem, Route
from citydata.validate import Validator
from collector.pipeline import Pipeline

NOW = 1_700_000_000 * 1_000_000_000  # 2023-11-14T22:13:20Z
SECOND = 1_000_000_000


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline(Validator(300, 400 * 86_400, clock=lambda: NOW))


def msg(topic: str, payload: object, received_ns: int = NOW) -> Message:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    return Message(topic, data, received_ns)


def test_valid_message_becomes_a_line(pipeline: Pipeline) -> None:
    out = pipeline.process(
        msg("sensors/air/lp-air-001", {"ts": "2023-11-14T22:13:20Z", "pm25": 12, "pm10": 20.5})
    )
    assert out.lines == ["air,sensor_id=lp-air-001 pm25=12.0,pm10=20.5 1700000000000000000"]
    assert out.dead is None
    assert out.unknown == []


def test_without_ts_the_receive_time_is_used(pipeline: Pipeline) -> None:
    out = pipeline.process(msg("sensors/water/wl-01", {"level": 1.25}, NOW - 2 * SECOND))
    assert out.lines == ["water,sensor_id=wl-01 level=1.25 1699999998000000000"]


def test_sensor_id_is_escaped_as_a_tag(pipeline: Pipeline) -> None:
    out = pipeline.process(msg("sensors/water/ท่าจีน,01=a", {"ts": 1_700_000_000, "ph": 7}))
    assert out.lines == [r"water,sensor_id=ท่าจีน\,01\=a ph=7.0 1700000000000000000"]


def test_array_gives_one_line_per_element(pipeline: Pipeline) -> None:
    out = pipeline.process(
        msg(
            "sensors/traffic/tr-04",
            [
                {"ts": 1_699_999_940, "count": 42, "interval_s": 60},
                {"ts": 1_700_000_000_000, "count": 40, "interval_s": 60, "speed": 38.5},
            ],
        )
    )
    assert out.lines == [
        "traffic,sensor_id=tr-04 count=42.0,interval_s=60.0 1699999940000000000",
        "traffic,sensor_id=tr-04 count=40.0,interval_s=60.0,speed=38.5 1700000000000000000",
    ]
    assert out.dead is None


def test_unknown_names_are_reported_with_their_kind(pipeline: Pipeline) -> None:
    out = pipeline.process(msg("sensors/air/a1", {"pm25": 5, "battery": 3.7, "rssi": -60}))
    assert out.lines == ["air,sensor_id=a1 pm25=5.0 1700000000000000000"]
    assert out.unknown == [("air", "battery"), ("air", "rssi")]
    assert out.dead is None


def test_invalid_message_becomes_a_dead_record(pipeline: Pipeline) -> None:
    payload = b'{"ts": 1700000000, "laeq": 61.2}'
    out = pipeline.process(Message("sensors/noise/nz-01", payload, NOW + 5 * SECOND))
    assert out.lines == []
    assert out.dead is not None
    assert out.dead["reason"] == "unknown_kind"
    assert len(out.dead["errors"]) == 1
    assert out.dead["errors"][0].startswith("unknown_kind: ")
    assert out.dead["topic"] == "sensors/noise/nz-01"
    assert out.dead["payload"] == payload.decode("utf-8")
    assert out.dead["payload_encoding"] == "utf-8"
    assert out.dead["received_ns"] == NOW + 5 * SECOND
    assert out.dead["time"] == "2023-11-14T22:13:25.000Z"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("sensors/air/a1", b"{not json", "undecodable"),
        ("sensors/air/a1", b"[]", "undecodable"),
        ("air/a1", b'{"pm25": 1}', "no_route"),
        ("sensors/air", b'{"pm25": 1}', "bad_topic"),
        ("sensors/air/a1", b'{"pm25": "high"}', "non_numeric"),
        ("sensors/air/a1", b'{"pm25": -4}', "out_of_bounds"),
        # NaN is not JSON; numbers beyond a double are refused by the strict parser.
        ("sensors/air/a1", b'{"pm25": NaN}', "undecodable"),
        ("sensors/air/a1", b'{"pm25": 1e999}', "undecodable"),
        ("sensors/air/a1", b'{"battery": 3.7}', "no_metrics"),
        ("sensors/air/a b", b'{"pm25": 1}', "bad_sensor_id"),
        ("sensors/air/a1", b'{"ts": "2023-11-14T22:13:20", "pm25": 1}', "bad_timestamp"),
        ("sensors/air/a1", b'{"ts": 1800000000, "pm25": 1}', "future_timestamp"),
        ("sensors/air/a1", b'{"ts": "2020-01-01T00:00:00Z", "pm25": 1}', "stale_timestamp"),
        ("sensors/air/a1", b"42", "undecodable"),
    ],
)
def test_every_kind_of_bad_message_is_dead_lettered(
    pipeline: Pipeline, topic: str, payload: bytes, reason: str
) -> None:
    out = pipeline.process(Message(topic, payload, NOW))
    assert out.lines == []
    assert out.dead is not None
    assert out.dead["reason"] == reason
    assert out.dead["errors"] and out.dead["errors"][0].startswith(f"{reason}: ")
    assert out.dead["topic"] == topic
    assert out.dead["payload"] == payload.decode("utf-8")


def test_one_bad_element_does_not_lose_the_others(pipeline: Pipeline) -> None:
    payload = [
        {"ts": 1_699_999_880, "pm25": 10},
        {"ts": 1_699_999_940, "pm25": -5},
        {"ts": "soon", "pm25": 11},
        {"ts": 1_700_000_000, "pm25": 12},
    ]
    out = pipeline.process(msg("sensors/air/a1", payload))
    assert out.lines == [
        "air,sensor_id=a1 pm25=10.0 1699999880000000000",
        "air,sensor_id=a1 pm25=12.0 1700000000000000000",
    ]
    assert out.dead is not None
    assert out.dead["reason"] == "out_of_bounds"  # the first problem
    assert len(out.dead["errors"]) == 2
    assert out.dead["errors"][0].startswith("out_of_bounds: ")
    assert out.dead["errors"][1].startswith("bad_timestamp: element 2")
    assert json.loads(out.dead["payload"]) == payload  # the whole message, for replay


def test_invalid_utf8_payload_is_kept_as_base64(pipeline: Pipeline) -> None:
    payload = b'{"pm25": 1, "note": "\xff\xfe"}'
    out = pipeline.process(Message("sensors/air/a1", payload, NOW))
    assert out.lines == []
    assert out.dead is not None
    assert out.dead["reason"] == "undecodable"
    assert out.dead["payload_encoding"] == "base64"
    assert base64.b64decode(out.dead["payload"]) == payload


def test_a_decoder_bug_is_dead_lettered_not_raised(pipeline: Pipeline) -> None:
    def broken(message: Message, route: object) -> list[object]:
        raise KeyError("oops")

    pipeline._decoders["native"] = broken  # type: ignore[assignment]
    out = pipeline.process(msg("sensors/air/a1", {"pm25": 1}))
    assert out.lines == []
    assert out.dead is not None
    assert out.dead["reason"] == "decoder_error"
    assert "KeyError" in out.dead["errors"][0]


def test_a_huge_integer_is_dead_lettered_not_raised(pipeline: Pipeline) -> None:
    payload = b'{"pm25": 1' + b"0" * 400 + b"}"
    out = pipeline.process(Message("sensors/air/a1", payload, NOW))
    assert out.lines == []
    assert out.dead is not None
    assert out.dead["reason"] == "undecodable"
    assert "infinity" in out.dead["errors"][0]


def test_record_time_is_utc_milliseconds() -> None:
    rec = record(Message("t/a/b", b"x", NOW + 123_456_789), [Problem("undecodable", "d")])
    assert rec["time"] == "2023-11-14T22:13:20.123Z"
    assert rec["errors"] == ["undecodable: d"]


def _rec(received_ns: int, payload: bytes, reason: str = "undecodable") -> DeadLetter:
    return record(Message("sensors/air/a1", payload, received_ns), [Problem(reason, "why")])


def test_dead_letter_store_round_trip(tmp_path: Path) -> None:
    store = DeadLetterStore(tmp_path)
    midnight = 1_700_006_400 * SECOND  # 2023-11-15T00:00:00Z
    day1 = [_rec(midnight - SECOND, b"late"), _rec(midnight - 1_000_000, "ลำพญา".encode())]
    day2 = [_rec(midnight, b"\xff\x00", "bad_topic")]
    store.add(day2)  # the newer day first: iteration still goes oldest first
    store.add(day1)
    store.add([])
    assert sorted(p.name for p in (tmp_path / "deadletter").iterdir()) == [
        "2023-11-14.jsonl",
        "2023-11-15.jsonl",
    ]
    assert list(store) == day1 + day2
    assert "ลำพญา" in (tmp_path / "deadletter" / "2023-11-14.jsonl").read_text(encoding="utf-8")


def test_dead_letter_store_appends(tmp_path: Path) -> None:
    first = [_rec(NOW, b"one")]
    DeadLetterStore(tmp_path).add(first)
    second = [_rec(NOW + SECOND, b"two"), _rec(NOW + 2 * SECOND, b"three")]
    store = DeadLetterStore(tmp_path)  # reopened, as after a restart
    store.add(second)
    assert [r["payload"] for r in store] == ["one", "two", "three"]
    lines = (tmp_path / "deadletter" / "2023-11-14.jsonl").read_text(encoding="utf-8")
    assert lines.count("\n") == 3


def test_pipeline_records_go_into_the_store(pipeline: Pipeline, tmp_path: Path) -> None:
    store = DeadLetterStore(tmp_path)
    dead = [
        pipeline.process(Message("sensors/air/a1", b"{", NOW)).dead,
        pipeline.process(Message("sensors/air/a1", b"\xc3\x28", NOW + SECOND)).dead,
    ]
    assert all(d is not None for d in dead)
    store.add([d for d in dead if d is not None])
    back = list(store)
    assert back == dead
    assert base64.b64decode(back[1]["payload"]) == b"\xc3\x28"


def test_routes_pick_the_format_kind_and_field_map_by_topic() -> None:
    routes = [
        Route(
            topic="lab/+/+",
            kind="air",
            fields={"pm2_5": "pm25", "t": "temperature"},
            scale={"temperature": 0.1},
        ),
        Route(topic="sensors/#"),
    ]
    p = Pipeline(Validator(300, 400 * 86_400, clock=lambda: NOW), routes)
    out = p.process(msg("lab/x/dev1", {"ts": NOW // SECOND, "pm2_5": 12, "t": 295}))
    assert out.dead is None
    assert out.lines == [f"air,sensor_id=dev1 pm25=12.0,temperature=29.5 {NOW}"]
    # the second route: native, kind from the topic, no renaming
    out = p.process(msg("sensors/water/w1", {"ts": NOW // SECOND, "level": 1.5}))
    assert out.lines == [f"water,sensor_id=w1 level=1.5 {NOW}"]
    out = p.process(msg("other/air/a1", {"pm25": 1}))
    assert out.dead is not None and out.dead["reason"] == "no_route"


def test_first_matching_route_wins() -> None:
    routes = [Route(topic="sensors/air/#", kind="water"), Route(topic="sensors/#")]
    p = Pipeline(Validator(300, 400 * 86_400, clock=lambda: NOW), routes)
    out = p.process(msg("sensors/air/a1", {"ts": NOW // SECOND, "level": 2.0}))
    assert out.lines == [f"water,sensor_id=a1 level=2.0 {NOW}"]


def test_a_route_with_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="'nope' is not one of"):
        Pipeline(Validator(300, 400 * 86_400), [Route(format="nope")])


def test_a_route_derives_the_kind_from_a_topic_level_and_converts_units() -> None:
    routes = [
        Route(
            topic="lora/+/+/up",
            format="ttn",
            kind_level=1,
            fields={"temp_f": "temperature"},
            scale={"temperature": 5 / 9},
            offset={"temperature": -160 / 9},
        )
    ]
    p = Pipeline(Validator(300, 400 * 86_400, clock=lambda: NOW), routes)
    uplink = {
        "end_device_ids": {"device_id": "w9"},
        "received_at": "2023-11-14T22:13:20Z",
        "uplink_message": {"f_port": 2, "decoded_payload": {"temp_f": 86, "level": 1}},
    }
    out = p.process(msg("lora/water/w9/up", uplink))
    assert out.dead is None
    celsius = 86 * (5 / 9) + (-160 / 9)  # 30 °C, as the route computes it in floats
    assert abs(celsius - 30) < 1e-9
    assert out.lines == [f"water,sensor_id=w9 temperature={celsius!r},level=1.0 {NOW}"]
    out = p.process(msg("lora/noise/n1/up", uplink))
    assert out.dead is not None and out.dead["reason"] == "unknown_kind"
