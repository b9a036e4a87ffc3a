"""`citydata derive`: the derived-series service (station judgments written back as series)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from citydata.cli._common import SETTINGS_HELP, stop_on_signals

if TYPE_CHECKING:
    from alerts.service import AlertsService
    from citydata.cli._common import Subparsers
    from citydata.derived.deriver import Deriver
    from citydata.influx import InfluxClient
    from citydata.registry import Registry
    from citydata.settings import Settings

log = logging.getLogger(__name__)
_NS = 1_000_000_000

DESCRIPTION = """Judge every registered station through citydata (the Thai AQI of air stations,
water levels against their thresholds, traffic congestion, and a snapshot of every station for
maps) and write the judgments to InfluxDB as the series of docs/derived.md: city_aqi on each
whole hour, city_water, city_traffic and city_station every whole minute. Recomputing a time
writes the same points. Runs until SIGINT or SIGTERM; a failing cycle (InfluxDB down) is logged
and tried again the next minute. Started again after being stopped (up to 2 days), it first
fills the gap since its last points, every 5 minutes, so the series have no hole."""


@dataclass(frozen=True)
class Since:
    """--since: a duration before now, or a time (both epoch ns)."""

    ago_ns: int | None = None
    at_ns: int | None = None

    def resolve(self, now_ns: int) -> int:
        return now_ns - self.ago_ns if self.ago_ns is not None else self.at_ns or 0


def since_arg(text: str) -> Since:
    """2d, 36h, 90m ... or an RFC 3339 time with a zone."""
    from citydata.timeutil import parse_duration, parse_rfc3339

    try:
        return Since(ago_ns=parse_duration(text))
    except ValueError:
        pass
    try:
        return Since(at_ns=parse_rfc3339(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text[:64]!r} is neither a duration (2d, 36h, 90m) "
            "nor an RFC 3339 time with a zone (2026-01-31T00:00:00Z)"
        ) from None


def step_arg(text: str) -> int:
    """A positive whole number of minutes, in seconds."""
    try:
        step = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text[:32]!r} is not a whole number of seconds"
        ) from None
    if step <= 0 or step % 60:
        raise argparse.ArgumentTypeError(f"{step} s is not a positive multiple of 60 s")
    return step


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "derive",
        help="write station judgments (AQI, water, traffic, map) as InfluxDB series",
        description=DESCRIPTION,
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--since",
        type=since_arg,
        metavar="DURATION|TIME",
        help="first backfill from this long ago (2d, 36h, 90m, 1h30m) or from this RFC 3339 "
        "time (2026-01-31T00:00:00Z) up to now: the AQI of every whole hour, the minute series "
        "every --step seconds; then go live",
    )
    p.add_argument(
        "--step",
        type=step_arg,
        default=60,
        metavar="SECONDS",
        help="with --since: judge the minute series every SECONDS of the backfill, a multiple "
        "of 60 (default 60: every minute; `citydata local` uses 300, the interval its "
        "simulator backfills at, about 4 times faster). Live, every minute is judged",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="do one cycle (the current minute and the AQI of the current and previous hour) "
        "and exit; with --since, only the backfill. Exit status 1 when it failed",
    )
    p.add_argument(
        "--alerts",
        action="store_true",
        help="also evaluate the alert rules after each cycle and deliver their messages (the "
        "alerts service in this process: each station judged once for both; see "
        "`citydata alerts run --help`)",
    )
    p.set_defaults(func=cmd_derive)


def _backfill(deriver: Deriver, since_ns: int, step_s: int, stop: threading.Event) -> int:
    from citydata.derived.backfill import backfill
    from citydata.influx import InfluxError

    now_ns = time.time_ns()
    try:
        done = backfill(deriver, since_ns, now_ns, step_s, stop)
    except InfluxError as exc:
        print(f"citydata derive: the backfill failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"backfilled the derived series: {done.hours} hours of AQI, {done.minutes} minutes "
        f"every {step_s} s, {done.points} points in {done.seconds:.1f} s",
        flush=True,
    )
    return 0


def live(
    deriver: Deriver, once: bool, stop: threading.Event, service: AlertsService | None = None
) -> int:
    """The cycles, every whole minute until `stop` (one with `once`), with the alerts
    evaluated after each when `service` is given."""
    from citydata.derived.deriver import MINUTE_NS, floor_to
    from citydata.derived.schedule import Loop, run

    if service is None:
        loop = Loop(deriver)
    else:
        loop = Loop(
            deriver, after=[service.evaluator.after_cycle], failed=[service.evaluator.failed_cycle]
        )
    if once:
        done = loop.step(floor_to(time.time_ns(), MINUTE_NS))
        if service is not None:
            for channel in service.senders:
                service.dispatcher.deliver(channel)
        return 0 if done is not None else 1
    halfway = None
    if service is not None:
        service.start(stop)
        evaluator = service.evaluator

        def halfway(at_ns: int) -> object:  # the alerts look again between two minutes
            return evaluator.look(deriver.judge_at(at_ns))

    log.info("derived series: a cycle every whole minute, the AQI on each whole hour")
    run(loop, time.time_ns, stop.wait, halfway)
    return 0


def alerts_service(
    settings: Settings, influx: InfluxClient, registry: Registry
) -> AlertsService | None:
    """The alerts service, or None (printed why) when its rules file is invalid."""
    from alerts.service import build
    from citydata.alerts.rules import RulesError

    try:
        return build(settings, influx, registry)
    except RulesError as exc:
        print(f"citydata: {exc}", file=sys.stderr)
        return None


def cmd_derive(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.derived.deriver import Deriver
    from citydata.influx import InfluxClient
    from citydata.registry import Registry

    since_ns = args.since.resolve(time.time_ns()) if args.since else None
    if since_ns is not None and since_ns >= time.time_ns():
        print("citydata derive: --since is not in the past", file=sys.stderr)
        return 2
    stop = stop_on_signals()
    with InfluxClient.from_settings(settings) as influx, Registry.from_settings(settings) as reg:
        service = alerts_service(settings, influx, reg) if args.alerts else None
        if args.alerts and service is None:
            return 2
        deriver = Deriver(influx, reg, settings.aqi_above_200)
        try:
            if since_ns is not None:
                status = _backfill(deriver, since_ns, args.step, stop)
                if status or args.once or stop.is_set():
                    return status
            elif not args.once:
                _catch_up(deriver, stop)
            return live(deriver, args.once, stop, service)
        finally:
            if service is not None:
                service.close()


def _catch_up(deriver: Deriver, stop: threading.Event) -> None:
    """Fill the gap since the last points written (the service was stopped), if any."""
    from citydata.derived.backfill import CATCH_UP_STEP_S, catch_up_since
    from citydata.influx import InfluxError
    from citydata.timeutil import as_datetime

    try:
        since_ns = catch_up_since(deriver.influx, time.time_ns())
    except InfluxError as exc:  # the live loop logs and retries; no gap to know of yet
        log.warning("cannot look for a gap in the derived series: %s", exc)
        return
    if since_ns is not None:
        log.info("filling the derived series since %s", as_datetime(since_ns).isoformat())
        _backfill(deriver, since_ns, CATCH_UP_STEP_S, stop)
