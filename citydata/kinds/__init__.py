"""The sensor-kind registry: every module in this package defines one `KIND`.

A new kind is one module here (`KIND = Kind(...)`) plus its test data; nothing else lists the
kinds. The collector, simulators and dashboards all read `all_kinds()`.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from functools import cache


@dataclass(frozen=True, slots=True)
class Metric:
    """One measured quantity: its unit and the physical bounds a real reading stays within."""

    name: str
    unit: str
    min: float
    max: float
    description: str = ""  # English; dashboards use it as the metric's English title
    title_th: str = ""  # Thai title for dashboards and pages

    def check(self, value: float) -> str | None:
        """None when `value` is plausible, else why not."""
        if not math.isfinite(value):
            return f"{self.name}={value} is not a finite number"
        if not self.min <= value <= self.max:
            return (
                f"{self.name}={value:g} outside [{self.min:g}, {self.max:g}] {self.unit}".rstrip()
            )
        return None


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of sensor, stored as one InfluxDB measurement named after it."""

    name: str
    description: str
    metrics: tuple[Metric, ...]
    title_en: str = ""  # short titles for dashboards and pages ("Air quality")
    title_th: str = ""
    # A sensor of this kind that has sent nothing for this long is reported offline.
    offline_after_s: float = 900.0
    by_name: dict[str, Metric] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {m.name: m for m in self.metrics})
        if len(self.by_name) != len(self.metrics):
            raise ValueError(f"kind {self.name}: duplicate metric names")


@cache
def all_kinds() -> dict[str, Kind]:
    """Every registered kind by name, discovered from this package's modules."""
    kinds: dict[str, Kind] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if not isinstance(kind, Kind):
            raise TypeError(f"{module.__name__} defines no KIND")
        if kind.name in kinds:
            raise ValueError(f"kind {kind.name!r} registered twice")
        kinds[kind.name] = kind
    return kinds


def get_kind(name: str) -> Kind | None:
    """The kind called `name`, or None."""
    return all_kinds().get(name)
