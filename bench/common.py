"""What the benchmarks share: their error type, and a run in a temporary directory with a
real InfluxDB, stopped by PID and removed afterwards (kept with --keep, for the logs)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from citydata import services


class BenchError(RuntimeError):
    """A step never completed, a process failed, or a server answered wrongly; the message
    says what."""


def run_with_influxdb(
    prefix: str,
    keep: bool,
    body: Callable[[Path, services.InfluxService], None],
    errors: tuple[type[Exception], ...] = (),
) -> int:
    """Start InfluxDB in a new temporary directory, run `body(tmp, influx)`, and stop and
    clean up whatever happens. Exit status: 0, or 1 after printing a BenchError, a
    ServiceError or one of `errors`."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    influx = services.influxdb(tmp / "influxdb")
    caught: tuple[type[Exception], ...] = (BenchError, services.ServiceError, *errors)
    try:
        influx.start()
        body(tmp, influx)
        return 0
    except caught as exc:
        hint = "" if keep else " (run with --keep to keep the logs)"
        print(f"bench failed{hint}: {exc}", file=sys.stderr)
        return 1
    finally:
        influx.stop()
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def stop_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float) -> None:
    """SIGTERM a child we started, by PID; SIGKILL when it has not exited within `timeout`."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
