"""`citydata dashboards push`: upload the dashboards to a running Grafana (grafana-client)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings

PROG = "citydata dashboards push"
INSTALL = "pip install 'citydata[grafana]'"
PUSH_HELP = f"""The token is a Grafana service account token with the Admin role (it reads,
and may create, the datasource), from the environment variable GRAFANA_TOKEN (or the one
--token-env names), never from the command line.

The push creates the folder "citydata" and the InfluxDB datasource the panels use when Grafana
has none with their uids (an existing datasource is left as it is), then uploads each dashboard
into the folder, replacing the one with the same uid. One line per dashboard uploaded, with its
URL. Any failure is one line on standard error naming the dashboards already uploaded, and exit
status 1. Needs grafana-client: {INSTALL}"""


def add_command(sub: Subparsers) -> None:
    """Add `push` to the `citydata dashboards` actions."""
    push = sub.add_parser(
        "push",
        help="upload every dashboard to a running Grafana",
        description="Build the dashboards and upload them, with their folder and datasource,\n"
        "to a running Grafana through its HTTP API.",
        epilog=PUSH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    push.add_argument(
        "names", nargs="*", metavar="NAME", help="only these dashboards (default all)"
    )
    push.add_argument(
        "--url", required=True, help="Grafana's address, e.g. https://grafana.example.org"
    )
    push.add_argument(
        "--token-env",
        default="GRAFANA_TOKEN",
        metavar="VAR",
        help="the environment variable holding the token (default GRAFANA_TOKEN)",
    )
    push.add_argument(
        "--influx-url",
        metavar="URL",
        help="InfluxDB as Grafana's server reaches it, for a datasource this push creates "
        "(default CITYDATA_INFLUX_URL)",
    )
    push.set_defaults(func=cmd_push)


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 1


def cmd_push(settings: Settings, args: argparse.Namespace) -> int:
    from dashboards.build import PROVISIONING_DIR, UnknownDashboard, build_all
    from dashboards.common import DATASOURCE_UID

    try:
        from dashboards import push
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("grafana_client", "niquests"):
            raise
        return _fail(f"needs grafana-client, which is not installed: {INSTALL}")
    try:
        models = build_all(args.names)
    except UnknownDashboard as exc:
        return _fail(str(exc))
    token = os.environ.get(args.token_env, "").strip()
    if not token:
        return _fail(f"no Grafana token: set {args.token_env} to a service account token")
    provisioning = PROVISIONING_DIR / "datasources" / "citydata.yaml"
    influx_url = args.influx_url or settings.influx_url
    try:
        body = push.datasource(provisioning, DATASOURCE_UID, influx_url, settings)
        push.push(args.url, token, models, body, report=print)
    except push.PushError as exc:
        return _fail(str(exc))
    return 0
