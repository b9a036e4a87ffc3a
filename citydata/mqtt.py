"""paho-mqtt 2.x clients configured from `CITYDATA_MQTT_URL`, shared by every program."""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class MQTTConnectError(ConnectionError):
    """The broker could not be reached or refused us in time."""


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
