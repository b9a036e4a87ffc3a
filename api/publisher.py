"""The API's one MQTT connection: publishes readings posted over HTTP, QoS 1, waiting for PUBACK.

It connects in the background and keeps reconnecting (1 s to 60 s backoff), so the API starts
and serves reads while the broker is down; `/ready` reports `mqtt` until it is connected. The
client id is unique per process and the session clean: nothing is subscribed, and a message
is only ever waited for by the request that published it.

Errors: `BrokerUnavailable` (not connected, not acknowledged in time, or refused with an MQTT 5
reason code such as "not authorized" or "no matching subscribers").
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from typing import Annotated, Any

import paho.mqtt.client as mqtt
from fastapi import Depends, Request

from citydata.mqtt import Refusals, TLSFiles, close, make_client, received_properties
from citydata.settings import Settings

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """The broker did not take the message; the caller should retry later."""


def client_id() -> str:
    """An MQTT client id of this API process: host and pid to read in broker logs, plus a random
    part, since containers often share pids (two clients with one id disconnect each other)."""
    return f"citydata-api-{socket.gethostname()[:24]}-{os.getpid()}-{secrets.token_hex(3)}"


class Publisher:
    """A paho client publishing at QoS 1; `publish` returns once the broker acknowledged."""

    def __init__(self, settings: Settings, ack_timeout_s: float = 5.0) -> None:
        self.ack_timeout_s = ack_timeout_s
        self.keepalive_s = settings.mqtt_keepalive_s
        self.client, self.host, self.port = make_client(
            settings.mqtt_url, client_id(), tls=TLSFiles.of(settings)
        )
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self._refusals = Refusals()
        self.client.on_publish = self._refusals.on_publish
        self._closing = False

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def start(self) -> None:
        """Connect in the background (never blocks, never fails: paho retries until close)."""
        self.client.connect_async(
            self.host, self.port, keepalive=self.keepalive_s, clean_start=True
        )
        self.client.loop_start()

    def close(self) -> None:
        """Disconnect and stop. While the broker is away paho's thread sleeps up to a second
        between reconnect attempts, and shutting the API down need not wait for that: the
        thread is then stopped (and its sockets closed) in the background."""
        self._closing = True
        if self.client.is_connected():
            close(self.client)
        else:
            threading.Thread(
                target=close, args=(self.client,), name="mqtt-close", daemon=True
            ).start()

    def publish(self, topic: str, payload: bytes, received_ns: int) -> None:
        """Publish at QoS 1 and wait for the PUBACK; BrokerUnavailable if it does not come.

        `received_ns` travels as the user property the collector takes as the receive time, so
        readings without a time of their own are stored at the time the API received them, and
        a message paho resends after a timeout lands on the same point instead of a new one.
        """
        if not self.client.is_connected():
            raise BrokerUnavailable(f"not connected to the MQTT broker {self.host}:{self.port}")
        props = received_properties(received_ns)
        info = self.client.publish(topic, payload, qos=1, properties=props)
        try:
            info.wait_for_publish(self.ack_timeout_s)
            published = info.is_published()
        except (RuntimeError, ValueError) as exc:  # not queued: the connection just dropped
            raise BrokerUnavailable(str(exc)) from None
        refused = self._refusals.take(info.mid)
        if not published:
            raise BrokerUnavailable(
                f"the MQTT broker did not acknowledge within {self.ack_timeout_s:g}s"
            )
        if refused is not None:
            raise BrokerUnavailable(f"the MQTT broker refused the message on {topic}: {refused}")

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s:%s refused the API: %s", self.host, self.port, reason)
        else:
            log.info("API connected to MQTT broker %s:%s", self.host, self.port)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.warning("API cannot reach MQTT broker %s:%s; retrying", self.host, self.port)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if not self._closing:
            log.warning("API disconnected from MQTT broker: %s; reconnecting", reason)


async def get_publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


PublisherDep = Annotated[Publisher, Depends(get_publisher)]
