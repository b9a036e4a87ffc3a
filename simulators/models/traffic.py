"""Traffic: weekday rush hours, speed falling toward capacity, motorcycles, junction lock-ups."""

from __future__ import annotations

import math
import random

from simulators.models._common import DAY_S, clamp, hash01, local_day, local_hour, weekday
from simulators.sensor import SimSensor

KIND = "traffic"

INTERVAL_S = 60.0
EFFECTIVE_LENGTH_M = 5.0  # mean vehicle plus detection-zone length (many motorcycles)


def _bump(h: float, centre: float, width: float) -> float:
    return math.exp(-((h - centre) ** 2) / (2 * width**2))


def demand(t: float) -> float:
    """Demand as a share of capacity: weekday peaks at 07:30 and 17:30 around a midday
    plateau, a later and flatter weekend."""
    h = local_hour(t)
    night = 0.04 + 0.08 * _bump(h, 13, 5)
    if weekday(t) < 5:
        return (
            night
            + 0.75 * _bump(h, 7.5, 0.9)
            + 0.7 * _bump(h, 17.5, 1.1)
            + 0.25 * _bump(h, 12.5, 2.5)
        )
    return night + 0.35 * _bump(h, 11, 2.5) + 0.3 * _bump(h, 17, 2)


def capacity(sensor: SimSensor) -> float:
    """Vehicles per interval the road carries (a highway lane more than a market lane)."""
    return (28.0 if "Route" in sensor.name_en else 18.0) * INTERVAL_S / 60


def free_speed(sensor: SimSensor) -> float:
    return 70.0 if "Route" in sensor.name_en else 45.0


def incident(sensor: SimSensor, t: float) -> bool:
    """True while a crash or a stalled truck locks the junction (20 to 80 minutes, rare)."""
    day = local_day(t)
    if hash01("incident", sensor.sensor_id, day) >= 0.08:
        return False
    start = day * DAY_S - 7 * 3600 + (6 + 14 * hash01("incident-h", sensor.sensor_id, day)) * 3600
    return 0 <= t - start < (20 + 60 * hash01("incident-d", sensor.sensor_id, day)) * 60


def readings(sensor: SimSensor, t: float, rng: random.Random) -> dict[str, float]:
    cap, free = capacity(sensor), free_speed(sensor)
    ratio = clamp(demand(t) * (1 + rng.gauss(0, 0.06)), 0.0, 1.0)
    if incident(sensor, t):
        count = max(0, round(cap * ratio * 0.15 + rng.gauss(0, 1)))
        speed = clamp(4 + rng.gauss(0, 1.5), 1.0, 10.0)
        occupancy = clamp(85 + rng.gauss(0, 5), 60.0, 100.0)
    else:
        count = max(0, round(cap * ratio + rng.gauss(0, math.sqrt(cap * ratio + 0.25))))
        speed = clamp(free * (1 - 0.75 * ratio**2.5) + rng.gauss(0, 2), 5.0, free + 10)
        flow_per_s = count / INTERVAL_S
        occupancy = clamp(100 * flow_per_s * EFFECTIVE_LENGTH_M / (speed / 3.6), 0.0, 100.0)
    moto = round(count * clamp(0.55 + rng.gauss(0, 0.04), 0.4, 0.7))
    bus = round(count * 0.02)
    truck = round(count * (0.12 if "Route" in sensor.name_en else 0.04))
    return {
        "count": float(count),
        "interval_s": INTERVAL_S,
        "speed": round(speed, 1),
        "occupancy": round(occupancy, 1),
        "motorcycle": float(moto),
        "car": float(max(0, count - moto - bus - truck)),
        "bus": float(bus),
        "truck": float(truck),
    }
