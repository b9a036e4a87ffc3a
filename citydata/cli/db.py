"""`citydata db`: database administration."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("db", help="database administration")
    sub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    p = sub.add_parser("init", help="create the InfluxDB database (safe to repeat)")
    p.set_defaults(func=cmd_db_init)


def cmd_db_init(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.influx import InfluxClient

    with InfluxClient.from_settings(settings) as client:
        client.create_database()
    print(f"database {settings.influx_db!r} ready at {settings.influx_url}")
    return 0
