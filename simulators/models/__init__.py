"""Models of each kind's readings: pure functions of (sensor, time, random state) within bounds.

One module per kind (`air`, `water`, `traffic`), each defining `KIND` (the kind's name) and
`readings(sensor, t, rng)`; the package discovers them, so nothing else lists the models. A kind
with no model gets the generic one, so a newly registered kind simulates at once. Shared weather
(haze, storms) is a function of time only, so every station sees the same region and a seed
reproduces a run exactly.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from functools import cache

from citydata.kinds import all_kinds
from simulators.models._common import Model, daily
from simulators.sensor import SimSensor

__all__ = ["Model", "all_models", "generic", "model_for"]


@cache
def all_models() -> dict[str, Model]:
    """Every model by kind name, discovered from this package's modules."""
    models: dict[str, Model] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):  # shared helpers, not a model
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if not isinstance(kind, str) or not callable(getattr(module, "readings", None)):
            raise TypeError(f"{module.__name__} must define KIND and readings()")
        if kind in models:
            raise ValueError(f"kind {kind!r} modelled twice")
        models[kind] = module.readings
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
