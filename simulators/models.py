"""Simple models of each kind's readings: a daily cycle plus noise, deterministic for a seed.

A later issue makes these realistic (haze season, tides, rush hours, faults); this keeps the
shapes plausible and every value inside the kind's physical bounds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from citydata.kinds import all_kinds
from simulators.fleet import SimSensor

ICT_OFFSET_S = 7 * 3600


def _hour(t: float) -> float:
    """Local (ICT) hour of day as a float."""
    return ((t + ICT_OFFSET_S) % 86_400) / 3600


def _daily(t: float, peak_hour: float) -> float:
    """A cosine in [-1, 1] peaking at `peak_hour` local time."""
    return math.cos(2 * math.pi * (_hour(t) - peak_hour) / 24)


def air(sensor: SimSensor, t: float, rng: random.Random) -> dict[str, float]:
    base = 30 + 12 * _daily(t, 7) + rng.gauss(0, 3)  # morning high under the inversion
    pm25 = max(1.0, base)
    return {
        "pm25": round(pm25, 1),
        "pm10": round(pm25 * rng.uniform(1.4, 1.8), 1),
        "o3": round(max(0.0, 25 + 15 * _daily(t, 14) + rng.gauss(0, 2)), 1),
        "co": round(max(0.0, 0.6 + 0.3 * _daily(t, 8) + rng.gauss(0, 0.05)), 2),
        "no2": round(max(0.0, 15 + 8 * _daily(t, 8) + rng.gauss(0, 2)), 1),
        "so2": round(max(0.0, 3 + rng.gauss(0, 0.5)), 1),
        "temperature": round(29 + 4 * _daily(t, 14) + rng.gauss(0, 0.3), 1),
        "humidity": round(min(100.0, max(20.0, 70 - 15 * _daily(t, 14) + rng.gauss(0, 2))), 1),
    }


def water(sensor: SimSensor, t: float, rng: random.Random) -> dict[str, float]:
    tide = 0.45 * math.sin(2 * math.pi * t / (12.42 * 3600))  # semidiurnal tide
    return {
        "level": round(1.2 + tide + rng.gauss(0, 0.01), 3),
        "do": round(max(0.5, 4.5 + 1.2 * _daily(t, 15) + rng.gauss(0, 0.1)), 2),
        "ph": round(7.2 + rng.gauss(0, 0.05), 2),
        "temperature": round(29.5 + 1.0 * _daily(t, 16) + rng.gauss(0, 0.1), 2),
        "turbidity": round(max(0.0, 35 + rng.gauss(0, 3)), 1),
        "conductivity": round(max(0.0, 450 + rng.gauss(0, 10)), 0),
    }


def traffic(sensor: SimSensor, t: float, rng: random.Random) -> dict[str, float]:
    h = _hour(t)
    rush = math.exp(-((h - 7.5) ** 2) / 2) + math.exp(-((h - 17.5) ** 2) / 2)
    volume = max(0, round(20 + 120 * rush + 30 * max(0.0, _daily(t, 13)) + rng.gauss(0, 5)))
    speed = max(5.0, 55 - 35 * min(1.0, volume / 150) + rng.gauss(0, 2))
    moto = round(volume * 0.55)
    bus = round(volume * 0.02)
    truck = round(volume * 0.08)
    return {
        "count": float(volume),
        "interval_s": 60.0,
        "speed": round(speed, 1),
        "occupancy": round(min(100.0, volume / 150 * 30 + rng.uniform(0, 2)), 1),
        "motorcycle": float(moto),
        "car": float(max(0, volume - moto - bus - truck)),
        "bus": float(bus),
        "truck": float(truck),
    }


Model = Callable[[SimSensor, float, random.Random], dict[str, float]]
MODELS: dict[str, Model] = {"air": air, "water": water, "traffic": traffic}


def generic(sensor: SimSensor, t: float, rng: random.Random) -> dict[str, float]:
    """For a kind with no model yet: each metric wanders in the lower part of its bounds."""
    out: dict[str, float] = {}
    for metric in all_kinds()[sensor.kind].metrics:
        span = metric.max - metric.min
        level = 0.1 + 0.05 * _daily(t, 12) + rng.uniform(-0.01, 0.01)
        out[metric.name] = round(metric.min + span * level, 3)
    return out


def model_for(kind: str) -> Model:
    """The model of `kind`, or the generic one so a newly registered kind simulates at once."""
    return MODELS.get(kind, generic)
