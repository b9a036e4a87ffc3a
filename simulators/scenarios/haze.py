"""Haze: PM2.5 at the air stations climbs to 150-180 µg/m³ (PM10 with it), holds, clears."""

from __future__ import annotations

from collections.abc import Sequence

from simulators.models._common import hash01, smooth_noise
from simulators.scenarios._common import Target, Timeline, blend

NAME = "haze"
TITLE_TH = "หมอกควัน: ฝุ่น PM2.5 สูงขึ้นถึง 150-180 มคก./ลบ.ม. คงอยู่ แล้วจางลง"
TITLE_EN = "PM2.5 rises to 150-180 µg/m³, holds, then clears"
KINDS = ("air",)
PHASES = ("rising", "holding", "clearing")
TIMELINE = Timeline(onset_s=120, hold_s=600, recovery_s=120)


def timeline(targets: Sequence[Target]) -> Timeline:
    return TIMELINE


def choose(candidates: Sequence[Target]) -> list[Target]:
    """Every air station: smoke is regional, every station in town breathes it."""
    return list(candidates)


def peak_pm25(target: Target, t: float) -> float:
    """The station's level in the hold: 150-180 µg/m³ (a little different at each station),
    wandering a few per cent so a chart does not draw a ruler line."""
    level = 150 + 30 * hash01("haze", target.id)
    return level * (1 + 0.04 * smooth_noise(f"haze-{target.id}", t, 90))


def readings(target: Target, t: float, normal: dict[str, float]) -> dict[str, float]:
    """PM2.5 `intensity` of the way to the peak (never below normal); PM10 in proportion."""
    k = target.timeline.intensity(t)
    pm25 = normal.get("pm25")
    if not k or pm25 is None:
        return normal
    hazy = max(pm25, blend(pm25, peak_pm25(target, t), k))
    out = {**normal, "pm25": round(hazy, 1)}
    if "pm10" in normal and pm25 > 0:
        out["pm10"] = round(min(1900.0, normal["pm10"] * hazy / pm25), 1)
    return out


def notes(targets: Sequence[Target], history_h: float) -> list[str]:
    if history_h >= 18:
        return [
            f"the {history_h:g} h before are at the peak: the next whole hour's 24-hour AQI "
            "is level 5 (and stays high for up to a day: it is a 24-hour mean)"
        ]
    return [
        "the station AQI is a 24-hour mean judged on each whole hour: this episode moves it "
        "little; --scenario-history 24 publishes the day before at the peak, so the next "
        "whole hour's AQI reaches level 5"
    ]
