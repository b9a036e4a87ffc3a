"""Shared pieces of the models: local time, seasons, smooth noise as a pure function of time."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable

from simulators.sensor import SimSensor

ICT_OFFSET_S = 7 * 3600
DAY_S = 86_400

Model = Callable[[SimSensor, float, random.Random], dict[str, float]]


def local_hour(t: float) -> float:
    """Local (ICT) hour of day as a float."""
    return ((t + ICT_OFFSET_S) % DAY_S) / 3600


def local_day(t: float) -> int:
    """Days since the epoch, counted in local (ICT) days."""
    return int((t + ICT_OFFSET_S) // DAY_S)


def weekday(t: float) -> int:
    """Local day of the week, Monday 0 to Sunday 6 (1 January 1970 was a Thursday)."""
    return (local_day(t) + 3) % 7


def day_of_year(t: float) -> float:
    """Local day of the year as a float, 0 on 1 January (365.25-day years)."""
    return ((t + ICT_OFFSET_S) / DAY_S) % 365.25


def daily(t: float, peak_hour: float) -> float:
    """A cosine in [-1, 1] peaking at `peak_hour` local time."""
    return math.cos(2 * math.pi * (local_hour(t) - peak_hour) / 24)


def hash01(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by `parts`: shared randomness that needs no state, so
    every station (and every run) sees the same regional weather at the same time."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def smooth_noise(key: str, t: float, period_s: float) -> float:
    """Noise in about [-1, 1] varying smoothly over `period_s` (cosine-interpolated lattice)."""
    x = t / period_s
    i = math.floor(x)
    a, b = (2 * hash01(key, i) - 1, 2 * hash01(key, i + 1) - 1)
    w = (1 - math.cos(math.pi * (x - i))) / 2
    return a + (b - a) * w


def clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))
