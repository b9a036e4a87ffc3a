"""`citydata broker sync`: Mosquitto's password file and ACL from the registry, then a reload.

Both files are rebuilt whole from the registry's active MQTT credentials, the sensors (a
retired one's device loses access) and the routes, and written atomically (a temporary file
beside the target, fsync, rename), keeping the old file's owner and mode (never readable by
others; 0640 for a new file). The same registry gives the same bytes: a sync with nothing new
rewrites nothing. Then SIGHUP to the broker named by its pid file: Mosquitto rereads its
password file and ACL without dropping anyone who may stay, and disconnects whoever no longer
may connect.

Errors: `SyncError` with a message for the operator (a file that cannot be written, no pid
file, a pid that is not a running Mosquitto).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from citydata.broker import acl, passwords
from citydata.registry.mqtt_credentials import MqttCredentials
from citydata.registry.store import Registry
from citydata.settings import Settings

NEW_FILE_MODE = 0o640


class SyncError(Exception):
    """The files could not be written or the broker not told; the message says what to do."""


@dataclass
class SyncResult:
    """What a sync did."""

    users: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    reloaded_pid: int | None = None


def settings_user(mqtt_url: str) -> tuple[str, str] | None:
    """(user, password) of CITYDATA_MQTT_URL, when it has both."""
    parts = urlsplit(mqtt_url)
    if not parts.username or not parts.password:
        return None
    return unquote(parts.username), unquote(parts.password)


def build(
    registry: Registry, settings: Settings, old_passwd: str = ""
) -> tuple[str, str, acl.Plan]:
    """(password file text, ACL text, the plan they were made from). The settings user's hash
    is taken from `old_passwd` while it still matches its password, so the bytes stay put."""
    rows = MqttCredentials(registry.engine).active_with_hashes()
    own = settings_user(settings.mqtt_url)
    plan = acl.plan(
        [cred for cred, _ in rows],
        registry.snapshot(),
        settings.routes,
        settings.mqtt_share_group,
        settings_user=own[0] if own else None,
    )
    hashes = {cred.username: stored for cred, stored in rows if cred.username in plan.users}
    if own is not None and own[0] in plan.users and own[0] not in hashes:
        old = passwords.read_file(old_passwd).get(own[0])
        ok = old is not None and passwords.verify(own[1], old)
        hashes[own[0]] = old if ok and old else passwords.hash_password(own[1])
    passwd = "".join(f"{name}:{hashes[name]}\n" for name in sorted(hashes))
    return passwd, acl.render(plan), plan


def write_atomic(path: Path, text: str) -> bool:
    """Replace `path` by `text` in one rename; False (and nothing written) when it holds it."""
    data = text.encode()
    try:
        if path.read_bytes() == data:
            return False
        old: os.stat_result | None = path.stat()
    except FileNotFoundError:
        old = None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, NEW_FILE_MODE if old is None else stat.S_IMODE(old.st_mode) & 0o660)
        if old is not None:
            with contextlib.suppress(PermissionError):  # only root may give files away
                os.chown(tmp, old.st_uid, old.st_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def reload_broker(pid_file: Path) -> int:
    """SIGHUP to the Mosquitto whose pid `pid_file` holds; its pid."""
    try:
        text = pid_file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise SyncError(
            f"no broker pid file at {pid_file}: is Mosquitto running with `pid_file {pid_file}`? "
            "(set CITYDATA_BROKER_PID_FILE or --pid-file, or reload it yourself: "
            "systemctl reload mosquitto)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SyncError(f"cannot read the broker pid file {pid_file}: {exc}") from None
    if not text.isdigit() or int(text) < 2:
        raise SyncError(f"the broker pid file {pid_file} holds {text[:20]!r}, not a process id")
    pid = int(text)
    comm = Path(f"/proc/{pid}/comm")
    name = comm.read_text(errors="replace").strip() if comm.exists() else "mosquitto"
    if name != "mosquitto":  # a stale pid file whose number now belongs to another program
        raise SyncError(
            f"process {pid} (from {pid_file}) is {name!r}, not mosquitto: stale pid file?"
        )
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise SyncError(f"no process {pid} (from {pid_file}): is Mosquitto running?") from None
    except PermissionError:
        raise SyncError(
            f"not allowed to signal the broker (pid {pid}): run sync as root or as its user"
        ) from None
    return pid


def sync(
    registry: Registry,
    settings: Settings,
    password_file: Path,
    acl_file: Path,
    pid_file: Path | None,
) -> SyncResult:
    """Write both files from the registry and, with a pid file, make the broker reload them."""
    try:
        old = password_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise SyncError(f"cannot read {password_file}: {exc}") from None
    passwd, acl_text, plan = build(registry, settings, old)
    result = SyncResult(users=sorted(plan.users), left_out=plan.left_out, notes=plan.notes)
    for path, text in ((password_file, passwd), (acl_file, acl_text)):
        try:
            if write_atomic(path, text):
                result.changed.append(path)
        except OSError as exc:
            raise SyncError(
                f"cannot write {path}: {exc.strerror or exc} (does its directory exist, and "
                "may this user write there? run sync as root or as the broker's user)"
            ) from None
    if pid_file is not None:
        result.reloaded_pid = reload_broker(pid_file)
    return result
