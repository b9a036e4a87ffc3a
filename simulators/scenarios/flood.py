"""Flood: a storm surge lifts the water past watch, warning and critical, then it recedes."""

from __future__ import annotations

from collections.abc import Sequence

from simulators.scenarios._common import Target, Timeline

NAME = "flood"
TITLE_TH = "น้ำท่วม: ระดับน้ำหนุนสูงเกินระดับเฝ้าระวัง เตือนภัย และวิกฤต แล้วลดลง"
TITLE_EN = "a surge lifts the water past watch, warning and critical, then recedes"
KINDS = ("water",)
PHASES = ("rising", "holding", "receding")
TIMELINE = Timeline(onset_s=300, hold_s=600, recovery_s=300)
ABOVE_CRITICAL_M = 0.15  # the peak, above the station's critical level


def level_thresholds(target: Target) -> dict[str, float]:
    """The station's own level thresholds (registry thresholds.level), m on its datum."""
    return dict(target.sensor.thresholds.get("level", {}))


def choose(candidates: Sequence[Target]) -> list[Target]:
    """Every water station with level thresholds (a status needs them)."""
    return [c for c in candidates if level_thresholds(c)]


def timeline(targets: Sequence[Target]) -> Timeline:
    return TIMELINE


def peak_m(target: Target) -> float:
    """Critical + 0.15 m (the highest threshold + 0.15 m for a station without a critical)."""
    levels = level_thresholds(target)
    return levels.get("critical", max(levels.values())) + ABOVE_CRITICAL_M


def readings(target: Target, t: float, normal: dict[str, float]) -> dict[str, float]:
    """The normal level (the tide goes on) plus `intensity` of a surge from the start's level
    to the peak; in the hold never below the peak, whichever way the tide turns meanwhile."""
    k = target.timeline.intensity(t)
    level = normal.get("level")
    if not k or level is None or not level_thresholds(target):
        return normal
    peak = peak_m(target)
    surge = max(peak - target.baseline.get("level", level), peak - level, 0.0)
    return {**normal, "level": round(level + k * surge, 3)}
