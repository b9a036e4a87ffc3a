"""The collector's own counters, recorded to InfluxDB (citydata.health) and to the log."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from citydata.health import DEADLETTERS, MEASUREMENT
from citydata.lineprotocol import encode_point

_MS = 1e-6  # nanoseconds to milliseconds


@dataclass
class Stats:
    """Cumulative counters; each is written by one thread only, so no lock is needed."""

    received: int = 0  # messages from the broker (MQTT thread)
    written: int = 0  # readings stored in InfluxDB (writer thread)
    dead_lettered: int = 0  # messages dead-lettered (pipeline thread)
    unknown_fields: int = 0  # metric values dropped for an unknown name (pipeline thread)
    # Messages whose payload spoke for another sensor than their topic (pipeline thread): of
    # the dead letters, the one an operator must hear of at once (a spoofing attempt).
    identity_mismatch: int = 0
    write_errors: int = 0  # failed write attempts (writer thread)
    rejected: int = 0  # points InfluxDB refused, dead-lettered (writer thread)
    influx_alarm: int = 0  # 1 while InfluxDB refuses our credentials (writer thread)
    acked: int = 0  # messages acknowledged to the broker once durable (pipeline thread)
    writes: int = 0
    write_seconds: float = 0.0
    write_max_seconds: float = 0.0
    # Messages made durable (spool and dead-letter store fsynced), and the sum and the largest
    # of their times from arrival here to then (pipeline thread; see record_durable).
    durable: int = 0
    lag_ns: int = 0
    lag_max_ns: int = 0
    # Dead letters by reason code: the pipeline's and the points InfluxDB refused, apart so
    # that each dict has one writing thread. The codes become the `reason` tag: low
    # cardinality, since every Problem is made with a string literal as its code (decoders,
    # validator, registry check, pipeline, writer): about twenty, listed in docs/operations.md.
    dead_by_reason: dict[str, int] = field(default_factory=dict)  # pipeline thread
    rejected_by_reason: dict[str, int] = field(default_factory=dict)  # writer thread
    started: float = field(default_factory=time.monotonic)

    def record_write(self, points: int, seconds: float) -> None:
        self.written += points
        self.writes += 1
        self.write_seconds += seconds
        self.write_max_seconds = max(self.write_max_seconds, seconds)

    def record_durable(
        self, messages: int, arrived_sum_ns: int, oldest_ns: int, durable_ns: int
    ) -> None:
        """A batch of `messages` became durable (acknowledgeable) at `durable_ns`;
        `arrived_sum_ns` is the sum of their arrival times, `oldest_ns` the earliest (epoch ns,
        as time.time_ns()). Once per batch: their lags add up to
        messages * durable_ns - arrived_sum_ns."""
        self.durable += messages
        # max(0, ...): the wall clock may have been stepped back since the arrival.
        self.lag_ns += max(0, durable_ns * messages - arrived_sum_ns)
        self.lag_max_ns = max(self.lag_max_ns, durable_ns - oldest_ns)

    def dead_letter(self, reason: str) -> None:
        """The pipeline dead-lettered a message: a counter and a dict entry, nothing more."""
        self.dead_lettered += 1
        self.dead_by_reason[reason] = self.dead_by_reason.get(reason, 0) + 1
        if reason == "identity_mismatch":
            self.identity_mismatch += 1

    def reject(self, reason: str) -> None:
        """The writer dead-lettered a point InfluxDB refused."""
        self.rejected += 1
        self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1

    def deadletters_by_reason(self) -> dict[str, int]:
        """Every dead letter so far by reason code, the writer's refused points included."""
        merged = dict(self.dead_by_reason)
        for reason, n in dict(self.rejected_by_reason).items():  # copied: the writer adds keys
            merged[reason] = merged.get(reason, 0) + n
        return merged


@dataclass
class HealthReporter:
    """Turns two snapshots of `Stats` into one health point, the dead-letter counts by reason
    and one log line."""

    collector: str
    host: str = field(default_factory=socket.gethostname)
    spool_max_bytes: int = 0  # the spool's limit, so readers can say how full it is
    _last_writes: int = 0
    _last_seconds: float = 0.0
    _last_durable: int = 0
    _last_lag_ns: int = 0

    def fields(self, stats: Stats, queue_depth: int, spool_bytes: int) -> dict[str, float]:
        writes = stats.writes - self._last_writes
        seconds = stats.write_seconds - self._last_seconds
        self._last_writes, self._last_seconds = stats.writes, stats.write_seconds
        latency_ms = 1000 * seconds / writes if writes else 0.0
        durable = stats.durable - self._last_durable
        lag_ns = stats.lag_ns - self._last_lag_ns
        self._last_durable, self._last_lag_ns = stats.durable, stats.lag_ns
        out = {
            "received": stats.received,
            "written": stats.written,
            "dead_lettered": stats.dead_lettered,
            "unknown_fields": stats.unknown_fields,
            "identity_mismatch": stats.identity_mismatch,
            "acked": stats.acked,
            "write_errors": stats.write_errors,
            "rejected": stats.rejected,
            "influx_alarm": stats.influx_alarm,
            "queue_depth": queue_depth,
            "spool_bytes": spool_bytes,
            "spool_max_bytes": self.spool_max_bytes,
            "lag_ms": round(_MS * lag_ns / durable, 3) if durable else 0.0,
            "lag_max_ms": round(_MS * stats.lag_max_ns, 3) if durable else 0.0,
            "write_latency_ms": round(latency_ms, 3),
            "write_latency_max_ms": round(1000 * stats.write_max_seconds, 3),
            "uptime_s": round(time.monotonic() - stats.started, 1),
        }
        stats.write_max_seconds = 0.0
        stats.lag_max_ns = 0
        return {k: float(v) for k, v in out.items()}

    def line(self, fields: dict[str, float], time_ns: int) -> str:
        return encode_point(
            MEASUREMENT, {"collector": self.collector, "host": self.host}, fields, time_ns
        )

    def deadletter_lines(self, stats: Stats, time_ns: int) -> list[str]:
        """One point per reason seen since the collector started, `count` cumulative."""
        return [
            encode_point(
                DEADLETTERS,
                {"collector": self.collector, "host": self.host, "reason": reason},
                {"count": float(n)},
                time_ns,
            )
            for reason, n in sorted(stats.deadletters_by_reason().items())
        ]

    @staticmethod
    def log_text(fields: dict[str, float]) -> str:
        return " ".join(f"{k}={v:g}" for k, v in fields.items())
