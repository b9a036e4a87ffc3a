"""What the scenario modules share: an episode's timeline and the sensors it affects."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from citydata.registry import Sensor
from simulators.sensor import SimSensor

Phase = Literal["before", "onset", "hold", "recovery", "after"]


@dataclass(frozen=True, slots=True)
class Timeline:
    """An episode in seconds from its start: the onset (ramping up), the hold (at its peak) and
    the recovery (ramping down); normal readings before and after."""

    onset_s: float
    hold_s: float
    recovery_s: float

    @property
    def end_s(self) -> float:
        return self.onset_s + self.hold_s + self.recovery_s

    @property
    def peak_s(self) -> float:
        """A moment in the middle of the hold, where the episode is at its peak."""
        return self.onset_s + self.hold_s / 2

    def scaled(self, minutes: float) -> Timeline:
        """The same shape lasting `minutes` in all."""
        k = minutes * 60 / self.end_s
        return Timeline(self.onset_s * k, self.hold_s * k, self.recovery_s * k)

    def phase(self, t: float) -> Phase:
        """Where `t` seconds after the start falls; each phase includes its start."""
        if t < 0:
            return "before"
        if t < self.onset_s:
            return "onset"
        if t < self.onset_s + self.hold_s:
            return "hold"
        return "recovery" if t < self.end_s else "after"

    def intensity(self, t: float) -> float:
        """0 outside the episode, 1 in the hold, a smooth (cosine) ramp in between."""
        match self.phase(t):
            case "onset":
                return _ease(t / self.onset_s)
            case "hold":
                return 1.0
            case "recovery":
                return _ease((self.end_s - t) / self.recovery_s)
            case _:
                return 0.0


def _ease(x: float) -> float:
    return (1 - math.cos(math.pi * x)) / 2


@dataclass(frozen=True, slots=True)
class Target:
    """A sensor a scenario may affect: the simulated device, its registry entry (thresholds,
    zone, offline limit), and once chosen the episode's timeline and the sensor's normal
    readings at the start (`baseline`)."""

    sim: SimSensor
    sensor: Sensor
    timeline: Timeline = Timeline(0.0, 0.0, 0.0)
    baseline: Mapping[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.sim.sensor_id


def blend(normal: float, peak: float, k: float) -> float:
    """`k` of the way from the normal value to the peak."""
    return normal + k * (peak - normal)
