"""What the platform's durability relies on from Mosquitto, checked on the installed version.

If a newer Mosquitto starts restoring shared subscriptions from persistence, the second test
fails: then the README's note on brokers and tests/faultlab.py's broker scenario can change.
"""

from __future__ import annotations

import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from citydata import services
from citydata.mqtt import close, make_client
from tests.helpers import publish_all, wait_for

pytestmark = pytest.mark.integration


def _session(url: str, client_id: str, got: list[bytes]) -> mqtt.Client:
    client, host, port = make_client(url, client_id)
    client.on_message = lambda c, u, m: got.append(bytes(m.payload))
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect_async(host, port, clean_start=False, properties=props)
    client.loop_start()
    wait_for(client.is_connected, timeout=10, what="connection")
    return client


def _received_after_restart(broker: services.MosquittoService, topic_filter: str) -> int:
    """Subscribe with a persistent session, go away, restart the broker, publish 10 messages,
    come back without subscribing again: how many arrive?"""
    client_id = f"persist-{uuid.uuid4().hex[:6]}"
    got: list[bytes] = []
    client = _session(broker.url, client_id, got)
    client.subscribe(topic_filter, options=SubscribeOptions(qos=1))
    time.sleep(0.3)
    close(client)
    broker.stop()
    broker.start()
    publish_all(broker.url, [("sensors/air/x", str(i).encode()) for i in range(10)])
    client = _session(broker.url, client_id, got)
    time.sleep(1.0)
    close(client)
    return len(got)


def test_a_plain_persistent_subscription_survives_a_broker_restart(
    broker: services.MosquittoService,
) -> None:
    assert _received_after_restart(broker, "sensors/#") == 10


def test_a_shared_subscription_does_not_survive_a_broker_restart(
    broker: services.MosquittoService,
) -> None:
    assert _received_after_restart(broker, "$share/collectors/sensors/#") == 0
