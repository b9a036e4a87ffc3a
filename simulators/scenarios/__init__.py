"""Scenarios: episodes (haze, flood, jam, outage) laid over the fleet's model readings.

One module per scenario, defining `NAME`, `TITLE_TH` and `TITLE_EN` (what it shows), `KINDS`
(the kinds it may affect; empty for any), `PHASES` (words for its onset, hold and recovery),
`timeline(targets)` (its default `Timeline`), `choose(candidates)` (the sensors it affects
unless the operator names them) and `readings(target, t_since_start_s, normal)` (the readings
at that moment, or None for silence); optionally `notes(targets, history_h)` (lines the command
prints). The package discovers the modules (those not starting with `_`), so a new scenario is
one module and its test. docs/simulators.md tells the operator's side.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from itertools import pairwise

from citydata.aqi import ICT
from citydata.discovery import discover
from simulators.models import model_for
from simulators.scenarios._common import Target, Timeline
from simulators.sensor import SimSensor

__all__ = [
    "Plan",
    "Scenario",
    "ScenarioError",
    "Target",
    "Timeline",
    "all_scenarios",
    "clock",
    "plan",
]

Readings = Callable[[Target, float, dict[str, float]], dict[str, float] | None]
Notes = Callable[[Sequence[Target], float], list[str]]


class ScenarioError(ValueError):
    """The scenario cannot run on these sensors (none to affect, an unknown or wrong sensor)."""


@dataclass(frozen=True)
class Scenario:
    """One scenario module, as the command uses it."""

    name: str
    title_th: str
    title_en: str
    kinds: tuple[str, ...]
    phases: tuple[str, str, str]
    timeline: Callable[[Sequence[Target]], Timeline]
    choose: Callable[[Sequence[Target]], list[Target]]
    readings: Readings
    notes: Notes


def _no_notes(targets: Sequence[Target], history_h: float) -> list[str]:
    return []


@cache
def all_scenarios() -> dict[str, Scenario]:
    """Every scenario by name, discovered from this package's modules."""
    modules = discover(__name__, __path__, "NAME", ("timeline", "choose", "readings"), "scenario")
    return {
        name: Scenario(
            name,
            str(getattr(m, "TITLE_TH", name)),
            str(getattr(m, "TITLE_EN", name)),
            tuple(getattr(m, "KINDS", ())),
            tuple(getattr(m, "PHASES", ("onset", "holding", "recovering"))),
            m.timeline,
            m.choose,
            m.readings,
            getattr(m, "notes", _no_notes),
        )
        for name, m in modules.items()
    }


@dataclass(frozen=True)
class Plan:
    """A scenario on its sensors from `start` (epoch s) along `timeline`."""

    scenario: Scenario
    targets: Mapping[str, Target]  # by sensor id
    timeline: Timeline
    start: float

    def at(self, start: float, seed: int = 0) -> Plan:
        """The plan starting at `start`, each target's baseline its model's readings then."""
        rng = random.Random(seed)
        targets = {
            sid: replace(t, baseline=model_for(t.sim.kind)(t.sim, start, rng))
            for sid, t in self.targets.items()
        }
        return replace(self, targets=targets, start=start)

    def overlay(
        self, sim: SimSensor, t: float, normal: dict[str, float]
    ) -> dict[str, float] | None:
        """The sensor's readings at epoch time `t`: the scenario's for a target, else normal."""
        target = self.targets.get(sim.sensor_id)
        if target is None:
            return normal
        return self.scenario.readings(target, t - self.start, normal)

    def at_peak(
        self, sim: SimSensor, t: float, normal: dict[str, float]
    ) -> dict[str, float] | None:
        """The readings at time `t` as they are at the episode's peak (for a history)."""
        target = self.targets.get(sim.sensor_id)
        if target is None:
            return normal
        return self.scenario.readings(target, self.timeline.peak_s, normal)

    def describe(self) -> str:
        """E.g. 'haze at 10 air sensors: rising 12:01:05-12:03:05, holding to 12:13:05, clearing
        to 12:15:05 ICT' (a phase of no length left out)."""
        tl = self.timeline
        edges = [0.0, tl.onset_s, tl.onset_s + tl.hold_s, tl.end_s]
        parts: list[str] = []
        for word, (a, b) in zip(self.scenario.phases, pairwise(edges), strict=True):
            if b > a:
                since, until = clock(self.start + a), clock(self.start + b)
                parts.append(f"{word} to {until}" if parts else f"{word} {since}-{until}")
        who = _who(list(self.targets.values()))
        return f"{self.scenario.name} at {who}: {', '.join(parts)} ICT"


def clock(t: float) -> str:
    """`t` (epoch s) as HH:MM:SS in ICT."""
    return datetime.fromtimestamp(t, ICT).strftime("%H:%M:%S")


def _who(targets: list[Target]) -> str:
    if len(targets) <= 3:
        return ", ".join(f"{t.id} ({t.sim.name_en})" for t in targets)
    kinds = sorted({t.sim.kind for t in targets})
    return f"{len(targets)} {'/'.join(kinds)} sensors"


def plan(
    scenario: Scenario,
    candidates: Sequence[Target],
    *,
    sensor_ids: Sequence[str] = (),
    zone: str | None = None,
    minutes: float | None = None,
) -> Plan:
    """The sensors `scenario` affects among `candidates` and its timeline (starting at 0 until
    `Plan.at` sets the start): the named sensors, else the scenario's choice among those of its
    kinds (in `zone` if given); `minutes` stretches or shrinks the episode to that length."""
    kinds = scenario.kinds
    pool = [c for c in candidates if (not kinds or c.sim.kind in kinds)]
    pool = [c for c in pool if zone is None or c.sensor.zone == zone]
    if sensor_ids:
        chosen = [_named(scenario, candidates, pool, sid) for sid in dict.fromkeys(sensor_ids)]
    else:
        chosen = scenario.choose(pool)
    if not chosen:
        where = f" in zone {zone!r}" if zone else ""
        raise ScenarioError(f"{scenario.name}: no sensor to affect{where} ({scenario.title_en})")
    timeline = scenario.timeline(chosen)
    if minutes is not None:
        if not minutes > 0:
            raise ScenarioError(f"--scenario-minutes must be positive, not {minutes:g}")
        timeline = timeline.scaled(minutes)
    targets = {c.id: replace(c, timeline=timeline) for c in chosen}
    return Plan(scenario, targets, timeline, 0.0)


def _named(
    scenario: Scenario, candidates: Sequence[Target], pool: list[Target], sid: str
) -> Target:
    found = {c.id: c for c in pool}.get(sid)
    if found is not None:
        return found
    known = {c.id: c for c in candidates}.get(sid)
    if known is None:
        raise ScenarioError(f"sensor {sid!r} is not in the simulated fleet")
    if scenario.kinds and known.sim.kind not in scenario.kinds:
        raise ScenarioError(
            f"{scenario.name} affects {'/'.join(scenario.kinds)} sensors; "
            f"{sid} is a {known.sim.kind} sensor"
        )
    raise ScenarioError(f"{sid} is in zone {known.sensor.zone!r}, not the zone asked for")
