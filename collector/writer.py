"""The writer thread: batches from the spool to InfluxDB, committed only once stored.

Errors are sorted as a careful InfluxDB client sorts them:
- connection error, timeout, 429, 5xx: retried with exponential backoff and jitter, honouring
  Retry-After; the batch stays in the spool meanwhile, so nothing is lost;
- 404 "database not found": the database is created, then the batch retried;
- 413: the batch is split in halves;
- 400/422: InfluxDB refused some points. The batch is bisected until the refused points are
  alone; those go to the dead-letter store, the rest are stored;
- 401/403: an alarm in the log and in health; no more attempts (only an operator can fix the
  credentials), the spool keeps everything and fills, and then backpressure holds the broker.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from citydata.deadletters import DeadLetterStore, record
from citydata.decoders import Message, Problem
from citydata.health import DEADLETTERS, MEASUREMENT
from citydata.influx import InfluxClient, InfluxError, InfluxWriteError
from collector.health import Stats
from collector.spool import Spool

log = logging.getLogger(__name__)
# The collector's own points (health, dead letters by reason) are not readings: not `written`.
_OWN_PREFIXES = (MEASUREMENT.encode() + b",", DEADLETTERS.encode() + b",")


class Writer(threading.Thread):
    def __init__(
        self,
        client: InfluxClient,
        spool: Spool,
        stats: Stats,
        deadletters: DeadLetterStore,
        batch_size: int,
        retry_max_s: float = 10.0,
    ) -> None:
        super().__init__(name="influx-writer", daemon=True)
        self.client = client
        self.spool = spool
        self.stats = stats
        self.deadletters = deadletters
        self.batch_size = batch_size
        self.retry_max_s = retry_max_s
        self._draining = threading.Event()  # stop once the spool is empty
        self._abort = threading.Event()  # stop now; what is left stays in the spool

    def run(self) -> None:
        while not self._abort.is_set():
            pos, lines = self.spool.read(self.batch_size, timeout=0.2)
            if not lines:
                if self._draining.is_set():
                    return
                continue
            if not self._store(lines):
                return
            self.spool.commit(pos)

    def stop(self, drain_timeout: float) -> None:
        """Write what the spool holds for up to `drain_timeout` seconds, then stop."""
        self._draining.set()
        self.join(drain_timeout)
        if self.is_alive():
            log.warning(
                "InfluxDB not reachable: %d bytes stay in the spool for the next start",
                self.spool.pending_bytes,
            )
            self._abort.set()
            self.join()

    def _store(self, lines: list[bytes]) -> bool:
        """Store `lines` (or dead-letter what InfluxDB refuses); False if aborted first."""
        delay = 0.5
        while True:
            started = time.perf_counter()
            try:
                self.client.write(b"\n".join(lines))
                readings = sum(not line.startswith(_OWN_PREFIXES) for line in lines)
                self.stats.record_write(readings, time.perf_counter() - started)
                self.stats.influx_alarm = 0
                return True
            except InfluxWriteError as exc:
                self.stats.write_errors += 1
                if exc.status in (400, 413, 422):
                    return self._split(lines, exc)
                if exc.status in (401, 403):
                    self._auth_alarm(exc)
                    return False
                if exc.status == 404 and "database not found" in exc.body:
                    self._create_database()
                    continue
                log.warning("%s; retrying %d points", exc, len(lines))
                wait = exc.retry_after if exc.retry_after is not None else delay
            except InfluxError as exc:
                self.stats.write_errors += 1
                log.warning("%s; retrying %d points", exc, len(lines))
                wait = delay
            # Jitter spreads the retries of several collectors after a shared outage.
            if self._abort.wait(wait * random.uniform(0.8, 1.2)):
                return False
            delay = min(delay * 2, self.retry_max_s)

    def _split(self, lines: list[bytes], exc: InfluxWriteError) -> bool:
        if len(lines) == 1:
            if exc.status == 413:
                problem = Problem("influx_rejected", "a single point is larger than InfluxDB takes")
            else:
                problem = Problem("influx_rejected", f"HTTP {exc.status}: {exc.body.strip()[:300]}")
            self.deadletters.add([record(Message("", lines[0], time.time_ns()), [problem])])
            self.stats.reject(problem.reason)
            log.error("InfluxDB refused a point (dead-lettered): %s", exc)
            return True
        half = len(lines) // 2
        return self._store(lines[:half]) and self._store(lines[half:])

    def _auth_alarm(self, exc: InfluxWriteError) -> None:
        self.stats.influx_alarm = 1
        log.critical(
            "ALARM: InfluxDB refuses our credentials (HTTP %s): writing stopped; readings stay "
            "in the spool. Fix CITYDATA_INFLUX_TOKEN or _USER/_PASSWORD and restart.",
            exc.status,
        )
        self._abort.wait()

    def _create_database(self) -> None:
        try:
            self.client.create_database()
            log.warning("database %s did not exist; created it", self.client.database)
        except InfluxError as exc:
            log.warning("cannot create database %s: %s", self.client.database, exc)
            self._abort.wait(1.0)
