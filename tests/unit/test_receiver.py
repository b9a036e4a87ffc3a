"""The collector's chunked MQTT reader (collector/receiver.py) on a socket pair: every packet
found whatever the read boundaries, QoS 1 PUBLISH to `on_qos1` with its properties, every
other packet to paho's own handlers, a broken packet or a closed socket reported as paho would.
Against a real broker it is the collector's receive path in every collector test."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties

from citydata.mqtt import RECEIVED_PROPERTY, received_properties
from collector.receiver import BulkReceiver

Got = tuple[str, bytes, int, Any]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: str, payload: bytes, mid: int, qos: int = 1, props: bytes = b"\x00") -> bytes:
    """A PUBLISH packet as a broker sends it (MQTT 5)."""
    t = topic.encode()
    body = len(t).to_bytes(2, "big") + t + (mid.to_bytes(2, "big") if qos else b"") + props
    body += payload
    return bytes([0x30 | qos << 1]) + _varint(len(body)) + body


PINGRESP = b"\xd0\x00"


class Pair:
    def __init__(self) -> None:
        self.client = BulkReceiver(
            CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv5, manual_ack=True
        )
        self.ours, self.broker = socket.socketpair()
        self.ours.setblocking(False)
        self.client._sock = self.ours
        self.got: list[Got] = []
        self.client.on_qos1 = lambda topic, payload, mid, props: self.got.append(
            (topic, payload, mid, props)
        )

    def feed(self, data: bytes) -> MQTTErrorCode:
        self.broker.sendall(data)
        return self.client.loop_read()

    def close(self) -> None:
        self.client._sock = None
        self.ours.close()
        self.broker.close()


@pytest.fixture
def pair() -> Iterator[Pair]:
    made = Pair()
    yield made
    made.close()


def test_every_packet_is_found_whatever_the_read_boundaries(pair: Pair) -> None:
    rng = random.Random(7)
    sizes = [0, 1, 100, 127, 128, 16_383, 16_384, 70_000] + [rng.randrange(300) for _ in range(300)]
    packets, wanted = [], []
    for mid, size in enumerate(sizes, 1):
        payload = bytes(rng.randrange(256) for _ in range(size))
        topic = f"sensors/air/s{mid % 17}-ไทย"
        packets.append(publish(topic, payload, mid))
        wanted.append((topic, payload, mid, None))
        if mid % 50 == 0:
            packets.append(PINGRESP)
    stream = b"".join(packets)
    pos = 0
    while pos < len(stream):
        step = rng.choice((1, 2, 3, 7, 64, 1000, 9000))
        assert pair.feed(stream[pos : pos + step]) == MQTTErrorCode.MQTT_ERR_SUCCESS
        pos += step
    assert pair.got == wanted


def test_a_packet_split_at_each_byte_is_read_once_whole(pair: Pair) -> None:
    packet = publish("sensors/water/w1", b'{"level": 1.25}', 4242)
    for cut in range(1, len(packet)):
        pair.got.clear()
        assert pair.feed(packet[:cut]) == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert pair.got == []
        assert pair.feed(packet[cut:]) == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert pair.got == [("sensors/water/w1", b'{"level": 1.25}', 4242, None)]


def test_properties_come_with_the_message(pair: Pair) -> None:
    props: Properties = received_properties(1_700_000_000_123_456_789)
    packet = publish("sensors/air/a", b"{}", 9, props=props.pack())  # type: ignore[no-untyped-call]
    assert pair.feed(packet) == MQTTErrorCode.MQTT_ERR_SUCCESS
    [(topic, payload, mid, got)] = pair.got
    assert (topic, payload, mid) == ("sensors/air/a", b"{}", 9)
    assert got.UserProperty == [(RECEIVED_PROPERTY, "1700000000123456789")]


def test_other_packets_go_to_pahos_handlers(pair: Pair) -> None:
    seen: list[tuple[str, bytes, int]] = []
    pair.client.on_message = lambda c, u, m: seen.append((m.topic, bytes(m.payload), m.qos))
    pair.client._ping_t = 123.0  # a ping is out; its PINGRESP clears this
    data = (
        publish("sensors/air/q0", b"zero", 0, qos=0) + PINGRESP + publish("sensors/air/q1", b"", 5)
    )
    assert pair.feed(data) == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert seen == [("sensors/air/q0", b"zero", 0)]
    assert pair.client._ping_t == 0
    assert pair.got == [("sensors/air/q1", b"", 5, None)]


def test_without_on_qos1_paho_delivers_qos1_as_ever(pair: Pair) -> None:
    seen: list[int] = []
    pair.client.on_qos1 = None
    pair.client.on_message = lambda c, u, m: seen.append(m.mid)
    assert pair.feed(publish("sensors/air/x", b"1", 77)) == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert seen == [77]


@pytest.mark.parametrize(
    "broken",
    [
        bytes([0x32, 3]) + b"\x00\x09a",  # topic longer than the packet
        bytes([0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),  # remaining length over 4 bytes
        publish("sensors/\xff", b"", 1).replace("\xff".encode(), b"\xff\xfe"),  # not UTF-8
    ],
)
def test_a_broken_packet_is_a_protocol_error(pair: Pair, broken: bytes) -> None:
    assert pair.feed(broken) == MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert pair.got == []


def test_a_closed_connection_is_reported_lost(pair: Pair) -> None:
    pair.broker.close()
    assert pair.client.loop_read() == MQTTErrorCode.MQTT_ERR_CONN_LOST


def test_a_new_connection_starts_from_an_empty_buffer(pair: Pair) -> None:
    packet = publish("sensors/air/a", b"{}", 1)
    pair.feed(packet[:5])  # half a packet from the old connection
    other, broker = socket.socketpair()
    other.setblocking(False)
    pair.client._sock = other
    try:
        broker.sendall(packet)
        assert pair.client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert pair.got == [("sensors/air/a", b"{}", 1, None)]
    finally:
        pair.client._sock = None
        other.close()
        broker.close()
