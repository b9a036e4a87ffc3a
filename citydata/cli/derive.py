"""`citydata derive`: the derived-series service (station judgments written back as series)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from citydata.cli._common import SETTINGS_HELP

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "derive",
        help="write station judgments (AQI, water, traffic, map) as InfluxDB series",
        description="Judge every station through citydata and write the judgments as series.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=cmd_derive)


def cmd_derive(settings: Settings, args: argparse.Namespace) -> int:
    raise NotImplementedError("being built (issue 12)")
