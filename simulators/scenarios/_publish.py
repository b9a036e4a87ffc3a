"""A scenario over MQTT: the hours before at its peak (optional), then the episode in real time."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence

from citydata.settings import Settings
from simulators.claims import CLAIMS_TOPIC
from simulators.faults import FaultRates
from simulators.progress import Update
from simulators.publisher import Publisher, Simulation, backfill_times, encode, publish_rounds
from simulators.scenarios import Plan
from simulators.sensor import SimSensor

log = logging.getLogger(__name__)
TAIL_S = 120.0  # normal readings after the episode, so the platform sees it end


def history_times(plan: Plan, hours: float, interval_s: float) -> list[float]:
    """Times of a history of `hours` before the plan's start, on the interval's grid."""
    return list(backfill_times(hours / 24, interval_s, plan.start - interval_s))


def publish_history(
    settings: Settings,
    plan: Plan,
    *,
    hours: float,
    interval_s: float,
    seed: int = 0,
    stop: threading.Event | None = None,
    progress: Update | None = None,
) -> int:
    """Publish the affected sensors' readings of the `hours` before the plan's start as they
    are at the episode's peak, with their timestamps, as fast as the broker acknowledges.
    Returns how many messages it acknowledged."""
    sims = [t.sim for t in plan.targets.values()]
    sim = Simulation(sims, seed, overlay=plan.at_peak)
    times = history_times(plan, hours, interval_s)
    return publish_rounds(settings, sim, times, seed=seed, stop=stop, progress=progress)


def episode_rounds(plan: Plan, interval_s: float, tail_s: float = TAIL_S) -> int:
    """Rounds from the start to the end of the episode plus `tail_s` of normal readings."""
    return int((plan.timeline.end_s + tail_s) // interval_s) + 1


def publish_episode(
    settings: Settings,
    plan: Plan,
    sensors: Sequence[SimSensor],
    *,
    interval_s: float,
    rounds: int,
    seed: int = 0,
    stop: threading.Event | None = None,
    faults: FaultRates | None = None,
) -> int:
    """Publish `sensors` (the plan's targets among them as the scenario has them) every
    `interval_s` seconds in real time from the plan's start, `rounds` times, claiming them
    meanwhile so a live simulator stands aside (simulators.claims). Returns how many messages
    the broker acknowledged."""
    stop = stop or threading.Event()
    sim = Simulation(sensors, seed, faults, overlay=plan.overlay)
    pub = Publisher(settings, seed, stop=stop)
    claim = f"{CLAIMS_TOPIC}/{plan.scenario.name}-{uuid.uuid4().hex[:8]}"
    until = plan.start + rounds * interval_s + 60  # lapses soon after, should we be killed
    pub.claim(claim, (s.sensor_id for s in sensors), until)
    real0 = time.monotonic()
    try:
        for done in range(rounds):
            pub.send(encode(m) for m in sim.round(plan.start + done * interval_s))
            log.debug("round %d of %d", done + 1, rounds)
            wait = real0 + (done + 1) * interval_s - time.monotonic()
            if done + 1 == rounds or stop.wait(max(0.0, wait)):
                break
    finally:
        pub.release(claim)
        acked = pub.close()
    return acked
