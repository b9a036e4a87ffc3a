"""Publish a fleet's readings over MQTT at QoS 1: in real time, accelerated, or as a backfill."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator, Sequence

import paho.mqtt.client as mqtt

from citydata.mqtt import close, connect, make_client
from citydata.settings import Settings
from simulators import formats
from simulators.faults import FaultInjector, FaultRates, Outgoing
from simulators.fleet import SimSensor
from simulators.models import model_for

log = logging.getLogger(__name__)
WINDOW = 5000  # messages published but not yet acknowledged, at most, in a backfill


def payload(sensor: SimSensor, t: float, rng: random.Random) -> bytes:
    """One native-format message for `sensor` at epoch time `t`."""
    return encode(Outgoing(sensor, t, model_for(sensor.kind)(sensor, t, rng)))[1]


def encode(msg: Outgoing) -> tuple[str, bytes]:
    """The topic and payload of one message in its sensor's format."""
    return formats.encode(msg, msg.sensor.format)


class Simulation:
    """A fleet's readings at given times: the models, then the faults, deterministic for a seed."""

    def __init__(
        self, sensors: Sequence[SimSensor], seed: int = 0, faults: FaultRates | None = None
    ) -> None:
        self.sensors = sensors
        self.rng = random.Random(seed)
        self.injector = FaultInjector(faults or FaultRates(), seed)

    def round(self, t: float) -> list[Outgoing]:
        """Every message the fleet sends for the round at simulated time `t`."""
        out: list[Outgoing] = []
        for s in self.sensors:
            out.extend(self.injector.apply(s, t, model_for(s.kind)(s, t, self.rng)))
        return out


def backfill_times(days: float, interval_s: float, end: float | None = None) -> Iterator[float]:
    """Round times covering the `days` before `end` (now), aligned to the interval."""
    last = (time.time() if end is None else end) // interval_s * interval_s
    n = int(days * 86_400 // interval_s)
    for k in range(n - 1, -1, -1):
        yield last - k * interval_s


class Publisher:
    """An MQTT QoS 1 publisher that keeps at most `window` messages unacknowledged."""

    def __init__(self, settings: Settings, seed: int, window: int = WINDOW) -> None:
        self.client, host, port = make_client(
            settings.mqtt_url, f"citydata-sim-{random.Random(seed).getrandbits(32):08x}"
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        connect(self.client, host, port)
        self.window = window
        self.pending: list[mqtt.MQTTMessageInfo] = []
        self.acked = 0

    def send(self, messages: Iterable[tuple[str, bytes]]) -> None:
        for topic, body in messages:
            self.pending.append(self.client.publish(topic, body, qos=1))
        self.collect()
        while len(self.pending) > self.window:
            self.pending[0].wait_for_publish(timeout=30)
            self.collect()

    def collect(self) -> None:
        still = [info for info in self.pending if not info.is_published()]
        self.acked += len(self.pending) - len(still)
        self.pending = still

    def close(self) -> int:
        """Wait for the outstanding acknowledgements, disconnect; how many were acknowledged."""
        try:
            for info in self.pending:
                info.wait_for_publish(timeout=30)
            self.collect()
            return self.acked
        finally:
            close(self.client)


def publish_fleet(
    settings: Settings,
    sensors: Sequence[SimSensor],
    *,
    interval_s: float,
    rounds: int | None = None,
    seed: int = 0,
    stop: threading.Event | None = None,
    speed: float = 1.0,
    start: float | None = None,
    faults: FaultRates | None = None,
) -> int:
    """Publish one reading per sensor every `interval_s` simulated seconds, `rounds` times (or
    until `stop` is set). Simulated time starts at `start` (now) and runs `speed` times faster
    than real time. Returns how many messages the broker acknowledged."""
    stop = stop or threading.Event()
    sim = Simulation(sensors, seed, faults)
    pub = Publisher(settings, seed)
    t0, real0 = (time.time() if start is None else start), time.monotonic()
    done = 0
    try:
        while rounds is None or done < rounds:
            pub.send(encode(m) for m in sim.round(t0 + done * interval_s))
            done += 1
            log.debug("round %d: published for %d sensors", done, len(sensors))
            wait = real0 + done * interval_s / speed - time.monotonic()
            if stop.wait(max(0.0, wait)):
                break
    finally:
        acked = pub.close()
    return acked


def backfill(
    settings: Settings,
    sensors: Sequence[SimSensor],
    *,
    days: float,
    interval_s: float,
    seed: int = 0,
    end: float | None = None,
    stop: threading.Event | None = None,
    faults: FaultRates | None = None,
) -> int:
    """Publish `days` of history with their timestamps, as fast as the broker acknowledges,
    then return how many messages it acknowledged."""
    stop = stop or threading.Event()
    sim = Simulation(sensors, seed, faults)
    pub = Publisher(settings, seed)
    try:
        for t in backfill_times(days, interval_s, end):
            if stop.is_set():
                break
            pub.send(encode(m) for m in sim.round(t))
    finally:
        acked = pub.close()
    return acked
