"""Jam: a detector on the busiest road reports stop-and-go traffic, then the queue clears."""

from __future__ import annotations

from collections.abc import Sequence

from simulators.models._common import smooth_noise
from simulators.models.traffic import capacity, free_speed
from simulators.scenarios._common import Target, Timeline, blend

NAME = "jam"
TITLE_TH = "การจราจรติดขัดมาก: ความเร็วต่ำกว่าร้อยละ 25 ของความเร็วอิสระ แล้วคลี่คลาย"
TITLE_EN = "stop-and-go below 25 % of the free-flow speed, then the queue clears"
KINDS = ("traffic",)
PHASES = ("building", "holding", "easing")
TIMELINE = Timeline(onset_s=120, hold_s=1080, recovery_s=120)
JAM_RATIO = 0.12  # speed / free flow in the hold, 0.09-0.15: well inside stop-and-go (< 0.25)
JAM_OCCUPANCY_PCT = 75.0  # a queue standing on the detector
JAM_FLOW = 0.35  # vehicles per interval as a share of capacity: a queue discharging slowly
CLASS_SHARES = {"motorcycle": 0.55, "bus": 0.02, "truck": 0.08}  # the rest are cars


def free_flow(target: Target) -> float:
    """The detector's registered free-flow speed (thresholds.speed.free_flow), else the model's."""
    given = target.sensor.thresholds.get("speed", {}).get("free_flow")
    return given if given else free_speed(target.sim)


def choose(candidates: Sequence[Target]) -> list[Target]:
    """The one detector on the busiest road: the most vehicles per interval, then the fastest
    free flow, then the first by id."""
    if not candidates:
        return []
    ordered = sorted(candidates, key=lambda c: c.id)
    return [max(ordered, key=lambda c: (capacity(c.sim), free_flow(c)))]


def timeline(targets: Sequence[Target]) -> Timeline:
    return TIMELINE


def readings(target: Target, t: float, normal: dict[str, float]) -> dict[str, float]:
    """Speed and flow fall, occupancy climbs, `intensity` of the way to a standing queue."""
    k = target.timeline.intensity(t)
    if not k or "speed" not in normal:
        return normal
    wobble = smooth_noise(f"jam-{target.id}", t, 60)
    out = dict(normal)
    jam_speed = free_flow(target) * (JAM_RATIO + 0.03 * wobble)
    out["speed"] = round(min(normal["speed"], blend(normal["speed"], jam_speed, k)), 1)
    if "occupancy" in normal:
        queue = JAM_OCCUPANCY_PCT + 5 * wobble
        out["occupancy"] = round(max(normal["occupancy"], blend(normal["occupancy"], queue, k)), 1)
    if "count" in normal:
        count = round(blend(normal["count"], capacity(target.sim) * JAM_FLOW, k))
        out["count"] = float(count)
        out.update(_classes(count, normal))
    return out


def _classes(count: int, normal: dict[str, float]) -> dict[str, float]:
    """Class counts summing to `count`, for the classes the detector reports."""
    shares = {name: round(count * share) for name, share in CLASS_SHARES.items()}
    out = {name: float(n) for name, n in shares.items() if name in normal}
    if "car" in normal:
        out["car"] = float(max(0, count - sum(shares.values())))
    return out
