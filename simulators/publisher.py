"""Publish a fleet's readings over MQTT at QoS 1, in rounds, until told to stop."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from citydata.mqtt import connect, make_client
from citydata.settings import Settings
from simulators.fleet import SimSensor
from simulators.models import model_for

log = logging.getLogger(__name__)


def payload(sensor: SimSensor, t: float, rng: random.Random) -> bytes:
    """One native-format message for `sensor` at epoch time `t`."""
    ts = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"ts": ts, **model_for(sensor.kind)(sensor, t, rng)}).encode()


def publish_fleet(
    settings: Settings,
    sensors: Sequence[SimSensor],
    *,
    interval_s: float,
    rounds: int | None = None,
    seed: int = 0,
    stop: threading.Event | None = None,
) -> int:
    """Publish one reading per sensor every `interval_s` seconds, `rounds` times (or until
    `stop` is set). Returns how many messages the broker acknowledged."""
    stop = stop or threading.Event()
    rng = random.Random(seed)
    client, host, port = make_client(settings.mqtt_url, f"citydata-sim-{rng.getrandbits(32):08x}")
    client.max_inflight_messages_set(1000)
    connect(client, host, port)
    sent: list[mqtt.MQTTMessageInfo] = []
    acked = done = 0
    try:
        next_round = time.time()
        while rounds is None or done < rounds:
            t = time.time()
            sent.extend(client.publish(s.topic, payload(s, t, rng), qos=1) for s in sensors)
            done += 1
            pending = [info for info in sent if not info.is_published()]
            acked += len(sent) - len(pending)
            sent = pending
            log.debug("round %d: published %d readings", done, len(sensors))
            next_round += interval_s
            if stop.wait(max(0.0, next_round - time.time())):
                break
        for info in sent:
            info.wait_for_publish(timeout=30)
        return acked + sum(info.is_published() for info in sent)
    finally:
        client.disconnect()
        client.loop_stop()
