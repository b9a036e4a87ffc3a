"""The collector with the sensor registry and every payload format, through real Mosquitto into
real InfluxDB: quarantine and replay, calibration and tags, retirement, auto-registration."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from citydata.deadletters import DeadLetter, DeadLetterStore
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.registry import Calibration, Registry
from citydata.replay import replay
from citydata.routes import Route
from citydata.settings import Settings
from tests.fuzzing import FIELDS  # device field names -> metrics, as routes map them
from tests.helpers import publish_all, register, running_collector, wait_for

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[1] / "data" / "decoders"


def dead(settings: Settings) -> list[DeadLetter]:
    return list(DeadLetterStore(settings.data_dir))


def test_unregistered_is_quarantined_then_replayed_with_its_first_time(
    registered: Settings, influx: InfluxClient
) -> None:
    settings = registered
    with running_collector(settings) as c:
        before = time.time_ns()
        publish_all(settings.mqtt_url, [("sensors/air/air-500", b'{"pm25": 7}')])
        wait_for(lambda: c.stats.dead_lettered == 1, what="a dead letter")
        (rec,) = dead(settings)
        assert rec["reason"] == "unregistered" and "air-500" in rec["errors"][0]
        assert influx.records('SELECT * FROM "air"') == []

        register(settings, {"air-500": "air"})
        registered_at = time.monotonic()
        wait_for(lambda: c.registry_read_at > registered_at, what="the registry reread")
        assert replay(settings, lambda r: r["reason"] == "unregistered") == 1
        wait_for(lambda: c.stats.written == 1, what="the replayed reading")
    (row,) = influx.records('SELECT * FROM "air"')
    assert row["pm25"] == 7.0 and row["sensor_id"] == "air-500"
    assert row["time"] == rec["received_ns"] and row["time"] >= before  # not the replay time
    assert dead(settings) == []  # moved to replayed/
    assert len(list((settings.data_dir / "deadletter" / "replayed").glob("*.jsonl"))) == 1


def test_calibration_and_tags_are_applied(settings: Settings, influx: InfluxClient) -> None:
    register(settings, {"air-600": "air"}, calibration={"pm25": Calibration(scale=2.0, offset=1.0)})
    with running_collector(settings) as c:
        publish_all(settings.mqtt_url, [("sensors/air/air-600", b'{"pm25": 10, "pm10": 30}')])
        wait_for(lambda: c.stats.written == 1, what="the reading")
    (row,) = influx.records('SELECT * FROM "air"')
    assert (row["pm25"], row["pm10"]) == (21.0, 30.0)  # 10*2+1; pm10 has no calibration
    assert (row["zone"], row["site"]) == ("test", "lab")


def test_retired_and_wrong_kind_are_refused(settings: Settings, influx: InfluxClient) -> None:
    register(settings, {"air-1": "air", "air-2": "air"})
    with Registry.from_settings(settings) as registry:
        registry.retire("air-2")
    with running_collector(settings) as c:
        publish_all(
            settings.mqtt_url,
            [
                ("sensors/air/air-2", b'{"pm25": 1}'),
                ("sensors/water/air-1", b'{"level": 1}'),
                ("sensors/air/air-1", b'{"pm25": 2}'),
            ],
        )
        wait_for(lambda: c.stats.dead_lettered == 2 and c.stats.written == 1, what="outcomes")
    assert sorted(str(r["reason"]) for r in dead(settings)) == ["retired", "wrong_kind"]


def test_auto_register_makes_a_pending_sensor(settings: Settings, influx: InfluxClient) -> None:
    settings = settings.model_copy(
        update={"routes": [Route(topic="sensors/#", auto_register=True)]}
    )
    with running_collector(settings) as c:
        publish_all(settings.mqtt_url, [("sensors/water/new-gauge", b'{"level": 1.2}')])
        wait_for(lambda: c.stats.written == 1, what="the reading")
    with Registry.from_settings(settings) as registry:
        sensor = registry.get("new-gauge")
    assert (sensor.status, sensor.kind, sensor.latitude) == ("pending", "water", None)
    (row,) = influx.records('SELECT * FROM "water"')
    assert row["level"] == 1.2 and row["zone"] == "pending"


CASES = {  # format: its data-folder case that a real device would send
    "ttn": "uplink",
    "chirpstack": "uplink",
    "tasmota": "sds011_bme280",
    "sensor_community": "sds011_bme280",
    "senml": "single_record",
    "lineprotocol": "single_line",
}


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_each_format_through_the_broker(fmt: str, settings: Settings, influx: InfluxClient) -> None:
    case = json.loads((DATA / fmt / f"{CASES[fmt]}.json").read_text(encoding="utf-8"))
    (want,) = case["expect"]
    kind = all_kinds()[want["kind"]]
    fields = {k: v for k, v in FIELDS.items() if k in want["values"] and v in kind.by_name}
    route = Route(
        topic="#",
        format=fmt,
        kind=case.get("route", {}).get("kind"),
        fields=fields,
        timezone=case.get("route", {}).get("timezone", "Asia/Bangkok"),
    )
    settings = settings.model_copy(update={"routes": [route]})
    register(settings, {want["sensor_id"]: kind.name})
    payload = (
        json.dumps(case["payload"]).encode() if "payload" in case else case["payload_text"].encode()
    )
    with running_collector(settings) as c:
        publish_all(settings.mqtt_url, [(case["topic"], payload)])
        wait_for(lambda: c.stats.written == 1, what=f"the {fmt} reading")
    (row,) = influx.records(f'SELECT * FROM "{kind.name}"')
    expected = {
        fields.get(k, k): float(v)
        for k, v in want["values"].items()
        if fields.get(k, k) in kind.by_name
    }
    assert expected, "the case must carry at least one metric"
    assert {k: row[k] for k in expected} == expected
    assert row["sensor_id"] == want["sensor_id"]
    if want["time_ns"] is not None:
        assert row["time"] == want["time_ns"]
