"""Models of each kind's readings: pure functions of (sensor, time, random state) within bounds.

One module per kind (`air`, `water`, `traffic`), each defining `KIND` (the kind's name) and
`readings(sensor, t, rng)`; the package discovers them, so nothing else lists the models. A kind
with no model gets the generic one, so a newly registered kind simulates at once. Shared weather
(haze, storms) is a function of time only, so every station sees the same region and a seed
reproduces a run exactly.
"""

from __future__ import annotations

import random
from functools import cache

from citydata.discovery import discover
from citydata.kinds import all_kinds
from simulators.models._common import Model, daily
from simulators.sensor import SimSensor

__all__ = ["Model", "all_models", "generic", "model_for"]


@cache
def all_models() -> dict[str, Model]:
    """Every model by kind name, discovered from this package's modules."""
    modules = discover(__name__, __path__, "KIND", ("readings",), "kind")
    models: dict[str, Model] = {kind: module.readings for kind, module in modules.items()}
    return models


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
    return all_models().get(kind, generic)
