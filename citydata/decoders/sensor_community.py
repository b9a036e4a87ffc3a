"""Sensor.Community (luftdaten, airrohr firmware) "custom API" JSON, over MQTT or HTTP.

The firmware POSTs this body to a custom API, with the header `X-Sensor: esp8266-15225252`
(`esp32-...` on ESP32 boards):

    {"esp8266id": "15225252", "software_version": "NRZ-2020-133",
     "sensordatavalues": [{"value_type": "SDS_P1", "value": "23.40"},
                          {"value_type": "SDS_P2", "value": "11.10"},
                          {"value_type": "BME280_temperature", "value": "29.10"},
                          {"value_type": "signal", "value": "-71"}, ...]}

Sensor id: the X-Sensor header when one is given (`decode_body`); over MQTT, a last topic level
in the header's form (`luftdaten/esp32-3183740`: the HTTP ingestion publishes there, since an
ESP32 board's body still says `esp8266id`); else `esp8266-<esp8266id>`, the header's form. A
body whose `esp8266id` is not the chip id such a topic level names is an `identity_mismatch`.
Values: keyed by `value_type` as the firmware names them, numeric text made numbers; text that
is not a number (`GPS_date`, `GPS_time`) is dropped, and entries without a `value_type` are
skipped. The payload names no kind and no time: the kind must come from the
route (`no_kind` otherwise) and the receive time is used.

The names are the firmware's, not metrics: `SDS_P1` is PM10 and `SDS_P2` is PM2.5 (likewise
`PMS_P1`/`PMS_P2`, `HPM_P1`/`HPM_P2`, `SPS30_P1`/`SPS30_P2`), so a route renames them:

    Route(topic="luftdaten/#", format="sensor_community", kind="air",
          fields={"SDS_P1": "pm10", "SDS_P2": "pm25",
                  "BME280_temperature": "temperature", "BME280_humidity": "humidity"})

BME280_pressure is in Pa; `signal` (Wi-Fi dBm), `samples`, `min_micro`, `max_micro` and
`interval` are kept and, not being metrics, dropped and counted by validation.
"""

from __future__ import annotations

import re

from citydata.decoders import DecodeError, Message, RawReading, Route, identity_mismatch
from citydata.decoders._common import as_number, load_object, require_kind

FORMAT = "sensor_community"
# A topic level naming the board as the X-Sensor header does.
_DEVICE_LEVEL = re.compile(r"esp(?:8266|32)-[0-9A-Za-z]+")


def _sensor_id(data: dict[str, object], sensor_header: str | None) -> str:
    if sensor_header is not None and sensor_header.strip():
        return sensor_header.strip()
    chip_id = data.get("esp8266id")
    if isinstance(chip_id, int) and not isinstance(chip_id, bool):
        chip_id = str(chip_id)
    if not isinstance(chip_id, str) or not chip_id.strip():
        raise DecodeError(
            "undecodable", "no esp8266id in the body and no X-Sensor header: which sensor is it?"
        )
    return f"esp8266-{chip_id.strip()}"


def _values(entries: list[object]) -> dict[str, object]:
    values: dict[str, object] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name = entry.get("value_type")
        number = as_number(entry.get("value"))
        if isinstance(name, str) and name and number is not None:
            values[name] = number
    return values


def decode_body(
    body: bytes, sensor_header: str | None, route: Route, received_ns: int
) -> list[RawReading]:
    """Readings from a custom-API body and its X-Sensor header (None when absent).

    `received_ns` is when the body arrived; the readings carry no time of their own (None), so
    the pipeline stores them at the receive time it is given alongside.
    """
    kind = require_kind(route, FORMAT)
    data = load_object(body, "Sensor.Community")
    return _readings(data, sensor_header, kind)


def _readings(data: dict[str, object], sensor_header: str | None, kind: str) -> list[RawReading]:
    sensor_id = _sensor_id(data, sensor_header)
    entries = data.get("sensordatavalues")
    if not isinstance(entries, list):
        raise DecodeError("undecodable", "no sensordatavalues array")
    return [RawReading(sensor_id, kind, None, _values(entries))]


def _check_identity(data: dict[str, object], device: str, topic: str) -> None:
    """The body's chip id must be the one the topic's board level (`esp32-<chip id>`) names."""
    chip_id = data.get("esp8266id")
    if isinstance(chip_id, int) and not isinstance(chip_id, bool):
        chip_id = str(chip_id)
    if not isinstance(chip_id, str) or not chip_id.strip():
        return  # no id in the body: the topic's is the only one
    if chip_id.strip() != device.split("-", 1)[1]:
        raise identity_mismatch(f"esp8266-{chip_id.strip()}", topic, device)


def decode(message: Message, route: Route) -> list[RawReading]:
    kind = require_kind(route, FORMAT)
    data = load_object(message.payload, "Sensor.Community")
    last = message.topic.rsplit("/", 1)[-1]
    header = last if _DEVICE_LEVEL.fullmatch(last) else None
    if header is not None:
        _check_identity(data, header, message.topic)
    return _readings(data, header, kind)
