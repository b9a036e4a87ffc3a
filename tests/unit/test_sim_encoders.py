"""The simulator's registries: an encoder for every payload decoder, a model only for real kinds,
and each encoder's messages read back by its decoder through the routes the simulator names."""

from __future__ import annotations

import random

import pytest
from paho.mqtt.client import topic_matches_sub

from citydata.decoders import Message, all_decoders
from citydata.kinds import all_kinds
from citydata.routes import Route
from simulators.encoders import all_encoders, routes_for
from simulators.faults import Outgoing
from simulators.models import all_models, model_for
from simulators.sensor import SimSensor

T = 1_768_440_600.0  # 2026-01-15 08:30 ICT


def test_every_payload_decoder_has_a_simulator_encoder() -> None:
    missing = sorted(set(all_decoders()) - set(all_encoders()))
    assert not missing, f"add simulators/encoders/<format>.py for {missing}"


def test_every_encoder_is_a_format_the_collector_decodes() -> None:
    assert sorted(set(all_encoders()) - set(all_decoders())) == []


def test_models_are_discovered_for_registered_kinds_only() -> None:
    assert set(all_models()) == {"air", "water", "traffic"}
    assert set(all_models()) <= set(all_kinds())


def _first_route(routes: list[Route], topic: str) -> Route:
    return next(r for r in routes if topic_matches_sub(r.topic, topic))


@pytest.mark.parametrize("fmt", sorted(all_encoders()))
def test_each_encoder_is_read_back_by_its_decoder(fmt: str) -> None:
    encoder = all_encoders()[fmt]
    kind = encoder.kinds[0] if encoder.kinds else "water"
    prefix = encoder.id_form.partition("<")[0]
    sensor = SimSensor(f"{prefix}15225252" if prefix else "lp-x-01", kind, "X", "X", 14.0, 100.1)
    values = model_for(kind)(sensor, T, random.Random(1))
    topic, body = encoder.encode(Outgoing(sensor, T, values))
    route = _first_route(routes_for({fmt}, {kind}), topic)
    assert route.format == fmt, f"{topic} is read by the {route.format} route"
    [raw] = all_decoders()[fmt](Message(topic, body, 0), route.for_topic(topic))
    assert (raw.sensor_id, raw.kind) == (sensor.sensor_id, kind)
    assert raw.values == values
    assert raw.time_ns == (round(T * 1e9) if encoder.timed else None)
