"""`citydata backup DIR` and `citydata restore DIR`: an installation into a folder and back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citydata.backup import Summary
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings

# Exit statuses an operator's script can tell apart.
FAILED, REFUSED_NOT_EMPTY, REFUSED_DAMAGED = 1, 3, 4

EXIT_HELP = """exit status: 0 done; 1 failed (the message says which step and why); 2 invalid
settings; 3 restore refused, the target holds data (--force replaces it); 4 restore refused, the
backup is incomplete or damaged (the message names the file). docs/backup.md: schedule, retention,
testing a restore, upgrades."""

BACKUP_DESCRIPTION = """Back up everything needed to rebuild the platform into DIR (new or empty):
InfluxDB's portable backup of CITYDATA_INFLUX_DB (every retention policy and shard, through
influxd at CITYDATA_INFLUX_BACKUP_ADDR), the registry database (sensors, API keys, alert rules),
the dead-letter files and the settings (secrets left out), with manifest.json listing every
file's size and SHA-256. Safe while the platform runs: everything written before the backup
starts is in it; what is written meanwhile may or may not be."""

RESTORE_DESCRIPTION = """Rebuild an empty installation from the backup in DIR: verify every
checksum first, then restore the InfluxDB database (as CITYDATA_INFLUX_DB), the registry (then
migrated to this version) and the dead letters. Stop the collector, API and alerts services
first. Continuous queries are not in a backup: restore then does what `citydata db init` does
(the continuous queries, the raw retention of CITYDATA_INFLUX_RAW_RETENTION, the hourly means
backfilled)."""


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "backup",
        help="back up InfluxDB, the registry, dead letters and settings into a folder",
        description=BACKUP_DESCRIPTION,
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="a new or empty folder")
    p.set_defaults(func=cmd_backup)
    r = subparsers.add_parser(
        "restore",
        help="rebuild an empty installation from a backup folder",
        description=RESTORE_DESCRIPTION,
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("dir", type=Path, metavar="DIR", help="a folder `citydata backup` wrote")
    r.add_argument(
        "--force",
        action="store_true",
        help="delete what the target database, registry and dead letters hold, and restore",
    )
    r.set_defaults(func=cmd_restore)


def _progress(message: str) -> None:
    print(message, flush=True)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _fail(prog: str, exc: Exception) -> int:
    from citydata.backup import Damaged, NotEmpty

    print(f"citydata {prog}: {exc}", file=sys.stderr)
    if isinstance(exc, NotEmpty):
        return REFUSED_NOT_EMPTY
    if isinstance(exc, Damaged):
        return REFUSED_DAMAGED
    return FAILED


def _done(verb: str, summary: Summary) -> None:
    print(
        f"{verb} {summary.path}: {summary.files} files, {_size(summary.bytes)}, "
        f"{summary.seconds:.1f} s"
    )


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.backup import BackupError, backup
    from citydata.registry.errors import RegistryError

    try:
        summary = backup(settings, args.dir.absolute(), _progress)
    except (BackupError, RegistryError, OSError) as exc:
        return _fail("backup", exc)
    _done("backed up into", summary)
    print(f"started at {summary.manifest['started_at']}: everything written before is in it")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.backup import BackupError, restore
    from citydata.registry.errors import RegistryError

    try:
        summary = restore(settings, args.dir.absolute(), force=args.force, progress=_progress)
    except (BackupError, RegistryError, OSError) as exc:
        return _fail("restore", exc)
    _done("restored from", summary)
    print(f"the backup was started at {summary.manifest['started_at']}")
    for note in summary.notes:
        print(f"  {note}")
    status = _db_init(settings)
    print("next: start the services and check /ready (docs/backup.md)")
    return status


def _db_init(settings: Settings) -> int:
    """What `citydata db init` does: continuous queries are not in a portable backup."""
    import time

    from citydata import retention
    from citydata.influx import InfluxClient, InfluxError

    print("continuous queries are not in a backup: running `citydata db init`...", flush=True)
    # backfill "changed": the hours between the last query run and the backup are filled
    plan = retention.Plan.of(settings, backfill="changed")
    patient = settings.model_copy(update={"influx_timeout_s": max(settings.influx_timeout_s, 600)})
    try:
        with InfluxClient.from_settings(patient) as client:
            lines = retention.ensure(client, plan, time.time_ns())
    except InfluxError as exc:
        print(
            f"citydata restore: the data is restored, but `citydata db init` failed: {exc}; "
            "run `citydata db init` once InfluxDB answers",
            file=sys.stderr,
        )
        return FAILED
    for line in lines:
        print(f"  {line}")
    return 0
