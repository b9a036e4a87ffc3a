"""`citydata broker cert DIR`: a private CA, the broker's TLS certificate and client
certificates, for sites without a CA of their own (docs/tls.md)."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from citydata.broker_tls import CA_CERT, CA_DAYS, CLIENT_DAYS, SERVER_DAYS, CertError, create

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings

PROG = "citydata broker cert"
DESCRIPTION = f"""Make in DIR a private certificate authority (ca.crt, ca.key; valid
{CA_DAYS // 365} years) unless DIR holds one already, the broker's certificate signed by it
(server.crt, server.key; {SERVER_DAYS} days) for every --name and --ip that devices and
services use to reach the broker, and with --client NAME a client certificate NAME.crt,
NAME.key ({CLIENT_DAYS} days). Keys are written mode 0600; existing certificates are replaced
only with --force, and an existing CA is never replaced (remove ca.crt and ca.key to start a
new one, and give every client the new ca.crt). Keep ca.key off the broker if you can: only
server.crt, server.key and, for client certificates, ca.crt belong there."""


def add_command(sub: Subparsers) -> None:
    """Add `cert` to `citydata broker`'s subcommands."""
    c = sub.add_parser(
        "cert",
        help="make a private CA and the broker's TLS certificate (and client certificates)",
        description=DESCRIPTION,
        epilog="Clients then connect with CITYDATA_MQTT_URL=mqtts://HOST:8883 and "
        "CITYDATA_MQTT_CA_FILE=DIR/ca.crt (docs/tls.md).",
    )
    c.add_argument("directory", metavar="DIR", type=Path, help="where the files go")
    c.add_argument(
        "--name",
        action="append",
        metavar="HOST",
        help="a DNS name of the broker, repeatable (default: this machine's host name and "
        "localhost)",
    )
    c.add_argument(
        "--ip",
        action="append",
        metavar="ADDRESS",
        help="an IP address of the broker, repeatable (default: 127.0.0.1 when no --name "
        "is given either)",
    )
    c.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME",
        help="also issue a client certificate NAME.crt/NAME.key, repeatable",
    )
    c.add_argument(
        "--no-server",
        action="store_true",
        help="issue only the --client certificates (with the CA already in DIR, or a new one)",
    )
    c.add_argument(
        "--key-type",
        choices=("ec", "rsa"),
        default="ec",
        help="ec: ECDSA P-256 (default); rsa: RSA 3072, for devices without ECDSA",
    )
    c.add_argument("--force", action="store_true", help="replace existing certificates")
    c.set_defaults(func=cmd_cert)


def default_names(names: list[str] | None, ips: list[str] | None) -> tuple[list[str], list[str]]:
    """The names asked for; with neither --name nor --ip, this host's name, localhost and
    127.0.0.1."""
    if names or ips:
        return list(names or []), list(ips or [])
    return list(dict.fromkeys([socket.gethostname(), "localhost"])), ["127.0.0.1"]


def cmd_cert(settings: Settings, args: argparse.Namespace) -> int:
    names, ips = default_names(args.name, args.ip)
    directory = args.directory.expanduser().absolute()
    try:
        written = create(
            directory,
            names=names,
            ips=ips,
            clients=args.client,
            server=not args.no_server,
            force=args.force,
            key_type=args.key_type,
        )
    except (CertError, OSError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    if not args.no_server:
        print(f"\nthe server certificate is for: {', '.join([*names, *ips])}")
        print(mosquitto_lines(directory))
    print(client_lines(directory, [*names, *ips][0], args.client))
    return 0


def client_lines(directory: Path, host: str, clients: list[str]) -> str:
    lines = [
        "\ncitydata's programs (docs/settings.md):",
        f"  CITYDATA_MQTT_URL=mqtts://USER:PASSWORD@{host}:8883",
        f"  CITYDATA_MQTT_CA_FILE={directory / CA_CERT}",
    ]
    for client in clients:
        lines.append(
            f"  with {client}'s certificate: CITYDATA_MQTT_CLIENT_CERT={directory / client}.crt "
            f"CITYDATA_MQTT_CLIENT_KEY={directory / client}.key"
        )
    return "\n".join(lines)


def mosquitto_lines(directory: Path) -> str:
    return f"""
mosquitto.conf (copy the files where the broker's user can read them, the keys mode 0600):
  listener 8883
  certfile {directory / "server.crt"}
  keyfile {directory / "server.key"}
  tls_version tlsv1.2
  # to require client certificates signed by this CA as well:
  # cafile {directory / CA_CERT}
  # require_certificate true"""
