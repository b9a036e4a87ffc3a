"""The `citydata keys` command line: create, list and revoke API keys."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from citydata.cli.sensors import REGISTRY_HELP
from citydata.registry.errors import RegistryError
from citydata.registry.keys import ApiKey, Role, parse_expiry

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings

PROG = "citydata keys"
ROLES_HELP = """roles: read (GET routes; needed only when CITYDATA_API_ANONYMOUS_READ=false),
operator (also sensor changes, dead letters and replay, collector health), admin (everything),
device (POST /ingest for its one sensor, given with --sensor). Keys are stored as a SHA-256 hash:
the key is printed once, at creation, and cannot be shown again; revoke and create a new one.
A key given --expires stops working then (401, saying it expired); rotate it by creating the
next key before that and revoking the old one once its holder switched.
Send it as `X-API-Key: KEY` or `Authorization: Bearer KEY` (devices: HTTP Basic, user = sensor id,
password = KEY)."""


def add_commands(subparsers: Subparsers) -> None:
    """Add `keys` and its subcommands to the `citydata` command's subparsers."""
    p = subparsers.add_parser(
        "keys",
        help="create, list and revoke API keys",
        description="API keys for the HTTP API, each with a role.",
        epilog=f"{ROLES_HELP}\n\n{REGISTRY_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    c = sub.add_parser(
        "create",
        help="create a key and print it (once)",
        description="Create a key and print it on standard output; its id and role go to "
        "standard error. Store it now: only its hash is kept.",
        epilog=ROLES_HELP,
    )
    c.add_argument("--role", required=True, choices=[r.value for r in Role], help="what it may do")
    c.add_argument("--name", required=True, help="who or what holds it, e.g. 'dashboard server'")
    c.add_argument("--sensor", metavar="ID", help="the sensor a device key posts for")
    c.add_argument(
        "--expires",
        metavar="WHEN",
        help="when it stops working: a span from now (90d, 12h, 26w), a date (2027-06-30, "
        "from 00:00 UTC) or an RFC 3339 time; default never",
    )
    c.set_defaults(func=cmd_create)
    ls = sub.add_parser("list", help="list keys (never their secrets)")
    ls.add_argument("--all", action="store_true", help="include revoked keys")
    ls.add_argument("--format", choices=("table", "json"), default="table", help="table (default)")
    ls.set_defaults(func=cmd_list)
    r = sub.add_parser("revoke", help="revoke a key at once", description="Revoke a key by id.")
    r.add_argument("id", help="the key's id (as `keys list` shows, the part after cdk_)")
    r.set_defaults(func=cmd_revoke)


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 1


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.registry.store import Registry

    try:
        expires_at = parse_expiry(args.expires, datetime.now(UTC)) if args.expires else None
    except ValueError as exc:
        return _fail(f"--expires: {exc}")
    try:
        with Registry.from_settings(settings) as registry:
            key, token = registry.create_key(args.name, Role(args.role), args.sensor, expires_at)
    except RegistryError as exc:
        return _fail(str(exc))
    until = f", expires {_when(key.expires_at)}" if key.expires_at else ""
    print(
        f"created key {key.id} ({key.role}{until}) for {key.name!r}; store it now:",
        file=sys.stderr,
    )
    print(token)
    return 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.registry.store import Registry

    try:
        with Registry.from_settings(settings) as registry:
            found = registry.list_keys(include_revoked=args.all)
    except RegistryError as exc:
        return _fail(str(exc))
    if args.format == "json":
        print(json.dumps([k.model_dump(mode="json") for k in found], ensure_ascii=False, indent=2))
    else:
        print(table(found))
    return 0


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.registry.store import Registry

    try:
        with Registry.from_settings(settings) as registry:
            key = registry.revoke_key(args.id)
    except RegistryError as exc:
        return _fail(str(exc))
    print(f"revoked key {key.id} ({key.role}, {key.name!r})", file=sys.stderr)
    return 0


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _expiry(key: ApiKey, now: datetime) -> str:
    if key.expires_at is None:
        return "never"
    return _when(key.expires_at) + (" (expired)" if key.expired(now) else "")


def table(found: list[ApiKey], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    rows = [("ID", "ROLE", "SENSOR", "CREATED (UTC)", "EXPIRES (UTC)", "REVOKED", "NAME")]
    for k in found:
        rows.append(
            (
                k.id,
                k.role.value,
                k.sensor_id or "-",
                _when(k.created_at),
                _expiry(k, now),
                _when(k.revoked_at) if k.revoked_at else "-",
                k.name,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    )
