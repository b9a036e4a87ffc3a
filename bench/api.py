"""API benchmark: latest readings, a month's hourly aggregate and a month's export, over HTTP.

Everything runs for real on 127.0.0.1: InfluxDB from `citydata.services`, the registry in a
temporary data directory, the API as `python -m citydata api` (a subprocess configured by
CITYDATA_* variables, so its memory is its own to measure) and an httpx client with keep-alive.

1. Load: S sensors (40 % air, 30 % water, 30 % traffic) registered, then D days of one-minute
   points for every one of them, written as gzip line-protocol batches by two writer threads.
   Values are deterministic: a daily cycle plus noise, inside each metric's bounds.
2. Latency: after a warm-up, N sequential requests each of GET /readings/latest (every kind),
   GET /readings/latest?kind=air and GET /sensors/{id}/readings?metric=<its first metric>
   &every=1h&agg=mean over the D days (the sensor rotating over the fleet); p50, p99, max.
3. Export: CSV of one air sensor over 1 day and over the D days, and Parquet over the D days:
   time to first and last byte, size, rows, and the API process's RSS growth over its RSS
   before the request (psutil, sampled every 5 ms). The export reads InfluxDB a day at a time,
   so growth should not rise with the range.

Targets (issue 5): p99 < 50 ms for latest readings, p99 < 500 ms for the D-day hourly aggregate,
export memory bounded. Figures are printed, never asserted.

Run:  /tmp/venv/bin/python bench/api.py                          # 100 sensors, 30 days, N=200
      /tmp/venv/bin/python bench/api.py --days 2 --requests 50   # quick: under a minute
Options: --help. Everything started is stopped by PID.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common, tests

from bench.common import BenchError, run_with_influxdb, stop_process
from citydata import services
from citydata.influx import InfluxClient
from citydata.kinds import Kind, get_kind
from citydata.registry import Registry
from citydata.settings import load_settings
from simulators.registration import registry_entries
from simulators.sensor import SimSensor

MINUTE_NS = 60 * 1_000_000_000
DAY_NS = 86_400 * 1_000_000_000
SHARES = (("air", 0.4), ("water", 0.3), ("traffic", 0.3))
BATCH_DAYS = 5  # sensor-days per /write: 7,200 lines, about 700 kB before gzip
WRITERS = 2
RSS_SAMPLE_S = 0.005


# --- data ---------------------------------------------------------------------------------------


def fleet(n: int) -> list[SimSensor]:
    """n sensors split between the kinds by SHARES (the last kind takes the remainder)."""
    counts = [round(n * share) for _, share in SHARES[:-1]]
    counts.append(n - sum(counts))
    return [
        SimSensor(f"bench-{kind}-{i:03d}", kind, f"bench {kind} {i}", f"bench {kind} {i}", 14, 100)
        for (kind, _), count in zip(SHARES, counts, strict=True)
        for i in range(count)
    ]


def day_lines(kind: Kind, sensor: str, k: int, day0_ns: int) -> str:
    """One day of one-minute points of a sensor as line protocol: a daily cycle plus noise per
    metric, each inside its bounds, fixed by the sensor's index k and the day."""
    times = day0_ns + np.arange(1440, dtype=np.int64) * MINUTE_NS
    rng = np.random.default_rng([k, day0_ns // DAY_NS])
    phase = 2 * np.pi * (times % DAY_NS) / DAY_NS
    fields = None
    for i, metric in enumerate(kind.metrics):
        span = min(metric.max - metric.min, 1000.0)
        level = metric.min + span * (0.1 + 0.05 * ((k + i) % 5))
        values = level + 0.3 * (level - metric.min) * np.sin(phase + k + i)
        values += rng.normal(0, 0.01 * span, times.size)
        text = np.round(np.clip(values, metric.min, metric.max), 2).astype(str)
        column = np.char.add(f"{metric.name}=", text)
        fields = column if fields is None else np.char.add(np.char.add(fields, ","), column)
    assert fields is not None
    head = f"{kind.name},sensor_id={sensor},zone=bench,site={kind.name} "
    lines = np.char.add(np.char.add(head, fields), np.char.add(" ", times.astype(str)))
    return "\n".join(lines.tolist())


def load(influx: InfluxClient, sensors: list[SimSensor], start_ns: int, days: int) -> int:
    """Write `days` days of points for every sensor from start_ns; the number of points."""
    pending: list[Future[None]] = []
    batch: list[str] = []
    with ThreadPoolExecutor(WRITERS) as pool:

        def send() -> None:
            body = "\n".join(batch).encode()
            batch.clear()
            pending.append(pool.submit(influx.write, body))
            while len(pending) > 2 * WRITERS:  # bounded: at most this many bodies in memory
                pending.pop(0).result()

        for k, sensor in enumerate(sensors):
            kind = get_kind(sensor.kind)
            assert kind is not None
            for day in range(days):
                batch.append(day_lines(kind, sensor.sensor_id, k, start_ns + day * DAY_NS))
                if len(batch) == BATCH_DAYS:
                    send()
        if batch:
            send()
        for future in pending:
            future.result()
    return len(sensors) * days * 1440


def settle(influx: services.InfluxService, timeout: float) -> float:
    """Wait until influxd uses under a tenth of a core for a second (the writes' compactions are
    done), at most `timeout` s; the seconds waited."""
    proc = psutil.Process(influx.pid)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        before = sum(proc.cpu_times()[:2])
        time.sleep(1)
        if sum(proc.cpu_times()[:2]) - before < 0.1:
            break
    return time.monotonic() - t0


# --- the API process ----------------------------------------------------------------------------


class ApiProcess:
    """`python -m citydata api` on a free loopback port; stopped by PID."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = services.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "citydata", "api", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.ps = psutil.Process(self.proc.pid)

    def wait_up(self, timeout: float, path: str = "/health") -> None:
        """Until `path` answers 200 (BenchError when the API exits or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the API exited at start-up:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}{path}", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise BenchError(f"the API did not answer {path} in {timeout:g}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def stop(self, timeout: float = 15) -> None:
        stop_process(self.proc, timeout)


class PeakRss:
    """The highest RSS of a process while in the `with` block, sampled every RSS_SAMPLE_S."""

    def __init__(self, api: ApiProcess) -> None:
        self.api = api
        self.before = self.peak = api.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_S):
            self.peak = max(self.peak, self.api.rss())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.api.rss())

    @property
    def growth(self) -> int:
        return self.peak - self.before


# --- measurements -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


@dataclass
class Latency:
    name: str
    ms: list[float]  # sorted

    def line(self, target_ms: float | None) -> str:
        p99 = percentile(self.ms, 99)
        figures = f"{self.name:44}{percentile(self.ms, 50):9.1f}{p99:9.1f}{self.ms[-1]:9.1f}"
        if target_ms is None:  # no target set by the issue: the figure alone
            return figures
        ok = "MET" if p99 < target_ms else "NOT MET"
        return f"{figures}   p99 < {target_ms:g} ms: {ok}"


def _always(url: str) -> Callable[[int], str]:
    """The same URL for every request."""
    return lambda i: url


def timed(
    client: httpx.Client, name: str, urls: Callable[[int], str], n: int, warmup: int
) -> Latency:
    """n sequential GETs of urls(i) after `warmup` unmeasured ones; each must answer 200."""
    out = []
    for i in range(warmup + n):
        url = urls(i)
        t0 = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            raise BenchError(f"GET {url}: HTTP {response.status_code}: {response.text[:300]}")
        if i >= warmup:
            out.append(elapsed * 1000)
    return Latency(name, sorted(out))


@dataclass
class Export:
    name: str
    first_byte_s: float
    last_byte_s: float
    size: int
    chunks: int
    rows: int | None
    before: int
    growth: int
    peak: int


def export(
    client: httpx.Client, api: ApiProcess, name: str, url: str, params: dict[str, str]
) -> Export:
    """One streamed export, read chunk by chunk as it arrives."""
    first = None
    size = chunks = newlines = 0
    with PeakRss(api) as rss:
        t0 = time.perf_counter()
        with client.stream("GET", url, params=params) as response:
            if response.status_code != 200:
                response.read()
                raise BenchError(f"export {name}: HTTP {response.status_code}: {response.text}")
            for chunk in response.iter_raw():
                first = first or time.perf_counter()
                size, chunks = size + len(chunk), chunks + 1
                newlines += chunk.count(b"\n")
        t1 = time.perf_counter()
    rows = newlines - 1 if params["format"] == "csv" else None
    return Export(
        name, (first or t1) - t0, t1 - t0, size, chunks, rows, rss.before, rss.growth, rss.peak
    )


# --- report -------------------------------------------------------------------------------------


def mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def report(
    args: argparse.Namespace,
    version: str,
    times: tuple[float, float],
    points: int,
    latencies: list[tuple[Latency, float | None]],
    exports: list[Export],
) -> None:
    print()
    print(
        f"citydata API benchmark — {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"InfluxDB {version}, API: one uvicorn process"
    )
    print(
        f"data: {args.sensors} sensors x {args.days} days x 1440 one-minute points = "
        f"{points:,} points, loaded in {times[0]:.1f} s ({points / times[0]:,.0f} points/s, "
        f"{WRITERS} writer threads, gzip batches of {BATCH_DAYS * 1440:,} lines)"
    )
    print(f"then InfluxDB was busy compacting for {times[1]:.0f} s (measured once it idled)")
    print()
    print(f"latency over {args.requests} requests each (after {args.warmup} warm-up), ms:")
    print(f"{'':44}{'p50':>9}{'p99':>9}{'max':>9}")
    for latency, target in latencies:
        print(latency.line(target))
    print()
    print("exports of one air sensor (all 8 metrics), streamed:")
    header = f"{'':24}{'first byte':>11}{'last byte':>11}{'size':>11}{'chunks':>8}{'rows':>9}"
    print(header + f"{'RSS before':>12}{'growth':>10}")
    for e in exports:
        rows = f"{e.rows:,}" if e.rows is not None else "—"
        print(
            f"{e.name:24}{e.first_byte_s * 1000:9.0f}ms{e.last_byte_s:10.2f}s{mb(e.size):>11}"
            f"{e.chunks:8}{rows:>9}{mb(e.before):>12}{mb(e.growth):>10}"
        )
    one, full = exports[0], exports[1]
    bounded = full.growth <= max(2 * one.growth, 16 * 2**20)
    print(
        f"export memory: growth {mb(full.growth)} for {args.days} days vs {mb(one.growth)} "
        f"for 1 day — bounded (≤ max(2 x the 1-day growth, 16 MB)): "
        f"{'MET' if bounded else 'NOT MET'}"
    )


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sensors", type=int, default=100, help="sensors in the fleet (100)")
    p.add_argument("--days", type=int, default=30, help="days of one-minute data (30)")
    p.add_argument("--requests", type=int, default=200, help="measured requests per route (200)")
    p.add_argument("--warmup", type=int, default=20, help="unmeasured requests first (20)")
    p.add_argument(
        "--settle", type=float, default=180, help="longest wait for InfluxDB to idle, s (180)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.sensors < len(SHARES) or args.days < 1 or args.requests < 1 or args.warmup < 0:
        p.error(f"need --sensors >= {len(SHARES)}, --days >= 1, --requests >= 1, --warmup >= 0")
    return args


def run(args: argparse.Namespace, tmp: Path, influx: services.InfluxService) -> None:
    settings = load_settings(
        {}, influx_url=influx.url, influx_db="bench_api", data_dir=tmp / "var", log_level="WARNING"
    )
    sensors = fleet(args.sensors)
    with Registry.from_settings(settings) as registry:
        registry.upsert_many(registry_entries(sensors, zone="bench"))
    # A live fleet: whole days of data ending this minute, as the latest-readings route sees it
    # in a running city (its newest point is looked for in the last hour first).
    end_ns = (time.time_ns() // MINUTE_NS + 1) * MINUTE_NS
    start_ns = end_ns - args.days * DAY_NS
    with InfluxClient.from_settings(settings) as db:
        db.create_database()
        version = httpx.get(f"{influx.url}/ping").headers.get("X-Influxdb-Version", "?")
        print(f"loading {args.sensors} sensors x {args.days} days …", flush=True)
        t0 = time.perf_counter()
        points = load(db, sensors, start_ns, args.days)
        load_s = time.perf_counter() - t0
    print("waiting for InfluxDB to finish compacting …", flush=True)
    settled_s = settle(influx, args.settle)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    env.update(settings.env())
    api = ApiProcess(env, tmp / "api.log")
    try:
        api.wait_up(30)
        with httpx.Client(base_url=api.url, timeout=120) as client:
            print("measuring latency …", flush=True)
            latencies = measure_latency(client, args, sensors, start_ns, end_ns)
            print("measuring exports …", flush=True)
            exports = measure_exports(client, api, args, sensors, end_ns)
    finally:
        api.stop()
    # The same routes with the latest-readings cache off: every request queries InfluxDB.
    uncached = ApiProcess({**env, "CITYDATA_API_LATEST_CACHE_S": "0"}, tmp / "api-nocache.log")
    try:
        uncached.wait_up(30)
        with httpx.Client(base_url=uncached.url, timeout=120) as client:
            print("measuring latest readings with the cache off …", flush=True)
            for label, path in (
                ("GET /readings/latest, cache off", "/readings/latest"),
                ("GET /readings/latest?kind=air, cache off", "/readings/latest?kind=air"),
            ):
                latencies.append(
                    (timed(client, label, _always(path), args.requests, args.warmup), 50)
                )
    finally:
        uncached.stop()
    report(args, version, (load_s, settled_s), points, latencies, exports)


def measure_latency(
    client: httpx.Client,
    args: argparse.Namespace,
    sensors: list[SimSensor],
    start_ns: int,
    end_ns: int,
) -> list[tuple[Latency, float | None]]:
    n, warm = args.requests, args.warmup
    span = f"start={rfc3339(start_ns)}&end={rfc3339(end_ns)}"

    def aggregate(i: int) -> str:
        sensor = sensors[i % len(sensors)]
        kind = get_kind(sensor.kind)
        assert kind is not None
        metric = kind.metrics[0].name
        return f"/sensors/{sensor.sensor_id}/readings?metric={metric}&every=1h&agg=mean&{span}"

    return [
        (
            timed(
                client, "GET /readings/latest (2 s cache)", lambda i: "/readings/latest", n, warm
            ),
            50,
        ),
        (
            timed(
                client,
                "GET /readings/latest?kind=air (2 s cache)",
                lambda i: "/readings/latest?kind=air",
                n,
                warm,
            ),
            50,
        ),
        (timed(client, f"{args.days}-day hourly mean, one sensor", aggregate, n, warm), 500),
        (
            timed(
                client,
                f"GET /sensors (all {len(sensors)}, last-seen)",
                lambda i: f"/sensors?limit={len(sensors)}",
                n,
                warm,
            ),
            None,
        ),
    ]


def measure_exports(
    client: httpx.Client,
    api: ApiProcess,
    args: argparse.Namespace,
    sensors: list[SimSensor],
    end_ns: int,
) -> list[Export]:
    air = [s for s in sensors if s.kind == "air"]
    url = f"/sensors/{air[0].sensor_id}/export"
    day = {"start": rfc3339(end_ns - DAY_NS), "end": rfc3339(end_ns)}
    full = {"start": rfc3339(end_ns - args.days * DAY_NS), "end": rfc3339(end_ns)}
    warm_url = f"/sensors/{air[-1].sensor_id}/export"
    export(client, api, "warm-up", warm_url, {"format": "csv", **day})
    export(client, api, "warm-up", warm_url, {"format": "parquet", **day})
    return [
        export(client, api, "CSV, 1 day", url, {"format": "csv", **day}),
        export(client, api, f"CSV, {args.days} days", url, {"format": "csv", **full}),
        export(client, api, f"Parquet, {args.days} days", url, {"format": "parquet", **full}),
        export(client, api, "CSV, 1 day (again)", url, {"format": "csv", **day}),
    ]


def rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 1_000_000_000))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_with_influxdb(
        "citydata-bench-api-",
        args.keep,
        lambda tmp, influx: run(args, tmp, influx),
        errors=(httpx.HTTPError,),
    )


if __name__ == "__main__":
    raise SystemExit(main())
