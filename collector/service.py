"""The collector process: MQTT in, pipeline, batches out to the writer, health every interval.

Three threads: paho's network thread only puts messages on a bounded queue; the pipeline
thread decodes, validates and batches; the writer thread writes batches to InfluxDB. When the
queue is full the network thread waits, so the broker holds back messages (TCP backpressure)
instead of anything being dropped. `stop()` drains every stage before it returns.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
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
from collector.validate import Validator
from collector.writer import Writer

log = logging.getLogger(__name__)
_STOP = Message("", b"", 0)
_LOGGED_PER_INTERVAL = 10  # dead letters logged one per line in each health interval


class Collector:
    def __init__(self, settings: Settings, influx: InfluxClient | None = None) -> None:
        self.settings = settings
        self.influx = influx or InfluxClient.from_settings(settings)
        self.stats = Stats()
        self.deadletters = DeadLetterStore(settings.data_dir)
        self.pipeline = Pipeline(
            Validator(settings.collector_max_future_s, settings.collector_max_age_s)
        )
        self.inbox: queue.Queue[Message] = queue.Queue(settings.collector_queue_size)
        self.writer = Writer(self.influx, self.stats, self.deadletters, settings.data_dir)
        self.health = HealthReporter(settings.mqtt_client_id)
        self.connected = threading.Event()
        self._worker = threading.Thread(target=self._run_pipeline, name="pipeline", daemon=True)
        self._stopped = threading.Event()
        self._unknown_seen: set[tuple[str, str]] = set()
        self._logged = 0
        self.client, self._host, self._port = make_client(
            settings.mqtt_url, settings.mqtt_client_id
        )
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # --- MQTT thread: never raises, only enqueues -------------------------------------------

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        self.inbox.put(Message(msg.topic, bytes(msg.payload), time.time_ns()))

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error(
                "MQTT broker %s:%s refused the connection: %s", self._host, self._port, reason
            )
            return
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
        log.warning("cannot reach MQTT broker %s:%s; retrying", self._host, self._port)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.connected.clear()
        if not self._stopped.is_set():
            log.warning("disconnected from MQTT broker: %s; reconnecting", reason)

    # --- pipeline thread ---------------------------------------------------------------------

    def _run_pipeline(self) -> None:
        size = self.settings.collector_batch_size
        batch: list[str] = []
        dead: list[dict[str, Any]] = []
        flush_at = float("inf")
        next_health = time.monotonic() + self.settings.collector_health_interval_s
        while True:
            timeout = max(0.0, min(flush_at, next_health) - time.monotonic())
            try:
                message: Message | None = self.inbox.get(timeout=timeout)
            except queue.Empty:
                message = None
            if message is _STOP:
                break
            if message is not None:
                if not batch:
                    flush_at = time.monotonic() + self.settings.collector_flush_interval_s
                self._process(message, batch, dead)
            now = time.monotonic()
            if len(batch) >= size or (batch and now >= flush_at):
                self._flush(batch, dead)
                batch, dead, flush_at = [], [], float("inf")
            if now >= next_health:
                self._flush(batch, dead)
                batch, dead, flush_at = [], [], float("inf")
                self._record_health()
                next_health = now + self.settings.collector_health_interval_s
        self._flush(batch, dead)

    def _process(self, message: Message, batch: list[str], dead: list[dict[str, Any]]) -> None:
        result = self.pipeline.process(message)
        batch.extend(result.lines)
        if result.unknown:
            self.stats.unknown_fields += len(result.unknown)
            for key in set(result.unknown) - self._unknown_seen:
                self._unknown_seen.add(key)
                log.warning(
                    "dropping unknown %s metric %r (first seen on %s); check the "
                    "sensor's field names",
                    key[0],
                    key[1],
                    message.topic,
                )
        if result.dead is not None:
            self.stats.dead_lettered += 1
            dead.append(result.dead)
            if self._logged < _LOGGED_PER_INTERVAL:
                self._logged += 1
                log.warning(
                    "dead-lettered %s: %s; payload %.120r",
                    message.topic,
                    "; ".join(result.dead["errors"]),
                    message.payload,
                )

    def _flush(self, batch: list[str], dead: list[dict[str, Any]]) -> None:
        self.deadletters.add(dead)
        if batch:
            self.writer.submit(batch)

    def _record_health(self) -> None:
        fields = self.health.fields(self.stats, self.inbox.qsize(), self.writer.pending())
        suppressed = self.stats.dead_lettered and self._logged >= _LOGGED_PER_INTERVAL
        self._logged = 0
        log.info(
            "health: %s%s",
            HealthReporter.log_text(fields),
            " (some dead letters not logged)" if suppressed else "",
        )
        self.writer.submit([self.health.line(fields, time.time_ns())], readings=0)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Create the database if needed, start the threads, connect (retrying forever)."""
        try:
            self.influx.create_database()
        except InfluxError as exc:  # the writer retries; do not refuse to start ingesting
            log.warning("cannot create database %s yet: %s", self.influx.database, exc)
        self.writer.start()
        self._worker.start()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
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

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, then store everything held: queue, batch, writer."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.client.disconnect()
        self.client.loop_stop()
        self.inbox.put(_STOP)
        self._worker.join()
        self._record_health()
        self.writer.close()
        self.writer.join(timeout)
        if self.writer.is_alive():  # InfluxDB still down: save what is left, then finish
            self.writer.give_up.set()
            self.writer.join()
        log.info(
            "collector stopped: received=%d written=%d dead_lettered=%d",
            self.stats.received,
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
