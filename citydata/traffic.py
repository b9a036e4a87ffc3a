"""Congestion level of a traffic detector from its mean speed (DOMAIN.md section 4)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

Level = Literal["free", "moderate", "heavy", "stop_and_go"]
Colour = Literal["green", "yellow", "orange", "red"]
Method = Literal["speed_ratio", "thai_fallback"]

# level: (severity, colour, hex, Thai name, English name)
LEVELS: dict[Level, tuple[int, Colour, str, str, str]] = {
    "free": (0, "green", "#00B050", "คล่องตัว", "Free-flowing"),
    "moderate": (1, "yellow", "#FFD700", "ชะลอตัว", "Moderate"),
    "heavy": (2, "orange", "#FF8C00", "ติดขัด", "Heavy"),
    "stop_and_go": (3, "red", "#E00000", "ติดขัดมาก", "Stop-and-go"),
}
# Lower edges of the speed-ratio bands, each band including its lower edge: DOMAIN.md says
# ">= 0.75" for green and "< 0.25" for red, so 0.75 and 0.25 belong to the better band on one
# end and the worse band on the other; 0.50 follows the same rule and is moderate.
RATIO_BANDS: tuple[tuple[Decimal, Level], ...] = (
    (Decimal("0.75"), "free"),
    (Decimal("0.50"), "moderate"),
    (Decimal("0.25"), "heavy"),
)
# Thai fallback without a free-flow baseline: "> 25 green, 15-25 yellow, < 15 red", so both
# 25 and 15 km/h are yellow. It has no orange band.
FALLBACK_GREEN_ABOVE_KMH = Decimal(25)
FALLBACK_RED_BELOW_KMH = Decimal(15)


class Congestion(BaseModel):
    """A congestion level with its colour, names, the speed ratio and the method used."""

    model_config = ConfigDict(frozen=True)

    level: Level
    severity: int  # 0 free-flowing .. 3 stop-and-go, for ordering
    colour: Colour
    colour_hex: str
    name_th: str
    name_en: str
    speed_kmh: float
    free_flow_kmh: float | None
    ratio: float | None  # speed / free-flow speed; None with the fallback
    method: Method
    occupancy_pct: float | None
    occupancy_threshold_pct: float
    occupancy_congested: bool | None  # occupancy above the threshold; None when not given


def _dec(value: float, what: str) -> Decimal:
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number (got {value!r})")
    return Decimal(str(value))  # exact boundaries: 4.2 / 5.6 is 0.75, not 0.7499999


def ratio_level(ratio: Decimal) -> Level:
    """The speed-ratio band of `ratio`, each band including its lower edge."""
    for lower, level in RATIO_BANDS:
        if ratio >= lower:
            return level
    return "stop_and_go"


def fallback_level(speed: Decimal) -> Level:
    """The Thai fallback band of a speed in km/h: above 25 green, 15 to 25 yellow, below 15 red."""
    if speed > FALLBACK_GREEN_ABOVE_KMH:
        return "free"
    if speed >= FALLBACK_RED_BELOW_KMH:
        return "moderate"
    return "stop_and_go"


def congestion(
    speed_kmh: float,
    free_flow_kmh: float | None = None,
    occupancy_pct: float | None = None,
    occupancy_threshold_pct: float = 25.0,
) -> Congestion:
    """Congestion from mean speed: by ratio to the free-flow speed, or the Thai fallback.

    The occupancy hint is separate from the level: occupancy strictly above
    `occupancy_threshold_pct` (default 25 %, the low end of the 25-30 % rule of thumb for a
    point detector) suggests congestion even when the speed says otherwise.
    """
    speed = _dec(speed_kmh, "speed")
    if speed < 0:
        raise ValueError(f"speed cannot be negative (got {speed_kmh!r})")
    ratio: Decimal | None = None
    method: Method
    if free_flow_kmh is None:
        method, level = "thai_fallback", fallback_level(speed)
    else:
        free_flow = _dec(free_flow_kmh, "free-flow speed")
        if free_flow <= 0:
            raise ValueError(f"free-flow speed must be positive (got {free_flow_kmh!r})")
        ratio = speed / free_flow
        method, level = "speed_ratio", ratio_level(ratio)
    threshold = _dec(occupancy_threshold_pct, "occupancy threshold")
    if not 0 <= threshold <= 100:
        raise ValueError(f"occupancy threshold must be 0-100 % (got {occupancy_threshold_pct!r})")
    congested: bool | None = None
    if occupancy_pct is not None:
        occupancy = _dec(occupancy_pct, "occupancy")
        if not 0 <= occupancy <= 100:
            raise ValueError(f"occupancy must be 0-100 % (got {occupancy_pct!r})")
        congested = occupancy > threshold
    severity, colour, colour_hex, name_th, name_en = LEVELS[level]
    return Congestion(
        level=level,
        severity=severity,
        colour=colour,
        colour_hex=colour_hex,
        name_th=name_th,
        name_en=name_en,
        speed_kmh=speed_kmh,
        free_flow_kmh=free_flow_kmh,
        ratio=float(ratio) if ratio is not None else None,
        method=method,
        occupancy_pct=occupancy_pct,
        occupancy_threshold_pct=occupancy_threshold_pct,
        occupancy_congested=congested,
    )
