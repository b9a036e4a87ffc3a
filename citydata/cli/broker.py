"""`citydata broker`: the MQTT broker's security. `sync` writes Mosquitto's password file and
ACL from the registry and makes the broker reload them (citydata/cli/broker_sync.py); `cert`
creates a private CA and a server certificate for TLS (citydata/cli/broker_cert.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from citydata.cli import broker_cert, broker_sync

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "broker",
        help="MQTT broker security: credentials and ACL from the registry, TLS certificates",
        description=__doc__,
    )
    sub = p.add_subparsers(dest="broker_command", required=True, metavar="ACTION")
    broker_sync.add_command(sub)
    broker_cert.add_command(sub)
