"""`citydata broker sync` and `citydata broker credential ...`: MQTT credentials in the registry,
written out as Mosquitto's password file and ACL (docs/broker.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from citydata.cli.sensors import REGISTRY_HELP
from citydata.registry.errors import RegistryError
from citydata.registry.mqtt_roles import MqttRole

if TYPE_CHECKING:
    from datetime import datetime

    from citydata.cli._common import Subparsers
    from citydata.registry.mqtt_credentials import MqttCredential, MqttCredentials
    from citydata.registry.store import Registry
    from citydata.settings import Settings

ROLES_HELP = """roles: device (NAME is a registered sensor's id; publishes only on its own
topics), gateway (a TTN or ChirpStack network server; publishes on its --topic filters),
collector (reads every route's topics), api (publishes HTTP ingestion on every route's topics),
simulator (publishes on every route's topics). The password is printed once, at creation or
rotation, and only its hash is kept: run `citydata broker sync` for the broker to take it."""

SYNC_HELP = """Write Mosquitto's password file and ACL from the registry's active MQTT credentials,
its sensors (a retired sensor's device is left out) and CITYDATA_ROUTES, atomically, then send
the broker SIGHUP so it rereads both without a restart. The user of CITYDATA_MQTT_URL, when no
credential has its name, is admitted as every service (collector, api, simulator). Run it after
every change of credentials, sensors' status or routes; with nothing changed it changes
nothing. Exit status: 0 done, 1 a file could not be written or the broker not signalled."""


def add_command(sub: Subparsers) -> None:
    """Add `sync` and `credential` to `citydata broker`'s subcommands."""
    s = sub.add_parser(
        "sync",
        help="write the broker's password file and ACL from the registry, and reload it",
        description=SYNC_HELP,
        epilog=REGISTRY_HELP,
    )
    s.add_argument("--password-file", type=Path, help="default: CITYDATA_BROKER_PASSWORD_FILE")
    s.add_argument("--acl-file", type=Path, help="default: CITYDATA_BROKER_ACL_FILE")
    reload = s.add_mutually_exclusive_group()
    reload.add_argument("--pid-file", type=Path, help="default: CITYDATA_BROKER_PID_FILE")
    reload.add_argument(
        "--no-reload",
        action="store_true",
        help="only write the files (the broker is not running yet, or runs elsewhere: "
        "reload it yourself, e.g. systemctl reload mosquitto)",
    )
    s.set_defaults(func=cmd_sync)
    _add_credential_commands(sub)


def _add_credential_commands(sub: Subparsers) -> None:
    p = sub.add_parser(
        "credential",
        help="create, rotate, revoke and list MQTT credentials",
        description="MQTT user names and passwords kept (hashed) in the registry.",
        epilog=f"{ROLES_HELP}\n\n{REGISTRY_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cs = p.add_subparsers(dest="credential_command", required=True, metavar="ACTION")
    c = cs.add_parser(
        "create",
        help="create a credential and print its password (once)",
        description="Create a credential; its password goes to standard output, the rest to "
        "standard error. Store it now: only its hash is kept.",
        epilog=ROLES_HELP,
    )
    c.add_argument("name", help="the MQTT user name: a device's sensor id, or a service's name")
    c.add_argument("--role", choices=[r.value for r in MqttRole], default="device")
    c.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="FILTER",
        help="a gateway's topic filter, repeatable (v3/my-app@ttn/devices/+/up)",
    )
    _password_option(c)
    c.set_defaults(func=cmd_create)
    r = cs.add_parser("rotate", help="give a credential a new password (printed once)")
    r.add_argument("name", help="the MQTT user name")
    _password_option(r)
    r.set_defaults(func=cmd_rotate)
    e = cs.add_parser(
        "ensure",
        help="create or update a service's credential from a password it already has",
        description="For a deployment whose services' passwords are in its settings (Compose's "
        ".env): create the credential with the password read from standard input, or give it "
        "that password if it changed; nothing happens when it already has it. Safe to repeat.",
    )
    e.add_argument("name", help="the MQTT user name")
    e.add_argument("--role", choices=[r.value for r in MqttRole], required=True)
    e.set_defaults(func=cmd_ensure, password_stdin=True)
    v = cs.add_parser("revoke", help="revoke a credential (the broker refuses it after sync)")
    v.add_argument("name", help="the MQTT user name")
    v.set_defaults(func=cmd_revoke)
    ls = cs.add_parser("list", help="list credentials (never their passwords)")
    ls.add_argument("--all", action="store_true", help="include revoked credentials")
    ls.add_argument("--format", choices=("table", "json"), default="table", help="table (default)")
    ls.set_defaults(func=cmd_list)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (one line) instead of making a random "
        "one: for a service whose password is already in a deployment's settings",
    )


def _fail(message: str) -> int:
    print(f"citydata broker: {message}", file=sys.stderr)
    return 1


def _password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise RegistryError("--password-stdin: standard input gave an empty password")
    return password


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.broker.credentials import issue
    from citydata.registry.store import Registry

    try:
        password = _password(args)
        with Registry.from_settings(settings) as registry:
            store = _credentials(registry)
            cred, secret = issue(store, args.name, MqttRole(args.role), args.topic, password)
    except RegistryError as exc:
        return _fail(str(exc))
    print(f"created MQTT credential {cred.username} ({cred.role})", file=sys.stderr)
    _show(secret, password is None)
    return 0


def cmd_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.broker.credentials import rotate
    from citydata.registry.store import Registry

    try:
        password = _password(args)
        with Registry.from_settings(settings) as registry:
            cred, secret = rotate(_credentials(registry), args.name, password)
    except RegistryError as exc:
        return _fail(str(exc))
    print(f"new password for MQTT credential {cred.username} ({cred.role})", file=sys.stderr)
    _show(secret, password is None)
    return 0


def cmd_ensure(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.broker.credentials import ensure
    from citydata.registry.store import Registry

    try:
        password = _password(args)
        assert password is not None  # ensure always reads it
        with Registry.from_settings(settings) as registry:
            cred, done = ensure(_credentials(registry), args.name, MqttRole(args.role), password)
    except RegistryError as exc:
        return _fail(str(exc))
    print(f"MQTT credential {cred.username} ({cred.role}): {done}", file=sys.stderr)
    return 0


def _show(secret: str, generated: bool) -> None:
    if generated:
        print("store it now, it is not shown again:", file=sys.stderr)
        print(secret)
    print("run `citydata broker sync` for the broker to take it", file=sys.stderr)


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.registry.store import Registry

    try:
        with Registry.from_settings(settings) as registry:
            cred = _credentials(registry).revoke(args.name)
    except RegistryError as exc:
        return _fail(str(exc))
    print(f"revoked MQTT credential {cred.username} ({cred.role}); run `citydata broker sync`")
    return 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.registry.store import Registry

    try:
        with Registry.from_settings(settings) as registry:
            found = _credentials(registry).list(include_revoked=args.all)
    except RegistryError as exc:
        return _fail(str(exc))
    if args.format == "json":
        print(json.dumps([c.model_dump(mode="json") for c in found], indent=2, ensure_ascii=False))
    else:
        print(table(found))
    return 0


def table(found: list[MqttCredential]) -> str:
    """Credentials as aligned columns, topics last."""
    rows = [("USER", "ROLE", "CREATED (UTC)", "ROTATED", "REVOKED", "TOPICS")]
    for c in found:
        rows.append(
            (
                c.username,
                c.role.value,
                _when(c.created_at),
                _when(c.rotated_at),
                _when(c.revoked_at),
                " ".join(c.topics) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _credentials(registry: Registry) -> MqttCredentials:
    from citydata.registry.mqtt_credentials import MqttCredentials

    return MqttCredentials(registry.engine)


def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.broker.sync import SyncError, sync
    from citydata.registry.store import Registry

    password_file = args.password_file or settings.broker_password_file
    acl_file = args.acl_file or settings.broker_acl_file
    pid_file = None if args.no_reload else (args.pid_file or settings.broker_pid_file)
    try:
        with Registry.from_settings(settings) as registry:
            result = sync(registry, settings, password_file, acl_file, pid_file)
    except (RegistryError, SyncError) as exc:
        return _fail(f"sync: {exc}")
    for path in (password_file, acl_file):
        state = "wrote" if path in result.changed else "unchanged:"
        print(f"{state} {path}", file=sys.stderr)
    print(f"{len(result.users)} MQTT users admitted", file=sys.stderr)
    for line in result.left_out:
        print(f"left out {line}", file=sys.stderr)
    for line in result.notes:
        print(f"note: {line}", file=sys.stderr)
    if result.reloaded_pid is not None:
        print(f"broker (pid {result.reloaded_pid}) told to reload (SIGHUP)", file=sys.stderr)
    return 0
