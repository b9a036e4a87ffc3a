"""Models of each kind's readings: pure functions of (sensor, time, random state) within bounds.

One module per kind (`air`, `water`, `traffic`); a kind with no model gets the generic one, so a
newly registered kind simulates at once. Shared weather (haze, storms) is a function of time
only, so every station sees the same region and a seed reproduces a run exactly.
"""

from __future__ import annotations

import random

from citydata.kinds import all_kinds
from simulators.fleet import SimSensor
from simulators.models._common import Model, daily
from simulators.models.air import air
from simulators.models.traffic import traffic
from simulators.models.water import water

__all__ = ["MODELS", "Model", "air", "generic", "model_for", "traffic", "water"]

MODELS: dict[str, Model] = {"air": air, "water": water, "traffic": traffic}


def generic(sensor: SimSensor, t: float, rng: random.Random) -> dict[str, float]:
    """For a kind with no model yet: each metric wanders in the lower part of its bounds."""
    out: dict[str, float] = {}
    for metric in all_kinds()[sensor.kind].metrics:
        span = metric.max - metric.min
        level = 0.1 + 0.05 * daily(t, 12) + rng.uniform(-0.01, 0.01)
        out[metric.name] = round(metric.min + span * level, 3)
    return out


def model_for(kind: str) -> Model:
    """The model of `kind`, or the generic one so a newly registered kind simulates at once."""
    return MODELS.get(kind, generic)
