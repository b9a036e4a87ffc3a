"""Water: a tidal river level with rain floods, DO with a night sag, pH and turbidity after rain."""

from __future__ import annotations

import math
import random

from simulators.models._common import DAY_S, clamp, daily, day_of_year, hash01, local_day
from simulators.sensor import SimSensor

KIND = "water"

M2_S = 12.42 * 3600  # principal lunar semidiurnal tide: two highs a day
SPRING_NEAP_S = 14.77 * DAY_S
RAIN_SLOT_S = 3 * 3600
RAIN_MEMORY_SLOTS = 32  # four days: a flood wave takes days to pass
BANK_M = 2.1  # about T.15's critical level, m MSL


def wet_season(t: float) -> float:
    """0 in the dry season rising to 1 at the height of the rains (September)."""
    return 0.5 * (1 + math.cos(2 * math.pi * (day_of_year(t) - 258) / 365.25))


def tide(t: float) -> float:
    """Tidal swing in metres: two highs a day, larger at spring than at neap tides."""
    amplitude = 0.42 * (1 + 0.35 * math.cos(2 * math.pi * t / SPRING_NEAP_S))
    return amplitude * math.sin(2 * math.pi * t / M2_S)


def rain_events(t: float) -> list[tuple[float, float]]:
    """(start time, rainfall 0..1) of the regional storms of the last few days: the same storms
    for every station."""
    events: list[tuple[float, float]] = []
    slot = int(t // RAIN_SLOT_S)
    for k in range(slot - RAIN_MEMORY_SLOTS, slot + 1):
        start = k * RAIN_SLOT_S
        if hash01("rain", k) < 0.01 + 0.04 * wet_season(start):
            events.append((start, 0.3 + 0.7 * hash01("rain-mm", k)))
    return events


def response(t: float, events: list[tuple[float, float]], rise_h: float, fall_h: float) -> float:
    """Sum of each storm's effect, rising over `rise_h` hours and receding over `fall_h`."""
    total = 0.0
    for start, size in events:
        dt = (t - start) / 3600
        if dt > 0:
            total += size * (1 - math.exp(-dt / rise_h)) * math.exp(-dt / fall_h)
    return total


def low_oxygen(sensor: SimSensor, t: float) -> float:
    """DO lost (mg/L) to an occasional low-oxygen event (wastewater, an algal die-off), worst
    before dawn when photosynthesis has stopped for hours."""
    day = local_day(t)
    if hash01("hypoxia", sensor.sensor_id, day) >= 0.04:
        return 0.0
    peak = day * DAY_S - 7 * 3600 + (1 + 5 * hash01("hypoxia-h", sensor.sensor_id, day)) * 3600
    return 3.5 * math.exp(-(((t - peak) / 3600) ** 2) / 8)


def readings(sensor: SimSensor, t: float, rng: random.Random) -> dict[str, float]:
    events = rain_events(t)
    flood = response(t, events, rise_h=6, fall_h=30)  # the river swells over hours
    runoff = response(t, events, rise_h=1, fall_h=8)  # turbid runoff arrives first
    canal = sensor.name_en.startswith("Khlong")
    datum = 0.9 if canal else 1.1
    level = datum + 0.35 * wet_season(t) + (0.6 if canal else 1.0) * tide(t) + 0.45 * flood
    do = 4.8 + 1.3 * daily(t, 15) - 1.2 * runoff - low_oxygen(sensor, t) + rng.gauss(0, 0.1)
    return {
        "level": round(level + rng.gauss(0, 0.01), 3),
        "do": round(clamp(do, 0.2, 14.0), 2),
        "ph": round(clamp(7.2 + 0.15 * daily(t, 15) - 0.35 * runoff + rng.gauss(0, 0.04), 5, 9), 2),
        "temperature": round(29.5 + 1.0 * daily(t, 16) + rng.gauss(0, 0.1), 2),
        "turbidity": round(clamp(30 + 180 * runoff + rng.gauss(0, 3), 1.0, 3000.0), 1),
        "conductivity": round(max(50.0, 450 - 120 * runoff + rng.gauss(0, 10)), 0),
    }
