"""`citydata db`: database administration."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings

INIT_HELP = """create the database, the retention policies (raw readings kept for
CITYDATA_INFLUX_RAW_RETENTION, hourly means for ever) and one continuous query per sensor kind
computing the hourly means; backfill the hourly means of readings already stored. Safe to
repeat: what is already as wanted is left alone. docs/retention.md explains it."""


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("db", help="database administration")
    sub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "init",
        help="create the database, retention policies and continuous queries (safe to repeat)",
        description=INIT_HELP,
    )
    p.add_argument(
        "--backfill",
        choices=("changed", "all", "none"),
        default="changed",
        help="compute hourly means from the stored raw readings: for kinds whose continuous "
        "query is new or changed (default), for all kinds (after replaying readings older than "
        "the continuous queries look back), or none",
    )
    p.set_defaults(func=cmd_db_init)


def cmd_db_init(settings: Settings, args: argparse.Namespace) -> int:
    import time

    from citydata import retention
    from citydata.influx import InfluxClient

    plan = retention.Plan.of(settings, backfill=args.backfill)
    # A backfill statement covers 30 days of every sensor of a kind: allow it time.
    patient = settings.model_copy(update={"influx_timeout_s": max(settings.influx_timeout_s, 600)})
    with InfluxClient.from_settings(patient) as client:
        lines = retention.ensure(client, plan, time.time_ns())
    print(f"database {settings.influx_db!r} ready at {settings.influx_url}")
    for line in lines:
        print(f"  {line}")
    return 0
