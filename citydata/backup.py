"""Backup and restore of a citydata installation: InfluxDB, the registry, dead letters, settings.

A backup directory holds:

    manifest.json      written last: citydata version, start time, InfluxDB database, registry
                       kind and alembic revision, and every other file with its size and sha256
    settings.json      the effective settings, secrets and URL passwords redacted
    influxdb/          `influxd backup -portable` of CITYDATA_INFLUX_DB: every retention policy
                       and shard (continuous queries are not in it: `citydata db init` adds them)
    registry.db        the SQLite registry, copied by SQLite's online backup API
    registry.pgdump    or a PostgreSQL registry, by pg_dump (custom format, no owners)
    deadletter/        the dead-letter files as they were when the backup began

Consistency: the start time is taken before anything is copied. InfluxDB's portable backup holds
every point written before it began (it snapshots the write-ahead log first); a point written
while it runs may or may not be in it. The registry is a consistent snapshot taken just after.

Errors, each with a message an operator can act on:

    BackupError         a step failed (a tool missing, a server unreachable, a disk full)
    ├── NotEmpty        restore refused: the target already holds data (use force)
    └── Damaged         restore refused: the backup is incomplete or a file fails its checksum
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from citydata.influx import InfluxClient, InfluxError, quote_ident
from citydata.registry import migrate
from citydata.registry.store import registry_url
from citydata.registry.tables import VERSION_TABLE
from citydata.services import ServiceError, find_binary
from citydata.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
SETTINGS = "settings.json"
INFLUX_DIR = "influxdb"
DEADLETTER_DIR = "deadletter"
SQLITE_FILE = "registry.db"
PG_FILE = "registry.pgdump"
Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore step failed; the message says what to do."""


class NotEmpty(BackupError):
    """The restore target already holds data."""


class Damaged(BackupError):
    """The backup is incomplete or a file does not match its checksum."""


@dataclass(frozen=True)
class Summary:
    """What a backup or restore did: where, how many files and bytes, how long."""

    path: Path
    files: int
    bytes: int
    seconds: float
    manifest: dict[str, Any]
    notes: tuple[str, ...] = ()


def citydata_version() -> str:
    try:
        return version("citydata")
    except PackageNotFoundError:
        return "unknown"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            yield path


def _run(what: str, command: list[str], env: dict[str, str] | None = None) -> None:
    """Run a tool; a failure names the step and shows the tool's last lines."""
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr + done.stdout).strip().splitlines()[-8:])
        raise BackupError(f"{what} failed (exit {done.returncode}):\n{tail}")


def _influxd() -> str:
    try:
        return find_binary("influxd")
    except ServiceError as exc:
        raise BackupError(
            f"{exc}. Backup and restore run influxd's own backup tool, from the influxdb package "
            "(the same version as the server)"
        ) from exc


def _rpc_hint(settings: Settings) -> str:
    return (
        f"Is InfluxDB's backup service listening at CITYDATA_INFLUX_BACKUP_ADDR="
        f"{settings.influx_backup_addr}? It is influxdb.conf's top-level bind-address "
        "(default 127.0.0.1:8088), on the InfluxDB machine."
    )


# --- the registry -------------------------------------------------------------------------


def _pg_command(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for `url`, and an environment carrying its password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} not found: a PostgreSQL registry is backed up with pg_dump and restored with "
            "pg_restore; install them with: sudo apt-get install -y postgresql-client"
        )
    return path


def _revision(url: str) -> str | None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return migrate.current(engine)
    finally:
        engine.dispose()


def backup_registry(url: str, dest: Path) -> str | None:
    """Copy the registry into `dest`; returns its alembic revision (None: never migrated)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        source = Path(parsed.database or "")
        if not source.is_file():
            raise BackupError(f"the registry database {source} does not exist")
        target = dest / SQLITE_FILE
        _sqlite_copy(f"file:{source}?mode=ro", target)
        return _revision(f"sqlite:///{target}")
    if parsed.get_backend_name() == "postgresql":
        conninfo, env = _pg_command(parsed)
        tool = _pg_tool("pg_dump")
        out = str(dest / PG_FILE)
        _run("pg_dump", [tool, "--format=custom", "--no-owner", "-f", out, conninfo], env)
        return _revision(url)
    raise BackupError(f"backing up a {parsed.get_backend_name()} registry is not supported yet")


def _sqlite_copy(source: str, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while another process writes."""
    src = sqlite3.connect(source, uri=source.startswith("file:"))
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def registry_holds_data(url: str) -> bool:
    """True when any registry table (sensors, keys, alert rules...) has a row."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return False
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names() if t != VERSION_TABLE]
            quote = conn.dialect.identifier_preparer.quote
            return any(
                conn.execute(sa.text(f"SELECT 1 FROM {quote(t)} LIMIT 1")).first() for t in tables
            )
    finally:
        engine.dispose()


def restore_registry(url: str, src: Path, manifest: dict[str, Any]) -> None:
    """Put the backed-up registry at `url` (SQLite into SQLite, PostgreSQL into PostgreSQL)."""
    parsed = make_url(url)
    kind = manifest["registry"]["kind"]
    if kind != parsed.get_backend_name():
        raise BackupError(
            f"the backup holds a {kind} registry but CITYDATA_REGISTRY_URL names a "
            f"{parsed.get_backend_name()} one; restore into the same kind of database"
        )
    if kind == "sqlite":
        target = Path(parsed.database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(str(src / SQLITE_FILE), target)
        return
    conninfo, env = _pg_command(parsed)
    tool = _pg_tool("pg_restore")
    _run(
        "pg_restore",
        [tool, "--clean", "--if-exists", "--no-owner", "-d", conninfo, str(src / PG_FILE)],
        env,
    )


# --- InfluxDB ----------------------------------------------------------------------------


def _databases(client: InfluxClient) -> set[str]:
    return {row[0] for series in client.query("SHOW DATABASES") for row in series.values}


def influx_holds_data(client: InfluxClient) -> bool | None:
    """True when the database holds a measurement, False when empty, None when it is absent."""
    if client.database not in _databases(client):
        return None
    return bool(client.query("SHOW MEASUREMENTS LIMIT 1"))


def backup_influx(settings: Settings, dest: Path) -> None:
    command = [_influxd(), "backup", "-portable", "-db", settings.influx_db]
    command += ["-host", settings.influx_backup_addr, str(dest)]
    try:
        _run(f"influxd backup of database {settings.influx_db!r}", command)
    except BackupError as exc:
        raise BackupError(f"{exc}\n{_rpc_hint(settings)}") from exc
    if not any(dest.glob("*.manifest")):
        raise BackupError(f"influxd backup wrote no manifest in {dest}; see its output above")


def restore_influx(settings: Settings, src: Path, database: str) -> None:
    command = [_influxd(), "restore", "-portable", "-db", database, "-newdb", settings.influx_db]
    command += ["-host", settings.influx_backup_addr, str(src)]
    try:
        _run(f"influxd restore into database {settings.influx_db!r}", command)
    except BackupError as exc:
        raise BackupError(f"{exc}\n{_rpc_hint(settings)}") from exc


# --- dead letters ------------------------------------------------------------------------


def copy_deadletters(source: Path, dest: Path) -> int:
    """Copy every dead-letter file (day files and replayed/), each under the store's shared
    lock, so none is copied while a replay rewrites it. Returns how many."""
    import fcntl

    copied = 0
    for path in sorted(source.rglob("*.jsonl")) if source.is_dir() else []:
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            with open(target, "wb") as out:
                shutil.copyfileobj(f, out)
        shutil.copystat(path, target)
        copied += 1
    return copied


# --- the whole ---------------------------------------------------------------------------


def _open_client(settings: Settings) -> InfluxClient:
    return InfluxClient.from_settings(settings)


def _check_influx(client: InfluxClient, settings: Settings) -> bool | None:
    try:
        return influx_holds_data(client)
    except InfluxError as exc:
        raise BackupError(
            f"cannot reach InfluxDB at CITYDATA_INFLUX_URL={settings.influx_url}: {exc}"
        ) from exc


def backup(settings: Settings, dest: Path, progress: Progress = lambda _: None) -> Summary:
    """Back up the installation the settings name into `dest` (absent or empty)."""
    started = datetime.now(UTC)
    clock = time.monotonic()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not empty: give a new directory for each backup")
    _influxd()  # a missing tool is said before anything is written
    with _open_client(settings) as client:
        if _check_influx(client, settings) is None:
            raise BackupError(
                f"InfluxDB at {settings.influx_url} has no database {settings.influx_db!r} "
                "(CITYDATA_INFLUX_DB); nothing to back up"
            )
    dest.mkdir(parents=True, exist_ok=True)
    progress(f"InfluxDB database {settings.influx_db!r} from {settings.influx_backup_addr}...")
    backup_influx(settings, dest / INFLUX_DIR)
    url = registry_url(settings)
    progress(f"registry ({make_url(url).get_backend_name()})...")
    revision = backup_registry(url, dest)
    progress("dead letters...")
    letters = copy_deadletters(Path(settings.data_dir) / DEADLETTER_DIR, dest / DEADLETTER_DIR)
    (dest / SETTINGS).write_text(
        json.dumps(settings.redacted(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    progress("checksums...")
    files: list[dict[str, Any]] = [
        {"path": p.relative_to(dest).as_posix(), "size": p.stat().st_size, "sha256": sha256(p)}
        for p in _files(dest)
    ]
    manifest = {
        "format": FORMAT,
        "citydata_version": citydata_version(),
        "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "seconds": round(time.monotonic() - clock, 3),
        "influx_db": settings.influx_db,
        "registry": {"kind": make_url(url).get_backend_name(), "alembic_revision": revision},
        "deadletter_files": letters,
        "files": files,
    }
    _write_json(dest / MANIFEST, manifest)
    size = sum(int(f["size"]) for f in files)
    return Summary(dest, len(files), size, time.monotonic() - clock, manifest)


def _write_json(path: Path, data: object) -> None:
    """Write, fsync and rename into place, so a manifest is never half there."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    partial.replace(path)


def verify(src: Path) -> dict[str, Any]:
    """The backup's manifest, once every file it lists is present with its size and sha256."""
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Damaged(
            f"{src / MANIFEST} is missing: {src} is not a citydata backup, or the backup did "
            "not finish"
        ) from None
    except (OSError, ValueError) as exc:
        raise Damaged(f"{src / MANIFEST} cannot be read: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise Damaged(f"{src / MANIFEST}: format {manifest.get('format')!r} is not {FORMAT}")
    for entry in manifest["files"]:
        path = src / entry["path"]
        if not path.is_file():
            raise Damaged(f"{path} is missing from the backup")
        if path.stat().st_size != entry["size"] or sha256(path) != entry["sha256"]:
            raise Damaged(f"{path} is damaged: its checksum is not the one in {MANIFEST}")
    return manifest


def settings_differences(settings: Settings, src: Path) -> list[str]:
    """One line per setting whose value differs from the backed-up installation's."""
    try:
        then = json.loads((src / SETTINGS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    now = settings.redacted()
    return [
        f"setting {name}: was {then.get(name)!r}, now {now.get(name)!r}"
        for name in sorted(set(then) | set(now))
        if then.get(name) != now.get(name)
    ]


def _refusals(settings: Settings, client: InfluxClient, url: str) -> list[str]:
    """What in the target installation already holds data."""
    found = []
    if _check_influx(client, settings):
        found.append(f"InfluxDB database {settings.influx_db!r} at {settings.influx_url}")
    if registry_holds_data(url):
        found.append(f"the registry at {make_url(url).render_as_string(hide_password=True)}")
    letters = Path(settings.data_dir) / DEADLETTER_DIR
    if letters.is_dir() and any(letters.rglob("*.jsonl")):
        found.append(f"dead letters in {letters}")
    return found


def restore(
    settings: Settings, src: Path, *, force: bool = False, progress: Progress = lambda _: None
) -> Summary:
    """Rebuild the installation the settings name from the backup in `src`. Refuses a damaged
    backup (`Damaged`), and a target holding data (`NotEmpty`) unless `force`, which deletes
    what the target holds first."""
    from citydata.registry.store import Registry

    clock = time.monotonic()
    progress(f"verifying {src}...")
    manifest = verify(src)
    _influxd()
    url = registry_url(settings)
    with _open_client(settings) as client:
        found = _refusals(settings, client, url)
        if found and not force:
            raise NotEmpty(
                "refusing to restore over data already there: "
                + "; ".join(found)
                + ". Restore into an empty installation, or add --force to delete it and "
                "replace it with the backup"
            )
        if _check_influx(client, settings) is not None:
            progress(f"dropping the existing database {settings.influx_db!r}...")
            client.query(f"DROP DATABASE {quote_ident(settings.influx_db)}", method="POST")
    progress(f"InfluxDB database {manifest['influx_db']!r} into {settings.influx_db!r}...")
    restore_influx(settings, src / INFLUX_DIR, manifest["influx_db"])
    progress("registry...")
    restore_registry(url, src, manifest)
    with Registry.open(url):  # brings the schema up to this version's migrations
        pass
    letters = Path(settings.data_dir) / DEADLETTER_DIR
    progress(f"dead letters into {letters}...")
    for old in sorted(letters.rglob("*.jsonl")) if letters.is_dir() else []:
        old.unlink()
    copy_deadletters(src / DEADLETTER_DIR, letters)
    notes = [*_migration_note(manifest, _revision(url)), *settings_differences(settings, src)]
    files = manifest["files"]
    size = sum(int(f["size"]) for f in files)
    return Summary(src, len(files), size, time.monotonic() - clock, manifest, tuple(notes))


def _migration_note(manifest: dict[str, Any], now: str | None) -> list[str]:
    then = manifest["registry"]["alembic_revision"]
    if then == now:
        return [f"registry at revision {now} (as backed up)"]
    return [f"registry migrated from revision {then} to {now}"]
