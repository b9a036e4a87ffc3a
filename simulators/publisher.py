"""Publish a fleet's readings over MQTT at QoS 1: in real time, accelerated, or as a backfill."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import paho.mqtt.client as mqtt

from citydata.mqtt import (
    NO_MATCHING_SUBSCRIBERS,
    Refusals,
    TLSFiles,
    close,
    connect,
    make_client,
)
from citydata.settings import Settings
from simulators import encoders
from simulators.claims import Claims, claim_payload, subscribe_claims
from simulators.faults import FaultInjector, FaultRates, Outgoing
from simulators.models import model_for
from simulators.progress import Update
from simulators.sensor import SimSensor

log = logging.getLogger(__name__)
WINDOW = 5000  # messages published but not yet acknowledged, at most, in a backfill

# What a scenario makes of a sensor's model readings at a time: other values, or None (silent).
Overlay = Callable[[SimSensor, float, dict[str, float]], dict[str, float] | None]


def payload(sensor: SimSensor, t: float, rng: random.Random) -> bytes:
    """One native-format message for `sensor` at epoch time `t`."""
    return encode(Outgoing(sensor, t, model_for(sensor.kind)(sensor, t, rng)))[1]


def encode(msg: Outgoing) -> tuple[str, bytes]:
    """The topic and payload of one message in its sensor's format."""
    return encoders.encode(msg, msg.sensor.format)


class Simulation:
    """A fleet's readings at given times: the models, then the faults, deterministic for a seed."""

    def __init__(
        self,
        sensors: Sequence[SimSensor],
        seed: int = 0,
        faults: FaultRates | None = None,
        overlay: Overlay | None = None,
    ) -> None:
        self.sensors = sensors
        self.rng = random.Random(seed)
        self.injector = FaultInjector(faults or FaultRates(), seed)
        self.overlay = overlay

    def round(self, t: float) -> list[Outgoing]:
        """Every message the fleet sends for the round at simulated time `t`."""
        out: list[Outgoing] = []
        for s in self.sensors:
            values: dict[str, float] | None = model_for(s.kind)(s, t, self.rng)
            if self.overlay is not None and values is not None:
                values = self.overlay(s, t, values)
            if values is not None:
                out.extend(self.injector.apply(s, t, values))
        return out


def backfill_times(days: float, interval_s: float, end: float | None = None) -> Iterator[float]:
    """Round times covering the `days` before `end` (now), aligned to the interval."""
    last = (time.time() if end is None else end) // interval_s * interval_s
    n = int(days * 86_400 // interval_s)
    for k in range(n - 1, -1, -1):
        yield last - k * interval_s


class Publisher:
    """An MQTT QoS 1 publisher that keeps at most `window` messages unacknowledged.

    A message the broker acknowledges with "no matching subscribers" was dropped: no collector
    has subscribed yet (the first seconds of a first start). It is published again, backing off
    up to `patience_s` in all, so a backfill loses nothing to a collector still starting (unless
    `resend_unheard` is false, as for a load test of the broker alone); any other refusal (not
    authorized, quota) is counted in `refused` and logged once."""

    def __init__(
        self,
        settings: Settings,
        seed: int,
        window: int = WINDOW,
        patience_s: float = 120.0,
        stop: threading.Event | None = None,
        resend_unheard: bool = True,
        claims: Claims | None = None,
    ) -> None:
        # A client id of its own, not one drawn from the seed: two simulators with the same seed
        # (a scenario beside the live run) would otherwise take each other's connection over.
        self.client, host, port = make_client(
            settings.mqtt_url,
            f"citydata-sim-{random.Random().getrandbits(32):08x}",
            tls=TLSFiles.of(settings),
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.refusals = Refusals()
        self.client.on_publish = self.refusals.on_publish
        if claims is not None:  # subscribed on every (re)connect: sessions here are clean
            self.client.on_message = claims.on_message
            self.client.on_connect = subscribe_claims
        connect(self.client, host, port)
        self.window = window
        self.patience_s = patience_s
        self.resend_unheard = resend_unheard
        self.stop = stop or threading.Event()
        self.pending: list[tuple[mqtt.MQTTMessageInfo, str, bytes]] = []
        self.acked = 0
        self.refused = 0
        self._unheard_since: float | None = None  # first "no subscribers" of the current run

    def claim(self, topic: str, sensor_ids: Iterable[str], until: float) -> None:
        """Claim sensors until `until` (a retained message; `b""` in `release` ends it). Not
        kept pending: with no live run listening the broker says "no matching subscribers"."""
        self.client.publish(topic, claim_payload(sensor_ids, until), qos=1, retain=True)

    def release(self, topic: str) -> None:
        """End a claim; when the broker is gone, the claim ends by itself at its time."""
        try:
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(timeout=10)
        except (RuntimeError, ValueError) as exc:  # paho: not connected, or timed out
            log.warning("could not release the scenario's claim (%s); it expires by itself", exc)

    def publish(self, topic: str, body: bytes) -> mqtt.MQTTMessageInfo:
        """Publish one message at QoS 1, kept pending until the broker acknowledges it."""
        info = self.client.publish(topic, body, qos=1)
        self.pending.append((info, topic, body))
        return info

    def send(self, messages: Iterable[tuple[str, bytes]]) -> None:
        for topic, body in messages:
            self.publish(topic, body)
        self.keep_window()

    def keep_window(self) -> None:
        """Count acknowledgements, waiting while more than `window` messages are unacknowledged."""
        self.collect()
        while len(self.pending) > self.window and not self.stop.is_set():
            self.pending[0][0].wait_for_publish(timeout=30)
            self.collect()

    def collect(self) -> None:
        """Count what the broker took; publish again what found no subscriber."""
        still: list[tuple[mqtt.MQTTMessageInfo, str, bytes]] = []
        again: list[tuple[str, bytes]] = []
        for entry in self.pending:
            info = entry[0]
            if not info.is_published():
                still.append(entry)
                continue
            reason = self.refusals.take(info.mid)
            if reason is None or (
                not self.resend_unheard and reason.value == NO_MATCHING_SUBSCRIBERS
            ):
                self.acked += 1
                self._unheard_since = None
            elif reason.value == NO_MATCHING_SUBSCRIBERS:
                again.append(entry[1:])
            else:
                if not self.refused:
                    log.error("the MQTT broker refused a message on %s: %s", entry[1], reason)
                self.refused += 1
        self.pending = still
        if again:
            self._publish_again(again)

    def _publish_again(self, messages: list[tuple[str, bytes]]) -> None:
        if self.stop.is_set():  # stopping: what found no subscriber is not sent again
            return
        now = time.monotonic()
        if self._unheard_since is None:
            self._unheard_since = now
            log.info("no collector has subscribed yet; publishing again until one has")
        if now - self._unheard_since > self.patience_s:
            raise NoSubscriber(
                f"no collector subscribed to {messages[0][0]!r} within {self.patience_s:g}s"
            )
        if self.stop.wait(min(1.0, 0.05 + (now - self._unheard_since) / 10)):
            return
        for topic, body in messages:
            self.publish(topic, body)

    def close(self) -> int:
        """Wait for the outstanding acknowledgements, disconnect; how many were acknowledged."""
        try:
            while self.pending and not self.stop.is_set():
                self.pending[0][0].wait_for_publish(timeout=30)
                self.collect()
            for info, _, _ in self.pending:  # stopping: wait for those in flight, no more
                info.wait_for_publish(timeout=30)
            self.collect()
            return self.acked
        finally:
            close(self.client)


class NoSubscriber(RuntimeError):
    """The broker kept answering "no matching subscribers": no collector is listening."""


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
    than real time. Returns how many messages the broker acknowledged. A live run (from now, in
    real time) leaves out the sensors a scenario claims while it publishes them (`Claims`)."""
    stop = stop or threading.Event()
    sim = Simulation(sensors, seed, faults)
    claims = Claims() if start is None and speed == 1 else None
    pub = Publisher(settings, seed, stop=stop, claims=claims)
    t0, real0 = (time.time() if start is None else start), time.monotonic()
    done, aside = 0, frozenset[str]()
    try:
        while rounds is None or done < rounds:
            held = claims.held(time.time()) if claims is not None else aside
            if held != aside:
                log.info("a scenario publishes %d sensors; leaving them out", len(held))
                aside = held
            messages = sim.round(t0 + done * interval_s)
            pub.send(encode(m) for m in messages if m.sensor.sensor_id not in held)
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
    progress: Update | None = None,
) -> int:
    """Publish `days` of history with their timestamps, as fast as the broker acknowledges,
    then return how many messages it acknowledged; `progress` hears that count as it grows."""
    sim = Simulation(sensors, seed, faults)
    times = backfill_times(days, interval_s, end)
    acked = publish_rounds(settings, sim, times, seed=seed, stop=stop, progress=progress)
    if progress is not None:
        progress(acked)
    return acked


def publish_rounds(
    settings: Settings,
    sim: Simulation,
    times: Iterable[float],
    *,
    seed: int = 0,
    stop: threading.Event | None = None,
    progress: Update | None = None,
) -> int:
    """Publish the simulation's round at each of `times`, with their timestamps, as fast as
    the broker acknowledges; returns how many messages it acknowledged."""
    stop = stop or threading.Event()
    pub = Publisher(settings, seed, stop=stop)
    try:
        for t in times:
            if stop.is_set():
                break
            pub.send(encode(m) for m in sim.round(t))
            if progress is not None:
                progress(pub.acked)
    finally:
        acked = pub.close()
    return acked


def backfill_size(sensors: Sequence[SimSensor], days: float, interval_s: float) -> int:
    """How many messages a backfill sends without faults: one per sensor per round."""
    return len(sensors) * int(days * 86_400 // interval_s)
