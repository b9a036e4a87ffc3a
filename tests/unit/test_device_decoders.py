"""What the data folders cannot show for the device-format decoders: the shared lenient-number
helpers, the wording of no_decoded_payload, the HTTP entry of Sensor.Community, SenML's "now",
and each format's documented route working through the pipeline."""

from __future__ import annotations

import json

import pytest

from citydata.decoders import (
    DecodeError,
    Decoder,
    Message,
    Route,
    chirpstack,
    senml,
    sensor_community,
    ttn,
)
from citydata.decoders._common import as_number, flatten, parse_number
from citydata.decoders.sensor_community import decode_body
from citydata.validate import Validator
from collector.pipeline import Pipeline

NOW = 1_768_440_600_000_000_000  # 2026-01-15T01:30:00Z, 08:30 in Bangkok
SECOND = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12.5", 12.5),
        ("12", 12),
        (" -3 ", -3),
        ("+7", 7),
        ("007", 7),
        ("1e3", 1000.0),
        ("-1.5E-2", -0.015),
        (".5", 0.5),
        ("5.", 5.0),
        ("100390.72", 100390.72),
    ],
)
def test_numeric_text(text: str, number: float) -> None:
    got = parse_number(text)
    assert got == number
    assert type(got) is type(number)


@pytest.mark.parametrize(
    "text",
    ["", " ", "nan", "NaN", "inf", "-Infinity", "1_000", "0x10", "12.5.1", "12 5", "1e", "e3",
     "١٢", "12,5", "ON", "01/15/2026", "--1"],
)  # fmt: skip
def test_text_that_is_not_a_number(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("value", "number"),
    [(3, 3), (2.5, 2.5), ("4.5", 4.5), (True, None), (False, None), (None, None), ([1], None),
     ({"v": 1}, None), ("high", None)],
)  # fmt: skip
def test_as_number(value: object, number: object) -> None:
    assert as_number(value) == number


def test_flatten_goes_one_level_down_only() -> None:
    values = {"pm": {"2_5": "3", "10": 7}, "a": {"b": {"c": 1}}, "t": "29.5", "s": "ok", "n": None}
    assert flatten(values) == {
        "pm.2_5": 3,
        "pm.10": 7,
        "a.b": {"c": 1},
        "t": 29.5,
        "s": "ok",
        "n": None,
    }


def _error(decode: Decoder, payload: object, topic: str) -> DecodeError:
    route = Route(topic="#", format="ttn", kind="air")
    with pytest.raises(DecodeError) as exc:
        decode(Message(topic, json.dumps(payload).encode(), NOW), route)
    return exc.value


def test_ttn_without_decoded_payload_says_why_and_on_which_port() -> None:
    uplink = {"f_port": 2, "frm_payload": "AQI=", "decoded_payload_warnings": ["sensor warm-up"]}
    error = _error(ttn.decode, {"uplink_message": uplink}, "v3/a@ttn/devices/d1/up")
    assert error.problem.reason == "no_decoded_payload"
    assert "f_port 2" in error.problem.detail
    assert "formatter is missing or failed" in error.problem.detail
    assert "sensor warm-up" in error.problem.detail
    assert "MAC" not in error.problem.detail


def test_ttn_port_0_is_named_as_mac_only() -> None:
    error = _error(ttn.decode, {"uplink_message": {"f_cnt": 3}}, "v3/a@ttn/devices/d1/up")
    assert "f_port 0" in error.problem.detail
    assert "MAC commands only" in error.problem.detail


def test_chirpstack_without_object_says_why_and_on_which_port() -> None:
    event = {"deviceInfo": {"devEui": "0004a30b001c0530"}, "fPort": 5, "data": "AQI="}
    error = _error(chirpstack.decode, event, "application/1/device/0004a30b001c0530/event/up")
    assert error.problem.reason == "no_decoded_payload"
    assert "fPort 5" in error.problem.detail
    assert "codec" in error.problem.detail


BODY = json.dumps(
    {
        "esp8266id": "15225252",
        "software_version": "NRZ-2020-133",
        "sensordatavalues": [
            {"value_type": "SDS_P1", "value": "23.40"},
            {"value_type": "SDS_P2", "value": "11.10"},
            {"value_type": "BME280_temperature", "value": "29.10"},
            {"value_type": "BME280_pressure", "value": "100812.50"},
            {"value_type": "BME280_humidity", "value": "70.20"},
            {"value_type": "signal", "value": "-71"},
        ],
    }
).encode()
LUFTDATEN = Route(
    topic="luftdaten/#",
    format="sensor_community",
    kind="air",
    fields={
        "SDS_P1": "pm10",
        "SDS_P2": "pm25",
        "BME280_temperature": "temperature",
        "BME280_humidity": "humidity",
    },
)


@pytest.mark.parametrize(
    ("header", "sensor_id"),
    [
        ("esp32-3183740", "esp32-3183740"),  # the header names the board; it wins
        (" esp8266-15225252 ", "esp8266-15225252"),
        (None, "esp8266-15225252"),
        ("", "esp8266-15225252"),
    ],
)
def test_sensor_community_http_body_and_header(header: str | None, sensor_id: str) -> None:
    (reading,) = decode_body(BODY, header, LUFTDATEN, NOW)
    assert reading.sensor_id == sensor_id
    assert reading.time_ns is None
    assert reading.values["SDS_P1"] == 23.4
    assert reading.values["signal"] == -71


def test_sensor_community_mqtt_is_the_body_without_a_header() -> None:
    (via_mqtt,) = sensor_community.decode(Message("luftdaten/x", BODY, NOW), LUFTDATEN)
    (via_http,) = decode_body(BODY, None, LUFTDATEN, NOW)
    assert via_mqtt == via_http


def test_senml_relative_times_count_from_the_receive_time() -> None:
    pack = json.dumps([{"n": "pm25", "v": 1, "t": -30}, {"n": "pm25", "v": 2}]).encode()
    route = Route(topic="senml/#", format="senml", kind="air")
    for received in (NOW, NOW + 3600 * SECOND):
        readings = senml.decode(Message("senml/lp-air-1", pack, received), route)
        assert [r.time_ns for r in readings] == [received - 30 * SECOND, None]


def test_senml_later_record_for_the_same_metric_and_time_wins() -> None:
    pack = [
        {"bn": "lp-air-1/", "bt": 1768440600, "n": "pm25", "v": 1},
        {"n": "pm10", "v": 2},
        {"n": "pm25", "v": 3},
    ]
    route = Route(topic="senml/#", format="senml", kind="air")
    (reading,) = senml.decode(Message("senml/gw", json.dumps(pack).encode(), NOW), route)
    assert reading.values == {"pm25": 3, "pm10": 2}


# The routes each module documents, through the pipeline that applies their field maps.


@pytest.fixture
def validator() -> Validator:
    return Validator(300, 400 * 86_400, clock=lambda: NOW)


def test_sensor_community_route_renames_firmware_names(validator: Validator) -> None:
    out = Pipeline(validator, [LUFTDATEN]).process(Message("luftdaten/lp", BODY, NOW))
    assert out.dead is None
    assert out.lines == [
        f"air,sensor_id=esp8266-15225252 pm10=23.4,pm25=11.1,temperature=29.1,humidity=70.2 {NOW}"
    ]
    assert sorted(out.unknown) == [("air", "BME280_pressure"), ("air", "signal")]


def test_tasmota_flattened_names_map_to_metrics(validator: Validator) -> None:
    route = Route(
        topic="tele/+/SENSOR",
        format="tasmota",
        kind="air",
        fields={"SDS0X1.PM2.5": "pm25", "SDS0X1.PM10": "pm10", "BME280.Humidity": "humidity"},
    )
    payload = {
        "Time": "2026-01-15T08:30:00",
        "SDS0X1": {"PM2.5": 12.3, "PM10": 20.1},
        "BME280": {"Humidity": 70.2},
        "TempUnit": "C",
    }
    message = Message("tele/lp-air-301/SENSOR", json.dumps(payload).encode(), NOW + SECOND)
    out = Pipeline(validator, [route]).process(message)
    assert out.lines == [f"air,sensor_id=lp-air-301 pm25=12.3,pm10=20.1,humidity=70.2 {NOW}"]
