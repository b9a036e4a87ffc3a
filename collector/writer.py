"""The writer thread: batches of line protocol to InfluxDB, retrying what can succeed later.

Errors are sorted as Telegraf sorts them: a connection error, timeout, 429 or 5xx is retried
with exponential backoff and jitter (honouring Retry-After); 413 splits the batch; 400/422
means InfluxDB refused the points, which go to the dead-letter store; 401/403 is logged as an
alarm and retried slowly, since only an operator can fix it. What is still unwritten when the
collector must exit is saved to `<data_dir>/unsent/` as line protocol, never dropped.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from pathlib import Path

from citydata.influx import InfluxClient, InfluxError, InfluxWriteError
from collector.deadletter import DeadLetterStore, record
from collector.decoders import Message, Problem
from collector.health import Stats

log = logging.getLogger(__name__)


class Writer(threading.Thread):
    def __init__(
        self,
        client: InfluxClient,
        stats: Stats,
        deadletters: DeadLetterStore,
        data_dir: Path,
        max_batches: int = 8,
    ) -> None:
        super().__init__(name="influx-writer", daemon=True)
        self.client = client
        self.stats = stats
        self.deadletters = deadletters
        self.unsent_dir = data_dir / "unsent"
        # (lines, how many of them are readings): the health point is written but not counted
        self.batches: queue.Queue[tuple[list[str], int] | None] = queue.Queue(max_batches)
        self.give_up = threading.Event()  # set at shutdown once retrying has had its time

    def pending(self) -> int:
        return self.batches.qsize()

    def submit(self, lines: list[str], readings: int | None = None) -> None:
        """Queue a batch; blocks when the writer is behind, which slows intake upstream."""
        self.batches.put((lines, len(lines) if readings is None else readings))

    def close(self) -> None:
        self.batches.put(None)

    def run(self) -> None:
        while (batch := self.batches.get()) is not None:
            lines, readings = batch
            self._write(lines, readings == len(lines))

    def _write(self, lines: list[str], count: bool = True) -> None:
        delay = 0.5
        while True:
            started = time.perf_counter()
            try:
                self.client.write_lines(lines)
                self.stats.record_write(len(lines) if count else 0, time.perf_counter() - started)
                return
            except InfluxWriteError as exc:
                self.stats.write_errors += 1
                if exc.status == 413 and len(lines) > 1:
                    half = len(lines) // 2
                    self._write(lines[:half], count)
                    self._write(lines[half:], count)
                    return
                if exc.status in (400, 422):
                    self._reject(lines, exc)
                    return
                if exc.status in (401, 403):
                    log.error(
                        "ALARM: InfluxDB refuses our credentials (HTTP %s); check "
                        "CITYDATA_INFLUX_TOKEN / _USER / _PASSWORD",
                        exc.status,
                    )
                    delay = max(delay, 30.0)
                else:
                    log.warning("%s; retrying %d points", exc, len(lines))
                wait = exc.retry_after if exc.retry_after is not None else delay
            except InfluxError as exc:
                self.stats.write_errors += 1
                log.warning("%s; retrying %d points", exc, len(lines))
                wait = delay
            if self.give_up.is_set():
                self._save_unsent(lines)
                return
            # Jitter spreads the retries of several collectors after a shared outage.
            self.give_up.wait(wait * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 30.0)

    def _reject(self, lines: list[str], exc: InfluxWriteError) -> None:
        now = time.time_ns()
        problem = Problem("influx_rejected", f"HTTP {exc.status}: {exc.body.strip()[:300]}")
        self.deadletters.add([record(Message("", line.encode(), now), [problem]) for line in lines])
        log.error("InfluxDB rejected a batch of %d points (dead-lettered): %s", len(lines), exc)

    def _save_unsent(self, lines: list[str]) -> None:
        self.unsent_dir.mkdir(parents=True, exist_ok=True)
        path = self.unsent_dir / f"{time.time_ns()}.lp"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        log.error("InfluxDB unreachable at shutdown: %d points saved to %s", len(lines), path)
