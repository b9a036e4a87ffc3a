"""The collector's worker process: pipeline, dead letters, spool, writer and health.

It runs in a process of its own so that decoding, validation and writing do not compete for
the interpreter lock with the MQTT network thread in the main process. The two talk over a
pipe, in the messages of collector/messages.py.

A batch is acknowledged only after its dead letters and its lines are fsynced (the spool); the
writer thread then moves the spool to InfluxDB.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from citydata.deadletters import DeadLetter, DeadLetterStore
from citydata.decoders import Message
from citydata.influx import InfluxClient, InfluxError
from citydata.logs import setup_logging
from citydata.registry import Registry
from citydata.settings import Settings
from citydata.validate import Validator
from collector.health import HealthReporter, Stats
from collector.messages import (
    Ack,
    Acks,
    Item,
    Progress,
    Ready,
    Stop,
    Stopped,
    ToWorker,
)
from collector.pipeline import Pipeline
from collector.sensors import SensorCache
from collector.spool import Spool
from collector.writer import Writer

log = logging.getLogger("collector.worker")
_LOGGED_PER_INTERVAL = 10  # dead letters logged one per line in each health interval
# Unknown metric names remembered so each is logged once. Bounded, and names cut short: a
# device sending ever new (or huge) names must not grow the worker's memory without end.
_UNKNOWN_REMEMBERED = 1000
_NAME_LOGGED = 64


@dataclass
class Batch:
    lines: list[str] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    messages: int = 0
    arrived_sum_ns: int = 0  # the sum of the messages' arrival times, for the mean lag
    first_arrived_ns: int = 0  # the first message's: items come in arrival order, so the oldest


class Worker:
    def __init__(self, settings: Settings, conn: Connection) -> None:
        self.settings = settings
        self.conn = conn
        self.stats = Stats()
        self.influx = InfluxClient.from_settings(settings)
        self.deadletters = DeadLetterStore(settings.data_dir)
        self.spool = Spool(settings.data_dir / "spool", settings.collector_spool_max_bytes)
        self.registry = Registry.from_settings(settings)
        self.sensors = SensorCache(self.registry, settings.registry_refresh_s)
        self.registry_read_at = time.monotonic()
        self.pipeline = Pipeline(
            Validator(settings.collector_max_future_s, settings.collector_max_age_s),
            settings.routes,
            self.sensors,
            settings.collector_max_payload_bytes,
        )
        self.writer = Writer(
            self.influx,
            self.spool,
            self.stats,
            self.deadletters,
            settings.collector_batch_size,
            settings.collector_retry_max_s,
        )
        self.health = HealthReporter(
            settings.mqtt_client_id, spool_max_bytes=settings.collector_spool_max_bytes
        )
        self.queue_depth = 0
        self._unknown_seen: set[tuple[str, str]] = set()
        self._logged = 0
        self._backpressure = False
        self._stopping = False

    def run(self) -> None:
        try:
            self.influx.create_database()
        except InfluxError as exc:  # the writer retries; do not refuse to start ingesting
            log.warning("cannot create database %s yet: %s", self.influx.database, exc)
        pending = self.spool.pending_bytes
        if pending:
            log.info("spool holds %d bytes from before; writing them first", pending)
        self.writer.start()
        self.conn.send(Ready())
        try:
            self._loop()
            self.writer.stop(self.settings.collector_drain_timeout_s)
        except (EOFError, OSError):  # the main process is gone: keep what is durable, stop
            log.error("collector main process went away; stopping the worker")
            self.writer.stop(0)
            return
        finally:
            self.spool.close()
            self.influx.close()
            self.registry.close()
        self.conn.send(Stopped(self.stats))

    def _loop(self) -> None:
        interval = self.settings.collector_flush_interval_s
        size = self.settings.collector_batch_size
        batch = Batch()
        flush_at = time.monotonic() + interval
        next_health = time.monotonic() + self.settings.collector_health_interval_s
        while True:
            timeout = max(0.0, min(flush_at, next_health) - time.monotonic())
            if self.conn.poll(timeout):
                message: ToWorker = self.conn.recv()
                if isinstance(message, Stop):
                    break
                self.queue_depth = message.depth
                for item in message.items:
                    self._process(item, batch)
            now = time.monotonic()
            self._refresh_sensors()
            if len(batch.lines) >= size or now >= flush_at:
                if batch.messages:
                    self._flush(batch)
                    batch = Batch()
                else:
                    self.conn.send(Progress(self.stats, self.registry_read_at))
                flush_at = now + interval
            if now >= next_health:
                self._record_health()
                next_health = now + self.settings.collector_health_interval_s
        self._stopping = True
        self._flush(batch)
        self._record_health()

    def _refresh_sensors(self) -> None:
        before, started = self.sensors.sensors, time.monotonic()
        self.sensors.refresh_if_due()
        if self.sensors.sensors is not before:  # reread (a failed reread keeps the old one)
            self.registry_read_at = started  # it holds every change committed before this

    def _process(self, item: Item, batch: Batch) -> None:
        topic, payload, received_ns, mid, qos, generation, arrived_ns, cut = item
        message = Message(topic, payload, received_ns)
        self.stats.received += 1
        result = self.pipeline.process(message, cut)
        if not batch.messages:
            batch.first_arrived_ns = arrived_ns
        batch.messages += 1
        batch.arrived_sum_ns += arrived_ns
        batch.lines.extend(result.lines)
        if qos > 0:
            batch.acks.append((mid, generation))
        if result.unknown:
            self.stats.unknown_fields += len(result.unknown)
            self._log_unknown(result.unknown, topic)
        if result.dead is not None:
            self.stats.dead_letter(result.dead["reason"])
            batch.dead.append(result.dead)
            if self._logged < _LOGGED_PER_INTERVAL:
                self._logged += 1
                log.warning(
                    "dead-lettered %s: %s; payload %.120r",
                    topic,
                    "; ".join(result.dead["errors"]),
                    payload,
                )

    def _log_unknown(self, unknown: list[tuple[str, str]], topic: str) -> None:
        """Log each unknown (kind, metric name) the first time, up to _UNKNOWN_REMEMBERED."""
        for kind, name in set(unknown):
            key = (kind, name[:_NAME_LOGGED])
            if key in self._unknown_seen or len(self._unknown_seen) > _UNKNOWN_REMEMBERED:
                continue
            self._unknown_seen.add(key)
            if len(self._unknown_seen) > _UNKNOWN_REMEMBERED:
                log.warning(
                    "over %d distinct unknown metric names; no longer logging new ones "
                    "(unknown_fields in health still counts them)",
                    _UNKNOWN_REMEMBERED,
                )
                return
            log.warning(
                "dropping unknown %s metric %r (first seen on %s); check the sensor's field names",
                kind,
                key[1],
                topic,
            )

    def _flush(self, batch: Batch) -> None:
        """Make the batch durable, then have its messages acknowledged."""
        self.deadletters.add(batch.dead)
        if batch.lines and not self._spool(batch.lines):
            return  # stopping while the spool is full: unacknowledged, the broker keeps them
        if batch.messages:  # the publish-to-store lag, per batch: arrival → acknowledgeable
            self.stats.record_durable(
                batch.messages, batch.arrived_sum_ns, batch.first_arrived_ns, time.time_ns()
            )
        self.stats.acked += len(batch.acks)
        self.conn.send(Acks(batch.acks, self.stats, self.registry_read_at))

    def _spool(self, lines: list[str]) -> bool:
        while not self.spool.append(lines, timeout=1.0):
            if not self._backpressure:
                self._backpressure = True
                log.warning(
                    "spool full (%d bytes): not acknowledging; the broker holds new messages",
                    self.spool.pending_bytes,
                )
            if self._stopping:
                return False
            self.conn.send(Progress(self.stats, self.registry_read_at))
        if self._backpressure:
            self._backpressure = False
            log.info("spool has room again; acknowledging")
        return True

    def _record_health(self) -> None:
        fields = self.health.fields(self.stats, self.queue_depth, self.spool.pending_bytes)
        suppressed = self.stats.dead_lettered and self._logged >= _LOGGED_PER_INTERVAL
        self._logged = 0
        log.info(
            "health: %s%s",
            HealthReporter.log_text(fields),
            " (some dead letters not logged)" if suppressed else "",
        )
        now = time.time_ns()
        lines = [self.health.line(fields, now), *self.health.deadletter_lines(self.stats, now)]
        # Not when the spool is full: health must never hold up readings.
        self.spool.append(lines, timeout=0)


def main(settings: Settings, conn: Connection) -> None:
    """Entry point of the worker process. Signals are the main process's to handle: it tells
    the worker to stop once everything received is durable (Ctrl-C reaches the whole group)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    setup_logging(settings)
    Worker(settings, conn).run()
