"""Ingestion benchmark: MQTT QoS 1 → collector → InfluxDB, against a bare-subscriber ceiling.

Everything runs for real on 127.0.0.1: Mosquitto and InfluxDB from `citydata.services`, the
collector as `python -m citydata collector` (a subprocess configured by CITYDATA_* variables).

1. Throughput, measured the same way for two consumers: a bare paho-mqtt subscriber that only
   counts (the ceiling) and the collector. For each, a fresh broker (same config) is started,
   the consumer's persistent MQTT 5 session is registered (its fixed client id, clean_start
   false, session expiry, QoS 1 subscription), then N messages are published at QoS 1 by
   publisher processes while the consumer is offline, so the broker queues all of them and the
   publishers cannot be the bottleneck. The consumer is then started and timed from process
   start until the bare subscriber has received all N, or all N readings are queryable in
   InfluxDB (the last point of each publisher polled every 50 ms, then confirmed by an exact
   count). Rate = N / elapsed; the rate from the consumer's MQTT connect is shown as well.
   With --collectors N, N collectors (each its own client id, data dir and spool) are members
   of the shared group: the broker splits the pre-queued messages between their sessions and
   they drain them at once, timed from the first start until all N are queryable; their exit
   summaries must add up to N received and written (none twice, none dead-lettered), and the
   InfluxDB count proves none lost.
2. Latency: a live collector; M messages published at a steady rate R, each with a unique
   timestamp; InfluxDB polled every 20 ms for newly visible points. A point's latency is from
   the moment it was handed to paho to the return of the first poll that saw it, so figures
   are upper bounds with a resolution of one poll interval plus one query.

Every message is valid native format: topic sensors/air/bench-<k> (300 sensors), payload
{"ts": RFC 3339 with a unique nanosecond, "pm25", "pm10", "temperature", "humidity"}, so each
is one distinct point and InfluxDB counts are exact. Figures are printed, never asserted.

Run:  /tmp/venv/bin/python bench/ingest.py                       # N=100000, M=20000
      /tmp/venv/bin/python bench/ingest.py --messages 20000 --rate 5000 --publishers 2 --keep
      /tmp/venv/bin/python bench/ingest.py --collector-setting collector_flush_interval_s=0.05
      /tmp/venv/bin/python bench/ingest.py --collectors 2       # the same, two collectors
      /tmp/venv/bin/python bench/ingest.py --nodered --latency-messages 0
          # also Node-RED's batch flow and the collector, drained in one run of
          # ../shared/peerbench: the same-run ratio, CPU s per 100,000 messages of each
      /tmp/venv/bin/python bench/ingest.py --collectors 1,2,3 --rounds 3
          # only phase 1's collector part, for 1, 2, 3 collectors, three interleaved rounds
          # (1,2,3,1,2,3,...), one report with each run and the medians per count
Options: --help. Helper processes are spawned and everything started is stopped by PID.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import threading
import time
from array import array
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common, tests

from bench.common import BenchError, run_with_influxdb, stop_process
from citydata import services
from citydata.influx import InfluxClient, quote_ident
from citydata.registry import Registry
from simulators.registration import register_fleet
from simulators.sensor import SimSensor

ROOT = Path(__file__).resolve().parents[1]
PEERBENCH = ROOT.parent / "shared" / "peerbench"  # ../shared/peerbench: Node-RED and other peers
SENSORS = 300
TOPIC_FILTER = "sensors/#"
SHARE_GROUP = "collectors"  # the collector's default group
SESSION_EXPIRY_S = 86_400  # the collector's default
KEEPALIVE_S = 30
MAX_INFLIGHT = 65_535
THROUGHPUT_POLL_S = 0.05
LATENCY_POLL_S = 0.02


# --- messages ---------------------------------------------------------------------------------


def rfc3339(t_ns: int) -> str:
    """Epoch ns as RFC 3339 UTC text with all nine fraction digits."""
    seconds, nanos = divmod(t_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def message(i: int, base_ns: int) -> tuple[str, bytes]:
    """Message i: sensor bench-<i mod SENSORS>, the unique time base_ns + i, valid air values."""
    body = {
        "ts": rfc3339(base_ns + i),
        "pm25": (i % 4000) / 10,
        "pm10": (i % 9000) / 10,
        "temperature": 20 + (i % 150) / 10,
        "humidity": 40 + (i % 500) / 10,
    }
    return f"sensors/air/bench-{i % SENSORS:03d}", json.dumps(body).encode()


# --- MQTT helpers (also run in child processes) -----------------------------------------------


def mqtt5_client(client_id: str) -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)


def session_properties() -> Properties:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    return props


def connect_persistent(client: mqtt.Client, port: int) -> None:
    """Connect as the collector does: resume the session, keep it for a day after disconnect."""
    client.connect(
        "127.0.0.1",
        port,
        keepalive=KEEPALIVE_S,
        clean_start=False,
        properties=session_properties(),
    )


def register_session(port: int, client_id: str, subscription: str, timeout: float = 10) -> None:
    """Create `client_id`'s persistent session with a QoS 1 subscription, then go offline."""
    granted: list[int] = []
    done = threading.Event()

    def on_subscribe(c: mqtt.Client, u: Any, mid: int, codes: list[Any], p: Any) -> None:
        granted.extend(code.value for code in codes)
        done.set()

    client = mqtt5_client(client_id)
    client.on_subscribe = on_subscribe
    connect_persistent(client, port)
    client.loop_start()
    try:
        client.subscribe(subscription, options=SubscribeOptions(qos=1))
        if not done.wait(timeout) or granted != [1]:
            raise BenchError(f"subscribing {client_id} to {subscription} failed: {granted}")
    finally:
        client.disconnect()
        client.loop_stop()


def wait_connected(client: mqtt.Client, timeout: float) -> None:
    """Drive a thread-less client until CONNACK arrives."""
    deadline = time.monotonic() + timeout
    while not client.is_connected():
        if time.monotonic() > deadline:
            raise BenchError("publisher did not connect")
        client.loop(timeout=0.05)


def preload_worker(port: int, first: int, last: int, base_ns: int, out: Queue[Any]) -> None:
    """Publish messages [first, last) at QoS 1 as fast as paho allows; report acks and timing.
    No network thread: publish() writes straight to the socket, loop() reads the PUBACKs."""
    messages = [message(i, base_ns) for i in range(first, last)]
    acks = {"ok": 0, "unmatched": 0, "failed": 0}

    def on_publish(c: mqtt.Client, u: Any, mid: int, reason: Any, p: Any) -> None:
        if reason.is_failure:
            acks["failed"] += 1
        elif reason.value == 16:  # "No matching subscribers": the session is not in place
            acks["unmatched"] += 1
        else:
            acks["ok"] += 1

    client = mqtt5_client(f"bench-pub-{first}")
    client.max_inflight_messages_set(MAX_INFLIGHT)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port, keepalive=KEEPALIVE_S)
    wait_connected(client, 10)
    started = time.time()
    for n, (topic, payload) in enumerate(messages):
        client.publish(topic, payload, qos=1)
        if n % 256 == 0:
            client.loop(timeout=0)
    deadline = time.monotonic() + 120
    while sum(acks.values()) < len(messages) and time.monotonic() < deadline:
        client.loop(timeout=0.05)
    finished = time.time()
    client.disconnect()
    out.put({"first": first, "started": started, "finished": finished, **acks})


def bare_worker(
    port: int, client_id: str, subscription: str, n: int, timeout: float, out: Queue[Any]
) -> None:
    """The ceiling: resume the session, count messages in on_message, nothing else."""
    count = 0
    marks: dict[str, float] = {}

    def on_connect(c: mqtt.Client, u: Any, flags: Any, reason: Any, p: Any) -> None:
        marks["connected"] = time.time()
        c.subscribe(subscription, options=SubscribeOptions(qos=1))  # as the collector does

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        nonlocal count
        count += 1
        if count == n:
            marks["done"] = time.time()
            c.disconnect()

    client = mqtt5_client(client_id)
    client.on_connect = on_connect
    client.on_message = on_message
    timer = threading.Timer(timeout, client.disconnect)  # bounded even if messages never come
    timer.daemon = True
    timer.start()
    connect_persistent(client, port)
    client.loop_forever()
    timer.cancel()
    rss, cpu = peak_rss_mb(os.getpid()), time.process_time()
    out.put({"count": count, **marks, "rss_mb": rss, "cpu_s": cpu})


def paced_worker(
    port: int, m: int, rate: float, base_ns: int, times_path: str, out: Queue[Any]
) -> None:
    """Publish m messages at `rate`/s; the time each was handed to paho goes to `times_path`."""
    messages = [message(i, base_ns) for i in range(m)]
    stamps = array("q", bytes(8 * m))
    acked = 0

    def on_publish(c: mqtt.Client, u: Any, mid: int, reason: Any, p: Any) -> None:
        nonlocal acked
        acked += 1

    client = mqtt5_client("bench-latency-pub")
    client.max_inflight_messages_set(MAX_INFLIGHT)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port, keepalive=KEEPALIVE_S)
    client.loop_start()
    deadline = time.monotonic() + 10
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.perf_counter()
    i = 0
    while i < m:
        due = min(m, int((time.perf_counter() - t0) * rate) + 1)
        while i < due:
            stamps[i] = time.time_ns()
            client.publish(*messages[i], qos=1)
            i += 1
        time.sleep(0.001)
    elapsed = time.perf_counter() - t0
    deadline = time.monotonic() + 60
    while acked < m and time.monotonic() < deadline:
        time.sleep(0.01)
    client.disconnect()
    client.loop_stop()
    Path(times_path).write_bytes(stamps.tobytes())
    out.put({"acked": acked, "rate": m / elapsed if elapsed else float("inf")})


# --- processes ----------------------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def register_bench_sensors(data_dir: Path) -> None:
    """Put the bench's sensors in the registry of a collector using `data_dir`: the collector
    quarantines readings of sensors it does not know."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sims = [
        SimSensor(f"bench-{k:03d}", "air", "bench", "bench", 14.0, 100.15) for k in range(SENSORS)
    ]
    with Registry.open(f"sqlite:///{data_dir / 'registry.db'}") as registry:
        register_fleet(registry, sims, zone="bench")


def children(pid: int) -> list[int]:
    """Every descendant process of `pid`: the collector's worker is a child of the
    multiprocessing fork server, itself a child of the collector."""
    try:
        direct = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return direct + [d for c in direct for d in children(c)]


def tree_rss_mb(pid: int) -> float:
    """Peak RSS of a process plus its children's peaks (an upper bound of their sum's peak)."""
    return peak_rss_mb(pid) + sum(peak_rss_mb(c) for c in children(pid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (all its threads), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def collector_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of a live collector: its main process, and its worker (with the fork server)."""
    return cpu_seconds(pid), sum(cpu_seconds(c) for c in children(pid))


def collector_ids(collectors: int, tag: str = "") -> list[str]:
    """Client ids of a run's collectors: the historic `bench-collector` for one, else one each."""
    if collectors == 1:
        return [f"bench-collector{tag}"]
    return [f"bench-collector{tag}-{k}" for k in range(1, collectors + 1)]


def end_process(proc: BaseProcess, timeout: float = 10) -> None:
    """Join a helper process; terminate it by PID if it does not finish."""
    if proc.pid is None:  # never started
        return
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()


def take(
    out: Queue[Any], count: int, timeout: float, what: str, procs: list[BaseProcess]
) -> list[dict[str, Any]]:
    """`count` results from helper processes; fail if one dies or time runs out."""
    deadline = time.monotonic() + timeout
    got: list[dict[str, Any]] = []
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError(f"{what}: {len(got)} of {count} results after {timeout:g}s")
        try:
            got.append(out.get(timeout=min(left, 0.5)))
        except queue.Empty:
            failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if failed:
                raise BenchError(f"{what}: a process exited with {failed[0]}") from None
    return got


class CollectorProcess:
    """`python -m citydata collector` as a subprocess; its log is kept and watched."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None
        self.connected_at: float | None = None
        self.tail: deque[str] = deque(maxlen=40)
        self.final: dict[str, int] = {}
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> float:
        started = time.time()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "citydata", "collector"],
            env=self.env,
            cwd=self.log_path.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return started

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        with open(self.log_path, "a", encoding="utf-8") as log:
            for line in self.proc.stderr:
                if self.connected_at is None and "connected to MQTT" in line:
                    self.connected_at = time.time()
                if "collector stopped:" in line:
                    self.final = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
                self.tail.append(line.rstrip())
                log.write(line)

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"collector exited with {self.proc.returncode}:\n" + self.log_tail())

    def log_tail(self) -> str:
        return "\n".join(self.tail)

    def wait_connected(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.connected_at is None:
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"collector did not connect in {timeout:g}s:\n{self.log_tail()}")
            time.sleep(0.01)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM by PID (the collector drains and exits), SIGKILL if it hangs."""
        if self.proc is None:
            return
        stop_process(self.proc, timeout)
        if self._reader is not None:
            self._reader.join(5)


@contextmanager
def broker(workdir: Path) -> Iterator[services.MosquittoService]:
    server = services.mosquitto(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- phases -------------------------------------------------------------------------------------


@dataclass
class Member:
    """One collector of a shared group in a throughput run: its share and its CPU seconds."""

    client_id: str
    received: int
    cpu_main: float
    cpu_worker: float


@dataclass
class Throughput:
    consumer: str
    n: int
    started: float
    connected: float
    done: float
    rss_mb: float
    preload_rate: float
    cpu: dict[str, float] = field(default_factory=dict)
    summary: str = ""
    members: list[Member] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.n / (self.done - self.started)

    @property
    def steady_rate(self) -> float:
        return self.n / (self.done - self.connected)


@dataclass
class Bench:
    """One run's shared state: spawn context, directories, InfluxDB, options."""

    ctx: SpawnContext
    tmp: Path
    influx: services.InfluxService
    subscription: str
    share_group: str
    publishers: int
    settings: dict[str, str]
    timeout: float

    def collector_env(self, mqtt_url: str, client_id: str, db: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
        env.update(
            CITYDATA_MQTT_URL=mqtt_url,
            CITYDATA_MQTT_CLIENT_ID=client_id,
            CITYDATA_MQTT_SHARE_GROUP=self.share_group,
            CITYDATA_INFLUX_URL=self.influx.url,
            CITYDATA_INFLUX_DB=db,
            CITYDATA_DATA_DIR=str(self.tmp / f"var-{client_id}"),
            CITYDATA_LOG_LEVEL="INFO",
        )
        env.update({f"CITYDATA_{k.upper()}": v for k, v in self.settings.items()})
        register_bench_sensors(Path(env["CITYDATA_DATA_DIR"]))
        return env

    def preload(self, port: int, n: int, base_ns: int) -> tuple[float, list[int]]:
        """Publish N messages with P processes; return the publish rate and each one's last i."""
        out: Queue[Any] = self.ctx.Queue()
        bounds = [n * p // self.publishers for p in range(self.publishers + 1)]
        procs = [
            self.ctx.Process(target=preload_worker, args=(port, a, b, base_ns, out), daemon=True)
            for a, b in itertools.pairwise(bounds)
        ]
        try:
            for proc in procs:
                proc.start()
            results = take(out, len(procs), self.timeout, "publishers", list(procs))
        finally:
            for proc in procs:
                end_process(proc)
        ok = sum(r["ok"] for r in results)
        if ok != n:
            bad = {k: sum(r[k] for r in results) for k in ("ok", "unmatched", "failed")}
            raise BenchError(f"broker acknowledged {bad} of {n} messages")
        span = max(r["finished"] for r in results) - min(r["started"] for r in results)
        return n / span, [b - 1 for b in bounds[1:]]

    def bare_throughput(self, n: int) -> Throughput:
        client_id = "bench-bare"
        with broker(self.tmp / "broker-bare") as mq:
            register_session(mq.port, client_id, self.subscription)
            preload_rate, _ = self.preload(mq.port, n, time.time_ns())
            out: Queue[Any] = self.ctx.Queue()
            args = (mq.port, client_id, self.subscription, n, self.timeout, out)
            proc = self.ctx.Process(target=bare_worker, args=args, daemon=True)
            cpu0 = {"mosquitto": cpu_seconds(mq.pid)}
            started = time.time()
            proc.start()
            try:
                [result] = take(out, 1, self.timeout + 30, "bare subscriber", [proc])
            finally:
                end_process(proc)
            cpu = {"mosquitto": cpu_seconds(mq.pid) - cpu0["mosquitto"]}
        if result["count"] != n or "done" not in result:
            raise BenchError(f"bare subscriber got {result['count']} of {n} in {self.timeout:g}s")
        cpu["consumer"] = result["cpu_s"]
        return Throughput(
            "bare",
            n,
            started,
            result["connected"],
            result["done"],
            result["rss_mb"],
            preload_rate,
            cpu,
        )

    def collector_throughput(self, n: int, collectors: int = 1, tag: str = "") -> Throughput:
        """N messages pre-queued for `collectors` members of the shared group (each its own
        client id, data dir and spool), then drained by all of them at once into one database."""
        ids = collector_ids(collectors, tag)
        db = InfluxClient(self.influx.url, f"bench_throughput{tag}".replace("-", "_"))
        db.create_database()
        with broker(self.tmp / f"broker-collector{tag}") as mq:
            for client_id in ids:
                register_session(mq.port, client_id, self.subscription)
            base_ns = time.time_ns()
            preload_rate, tails = self.preload(mq.port, n, base_ns)
            procs = [
                CollectorProcess(
                    self.collector_env(mq.url, client_id, db.database),
                    self.tmp / f"{client_id.replace('bench-', '')}-throughput.log",
                )
                for client_id in ids
            ]
            cpu0 = {"mosquitto": cpu_seconds(mq.pid), "influxd": cpu_seconds(self.influx.pid)}
            try:
                started = min([proc.start() for proc in procs])
                done = wait_stored(db, procs, n, [base_ns + i for i in tails], self.timeout)
                rss = sum(tree_rss_mb(proc.pid) for proc in procs)
                each = [collector_cpu(proc.pid) for proc in procs]
                cpu = {
                    "consumer": sum(main for main, _ in each),
                    "worker": sum(worker for _, worker in each),
                    "mosquitto": cpu_seconds(mq.pid) - cpu0["mosquitto"],
                    "influxd": cpu_seconds(self.influx.pid) - cpu0["influxd"],
                }
                if tag:  # the scaling runs: one database each, dropped once counted
                    db.query(f"DROP DATABASE {quote_ident(db.database)}", method="POST")
            finally:
                for proc in procs:
                    proc.stop()
                db.close()
        summary = check_final(procs, n)
        connected = [proc.connected_at for proc in procs if proc.connected_at is not None]
        if len(connected) < len(procs):
            raise BenchError("a collector drained without logging its MQTT connect")
        members = [
            Member(client_id, proc.final.get("received", 0), main, worker)
            for client_id, proc, (main, worker) in zip(ids, procs, each, strict=True)
        ]
        return Throughput(
            "collector", n, started, min(connected), done, rss, preload_rate, cpu, summary, members
        )

    def latency(self, m: int, rate: float) -> tuple[list[float], float, float]:
        """Latencies (ms, sorted), the achieved publish rate and the collector's peak RSS."""
        client_id = "bench-latency-collector"
        db = InfluxClient(self.influx.url, "bench_latency")
        db.create_database()
        with broker(self.tmp / "broker-latency") as mq:
            register_session(mq.port, client_id, self.subscription)
            env = self.collector_env(mq.url, client_id, db.database)
            collector = CollectorProcess(env, self.tmp / "collector-latency.log")
            collector.start()
            out: Queue[Any] = self.ctx.Queue()
            times_path = self.tmp / "publish-times.bin"
            base_ns = time.time_ns()
            args = (mq.port, m, rate, base_ns, str(times_path), out)
            publisher = self.ctx.Process(target=paced_worker, args=args, daemon=True)
            try:
                collector.wait_connected(self.timeout)
                publisher.start()
                seen = poll_seen(db, collector, m, base_ns, m / rate + self.timeout)
                [result] = take(out, 1, self.timeout, "paced publisher", [publisher])
                rss = tree_rss_mb(collector.pid)
            finally:
                end_process(publisher)
                collector.stop()
                db.close()
        check_final([collector], m)
        if result["acked"] != m:
            raise BenchError(f"broker acknowledged {result['acked']} of {m} paced messages")
        published = array("q")
        published.frombytes(times_path.read_bytes())
        latencies = sorted((s - p) / 1e6 for s, p in zip(seen, published, strict=True))
        return latencies, result["rate"], rss


def wait_stored(
    db: InfluxClient, collectors: list[CollectorProcess], n: int, tails: list[int], timeout: float
) -> float:
    """Time when all n readings are queryable. Cheap check first: the last point of each
    publisher (one collector keeps the broker's order), then an exact count to confirm."""
    tail_query = ";".join(f'SELECT count("pm25") FROM "air" WHERE time = {t}' for t in tails)
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        for collector in collectors:
            collector.check_alive()
        if not tails or len(db.query(tail_query)) == len(tails):
            tails = []  # from here on, count (also if the order assumption ever failed)
            count = stored_count(db)
            if count == n:
                return time.time()
            if count > n:
                raise BenchError(f"{count} points stored for {n} messages")
        time.sleep(THROUGHPUT_POLL_S)
    logs = "\n".join(collector.log_tail() for collector in collectors)
    raise BenchError(f"only {count} of {n} readings queryable after {timeout:g}s:\n{logs}")


def stored_count(db: InfluxClient) -> int:
    series = db.query('SELECT count("pm25") FROM "air"')
    return int(series[0].values[0][1]) if series else 0


def poll_seen(
    db: InfluxClient, collector: CollectorProcess, m: int, base_ns: int, timeout: float
) -> list[int]:
    """For each of m points (time base_ns + i), when a poll first returned it (epoch ns)."""
    seen = [0] * m
    remaining, low = m, 0
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        collector.check_alive()
        series = db.query(f'SELECT "pm25" FROM "air" WHERE time >= {base_ns + low}')
        now = time.time_ns()
        for row in series[0].values if series else []:
            i = row[0] - base_ns
            if 0 <= i < m and not seen[i]:
                seen[i] = now
                remaining -= 1
        while low < m and seen[low]:
            low += 1
        time.sleep(LATENCY_POLL_S)
    if remaining:
        raise BenchError(f"{remaining} of {m} latency points never became queryable")
    return seen


def check_final(collectors: list[CollectorProcess], n: int) -> str:
    """The collectors' exit summaries, which must agree when they are there: n received and
    written between them (a redelivered message would be received twice), none
    dead-lettered. (The InfluxDB count has already proved all n stored.)"""
    finals = [collector.final for collector in collectors]
    if not all(finals):
        return "no exit summary in a collector's log"
    total = {k: sum(final.get(k, 0) for final in finals) for k in finals[0]}
    if total.get("received") != n or total.get("written") != n or total.get("dead_lettered"):
        logs = "\n".join(collector.log_tail() for collector in collectors)
        raise BenchError(f"collector summary {total} for {n} messages:\n{logs}")
    return " ".join(f"{k}={v}" for k, v in total.items())


def filesystem(path: Path) -> str:
    """The file system holding `path` (the collector's spool is fsynced there)."""
    best = ("?", "?", "")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, fstype = line.split()[:3]
        inside = str(path).startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best[2]):
            best = (fstype, device, mount)
    return f"{best[0]} on {best[1]}"


def shared_queueing_works(workdir: Path) -> bool:
    """Does this Mosquitto queue messages for an offline shared-subscription member?"""
    sub = f"$share/{SHARE_GROUP}/{TOPIC_FILTER}"
    with broker(workdir) as mq:
        register_session(mq.port, "bench-probe", sub)
        publisher = mqtt5_client("bench-probe-pub")
        publisher.connect("127.0.0.1", mq.port)
        publisher.loop_start()
        infos = [publisher.publish(*message(i, time.time_ns()), qos=1) for i in range(10)]
        for info in infos:
            info.wait_for_publish(10)
        publisher.disconnect()
        publisher.loop_stop()
        got: list[int] = []
        client = mqtt5_client("bench-probe")
        client.on_message = lambda c, u, msg: got.append(1)
        connect_persistent(client, mq.port)
        client.loop_start()
        deadline = time.monotonic() + 5
        while len(got) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        client.disconnect()
        client.loop_stop()
    return len(got) == 10


# --- report -------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def report(
    args: argparse.Namespace,
    sub: str,
    shared_ok: bool,
    bare: Throughput,
    coll: Throughput,
    lat: tuple[list[float], float, float] | None,
    rate: float,
) -> None:
    cores = os.cpu_count()
    print()
    print(f"citydata ingestion benchmark — {cores} cores, Python {platform.python_version()}")
    print(
        f"N = {args.messages:,} messages at QoS 1 from {SENSORS} sensors, pre-queued by "
        f"{args.publishers} publisher processes; fresh Mosquitto per consumer"
    )
    print(
        f"subscription: {sub}  (Mosquitto queues for an offline shared-subscription "
        f"member: {'yes' if shared_ok else 'no, so both use a plain subscription'})"
    )
    print(
        f"collector settings: {args.settings or 'defaults'}; data dirs in {args.tmp} "
        f"({filesystem(args.tmp)})"
    )
    rows = [
        ("preload publish rate (msg/s)", f"{bare.preload_rate:,.0f}", f"{coll.preload_rate:,.0f}"),
        ("msg/s, from process start", f"{bare.rate:,.0f}", f"{coll.rate:,.0f}"),
        ("msg/s, from MQTT connect", f"{bare.steady_rate:,.0f}", f"{coll.steady_rate:,.0f}"),
        (
            "start → connect (s)",
            f"{bare.connected - bare.started:.2f}",
            f"{coll.connected - coll.started:.2f}",
        ),
        (
            "start → all done (s)",
            f"{bare.done - bare.started:.2f}",
            f"{coll.done - coll.started:.2f}",
        ),
        ("peak RSS (MB)", f"{bare.rss_mb:.1f}", f"{coll.rss_mb:.1f}"),
        ("CPU s: consumer", f"{bare.cpu['consumer']:.2f}", f"{coll.cpu['consumer']:.2f}"),
        ("CPU s: collector worker process", "—", f"{coll.cpu.get('worker', 0):.2f}"),
        (
            "CPU s: mosquitto",
            f"{bare.cpu.get('mosquitto', 0):.2f}",
            f"{coll.cpu.get('mosquitto', 0):.2f}",
        ),
        ("CPU s: influxd", "—", f"{coll.cpu.get('influxd', 0):.2f}"),
        (
            "consumer CPU s per 100,000 msg",
            f"{per_100k(bare.cpu['consumer'], bare.n):.2f}",
            f"{per_100k(coll.cpu['consumer'] + coll.cpu.get('worker', 0), coll.n):.2f}",
        ),
    ]
    title = "collector" if len(coll.members) < 2 else f"{len(coll.members)} collectors"
    print()
    print(f"{'':34}{'bare subscriber':>18}{title:>14}")
    for name, a, b in rows:
        print(f"{name:34}{a:>18}{b:>14}")
    ratio = coll.rate / bare.rate
    steady = coll.steady_rate / bare.steady_rate
    print()
    print(
        f"collector / bare: {100 * ratio:.1f} % (from connect: {100 * steady:.1f} %)"
        f"  — target >= 80 %: {verdict(ratio >= 0.8)}"
    )
    print(f"collector exit summary: {coll.summary}")
    if len(coll.members) > 1:
        for line in member_lines(coll):
            print(f"  {line}")
    print(
        f"collector rate: {coll.rate:,.0f} msg/s  — target >= 10,000 msg/s: "
        f"{verdict(coll.rate >= 10_000)}"
    )
    print(
        f"collector peak RSS: {coll.rss_mb:.1f} MB (throughput run)"
        + (f", {lat[2]:.1f} MB (latency run)" if lat else "")
    )
    if lat:
        values, achieved, _ = lat
        print(
            f"latency publish → queryable, M = {len(values):,} at {rate:,.0f} msg/s "
            f"(achieved {achieved:,.0f}), poll {LATENCY_POLL_S * 1000:.0f} ms:"
        )
        print(
            f"  p50 {percentile(values, 50):.0f} ms   p99 {percentile(values, 99):.0f} ms   "
            f"max {values[-1]:.0f} ms"
        )


def member_lines(run: Throughput) -> list[str]:
    """One line per collector of a run: its client id, share of the messages and CPU seconds."""
    return [
        f"{m.client_id}: received {m.received:,} ({100 * m.received / run.n:.1f} %), "
        f"CPU s main {m.cpu_main:.2f} + worker {m.cpu_worker:.2f}"
        for m in run.members
    ]


def duplicated(run: Throughput) -> str:
    """Messages delivered more than once: what the collectors received beyond N (their exit
    summaries; check_final has refused any other total than N)."""
    if "no exit summary" in run.summary:
        return "duplicated unknown (no exit summary)"
    return f"duplicated {sum(m.received for m in run.members) - run.n}"


Run = tuple[int, int, Throughput]  # round, collectors, result


def scaling_rows(runs: list[Run]) -> list[list[str]]:
    """One row per collector count, in the order the counts first ran; medians over the
    rounds: [collectors, msg/s from start, msg/s from connect, rate over one collector's in
    the same round (the load of a shared machine drifts between rounds), collector CPU s
    (main + worker, all collectors), CPU s per 1,000 messages, mosquitto CPU s, influxd
    CPU s, each collector's share of the messages (%, min-max over rounds), runs]."""
    one = {r: t.rate for r, c, t in runs if c == 1}
    rows = []
    for count in dict.fromkeys(c for _, c, _ in runs):
        mine = [(r, t) for r, c, t in runs if c == count]
        ratios = [t.rate / one[r] for r, t in mine if r in one]
        cpu = statistics.median(t.cpu["consumer"] + t.cpu["worker"] for _, t in mine)
        shares = [100 * m.received / t.n for _, t in mine for m in t.members]
        rows.append(
            [
                str(count),
                f"{statistics.median(t.rate for _, t in mine):,.0f}",
                f"{statistics.median(t.steady_rate for _, t in mine):,.0f}",
                f"{statistics.median(ratios):.2f}" if ratios else "—",
                f"{cpu:.2f}",
                f"{1000 * cpu / mine[0][1].n:.3f}",
                f"{statistics.median(t.cpu['mosquitto'] for _, t in mine):.2f}",
                f"{statistics.median(t.cpu['influxd'] for _, t in mine):.2f}",
                f"{min(shares):.1f}-{max(shares):.1f}",
                str(len(mine)),
            ]
        )
    return rows


SCALING_HEADER = [
    "collectors",
    "msg/s start",
    "msg/s connect",
    "x one",
    "CPU s coll.",
    "CPU s/1k msg",
    "CPU s mosq.",
    "CPU s influxd",
    "share % each",
    "runs",
]


def report_scaling(args: argparse.Namespace, runs: list[Run]) -> None:
    print()
    print(
        f"citydata ingestion benchmark, several collectors — {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average before/after: "
        f"{args.load_before} / {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"N = {args.messages:,} messages at QoS 1 from {SENSORS} sensors, pre-queued by "
        f"{args.publishers} publisher processes for the offline members of "
        f"$share/{SHARE_GROUP}/{TOPIC_FILTER}, then drained by all of them at once; "
        f"fresh Mosquitto and database per run; collector settings: {args.settings or 'defaults'}"
    )
    print()
    for i, (r, count, run) in enumerate(runs, 1):
        print(
            f"run {i} (round {r}): {count} collector(s): {run.rate:,.0f} msg/s from start "
            f"({run.steady_rate:,.0f} from connect), {run.summary}, lost 0 (InfluxDB count), "
            f"{duplicated(run)}"
        )
        for line in member_lines(run):
            print(f"    {line}")
    print()
    widths = [max(len(h), 9) for h in SCALING_HEADER]
    print("  ".join(h.rjust(w) for h, w in zip(SCALING_HEADER, widths, strict=True)))
    for row in scaling_rows(runs):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print("medians over the rounds; 'x one': median of (rate / one collector's rate in that round)")


def measure_scaling(args: argparse.Namespace, tmp: Path, influx: services.InfluxService) -> None:
    """Only the collector phase, for every count of --collectors, round after round."""
    args.tmp = tmp
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if not shared_queueing_works(tmp / "broker-probe"):
        raise BenchError("this Mosquitto does not queue for offline shared-subscription members")
    sub = f"$share/{SHARE_GROUP}/{TOPIC_FILTER}"
    bench = Bench(
        mp.get_context("spawn"),
        tmp,
        influx,
        sub,
        SHARE_GROUP,
        args.publishers,
        args.settings,
        args.timeout,
    )
    runs: list[Run] = []
    for r in range(1, args.rounds + 1):
        for count in args.collectors:
            print(f"round {r}: {count} collector(s), {args.messages:,} messages …", flush=True)
            run = bench.collector_throughput(args.messages, count, f"-r{r}-c{count}")
            print(f"  {run.rate:,.0f} msg/s", flush=True)
            runs.append((r, count, run))
    report_scaling(args, runs)


# --- main ---------------------------------------------------------------------------------------


def per_100k(cpu_s: float, n: int) -> float:
    return cpu_s * 100_000 / n


def peers(n: int, tmp: Path) -> dict[str, dict[str, Any]]:
    """Node-RED's batch flow and this collector, each draining N pre-queued messages, in one
    run of the peer benchmark (its README: drain mode, the broker as deploy/mosquitto.conf
    sets it); system name -> its result."""
    script = PEERBENCH / "run_peers.sh"
    if not script.exists():
        raise BenchError(f"--nodered needs the peer benchmark at {script} (../shared/peerbench)")
    out = tmp / "peers.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    env.update(
        BENCH_TOPIC_PREFIX="sensors/air",
        BENCH_MAX_INFLIGHT="0",
        CITYDATA_ROUTES='[{"topic": "sensors/#", "auto_register": true}]',
        COLLECTOR_CMD=(
            "env CITYDATA_MQTT_URL=mqtt://$MQTT_HOST:$MQTT_PORT CITYDATA_INFLUX_URL=$INFLUX_URL "
            "CITYDATA_INFLUX_DB=$INFLUX_DB CITYDATA_DATA_DIR=$BENCH_WORKDIR "
            f"{sys.executable} -m citydata collector"
        ),
    )
    command = ["bash", str(script), "--mode", "drain", "--n", str(n)]
    command += ["--systems", "nodered_batch", "collector", "--json-out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, timeout=1800, check=False)
    if done.returncode != 0 or not out.exists():
        raise BenchError(f"the peer benchmark failed (exit {done.returncode}); see above")
    return {r["system"]: r for r in json.loads(out.read_text(encoding="utf-8"))}


def report_peers(results: dict[str, dict[str, Any]], bare: Throughput) -> None:
    """Node-RED beside the collector (one peer-benchmark run) and the bare subscriber (this
    run's ceiling): rate, CPU seconds per 100,000 messages, messages per CPU second."""
    print()
    print(f"{'':26}{'msg/s':>10}{'CPU s/100k':>12}{'msg/CPU s':>11}{'lost':>6}")
    rows = [(name, results.get(name, {})) for name in ("nodered_batch", "collector")]
    for name, r in rows:
        if "msgs_per_s" not in r:
            print(f"{name:26}  failed: {r.get('error', 'no result')}")
            continue
        cpu = per_100k(r["cpu_s"], r["n"])
        print(
            f"{name:26}{r['msgs_per_s']:>10,.0f}{cpu:>12.2f}{r['msgs_per_cpu_s']:>11,.0f}"
            f"{r['lost']:>6}"
        )
    bare_cpu = per_100k(bare.cpu["consumer"], bare.n)
    per_cpu = 100_000 / bare_cpu
    print(f"{'bare paho (this run)':26}{bare.rate:>10,.0f}{bare_cpu:>12.2f}{per_cpu:>11,.0f}")
    node, coll = results.get("nodered_batch", {}), results.get("collector", {})
    if "msgs_per_s" in node and "msgs_per_s" in coll:
        speed = coll["msgs_per_s"] / node["msgs_per_s"]
        thrift = coll["msgs_per_cpu_s"] / node["msgs_per_cpu_s"]
        print(
            f"collector / Node-RED, same run: {speed:.2f}x msg/s, {thrift:.2f}x msg per CPU s"
            f"  — target >= 1 (goal 1.5): {verdict(min(speed, thrift) >= 1)}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=100_000, help="N for throughput (100000)")
    p.add_argument("--latency-messages", type=int, default=20_000, help="M (20000; 0 skips)")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="latency publish rate, msg/s "
        "(default: 5000, or half the measured collector rate if that is lower)",
    )
    p.add_argument("--publishers", type=int, default=2, help="publisher processes (2)")
    p.add_argument(
        "--collector-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra collector setting, e.g. collector_flush_interval_s=0.05 (repeatable)",
    )
    p.add_argument(
        "--collectors",
        type=collector_counts,
        default=[1],
        metavar="N[,N...]",
        help="collectors on the shared subscription in the throughput phase (1); several "
        "counts, e.g. 1,2,3, run only that phase for each count, --rounds times, interleaved",
    )
    p.add_argument("--rounds", type=int, default=1, help="rounds of the --collectors counts (1)")
    p.add_argument(
        "--nodered",
        action="store_true",
        help="also drain N messages with Node-RED's batch flow and with this collector through "
        f"the peer benchmark ({PEERBENCH.relative_to(ROOT.parent)}, beside the project: "
        "Node-RED installed from npm into ~/.cache on first use) and report the ratios",
    )
    p.add_argument("--timeout", type=float, default=300, help="longest wait for a phase, s (300)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    args.settings = {}
    for item in args.collector_setting:
        name, sep, value = item.partition("=")
        if not sep or not name:
            p.error(f"--collector-setting {item!r}: want NAME=VALUE")
        args.settings[name.strip().lower().removeprefix("citydata_")] = value
    if args.messages < args.publishers or args.publishers < 1:
        p.error("need --publishers >= 1 and --messages >= --publishers")
    if args.rounds < 1:
        p.error("need --rounds >= 1")
    args.scaling = len(args.collectors) > 1 or args.rounds > 1
    return args


def collector_counts(text: str) -> list[int]:
    """--collectors: comma-separated counts, each 1 to 16, none twice."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: want counts like 1 or 1,2,3") from None
    if not all(1 <= c <= 16 for c in counts) or len(set(counts)) < len(counts):
        raise argparse.ArgumentTypeError(f"{text!r}: each count from 1 to 16, none twice")
    return counts


def measure(args: argparse.Namespace, tmp: Path, influx: services.InfluxService) -> None:
    args.tmp = tmp
    shared_ok = shared_queueing_works(tmp / "broker-probe")
    group = SHARE_GROUP if shared_ok else ""
    sub = f"$share/{group}/{TOPIC_FILTER}" if group else TOPIC_FILTER
    bench = Bench(
        mp.get_context("spawn"),
        tmp,
        influx,
        sub,
        group,
        args.publishers,
        args.settings,
        args.timeout,
    )
    print(f"bare subscriber: {args.messages:,} messages …", flush=True)
    bare = bench.bare_throughput(args.messages)
    [count] = args.collectors
    if count > 1 and not group:
        raise BenchError("several collectors need a broker that queues for a shared group")
    what = "collector" if count == 1 else f"{count} collectors"
    print(f"{what}: {args.messages:,} messages …", flush=True)
    coll = bench.collector_throughput(args.messages, count)
    rate = args.rate or min(5000.0, coll.rate / 2)
    lat = None
    if args.latency_messages:
        print(f"latency: {args.latency_messages:,} messages at {rate:,.0f}/s …", flush=True)
        lat = bench.latency(args.latency_messages, rate)
    report(args, sub, shared_ok, bare, coll, lat, rate)
    if args.nodered:
        print(f"\nNode-RED and the collector through the peer benchmark, {args.messages:,} …")
        report_peers(peers(args.messages, tmp), bare)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    phases = measure_scaling if args.scaling else measure
    return run_with_influxdb(
        "citydata-bench-", args.keep, lambda tmp, influx: phases(args, tmp, influx)
    )


if __name__ == "__main__":
    raise SystemExit(main())
