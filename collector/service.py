"""The collector process: MQTT in, pipeline, durable spool, writer out, health every interval.

Three threads. Paho's network thread only puts messages on a bounded queue. The pipeline
thread decodes, validates and batches; at each flush it fsyncs dead letters and the batch (to
the spool), and only then acknowledges the batch's messages to the broker (manual QoS 1
acks). The writer thread moves batches from the spool to InfluxDB. So every reading is always
durable somewhere: in the broker's persistent session, in the spool, or in InfluxDB.

The queue never makes the network thread wait: the collector asks the broker (MQTT 5 Receive
Maximum) for no more unacknowledged messages than the queue holds. When the spool is full,
acknowledgements stop and the broker holds the rest: backpressure, not loss.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from citydata.influx import InfluxClient, InfluxError
from citydata.mqtt import make_client
from citydata.settings import Settings
from collector.deadletter import DeadLetterStore
from collector.decoders import Message
from collector.health import HealthReporter, Stats
from collector.pipeline import Pipeline
from collector.spool import Spool
from collector.validate import Validator
from collector.writer import Writer

log = logging.getLogger(__name__)
_LOGGED_PER_INTERVAL = 10  # dead letters logged one per line in each health interval


@dataclass(slots=True)
class Inbound:
    """A received message with what is needed to acknowledge it later."""

    message: Message
    mid: int
    qos: int
    generation: int  # which connection it came on: acks are only valid on that one


_STOP = Inbound(Message("", b"", 0), 0, 0, -1)


@dataclass
class Batch:
    lines: list[str] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)  # (mid, generation)
    messages: int = 0


class Collector:
    def __init__(self, settings: Settings, influx: InfluxClient | None = None) -> None:
        self.settings = settings
        self.influx = influx or InfluxClient.from_settings(settings)
        self.stats = Stats()
        self.deadletters = DeadLetterStore(settings.data_dir)
        self.spool = Spool(settings.data_dir / "spool", settings.collector_spool_max_bytes)
        self.pipeline = Pipeline(
            Validator(settings.collector_max_future_s, settings.collector_max_age_s)
        )
        # Receive Maximum keeps QoS 1 deliveries within queue_size; the slack is for QoS 0 ones.
        self.inbox: queue.Queue[Inbound] = queue.Queue(2 * settings.collector_queue_size)
        self.writer = Writer(
            self.influx,
            self.spool,
            self.stats,
            self.deadletters,
            settings.collector_batch_size,
            settings.collector_retry_max_s,
        )
        self.health = HealthReporter(settings.mqtt_client_id)
        self.connected = threading.Event()
        self._generation = 0
        self._closing = False
        self._attempts = 0
        self._worker = threading.Thread(target=self._run_pipeline, name="pipeline", daemon=True)
        self._stopped = threading.Event()
        self._unknown_seen: set[tuple[str, str]] = set()
        self._logged = 0
        self._backpressure = False
        self.client, self._host, self._port = make_client(
            settings.mqtt_url, settings.mqtt_client_id, manual_ack=True
        )
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # --- MQTT thread: never raises, never waits ----------------------------------------------

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self._closing:  # not acknowledged: the broker delivers it again next session
            return
        self.stats.received += 1
        message = Message(msg.topic, bytes(msg.payload), time.time_ns())
        self.inbox.put(Inbound(message, msg.mid, msg.qos, self._generation))

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s:%s refused us: %s", self._host, self._port, reason)
            return
        self._generation += 1
        self._attempts = 0
        log.info(
            "connected to MQTT %s:%s (session present: %s); subscribing to %s",
            self._host,
            self._port,
            flags.session_present,
            self.settings.subscription,
        )
        client.subscribe(self.settings.subscription, options=SubscribeOptions(qos=1))
        self.connected.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._attempts += 1
        log.warning(
            "cannot reach MQTT broker %s:%s (attempt %d); retrying with backoff up to 60s",
            self._host,
            self._port,
            self._attempts,
        )

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.connected.clear()
        if not self._stopped.is_set():
            log.warning("disconnected from MQTT broker: %s; reconnecting", reason)

    # --- pipeline thread ---------------------------------------------------------------------

    def _run_pipeline(self) -> None:
        interval = self.settings.collector_flush_interval_s
        batch = Batch()
        flush_at = float("inf")
        next_health = time.monotonic() + self.settings.collector_health_interval_s
        while True:
            timeout = max(0.0, min(flush_at, next_health) - time.monotonic())
            try:
                item: Inbound | None = self.inbox.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None:
                if not batch.messages:
                    flush_at = time.monotonic() + interval
                self._process(item, batch)
            now = time.monotonic()
            if batch.messages and (
                len(batch.lines) >= self.settings.collector_batch_size or now >= flush_at
            ):
                self._flush(batch)
                batch, flush_at = Batch(), float("inf")
            if now >= next_health:
                self._record_health()
                next_health = now + self.settings.collector_health_interval_s
        self._flush(batch)

    def _process(self, item: Inbound, batch: Batch) -> None:
        message = item.message
        result = self.pipeline.process(message)
        batch.messages += 1
        batch.lines.extend(result.lines)
        if item.qos > 0:
            batch.acks.append((item.mid, item.generation))
        if result.unknown:
            self.stats.unknown_fields += len(result.unknown)
            for key in set(result.unknown) - self._unknown_seen:
                self._unknown_seen.add(key)
                log.warning(
                    "dropping unknown %s metric %r (first seen on %s); check the sensor's field "
                    "names",
                    key[0],
                    key[1],
                    message.topic,
                )
        if result.dead is not None:
            self.stats.dead_lettered += 1
            batch.dead.append(result.dead)
            if self._logged < _LOGGED_PER_INTERVAL:
                self._logged += 1
                log.warning(
                    "dead-lettered %s: %s; payload %.120r",
                    message.topic,
                    "; ".join(result.dead["errors"]),
                    message.payload,
                )

    def _flush(self, batch: Batch) -> None:
        """Make the batch durable, then acknowledge its messages."""
        self.deadletters.add(batch.dead)
        if batch.lines and not self._spool(batch.lines):
            return  # stopping while the spool is full: unacknowledged, the broker keeps them
        for mid, generation in batch.acks:
            if generation == self._generation:  # a stale ack would confirm another message
                self.client.ack(mid, 1)
        self.stats.acked += len(batch.acks)

    def _spool(self, lines: list[str]) -> bool:
        while not self.spool.append(lines, timeout=1.0):
            if not self._backpressure:
                self._backpressure = True
                log.warning(
                    "spool full (%d bytes): not acknowledging; the broker holds new messages",
                    self.spool.pending_bytes,
                )
            if self._closing:
                return False
        if self._backpressure:
            self._backpressure = False
            log.info("spool has room again; acknowledging")
        return True

    def _record_health(self) -> None:
        fields = self.health.fields(self.stats, self.inbox.qsize(), self.spool.pending_bytes)
        suppressed = self.stats.dead_lettered and self._logged >= _LOGGED_PER_INTERVAL
        self._logged = 0
        log.info(
            "health: %s%s",
            HealthReporter.log_text(fields),
            " (some dead letters not logged)" if suppressed else "",
        )
        # Not when the spool is full: health must never hold up readings.
        self.spool.append([self.health.line(fields, time.time_ns())], timeout=0)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Create the database if needed, start the threads, connect (retrying forever)."""
        try:
            self.influx.create_database()
        except InfluxError as exc:  # the writer retries; do not refuse to start ingesting
            log.warning("cannot create database %s yet: %s", self.influx.database, exc)
        pending = self.spool.pending_bytes
        if pending:
            log.info("spool holds %d bytes from before; writing them first", pending)
        self.writer.start()
        self._worker.start()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
        props.ReceiveMaximum = min(self.settings.collector_queue_size, 65535)
        self.client.connect_async(
            self._host,
            self._port,
            keepalive=self.settings.mqtt_keepalive_s,
            clean_start=self.settings.mqtt_session_expiry_s == 0,
            properties=props,
        )
        self.client.loop_start()
        log.info(
            "collector %s started: %s → InfluxDB %s/%s",
            self.settings.mqtt_client_id,
            self.settings.mqtt_url,
            self.settings.influx_url,
            self.settings.influx_db,
        )

    def stop(self) -> None:
        """Stop taking messages, make everything received durable and acknowledge it, then
        write the spool to InfluxDB for up to `collector_drain_timeout_s`."""
        if self._stopped.is_set():
            return
        self._closing = True
        self.inbox.put(_STOP)
        self._worker.join()
        self._record_health()
        self._stopped.set()
        self.client.disconnect()  # queued acknowledgements go out before the DISCONNECT
        self.client.loop_stop()
        self.writer.stop(self.settings.collector_drain_timeout_s)
        self.spool.close()
        log.info(
            "collector stopped: received=%d acked=%d written=%d dead_lettered=%d",
            self.stats.received,
            self.stats.acked,
            self.stats.written,
            self.stats.dead_lettered,
        )
        self.influx.close()

    def run(self) -> None:
        """Run until SIGTERM or SIGINT, then stop cleanly."""
        done = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("%s received; flushing and stopping", signal.Signals(signum).name)
            done.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        done.wait()
        self.stop()
