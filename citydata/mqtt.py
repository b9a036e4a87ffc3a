"""paho-mqtt 2.x clients configured from `CITYDATA_MQTT_URL`, and the MQTT wire contract every
program shares (the receive-time user property, "no matching subscribers")."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_PUBACK = struct.Struct("!BBH")  # fixed header 0x40, remaining length 2, packet id


def ack_many(client: mqtt.Client, mids: Sequence[int]) -> None:
    """Acknowledge QoS 1 messages (manual-ack mode), in one write for the lot.

    `client.ack()` queues one packet and wakes the network thread once per message, which
    costs the collector a tenth of its intake at full rate. Consecutive PUBACK packets are a
    valid byte stream, so they are queued as one through paho's packet queue; if a paho
    version lacks it, each message is acknowledged with `ack()`.
    """
    queue = getattr(client, "_packet_queue", None)
    if queue is None:
        for mid in mids:
            client.ack(mid, 1)
        return
    if mids:
        packet = b"".join([_PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in mids])
        queue(mqtt.PUBACK, packet, 0, 1)


class MQTTConnectError(ConnectionError):
    """The broker could not be reached or refused us in time."""


NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK: accepted, but no one will ever get it
RECEIVED_PROPERTY = "citydata-received-ns"  # MQTT 5 user property: keep the first receive time


def received_properties(received_ns: int) -> Properties:
    """PUBLISH properties carrying `received_ns` as the time the collector stores a reading
    without its own time at (a replayed dead letter, a post to the HTTP API)."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = (RECEIVED_PROPERTY, str(received_ns))
    return props


def refused(reason: Any) -> bool:
    """True for a PUBACK reason saying the message will not reach a subscriber: a failure,
    or "no matching subscribers" (the broker then drops it)."""
    return bool(reason.is_failure) or reason.value == NO_MATCHING_SUBSCRIBERS


class Refusals:
    """Which published messages the broker refused, by message id. `on_publish` is the paho
    callback: paho calls it before it marks the message published, so whoever sees the message
    published finds its reason here with `take(mid)` (None when the broker took it)."""

    def __init__(self) -> None:
        self._reasons: dict[int, ReasonCode] = {}
        self._lock = threading.Lock()

    def on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        with self._lock:
            if refused(reason):
                self._reasons[mid] = reason
            else:  # a refusal nobody took must not stick to a reused message id
                self._reasons.pop(mid, None)

    def take(self, mid: int) -> ReasonCode | None:
        with self._lock:
            return self._reasons.pop(mid, None)


def make_client(
    url: str, client_id: str, *, manual_ack: bool = False
) -> tuple[mqtt.Client, str, int]:
    """A paho client (MQTT 5) for `url` (mqtt:// or mqtts://, optional user:pass@), with the
    host and port to connect to. Reconnects back off from 1 s to 60 s. With `manual_ack`, QoS 1
    messages are acknowledged only by `client.ack(mid, qos)`."""
    parts = urlsplit(url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
    if parts.scheme == "mqtts":
        client.tls_set()
    client.reconnect_delay_set(min_delay=1, max_delay=60)
    port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    return client, parts.hostname or "localhost", port


def connect(client: mqtt.Client, host: str, port: int, timeout: float = 30.0) -> None:
    """Connect and start the network thread, returning once connected.

    connect_async before loop_start: a blocking connect() followed by loop_start() leaks the
    socket pair the first one made (paho replaces it without closing it).
    """
    client.connect_async(host, port)
    client.loop_start()
    deadline = time.monotonic() + timeout
    while not client.is_connected():
        if time.monotonic() > deadline:
            client.loop_stop()
            raise MQTTConnectError(f"cannot connect to MQTT broker {host}:{port}")
        time.sleep(0.01)


def close(client: mqtt.Client) -> None:
    """Disconnect, stop the network thread and close the client's sockets now.

    paho closes its wake-up socket pair only when the client is garbage-collected; a client
    caught in a reference cycle (callbacks bound to an object holding the client) would leave
    it open until the cycle collector runs, and Python then warns about unclosed sockets.
    """
    client.disconnect()
    client.loop_stop()
    reset = getattr(client, "_reset_sockets", None)
    if reset is not None:
        reset()
