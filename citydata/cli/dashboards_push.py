"""`citydata dashboards push`: upload the dashboards to a running Grafana (grafana-client)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings


def add_command(sub: Subparsers) -> None:
    """Add `push` to the `citydata dashboards` actions."""
    push = sub.add_parser("push", help="upload every dashboard to a running Grafana")
    push.set_defaults(func=cmd_push)


def cmd_push(settings: Settings, args: argparse.Namespace) -> int:
    raise NotImplementedError("being built (issue 12)")
