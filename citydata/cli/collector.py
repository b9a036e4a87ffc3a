"""`citydata collector`: ingest MQTT readings into InfluxDB."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from citydata.cli._common import SETTINGS_HELP

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
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


def cmd_collector(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.settings import ConfigError
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
