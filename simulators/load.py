"""Load mode for benchmarks: N synthetic sensors at R messages per second, with latency figures."""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

from citydata.settings import Settings
from simulators.faults import Outgoing
from simulators.models import model_for
from simulators.publisher import Publisher, encode
from simulators.sensor import SimSensor

KINDS = ("air", "water", "traffic")
TICK_S = 0.005


def synthetic_fleet(n: int) -> list[SimSensor]:
    """`n` synthetic sensors spread over the kinds and around Lam Phaya."""
    return [
        SimSensor(f"load-{KINDS[i % 3]}-{i:05d}", KINDS[i % 3], f"load {i}", f"load {i}",
                  13.98 + (i % 100) * 0.0004, 100.13 + (i // 100 % 100) * 0.0004)
        for i in range(n)
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class LoadReport:
    sent: int
    acked: int
    seconds: float
    latency_ms: list[float]

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        lat = sorted(self.latency_ms) or [0.0]
        p = {q: lat[min(len(lat) - 1, int(q / 100 * len(lat)))] for q in (50, 95, 99)}
        return (
            f"load: sent {self.sent}, acknowledged {self.acked} in {self.seconds:.2f} s = "
            f"{self.rate:.0f} msg/s; publish latency ms p50 {p[50]:.1f} p95 {p[95]:.1f} "
            f"p99 {p[99]:.1f} max {lat[-1]:.1f} mean {statistics.fmean(lat):.1f}"
        )


def run_load(
    settings: Settings,
    sensors: list[SimSensor],
    *,
    rate: float,
    duration_s: float,
    seed: int = 0,
    stop: threading.Event | None = None,
) -> LoadReport:
    """Publish round(rate * duration_s) messages, paced at `rate` per second over the sensors
    in turn, and measure each one's time from publish to the broker's PUBACK."""
    stop, rng = stop or threading.Event(), random.Random(seed)
    total = round(rate * duration_s)
    pub = Publisher(settings, seed, window=50_000, resend_unheard=False)
    started: dict[int, float] = {}
    early: dict[int, float] = {}  # acknowledged before publish() returned
    latency: list[float] = []

    def on_publish(c: Any, u: Any, mid: int, reason: Any, props: Any) -> None:
        pub.refusals.on_publish(c, u, mid, reason, props)  # refusals are still counted
        now, t0 = time.perf_counter(), started.pop(mid, None)
        if t0 is None:
            early[mid] = now
        else:
            latency.append((now - t0) * 1000)

    pub.client.on_publish = on_publish
    begin, sent = time.perf_counter(), 0
    try:
        while sent < total and not stop.is_set():
            due = min(total, int((time.perf_counter() - begin) * rate) + 1)
            for _ in range(due - sent):
                s = sensors[sent % len(sensors)]
                now = time.time()
                topic, body = encode(Outgoing(s, now, model_for(s.kind)(s, now, rng)))
                t0 = time.perf_counter()
                info = pub.publish(topic, body)
                done = early.pop(info.mid, None)
                if done is None:
                    started[info.mid] = t0
                else:
                    latency.append((done - t0) * 1000)
                sent += 1
            pub.keep_window()
            time.sleep(TICK_S)
    finally:
        acked = pub.close()
    return LoadReport(sent, acked, time.perf_counter() - begin, latency)
