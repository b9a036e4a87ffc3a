"""`citydata dashboards build|push`: Grafana dashboards as code (dashboards/)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from citydata.cli import dashboards_push

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings

BUILD_HELP = """Each module in dashboards/boards/ builds one dashboard with grafana-foundation-sdk;
this writes its JSON model to dashboards/json/<name>.json (sorted keys), the files Grafana's
provisioning (dashboards/provisioning/) loads. The JSON is generated: change the Python, then
build; the test suite fails while the committed JSON differs from a fresh build."""


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "dashboards",
        help="build the Grafana dashboards' JSON, or push them to a Grafana",
        description="Grafana dashboards as code: dashboards/boards/*.py build "
        "dashboards/json/*.json; push uploads them to a running Grafana.",
    )
    sub = p.add_subparsers(dest="dashboards_command", required=True, metavar="ACTION")
    b = sub.add_parser(
        "build",
        help="write every dashboard's JSON into dashboards/json/",
        description="Build the dashboards' JSON models from their Python modules.",
        epilog=BUILD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("names", nargs="*", metavar="NAME", help="only these dashboards (default all)")
    b.add_argument("--out", type=Path, metavar="DIR", help="write here instead of dashboards/json/")
    b.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a committed file differs from a fresh build",
    )
    b.set_defaults(func=cmd_build)
    dashboards_push.add_command(sub)


def cmd_build(settings: Settings, args: argparse.Namespace) -> int:
    from dashboards.build import JSON_DIR, UnknownDashboard, build_all, stale, write

    out: Path = args.out or JSON_DIR
    try:
        models = build_all(args.names)
    except UnknownDashboard as exc:
        print(f"citydata dashboards build: {exc}", file=sys.stderr)
        return 1
    if args.check:
        differ = [n for n in stale(models, out) if n in models or not args.names]
        for name in differ:
            print(f"{out / name}.json differs from a fresh build", file=sys.stderr)
        if differ:
            print("run: citydata dashboards build", file=sys.stderr)
        return 1 if differ else 0
    for path in write(models, out):
        print(path)
    return 0
