"""Real Mosquitto and InfluxDB servers started on loopback ports, for the demo, tests and benches.

Each server gets its own directory and config file, runs as a child process and is stopped by
its PID, never by name, so a system-wide Mosquitto or InfluxDB on the default ports is left
alone. The binaries come from the distribution's `mosquitto` and `influxdb` packages.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

INSTALL_HINT = "install it with: sudo apt-get install -y mosquitto influxdb"


class ServiceError(RuntimeError):
    """A server could not be found or did not come up."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def find_binary(name: str) -> str:
    """The path of a server binary, looking in sbin too (Debian puts mosquitto there)."""
    path = shutil.which(name, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise ServiceError(f"{name} not found; {INSTALL_HINT}")
    return path


@dataclass
class Service:
    """A server process we started: its port, directory and how to stop it."""

    name: str
    command: list[str]
    workdir: Path
    port: int
    ready: float = 20.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Self:
        """Start the process and wait until it answers."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it.
            )
        deadline = time.monotonic() + self.ready
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            if self.is_up():
                return self
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"{self.name} did not come up in {self.ready:g}s:\n{self.log_tail()}")

    def is_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, as a crash would; `start()` brings it back on the same port and data."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class InfluxService(Service):
    """influxd: up when GET /ping answers 204."""

    rpc_port: int = 0  # the backup and restore (RPC) port, for CITYDATA_INFLUX_BACKUP_ADDR

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backup_addr(self) -> str:
        """host:port of influxd's backup and restore service (`influxd backup -host`)."""
        return f"127.0.0.1:{self.rpc_port}"

    def is_up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False


@dataclass
class MosquittoService(Service):
    tls_port: int | None = None  # the TLS listener's port, when `mosquitto(tls=...)` has one

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """The TLS listener: its certificate must name 127.0.0.1 (or use another host name)."""
        assert self.tls_port is not None, "started without a TLS listener"
        return f"mqtts://127.0.0.1:{self.tls_port}"


@dataclass(frozen=True)
class BrokerTLS:
    """A TLS listener beside the plain one: the server's certificate and key, and with
    `require_certificate` only clients with a certificate signed by `cafile` get in."""

    certfile: Path
    keyfile: Path
    cafile: Path | None = None
    require_certificate: bool = False
    port: int | None = None

    def lines(self, port: int) -> str:
        lines = [f"listener {port} 127.0.0.1", f"certfile {self.certfile}"]
        lines += [f"keyfile {self.keyfile}", "tls_version tlsv1.2"]
        if self.cafile is not None:
            lines.append(f"cafile {self.cafile}")
        lines.append(f"require_certificate {'true' if self.require_certificate else 'false'}")
        return "\n".join(lines) + "\n"


def mosquitto(
    workdir: Path,
    port: int | None = None,
    persistence: bool = False,
    tls: BrokerTLS | None = None,
    password_file: Path | None = None,
    acl_file: Path | None = None,
) -> MosquittoService:
    """A Mosquitto broker on loopback (not yet started). Queues are unbounded, as a collector's
    broker needs while a collector is down; persistence keeps sessions across restarts; `tls`
    adds a TLS listener on a port of its own (`tls_port`, `tls_url`). With `password_file`
    (and `acl_file`) only those users get in, on what the ACL allows, and the broker writes
    its pid to `workdir/mosquitto.pid` for `citydata broker sync` to signal it."""
    workdir = workdir.absolute()  # the server runs in workdir: a relative path would not resolve
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    tls_port = None if tls is None else tls.port or _other_free_port(port)
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"""# written by citydata.services
user {getpass.getuser()}
listener {port} 127.0.0.1
{_auth_lines(workdir, password_file, acl_file)}persistence {"true" if persistence else "false"}
persistence_location {workdir}/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 0
max_keepalive 3600
log_dest stderr
log_type error
log_type warning
log_type notice
"""
        + (tls.lines(tls_port) if tls is not None and tls_port is not None else ""),
        encoding="utf-8",
    )
    command = [find_binary("mosquitto"), "-c", str(conf)]
    return MosquittoService("mosquitto", command, workdir, port, tls_port=tls_port)


def _auth_lines(workdir: Path, password_file: Path | None, acl_file: Path | None) -> str:
    if password_file is None:
        return "allow_anonymous true\n"
    lines = ["allow_anonymous false", f"password_file {password_file.absolute()}"]
    if acl_file is not None:
        lines.append(f"acl_file {acl_file.absolute()}")
    lines.append(f"pid_file {workdir / 'mosquitto.pid'}")
    return "\n".join(lines) + "\n"


def _other_free_port(taken: int) -> int:
    port = free_port()
    while port == taken:
        port = free_port()
    return port


def influxdb(workdir: Path, port: int | None = None) -> InfluxService:
    """An InfluxDB 1.x server on loopback (not yet started), everything under `workdir`."""
    workdir = workdir.absolute()  # the server runs in workdir: a relative path would not resolve
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    rpc = free_port()
    while rpc == port:
        rpc = free_port()
    conf = workdir / "influxdb.conf"
    conf.write_text(
        f"""# written by citydata.services
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{workdir}/meta"
  logging-enabled = false
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  max-body-size = 0
[continuous_queries]
  log-enabled = false
[subscriber]
  enabled = false
[logging]
  level = "warn"
""",
        encoding="utf-8",
    )
    command = [find_binary("influxd"), "run", "-config", str(conf)]
    return InfluxService("influxd", command, workdir, port, rpc_port=rpc)


def postgres_binary(name: str) -> str:
    """A PostgreSQL server binary: Debian keeps them in /usr/lib/postgresql/<version>/bin."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if path is None:
        raise ServiceError(f"{name} not found; install it with: sudo apt-get install -y postgresql")
    return path


@dataclass
class PostgresService(Service):
    """PostgreSQL on loopback, user `citydata` trusted; stopped through its postmaster PID (as
    root it runs as the `postgres` user, so the process we started is `runuser`)."""

    cluster: Path = Path()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://citydata@127.0.0.1:{self.port}/postgres"

    def stop(self, timeout: float = 15.0) -> None:
        try:
            pid = int((self.cluster / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        if pid is not None and self.process is not None and self.process.poll() is None:
            os.kill(pid, signal.SIGTERM)  # the server we started, a child of our runuser
        super().stop(timeout)


def postgres(workdir: Path, port: int | None = None) -> PostgresService:
    """A throwaway PostgreSQL server (not yet started). As root the cluster lives in a /tmp
    folder of the `postgres` user, since the server refuses to run as root and cannot enter
    root's private temporary folders; `shutil.rmtree(service.cluster.parent)` removes it."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    as_postgres: list[str] = []
    home = workdir
    if os.geteuid() == 0:
        as_postgres = ["runuser", "-u", "postgres", "--"]
        home = Path(tempfile.mkdtemp(prefix="citydata-pg-"))
        home.chmod(0o755)
        shutil.chown(home, "postgres")
    cluster = home / "data"
    if not cluster.exists():
        subprocess.run(
            [
                *as_postgres,
                postgres_binary("initdb"),
                "-D",
                str(cluster),
                "-A",
                "trust",
                "-U",
                "citydata",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
    command = [
        *as_postgres,
        postgres_binary("postgres"),
        "-D",
        str(cluster),
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
        "-k",
        str(home),
        "-c",
        "fsync=off",
    ]
    return PostgresService("postgres", command, workdir, port, cluster=cluster)
