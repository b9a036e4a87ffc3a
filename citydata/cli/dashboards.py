"""`citydata dashboards build|push`: Grafana dashboards as code (dashboards/)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from citydata.cli import dashboards_push

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "dashboards",
        help="build the Grafana dashboards' JSON, or push them to a Grafana",
        description="Grafana dashboards as code: dashboards/*.py build dashboards/json/*.json.",
    )
    sub = p.add_subparsers(dest="dashboards_command", required=True, metavar="ACTION")
    b = sub.add_parser("build", help="write every dashboard's JSON into dashboards/json/")
    b.set_defaults(func=cmd_build)
    dashboards_push.add_command(sub)


def cmd_build(settings: Settings, args: argparse.Namespace) -> int:
    raise NotImplementedError("being built (issue 12)")
