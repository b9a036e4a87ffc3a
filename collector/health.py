"""The collector's own counters, recorded to InfluxDB (`citydata_collector`) and to the log."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from citydata.health import MEASUREMENT
from citydata.lineprotocol import encode_point


@dataclass
class Stats:
    """Cumulative counters; each is written by one thread only, so no lock is needed."""

    received: int = 0  # messages from the broker (MQTT thread)
    written: int = 0  # readings stored in InfluxDB (writer thread)
    dead_lettered: int = 0  # messages dead-lettered (pipeline thread)
    unknown_fields: int = 0  # metric values dropped for an unknown name (pipeline thread)
    write_errors: int = 0  # failed write attempts (writer thread)
    rejected: int = 0  # points InfluxDB refused, dead-lettered (writer thread)
    influx_alarm: int = 0  # 1 while InfluxDB refuses our credentials (writer thread)
    acked: int = 0  # messages acknowledged to the broker once durable (pipeline thread)
    writes: int = 0
    write_seconds: float = 0.0
    write_max_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def record_write(self, points: int, seconds: float) -> None:
        self.written += points
        self.writes += 1
        self.write_seconds += seconds
        self.write_max_seconds = max(self.write_max_seconds, seconds)


@dataclass
class HealthReporter:
    """Turns two snapshots of `Stats` into one health point and one log line."""

    collector: str
    host: str = field(default_factory=socket.gethostname)
    _last_writes: int = 0
    _last_seconds: float = 0.0

    def fields(self, stats: Stats, queue_depth: int, spool_bytes: int) -> dict[str, float]:
        writes = stats.writes - self._last_writes
        seconds = stats.write_seconds - self._last_seconds
        self._last_writes, self._last_seconds = stats.writes, stats.write_seconds
        latency_ms = 1000 * seconds / writes if writes else 0.0
        out = {
            "received": stats.received,
            "written": stats.written,
            "dead_lettered": stats.dead_lettered,
            "unknown_fields": stats.unknown_fields,
            "acked": stats.acked,
            "write_errors": stats.write_errors,
            "rejected": stats.rejected,
            "influx_alarm": stats.influx_alarm,
            "queue_depth": queue_depth,
            "spool_bytes": spool_bytes,
            "write_latency_ms": round(latency_ms, 3),
            "write_latency_max_ms": round(1000 * stats.write_max_seconds, 3),
            "uptime_s": round(time.monotonic() - stats.started, 1),
        }
        stats.write_max_seconds = 0.0
        return {k: float(v) for k, v in out.items()}

    def line(self, fields: dict[str, float], time_ns: int) -> str:
        return encode_point(
            MEASUREMENT, {"collector": self.collector, "host": self.host}, fields, time_ns
        )

    @staticmethod
    def log_text(fields: dict[str, float]) -> str:
        return " ".join(f"{k}={v:g}" for k, v in fields.items())
