"""The collector: MQTT in this process, decoding and storage in a worker process.

Paho's network thread only appends each message to a deque. A shipper thread sends what has
arrived to the worker (collector/worker.py) every few milliseconds; the worker decodes,
validates, batches, fsyncs dead letters and the batch to the spool, and only then answers with
the batch's message ids, which this process acknowledges to the broker (manual QoS 1 acks).
The worker's writer moves the spool to InfluxDB. So every reading is always durable somewhere:
in the broker's persistent session, in the spool, or in InfluxDB.

Two processes, because Python runs one thread at a time: the MQTT thread alone is most of what
one core does at full rate, and decoding and writing beside it would halve the intake. The
broker is asked (MQTT 5 Receive Maximum) for no more unacknowledged messages than
`collector_queue_size`, which bounds the deque; when the spool is full, acknowledgements stop
and the broker holds the rest: backpressure, not loss.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import signal
import threading
import time
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from citydata import deadletters
from citydata.mqtt import RECEIVED_PROPERTY, TLSFiles, ack_many, close, make_client
from citydata.settings import Settings
from collector import worker
from collector.health import Stats
from collector.messages import Acks, FromWorker, Item, Messages, Progress, Ready, Stop, Stopped
from collector.receiver import BulkReceiver

log = logging.getLogger(__name__)
_SHIP_EVERY_S = 0.005
_SHIP_MAX = 5_000  # messages per send: a few MB pickled at most, however far the worker lags


def _received_ns(properties: Properties | None, now_ns: int) -> int:
    """`now_ns`, or for a replayed dead letter (or an API post) the time it was first received."""
    user = getattr(properties, "UserProperty", None) if properties else None
    if user:
        for key, value in user:
            if key == RECEIVED_PROPERTY and value.isdigit():
                return int(value)
    return now_ns


def _worker_context() -> multiprocessing.context.ForkServerContext:
    """Workers fork from a server process that imported the worker's modules once: a worker
    is up in milliseconds instead of a second of imports (spawn), without the hazards of a
    plain fork of this multi-threaded process (a lock held by another thread stays held). The
    main script too is imported once there (a worker would otherwise import it again)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["__main__", worker.__name__])
    return ctx


class Collector:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = Stats()  # received here; the rest as last reported by the worker
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker confirmed our subscriptions (SUBACK)
        self.failed = threading.Event()  # the worker died: the process must exit
        self.ready = threading.Event()  # the worker has opened the spool and is taking messages
        self.registry_read_at = 0.0  # when the worker last reread the registry (monotonic)
        self._inbox: collections.deque[Item] = collections.deque()
        self._generation = 0
        self._closing = False
        self._attempts = 0
        self._stopped = threading.Event()
        self._worker_done = threading.Event()
        ctx = _worker_context()
        self._conn, child = ctx.Pipe()
        self._child_conn: Connection | None = child
        self._process = ctx.Process(
            target=worker.main, args=(settings, child), name="collector-worker", daemon=True
        )
        self._send_lock = threading.Lock()
        self._shipper = threading.Thread(target=self._ship, name="shipper", daemon=True)
        self._acker = threading.Thread(target=self._ack, name="acker", daemon=True)
        client, self._host, self._port = make_client(
            settings.mqtt_url,
            settings.mqtt_client_id,
            manual_ack=True,
            tls=TLSFiles.of(settings),
            client_class=BulkReceiver,
        )
        assert isinstance(client, BulkReceiver)
        client.on_qos1 = self._on_qos1
        self.client = client
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # --- MQTT thread: never raises, never waits ----------------------------------------------

    def _on_qos1(self, topic: str, payload: bytes, mid: int, props: Properties | None) -> None:
        """Every reading (QoS 1), straight from the receiver (collector/receiver.py)."""
        self._take(topic, payload, mid, 1, props)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """A QoS 0 or 2 message, through paho (the collector subscribes at QoS 1; a publisher's
        lower QoS stays lower). Not acknowledged by us: QoS 0 needs none, paho completes QoS 2."""
        self._take(msg.topic, msg.payload, msg.mid, msg.qos, msg.properties)

    def _take(
        self, topic: str, payload: bytes | bytearray, mid: int, qos: int, props: Properties | None
    ) -> None:
        if self._closing:  # not acknowledged: the broker delivers it again next session
            return
        self.stats.received += 1
        now = time.time_ns()
        # Over the size limit, only the beginning goes on (with the size and hash): the deque,
        # the pipe and the worker never hold a second copy of a payload that large.
        kept, cut = deadletters.cut(payload, self.settings.collector_max_payload_bytes)
        received = _received_ns(props, now) if props is not None else now
        self._inbox.append((topic, kept, received, mid, qos, self._generation, now, cut))

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s:%s refused us: %s", self._host, self._port, reason)
            return
        self._generation += 1
        self._attempts = 0
        topics = self.settings.subscriptions
        log.info(
            "connected to MQTT %s:%s (session present: %s); subscribing to %s",
            self._host,
            self._port,
            flags.session_present,
            ", ".join(topics),
        )
        client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in topics])
        self.connected.set()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        refused = [reason for reason in reasons if reason.is_failure]
        if refused:
            log.error("MQTT broker refused a subscription: %s", ", ".join(map(str, refused)))
            return
        self.subscribed.set()

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
        self.subscribed.clear()
        if not self._stopped.is_set():
            log.warning("disconnected from MQTT broker: %s; reconnecting", reason)

    # --- to and from the worker --------------------------------------------------------------

    def _ship(self) -> None:
        """Send what has arrived to the worker, a list at a time."""
        inbox = self._inbox
        while not self._stopped.is_set():
            n = min(len(inbox), _SHIP_MAX)
            if not n:
                time.sleep(_SHIP_EVERY_S)
                continue
            items = [inbox.popleft() for _ in range(n)]
            try:
                with self._send_lock:
                    self._conn.send(Messages(items, len(inbox)))
            except OSError:
                return  # the worker is gone; the acker notices and fails the collector
            if n < 1000:
                time.sleep(_SHIP_EVERY_S)

    def _ack(self) -> None:
        """Acknowledge to the broker what the worker made durable."""
        while True:
            try:
                message: FromWorker = self._conn.recv()
            except (EOFError, OSError):
                if not self._worker_done.is_set():
                    log.critical("collector worker process died; stopping")
                    self.failed.set()
                return
            if isinstance(message, Ready):
                self.ready.set()
                continue
            if isinstance(message, Acks) and message.acks:
                generation = self._generation  # a stale ack would confirm another message
                ack_many(self.client, [mid for mid, gen in message.acks if gen == generation])
            if isinstance(message, Acks | Progress):
                self.registry_read_at = message.registry_read_at
            self._take_stats(message.stats)
            if isinstance(message, Stopped):
                self._worker_done.set()
                return

    def _take_stats(self, reported: Stats) -> None:
        """The worker's counters, all but `received`, which this process counts."""
        for name, value in vars(reported).items():
            if name != "received":
                setattr(self.stats, name, value)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def worker_pid(self) -> int | None:
        return self._process.pid

    def start(self) -> None:
        """Start the worker and connect (retrying forever). Messages that arrive while the
        worker is still starting wait in the pipe and the deque (at most Receive Maximum)."""
        self._process.start()
        assert self._child_conn is not None
        self._child_conn.close()  # the worker holds it; EOF reaches us if the worker dies
        self._child_conn = None
        self._acker.start()
        self._shipper.start()
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
            "collector %s started (worker pid %s): %s → InfluxDB %s/%s",
            self.settings.mqtt_client_id,
            self._process.pid,
            self.settings.redacted()["mqtt_url"],  # never the URL's password
            self.settings.influx_url,
            self.settings.influx_db,
        )

    def stop(self) -> None:
        """Stop taking messages, have everything received made durable and acknowledge it,
        then let the worker write the spool for up to `collector_drain_timeout_s`."""
        if self._stopped.is_set():
            return
        self._closing = True
        self._stopped.set()
        self._shipper.join()
        try:
            with self._send_lock:
                items = [self._inbox.popleft() for _ in range(len(self._inbox))]
                self._conn.send(Messages(items, 0))
                self._conn.send(Stop())
        except OSError:
            pass  # the worker is gone: nothing was acknowledged, the broker keeps it all
        self._acker.join()
        close(self.client)  # queued acknowledgements go out before the DISCONNECT
        self._process.join(self.settings.collector_drain_timeout_s + 30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
        log.info(
            "collector stopped: received=%d acked=%d written=%d dead_lettered=%d",
            self.stats.received,
            self.stats.acked,
            self.stats.written,
            self.stats.dead_lettered,
        )

    def run(self) -> int:
        """Run until SIGTERM or SIGINT (exit 0), or until the worker dies (exit 1)."""
        done = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("%s received; flushing and stopping", signal.Signals(signum).name)
            done.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        while not done.wait(0.5):
            if self.failed.is_set():
                self.stop()
                return 1
        self.stop()
        return 0
