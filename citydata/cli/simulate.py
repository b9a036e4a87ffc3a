"""`citydata simulate`: publish readings of a simulated fleet (Lam Phaya, or a fleet file)."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING, Any

from citydata.cli._common import stop_on_signals

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings
    from simulators.sensor import SimSensor


def add_commands(subparsers: Subparsers) -> None:
    # The simulator imports the parser needs: the formats --format offers, the scenarios.
    from simulators.encoders import all_encoders

    p = subparsers.add_parser(
        "simulate",
        help="publish readings of the simulated Lam Phaya fleet",
        description="Publish one reading per simulated sensor every --interval simulated "
        "seconds over MQTT (QoS 1): in real time (default), --speed N times faster, or "
        "--backfill-days N of history as fast as the broker acknowledges, then exit.",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=None,
        help="simulated seconds between readings (5; 900 for a backfill)",
    )
    p.add_argument("--rounds", type=int, default=None, help="stop after N rounds (forever)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--kind", action="append", help="only sensors of this kind (repeatable)")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second, e.g. 1440 = a day a minute (1); the collector "
        "refuses readings more than CITYDATA_COLLECTOR_MAX_FUTURE_S ahead, so start in the past",
    )
    p.add_argument(
        "--start", help="simulated start time, ISO 8601 with a zone, e.g. 2026-01-01T00:00+07:00"
    )
    p.add_argument(
        "--backfill-days",
        type=float,
        default=None,
        help="publish the last N days with their timestamps, as fast as acknowledged, then exit",
    )
    p.add_argument(
        "--fleet", help="YAML fleet file: sensors, zone, format, faults (built-in Lam Phaya)"
    )
    p.add_argument(
        "--format",
        choices=sorted(all_encoders()),
        help="publish every sensor in this payload format (native, or the fleet file's)",
    )
    p.add_argument(
        "--fault",
        action="append",
        metavar="NAME=RATE",
        help="inject a fault at a per-message rate, overriding the fleet file (repeatable): "
        "dropout, stuck, spike, drift, malformed, duplicate, skew, burst, silent; skew_s=S",
    )
    p.add_argument(
        "--load",
        type=int,
        metavar="N",
        help="benchmark: N synthetic sensors (load-<kind>-NNNNN) at --rate messages/s for "
        "--duration s, then report the achieved rate and publish-to-PUBACK latency",
    )
    p.add_argument("--rate", type=float, default=100.0, help="load: messages per second (100)")
    p.add_argument("--duration", type=float, default=10.0, help="load: seconds (10)")
    p.add_argument(
        "--register",
        action="store_true",
        help="first add the simulated sensors to the sensor registry (or update them)",
    )
    _add_scenario_options(p)
    p.set_defaults(func=cmd_simulate)


def _add_scenario_options(p: argparse.ArgumentParser) -> None:
    from simulators.scenarios import all_scenarios

    scenarios = all_scenarios()
    g = p.add_argument_group(
        "scenarios",
        "Play an episode over the fleet's readings in real time, through the real pipeline, "
        "and exit a few minutes after it is over; the live simulator of citydata local leaves "
        "the sensors a scenario publishes to it meanwhile (docs/simulators.md, Scenarios).",
    )
    g.add_argument(
        "--scenario",
        choices=sorted(scenarios),
        help="; ".join(f"{n}: {scenarios[n].title_en}" for n in sorted(scenarios)).replace(
            "%", "%%"
        ),
    )
    g.add_argument(
        "--scenario-minutes",
        type=float,
        metavar="M",
        help="the episode lasts M minutes, its phases in proportion (each scenario's own: "
        "haze 14, flood 20, jam 22, outage the sensor's offline limit + 3)",
    )
    g.add_argument(
        "--scenario-history",
        type=float,
        default=0.0,
        metavar="H",
        help="first publish the H hours before the start as they are at the episode's peak, "
        "with their timestamps (0; for haze 24 makes the next whole hour's AQI level 5)",
    )
    g.add_argument(
        "--sensor",
        action="append",
        metavar="ID",
        help="the sensor the scenario affects (repeatable; default: the scenario's choice)",
    )
    g.add_argument("--zone", help="affect only sensors of this registry zone")
    g.add_argument(
        "--whole-fleet",
        action="store_true",
        help="also publish the sensors the scenario leaves alone, normally (when no live "
        "simulator runs beside this command)",
    )


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict, replace
    from datetime import datetime

    from citydata.cli.simulate_scenario import check_options
    from citydata.settings import absolute_path
    from simulators.faults import FaultRates, describe
    from simulators.fleetfile import FleetSpec, load_fleet
    from simulators.publisher import publish_fleet

    try:
        spec = load_fleet(absolute_path(args.fleet)) if args.fleet else FleetSpec()
        overrides = dict(f.split("=", 1) for f in args.fault or [])
        faults = FaultRates.from_mapping({**asdict(spec.faults), **overrides})
        start = datetime.fromisoformat(args.start).timestamp() if args.start else None
        check_options(args)
    except ValueError as exc:
        print(f"citydata simulate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"citydata simulate: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.load:
        from simulators.load import synthetic_fleet

        spec = replace(spec, sensors=tuple(synthetic_fleet(args.load)))
    sensors = [
        replace(s, format=args.format or s.format)
        for s in spec.sensors
        if not args.kind or s.kind in args.kind
    ]
    if any(s.format != "native" for s in sensors):
        from simulators.encoders import routes_for

        routes = routes_for({s.format for s in sensors}, {s.kind for s in sensors})
        text = json.dumps([r.model_dump(exclude_defaults=True) for r in routes])
        print(f"the collector reads these formats with CITYDATA_ROUTES='{text}'", file=sys.stderr)
    if args.register:
        from citydata.registry import Registry
        from simulators.registration import register_fleet

        with Registry.from_settings(settings) as registry:
            result = register_fleet(registry, sensors, spec.zone)
        print(f"registry: {result}")
    stop = stop_on_signals()
    if args.scenario:
        from citydata.cli.simulate_scenario import run_scenario

        return run_scenario(settings, args, spec, sensors, faults, stop)
    if args.load:
        return _load(settings, args, sensors, stop)
    common = {"seed": args.seed, "stop": stop, "faults": faults}
    if args.backfill_days:
        interval = args.interval or 900.0
        acked = _backfill(settings, args, sensors, interval, common)
        if acked is None:
            return 1
    else:
        interval = args.interval or 5.0
        acked = publish_fleet(
            settings,
            sensors,
            interval_s=interval,
            rounds=args.rounds,
            speed=args.speed,
            start=start,
            **common,
        )
    print(
        f"published {acked} readings from {len(sensors)} simulated sensors "
        f"(every {interval:g} s simulated; faults: {describe(faults)})"
    )
    return 0


def _load(
    settings: Settings, args: argparse.Namespace, sensors: list[SimSensor], stop: threading.Event
) -> int:
    from simulators.load import run_load

    report = run_load(
        settings, sensors, rate=args.rate, duration_s=args.duration, seed=args.seed, stop=stop
    )
    print(report)
    return 0 if report.acked == report.sent else 1


def _backfill(
    settings: Settings,
    args: argparse.Namespace,
    sensors: list[SimSensor],
    interval: float,
    common: dict[str, Any],
) -> int | None:
    """Readings the backfill published, or None when it failed or was stopped (said why)."""
    from simulators.progress import progress
    from simulators.publisher import NoSubscriber, backfill, backfill_size

    total = backfill_size(sensors, args.backfill_days, interval)
    try:
        with progress(total, f"backfill of {args.backfill_days:g} days") as update:
            acked = backfill(
                settings,
                sensors,
                days=args.backfill_days,
                interval_s=interval,
                progress=update,
                **common,
            )
    except NoSubscriber as exc:
        print(f"citydata simulate: {exc}; is a collector running?", file=sys.stderr)
        return None
    if common["stop"].is_set():
        print(f"backfill stopped after {acked} of {total} readings", file=sys.stderr)
        return None
    return acked
