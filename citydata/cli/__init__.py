"""The `citydata` command: one subcommand per program, all sharing the CITYDATA_* settings.

This package is the one place that wires the services together (import-linter lets only it
import `collector`, `api` and `simulators`). Each command group is a module with
`add_commands(subparsers)`; a command imports the services it runs when it runs, so
`citydata --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from citydata.cli import (
    alerts,
    api,
    backup,
    broker,
    collector,
    dashboards,
    db,
    deadletters,
    derive,
    keys,
    local,
    sensors,
    simulate,
)
from citydata.cli._common import SETTINGS_HELP

# In the order `citydata --help` lists them.
GROUPS = (
    collector,
    db,
    backup,
    simulate,
    local,
    deadletters,
    api,
    sensors,
    keys,
    broker,
    derive,
    alerts,
    dashboards,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citydata",
        description="City data platform: MQTT sensors into InfluxDB.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Settings validate database URLs with SQLAlchemy: loaded once a command runs, not for --help.
    from citydata.logs import setup_logging
    from citydata.settings import ConfigError, load_settings

    try:
        # `citydata local` (and, through local_run, what it starts) accepts placeholder secrets
        settings = load_settings(local_run=True) if args.command == "local" else load_settings()
    except ConfigError as exc:
        print(f"citydata: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings)
    result: int = args.func(settings, args)
    return result
