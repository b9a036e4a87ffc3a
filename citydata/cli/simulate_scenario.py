"""`citydata simulate --scenario NAME`: an episode over the fleet's readings, then exit."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citydata.settings import Settings
    from simulators.faults import FaultRates
    from simulators.fleetfile import FleetSpec
    from simulators.scenarios import Plan, Target
    from simulators.sensor import SimSensor


SCENARIO_ONLY = ("scenario_minutes", "sensor", "zone", "whole_fleet")
NOT_WITH_SCENARIO = ("backfill_days", "load", "start")


def check_options(args: argparse.Namespace) -> None:
    """ValueError when scenario options come without --scenario, or with a mode they exclude."""

    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    if not args.scenario:
        given = [flag(n) for n in SCENARIO_ONLY if getattr(args, n)] + (
            ["--scenario-history"] if args.scenario_history else []
        )
        if given:
            raise ValueError(f"{', '.join(given)} only go with --scenario")
        return
    clash = [flag(n) for n in NOT_WITH_SCENARIO if getattr(args, n)]
    if args.speed != 1:
        clash.append("--speed")
    if clash:
        raise ValueError(f"--scenario runs in real time from now; drop {', '.join(clash)}")
    if args.scenario_history < 0:
        raise ValueError("--scenario-history must be 0 or more hours")


def run_scenario(
    settings: Settings,
    args: argparse.Namespace,
    spec: FleetSpec,
    sensors: list[SimSensor],
    faults: FaultRates,
    stop: threading.Event,
) -> int:
    import time

    from simulators.publisher import NoSubscriber
    from simulators.scenarios import ScenarioError, all_scenarios, clock, plan
    from simulators.scenarios._publish import episode_rounds, publish_episode

    scenario = all_scenarios()[args.scenario]
    try:
        chosen = plan(
            scenario,
            _targets(settings, spec, sensors),
            sensor_ids=args.sensor or (),
            zone=args.zone,
            minutes=args.scenario_minutes,
        ).at(time.time(), args.seed)
    except ScenarioError as exc:
        print(f"citydata simulate: {exc}", file=sys.stderr)
        return 2
    interval = args.interval or 5.0
    print(f"{scenario.title_th}\n{scenario.name}: {scenario.title_en}", flush=True)
    try:
        if args.scenario_history and _history(settings, args, chosen, interval, stop) is None:
            return 1
        chosen = chosen.at(time.time(), args.seed)
        rounds = episode_rounds(chosen, interval)
        rounds = min(rounds, args.rounds) if args.rounds is not None else rounds
        print(
            f"{chosen.describe()}; normal readings after, exiting at "
            f"{clock(chosen.start + (rounds - 1) * interval)}",
            flush=True,
        )
        for note in scenario.notes(list(chosen.targets.values()), args.scenario_history):
            print(f"  {note}", flush=True)
        published = sensors if args.whole_fleet else [t.sim for t in chosen.targets.values()]
        acked = publish_episode(
            settings,
            chosen,
            published,
            interval_s=interval,
            rounds=rounds,
            seed=args.seed,
            stop=stop,
            faults=faults,
        )
    except NoSubscriber as exc:
        print(f"citydata simulate: {exc}; is a collector running?", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # paho: the broker went away under a publish
        print(f"citydata simulate: the broker went away ({exc}); stopping", file=sys.stderr)
        return 1
    n = len(published)
    print(f"{scenario.name}: published {acked} readings from {n} sensor{'' if n == 1 else 's'}")
    return 0


def _history(
    settings: Settings,
    args: argparse.Namespace,
    chosen: Plan,
    interval: float,
    stop: threading.Event,
) -> int | None:
    """Readings the history published, or None when it was stopped (said so)."""
    from simulators.progress import progress
    from simulators.scenarios._publish import history_times, publish_history

    hours = args.scenario_history
    total = len(history_times(chosen, hours, interval)) * len(chosen.targets)
    with progress(total, f"the {hours:g} h before at the peak") as update:
        acked = publish_history(
            settings,
            chosen,
            hours=hours,
            interval_s=interval,
            seed=args.seed,
            stop=stop,
            progress=update,
        )
    if stop.is_set():
        print(f"history stopped after {acked} of {total} readings", file=sys.stderr)
        return None
    return acked


def _targets(settings: Settings, spec: FleetSpec, sensors: list[SimSensor]) -> list[Target]:
    """The fleet's sensors with their registry entries (thresholds, zone, offline limit): the
    registry's when it has them, else as `--register` would enter them."""
    from citydata.registry import Registry, RegistryError
    from simulators.registration import registry_entries
    from simulators.scenarios import Target

    entries = {e.id: e for e in registry_entries(sensors, spec.zone)}
    try:
        with Registry.from_settings(settings) as registry:
            entries.update({k: v for k, v in registry.snapshot().items() if k in entries})
    except RegistryError as exc:
        print(f"(the registry is out of reach, using the fleet's own thresholds: {exc})")
    return [Target(s, entries[s.sensor_id]) for s in sensors]
