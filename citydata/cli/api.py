"""`citydata api`: serve the HTTP API."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from citydata.cli._common import SETTINGS_HELP

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "api",
        help="serve the HTTP API (sensors, readings, exports, Thai indices, ingestion, operations)",
        description="Serve the HTTP API with uvicorn until SIGTERM/SIGINT. The OpenAPI "
        "documentation is at /docs; errors are answered as application/problem+json.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (127.0.0.1; 0.0.0.0 for all)"
    )
    p.add_argument("--port", type=int, default=8000, help="TCP port to listen on (8000)")
    p.set_defaults(func=cmd_api)


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    proxies = settings.api_forwarded_allow_ips  # empty: no forwarded header is believed
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        server_header=False,
    )
    return 0
