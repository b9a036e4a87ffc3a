"""Air quality: PM with a haze season, night and morning highs, a regional component and burning."""

from __future__ import annotations

import math
import random

from simulators.models._common import (
    DAY_S,
    clamp,
    daily,
    day_of_year,
    hash01,
    local_day,
    local_hour,
    smooth_noise,
)
from simulators.sensor import SimSensor

KIND = "air"

HAZE_PEAK_DOY = 45  # mid-February: the dry-season haze peaks in central Thailand


def haze_season(t: float) -> float:
    """0 in the wet season (June to October) rising to 1 at the dry-season peak (February)."""
    s = 0.5 * (1 + math.cos(2 * math.pi * (day_of_year(t) - HAZE_PEAK_DOY) / 365.25))
    return s**2


def diurnal(t: float) -> float:
    """PM multiplier: high at night and in the morning under the inversion, low mid-afternoon
    when the mixing layer is deep."""
    return 1 + 0.3 * daily(t, 6.5) + 0.12 * math.cos(4 * math.pi * (local_hour(t) - 22) / 24)


def regional(t: float) -> float:
    """Multiplier shared by every station: synoptic weather over a day or two."""
    return math.exp(0.3 * smooth_noise("air-regional", t, 1.5 * DAY_S))


def burning(sensor: SimSensor, t: float) -> float:
    """Extra PM2.5 from open burning near the station: rare in the wet season, a few a month in
    the dry season, each rising over an hour and fading over a few."""
    extra = 0.0
    for day in (local_day(t) - 1, local_day(t)):
        if hash01("burn", sensor.sensor_id, day) >= 0.02 + 0.18 * haze_season(day * DAY_S):
            continue
        start = (day * DAY_S - 7 * 3600) + (14 + 8 * hash01("burn-h", sensor.sensor_id, day)) * 3600
        dt = (t - start) / 3600
        if dt > 0:
            peak = 40 + 120 * hash01("burn-a", sensor.sensor_id, day)
            extra += peak * (1 - math.exp(-dt)) * math.exp(-dt / 3)
    return extra


def station_factor(sensor: SimSensor) -> float:
    """A station's lasting offset from the regional level (traffic, a market, open fields)."""
    return 0.85 + 0.35 * hash01("air-site", sensor.sensor_id)


def readings(sensor: SimSensor, t: float, rng: random.Random) -> dict[str, float]:
    season = haze_season(t)
    base = (11 + 48 * season) * diurnal(t) * regional(t) * station_factor(sensor)
    pm25 = clamp(base * math.exp(rng.gauss(0, 0.08)) + burning(sensor, t), 1.0, 900.0)
    pm10 = pm25 * (1.45 + 0.3 * season + rng.uniform(0, 0.15))
    temperature = 28.5 + 1.5 * math.cos(2 * math.pi * (day_of_year(t) - 110) / 365.25)
    temperature += 4.5 * daily(t, 14.5) + rng.gauss(0, 0.3)
    humidity = 72 + 10 * (1 - season) - 16 * daily(t, 14.5) + rng.gauss(0, 2)
    return {
        "pm25": round(pm25, 1),
        "pm10": round(clamp(pm10, 1.0, 1900.0), 1),
        "o3": round(max(0.0, 22 + 18 * max(0.0, daily(t, 14)) + rng.gauss(0, 2)), 1),
        "co": round(max(0.0, (0.5 + 0.3 * daily(t, 8)) * (1 + season) + rng.gauss(0, 0.05)), 2),
        "no2": round(max(0.0, 14 + 8 * daily(t, 8) + rng.gauss(0, 2)), 1),
        "so2": round(max(0.0, 3 + rng.gauss(0, 0.5)), 1),
        "temperature": round(temperature, 1),
        "humidity": round(clamp(humidity, 20.0, 100.0), 1),
    }
