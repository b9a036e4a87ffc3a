"""The `citydata` command: one subcommand per program, all sharing the CITYDATA_* settings."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from citydata.logs import setup_logging
from citydata.registry.cli import add_commands
from citydata.registry.keys_cli import add_commands as add_key_commands
from citydata.settings import ConfigError, Settings, absolute_path, load_settings

SETTINGS_HELP = """settings come from CITYDATA_* environment variables and the TOML file named by
CITYDATA_CONFIG; docs/settings.md explains each one. The ones shared by every program:
  CITYDATA_MQTT_URL      mqtt://user:pass@host:1883 (mqtts:// for TLS)
  CITYDATA_INFLUX_URL    http://host:8086
  CITYDATA_INFLUX_DB     database (default citydata)
  CITYDATA_DATA_DIR      dead letters, spool, registry (default ./var)"""


def cmd_collector(settings: Settings, args: argparse.Namespace) -> int:
    from collector.pipeline import route_problems
    from collector.service import Collector

    problems = route_problems(settings.routes)
    if problems:
        print(f"citydata: {ConfigError(problems)}", file=sys.stderr)
        return 2
    if args.check_config:
        print("configuration OK")
        return 0
    return Collector(settings).run()


def cmd_db_init(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.influx import InfluxClient

    with InfluxClient.from_settings(settings) as client:
        client.create_database()
    print(f"database {settings.influx_db!r} ready at {settings.influx_url}")
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    import json
    import signal
    from dataclasses import asdict, replace
    from datetime import datetime

    from simulators.faults import FaultRates, describe
    from simulators.fleetfile import FleetSpec, load_fleet
    from simulators.progress import progress
    from simulators.publisher import NoSubscriber, backfill, backfill_size, publish_fleet

    try:
        spec = load_fleet(absolute_path(args.fleet)) if args.fleet else FleetSpec()
        overrides = dict(f.split("=", 1) for f in args.fault or [])
        faults = FaultRates.from_mapping({**asdict(spec.faults), **overrides})
        start = datetime.fromisoformat(args.start).timestamp() if args.start else None
    except ValueError as exc:
        print(f"citydata simulate: {exc}", file=sys.stderr)
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
        from simulators.formats import routes_for

        routes = routes_for({s.format for s in sensors}, {s.kind for s in sensors})
        text = json.dumps([r.model_dump(exclude_defaults=True) for r in routes])
        print(f"the collector reads these formats with CITYDATA_ROUTES='{text}'", file=sys.stderr)
    if args.register:
        from citydata.registry import Registry
        from simulators.fleet import register_fleet

        with Registry.from_settings(settings) as registry:
            result = register_fleet(registry, sensors, spec.zone)
        print(f"registry: {result}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.load:
        from simulators.load import run_load

        report = run_load(
            settings, sensors, rate=args.rate, duration_s=args.duration, seed=args.seed, stop=stop
        )
        print(report)
        return 0 if report.acked == report.sent else 1
    common = {"seed": args.seed, "stop": stop, "faults": faults}
    if args.backfill_days:
        interval = args.interval or 900.0
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
            return 1
        if stop.is_set():
            print(f"backfill stopped after {acked} of {total} readings", file=sys.stderr)
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


def _dead_letter_filter(args: argparse.Namespace) -> Callable[[dict[str, Any]], bool]:
    """The records a `deadletters` command selects by --reason, --topic, --sensor (the last
    topic level, or a sensor named in the record's errors, as device formats carry the id in
    the payload) and --id; the same selection as the API's /operations/deadletters."""
    from collector.deadletter import Selection

    return Selection(
        reasons=args.reason or (),
        topic=args.topic,
        sensors=args.sensor or (),
        ids=args.id or (),
    )


def cmd_deadletters_list(settings: Settings, args: argparse.Namespace) -> int:
    from collector.deadletter import DeadLetterStore, record_id

    wanted = _dead_letter_filter(args)
    shown = 0
    for rec in DeadLetterStore(settings.data_dir):
        if wanted(rec):
            print(
                f"{record_id(rec)}  {rec['time']}  {rec['reason']:<16} {rec['topic'] or '-'}  "
                f"{'; '.join(rec['errors'])[:160]}"
            )
            shown += 1
            if args.limit and shown >= args.limit:
                break
    print(f"{shown} dead letter(s)", file=sys.stderr)
    return 0


def cmd_deadletters_replay(settings: Settings, args: argparse.Namespace) -> int:
    from collector.deadletter import DeadLetterStore
    from collector.replay import replay, replayable

    wanted = _dead_letter_filter(args)
    if args.dry_run:
        n = sum(1 for rec in DeadLetterStore(settings.data_dir) if replayable(rec) and wanted(rec))
        print(f"would replay {n} dead letter(s)")
        return 0
    try:
        n = replay(settings, wanted)
    except (ConnectionError, TimeoutError) as exc:
        print(f"citydata deadletters replay: {exc}; the dead letters stay", file=sys.stderr)
        return 1
    print(f"replayed {n} dead letter(s); moved to {settings.data_dir / 'deadletter' / 'replayed'}")
    return 0


def cmd_local(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.local import run_local

    return run_local(
        settings,
        args.mqtt_port,
        args.influx_port,
        args.api_port,
        args.interval,
        backfill_days=args.backfill_days,
    )


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    uvicorn.run(
        create_app(settings), host=args.host, port=args.port, log_level=settings.log_level.lower()
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citydata",
        description="City data platform: MQTT sensors into InfluxDB.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "collector",
        help="ingest MQTT readings into InfluxDB",
        description="Subscribe to the broker, validate readings, store them in "
        "InfluxDB, dead-letter invalid messages. Stops cleanly on SIGTERM/SIGINT.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--check-config", action="store_true", help="validate the settings and exit (0 when valid)"
    )
    p.set_defaults(func=cmd_collector)

    p = sub.add_parser("db", help="database administration")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    p = dbsub.add_parser("init", help="create the InfluxDB database (safe to repeat)")
    p.set_defaults(func=cmd_db_init)

    from simulators.formats import ENCODERS

    p = sub.add_parser(
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
        choices=sorted(ENCODERS),
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
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "local",
        help="run the platform locally with simulated sensors",
        description="Start Mosquitto and InfluxDB under CITYDATA_DATA_DIR/local, "
        "the collector and the HTTP API; on a first start backfill the simulated fleet's "
        "last days, then run the simulator live. Ctrl-C stops everything.",
    )
    p.add_argument("--mqtt-port", type=int, default=11883, help="Mosquitto port (11883)")
    p.add_argument("--influx-port", type=int, default=18086, help="InfluxDB port (18086)")
    p.add_argument("--api-port", type=int, default=18000, help="HTTP API port (18000)")
    p.add_argument("--interval", type=float, default=5.0, help="simulator interval (5 s)")
    p.add_argument(
        "--backfill-days",
        type=float,
        default=2.0,
        help="on a first start (no readings yet), first publish the fleet's last N days "
        "through the collector (2; 0 for none)",
    )
    p.set_defaults(func=cmd_local)

    p = sub.add_parser("deadletters", help="inspect and replay dead letters")
    dsub = p.add_subparsers(dest="dl_command", required=True, metavar="ACTION")
    for name, func, text in (
        ("list", cmd_deadletters_list, "print dead letters, oldest first"),
        (
            "replay",
            cmd_deadletters_replay,
            "publish dead letters to the broker again (with their first receive time), e.g. "
            "after registering a sensor or fixing a route; replayed ones move to "
            "deadletter/replayed/, and whatever fails again is dead-lettered anew",
        ),
    ):
        d = dsub.add_parser(name, help=text, description=text)
        d.add_argument(
            "--reason",
            action="append",
            help="only this reason code, e.g. unregistered (repeatable)",
        )
        d.add_argument("--topic", help="only topics starting with this")
        d.add_argument("--sensor", action="append", help="only this sensor id (repeatable)")
        d.add_argument(
            "--id", action="append", help="only this dead letter (the first column of list)"
        )
        if name == "list":
            d.add_argument("--limit", type=int, default=0, help="print at most N")
        else:
            d.add_argument("--dry-run", action="store_true", help="only count what would go")
        d.set_defaults(func=func)

    p = sub.add_parser(
        "api",
        help="serve the HTTP API (sensors, readings, exports, Thai indices, ingestion, operations)",
        description="Serve the HTTP API with uvicorn until SIGTERM/SIGINT. The OpenAPI "
        "documentation is at /docs; errors are answered as application/problem+json.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (127.0.0.1; 0.0.0.0 for all)"
    )
    p.add_argument("--port", type=int, default=8000, help="TCP port to listen on (8000)")
    p.set_defaults(func=cmd_api)

    add_commands(sub)
    add_key_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"citydata: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings)
    result: int = args.func(settings, args)
    return result
