"""Web benchmark: the public page and the read routes under a surge of readers, measured by wrk.

Everything runs for real on 127.0.0.1, in a temporary directory: InfluxDB and Mosquitto from
`citydata.services`, the simulated Lam Phaya fleet registered and its last 2 days ingested
through a real collector, with its derived series and alerts (tests/city.py, as the `city`
fixture builds it), and one API process as users run it (`python -m citydata api --port P`,
configured by CITYDATA_* variables, CITYDATA_API_SNAPSHOT_S at its default).

wrk (Debian package `wrk`) then loads one route at a time for --duration seconds with
--connections connections on --threads threads, `--latency --timeout 2s`, each request sent
with `Accept-Encoding: gzip` as a browser sends it, in this order so that drift cancels:
/health, /, /city, /aqi, /water/status, /traffic/status, /sensors, /alerts, /readings/latest,
`/` and `/city` revalidated (If-None-Match with their current ETag, taking each new ETag a 200
brings, as a browser or a proxy does; a small Lua script, which costs wrk some CPU), and
/health again. The two /health runs' mean is the baseline.

Goal (the issue "Holds a surge"), judged in the same run so the machine's speed cancels out:
the page's data (/aqi, /water/status, /traffic/status) at >= 0.5 x the baseline's requests/s,
/ at >= 0.25 x, and on every route no timeout, no error and p99 <= 1 s. wrk leaves timed-out
requests out of its latency distribution, so a route with timeouts has a p99 better than
its readers saw: the timeouts are a failure of their own.

With --standard-dir DIR (a directory made by `pip install --target DIR uvloop httptools`),
a second API process runs alongside, the same command and CITYDATA_*, with DIR on its
PYTHONPATH: uvicorn's defaults (--loop auto, --http auto) then take uvloop and httptools, as
they would if the project depended on `uvicorn[standard]`. Each route is loaded on both in
turn, which goes first alternating from route to route, so that drift falls on both alike.

Figures are printed (and written with --json), never asserted; they vary on shared machines.

Run:  .venv/bin/python bench/web.py                        # about 5 minutes on 2 cores
      .venv/bin/python bench/web.py --duration 5 --routes /aqi,/,etag:/city
      .venv/bin/python bench/web.py --standard-dir /tmp/standard
Options: --help. Everything started is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common, tests

from bench.api import ApiProcess
from bench.common import BenchError, run_with_influxdb
from citydata import services
from citydata.influx import InfluxClient
from citydata.settings import load_settings
from tests.city import build_city

ROUTES = (
    "/health",
    "/",
    "/city",
    "/aqi",
    "/water/status",
    "/traffic/status",
    "/sensors",
    "/alerts",
    "/readings/latest",
    "etag:/",
    "etag:/city",
)
BASELINE = "/health"
REVALIDATE = "etag:"  # a route asked for with If-None-Match
RATIO_GOALS = {"/aqi": 0.5, "/water/status": 0.5, "/traffic/status": 0.5, "/": 0.25}
P99_GOAL_MS = 1000.0
GZIP = "Accept-Encoding: gzip"
BUSY = 0.25  # others' CPU during a run, in cores, above which the report says so
STANDARD = "citydata api + uvloop, httptools"
INSTALL_WRK = "wrk not found; install it with: sudo apt-get install wrk"

# A revalidating reader: If-None-Match with the ETag it holds, and the ETag of any 200 it gets
# from then on (the snapshot's ETag changes at each rebuild). Counts the statuses it saw.
REVALIDATE_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  etag = args[1]
  ok, not_modified, other = 0, 0, 0
end
function request()
  wrk.headers["If-None-Match"] = etag
  return wrk.format()
end
function response(status, headers, body)
  if status == 304 then
    not_modified = not_modified + 1
  elseif status == 200 then
    ok = ok + 1
    etag = headers["etag"] or headers["ETag"] or etag
  else
    other = other + 1
  end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("ok"); b = b + t:get("not_modified"); c = c + t:get("other")
  end
  io.write(string.format("Statuses: 200 %d, 304 %d, other %d\\n", a, b, c))
end
"""


# --- wrk's output -------------------------------------------------------------------------------

_TIME_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SIZE = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)([KMGT]?B) read", re.M)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_STATUSES = re.compile(r"^Statuses: 200 (\d+), 304 (\d+), other (\d+)", re.M)


@dataclass(frozen=True)
class Wrk:
    """What one wrk run measured."""

    requests: int
    seconds: float
    read_bytes: int
    rate: float  # requests/s, as wrk counts them (every completed response)
    p50_ms: float
    p99_ms: float
    connect: int = 0
    read: int = 0
    write: int = 0
    timeout: int = 0
    non_2xx_3xx: int = 0
    statuses: dict[int, int] | None = None  # from REVALIDATE_LUA: 200, 304, 0 (any other)

    @property
    def errors(self) -> int:
        """Socket errors other than timeouts, and answers other than 2xx or 3xx."""
        return self.connect + self.read + self.write + self.non_2xx_3xx


def parse_wrk(text: str) -> Wrk:
    """wrk's report (run with --latency); BenchError when a figure is missing."""
    percentiles = {q: float(v) * _TIME_MS[unit] for q, v, unit in _PERCENTILE.findall(text)}
    total, rate = _TOTAL.search(text), _RATE.search(text)
    if total is None or rate is None or set(percentiles) != {"50", "99"}:
        raise BenchError(f"wrk's output lacks a figure (run with --latency?):\n{text}")
    socket, non_2xx, statuses = _SOCKET.search(text), _NON_2XX.search(text), None
    connect, read, write, timeout = (int(n) for n in socket.groups()) if socket else (0,) * 4
    if (found := _STATUSES.search(text)) is not None:
        statuses = dict(zip((200, 304, 0), (int(n) for n in found.groups()), strict=True))
    return Wrk(
        requests=int(total[1]),
        seconds=float(total[2]) * _TIME_MS[total[3]] / 1000,
        read_bytes=round(float(total[4]) * _SIZE[total[5]]),
        rate=float(rate[1]),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        connect=connect,
        read=read,
        write=write,
        timeout=timeout,
        non_2xx_3xx=int(non_2xx[1]) if non_2xx else 0,
        statuses=statuses,
    )


# --- the goal -----------------------------------------------------------------------------------


def verdict(route: str, wrk: Wrk, baseline_rate: float) -> list[str]:
    """Why `route` misses the goal (empty: it meets it)."""
    missed = []
    want = RATIO_GOALS.get(route)
    if want is not None and wrk.rate < want * baseline_rate:
        missed.append(f"{wrk.rate / baseline_rate:.2f}x < {want:g}x")
    if wrk.timeout:
        missed.append(f"{wrk.timeout} timeouts")
    if wrk.errors:
        missed.append(f"{wrk.errors} errors")
    if wrk.p99_ms > P99_GOAL_MS:
        missed.append(f"p99 > {P99_GOAL_MS / 1000:g} s")
    return missed


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Run:
    """One route loaded by wrk, and what the processes spent meanwhile (CPU seconds)."""

    route: str
    wrk: Wrk
    api_cpu_s: float
    influx_cpu_s: float
    wrk_cpu_s: float
    others_cpu_s: float  # every other process on the machine (others' tests, say)
    body_bytes: int  # one answer as sent (gzip when offered), measured before the run
    encoding: str


@dataclass
class Config:
    """One API process's runs and its totals."""

    name: str
    runs: list[Run] = field(default_factory=list)
    api_cpu_s: float = 0.0
    api_peak_rss: int = 0

    @property
    def baseline(self) -> float:
        rates = [r.wrk.rate for r in self.runs if r.route == BASELINE]
        return sum(rates) / len(rates)


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def children_cpu_s() -> float:
    """CPU seconds of the children this process has waited for (wrk, once it exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_rss(process: psutil.Process) -> int:
    """The process's peak RSS so far (Linux VmHWM), or its RSS now where there is none."""
    try:
        status = Path(f"/proc/{process.pid}/status").read_text()
    except OSError:
        return int(process.memory_info().rss)
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found[1]) * 1024 if found else int(process.memory_info().rss)


def probe(client: httpx.Client, path: str, headers: dict[str, str]) -> httpx.Response:
    """One GET, which must answer 200 (so that wrk measures the answer, not an error)."""
    response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise BenchError(f"GET {path}: HTTP {response.status_code}: {response.text[:300]}")
    return response


def wrk_command(args: argparse.Namespace, extra: Sequence[str] = ()) -> list[str]:
    return [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration:g}s",
        "--latency",
        f"--timeout={args.timeout:g}s",
        "-H",
        GZIP,
        *extra,
    ]


def slug(route: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", route).strip("_") or "page"


def load_route(
    api: ApiProcess, influx: psutil.Process, route: str, args: argparse.Namespace, out: Path
) -> Run:
    """wrk against one route; its report is kept in `out`."""
    path = route.removeprefix(REVALIDATE)
    with httpx.Client(base_url=api.url, timeout=30) as client:
        first = probe(client, path, {"Accept-Encoding": "gzip"})
    extra: list[str] = []
    if route.startswith(REVALIDATE):
        script = out.with_name("revalidate.lua")
        script.write_text(REVALIDATE_LUA, encoding="utf-8")
        extra = ["-s", str(script)]
    command = [*wrk_command(args, extra), api.url + path]
    if route.startswith(REVALIDATE):
        command += ["--", first.headers["etag"]]
    before = (cpu_s(api.ps), cpu_s(influx), children_cpu_s(), busy_cpu_s())
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.duration + 60)
    after = (cpu_s(api.ps), cpu_s(influx), children_cpu_s(), busy_cpu_s())
    spent = [b - a for a, b in zip(before, after, strict=True)]
    out.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(command)}: exit {done.returncode}:\n{done.stderr}")
    return Run(
        route,
        parse_wrk(done.stdout),
        api_cpu_s=spent[0],
        influx_cpu_s=spent[1],
        wrk_cpu_s=spent[2],
        others_cpu_s=max(0.0, spent[3] - sum(spent[:3])),
        body_bytes=first.num_bytes_downloaded,
        encoding=first.headers.get("content-encoding", "identity"),
    )


@dataclass(frozen=True)
class Variant:
    """An API process to measure: its name, environment and the modules it must have loaded."""

    name: str
    env: dict[str, str]
    modules: tuple[str, ...] = ()


def start_api(variant: Variant, tmp: Path) -> ApiProcess:
    """Start an API process and wait until it serves its first snapshot."""
    api = ApiProcess(variant.env, tmp / f"api-{slug(variant.name)}.log")
    api.wait_up(60)
    maps = [m.path for m in api.ps.memory_maps()]
    if missing := [m for m in variant.modules if not any(f"/{m}/" in p for p in maps)]:
        raise BenchError(f"the API process ({variant.name}) did not load {', '.join(missing)}")
    with httpx.Client(base_url=api.url, timeout=60) as client:
        probe(client, "/city", {})  # waits for the first snapshot
    return api


def measure(
    variants: Sequence[Variant], influx: services.InfluxService, args: argparse.Namespace, tmp: Path
) -> list[Config]:
    """Start an API process per variant, load every route on each in turn (the variants'
    order alternating from route to route, so that drift falls on both alike), stop them."""
    (tmp / "wrk").mkdir(exist_ok=True)
    apis: list[ApiProcess] = []
    configs = [Config(v.name) for v in variants]
    try:
        for variant in variants:
            apis.append(start_api(variant, tmp))
        routes = [BASELINE, *(r for r in args.routes if r != BASELINE), BASELINE]
        for i, route in enumerate(routes):
            order = list(zip(apis, configs, strict=True))
            for api, config in order if i % 2 == 0 else order[::-1]:
                print(f"  {config.name}: {route} for {args.duration:g} s …", flush=True)
                out = tmp / "wrk" / f"{api.port}-{i:02d}-{slug(route)}.txt"
                config.runs.append(load_route(api, psutil.Process(influx.pid), route, args, out))
        for api, config in zip(apis, configs, strict=True):
            config.api_cpu_s, config.api_peak_rss = cpu_s(api.ps), peak_rss(api.ps)
    finally:
        for api in apis:
            api.stop()
    return configs


# --- report -------------------------------------------------------------------------------------


def label(route: str) -> str:
    if route.startswith(REVALIDATE):
        return f"{route.removeprefix(REVALIDATE)} If-None-Match"
    return route


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def table(config: Config, duration: float) -> list[str]:
    base = config.baseline
    head = (
        f"{'route':24}{'req/s':>8}{'x health':>9}{'p50':>10}{'p99':>10}{'timeouts':>9}"
        f"{'errors':>7}{'API':>6}{'ms/req':>7}{'influxd':>8}{'wrk':>5}{'others':>7}"
        f"{'answer':>10}  goal"
    )
    lines = [head]
    for run in config.runs:
        w = run.wrk
        missed = verdict(run.route, w, base)
        ratio = RATIO_GOALS.get(run.route)
        goal = f">= {ratio:g}x, " if ratio is not None else ""
        result = "PASS" if not missed else "FAIL: " + "; ".join(missed)
        gz = " gz" if run.encoding == "gzip" else ""
        size = f"{run.body_bytes}" if run.body_bytes < 1024 else f"{run.body_bytes / 1024:.1f}k"
        lines.append(
            f"{label(run.route):24}{w.rate:8.1f}{w.rate / base:8.2f}x{fmt_ms(w.p50_ms):>10}"
            f"{fmt_ms(w.p99_ms):>10}{w.timeout:9}{w.errors:7}{run.api_cpu_s / duration:6.0%}"
            f"{1000 * run.api_cpu_s / max(w.requests, 1):7.2f}"
            f"{run.influx_cpu_s / duration:8.0%}{run.wrk_cpu_s / duration:5.0%}"
            f"{run.others_cpu_s / duration:7.0%}{size + gz:>10}  {goal}{result}"
        )
        if w.statuses is not None:
            lines.append(
                f"{'':24}statuses: {w.statuses[304]} x 304, {w.statuses[200]} x 200 "
                f"(new ETag), {w.statuses[0]} other"
            )
    return lines


def report(config: Config, args: argparse.Namespace) -> None:
    health = [r.wrk.rate for r in config.runs if r.route == BASELINE]
    print(f"\n== {config.name}: {args.connections} connections, {args.threads} wrk threads, "
          f"{args.duration:g} s per route, timeout {args.timeout:g} s, {GZIP}")  # fmt: skip
    for line in table(config, args.duration):
        print(line)
    print(f"baseline /health: {' and '.join(f'{r:.1f}' for r in health)} req/s, mean "
          f"{config.baseline:.1f}. API, influxd, wrk, others: CPU as a share of one core over "
          f"the run (others: every other process on the machine); ms/req: the API's CPU per "
          f"request; answer: one answer's bytes as sent")  # fmt: skip
    print(f"API process over the whole run: {config.api_cpu_s:.1f} CPU s, peak RSS "
          f"{config.api_peak_rss / 2**20:.0f} MB")  # fmt: skip
    others = max(r.others_cpu_s / args.duration for r in config.runs)
    if others > BUSY:
        print(f"note: other processes took up to {others:.0%} of a core during a run; the "
              f"ratios are only as steady as that load (rerun on a quiet machine)")  # fmt: skip
    missed = [label(r.route) for r in config.runs if verdict(r.route, r.wrk, config.baseline)]
    print(f"goal: {'MET' if not missed else 'NOT MET (' + ', '.join(missed) + ')'}")


def compare(first: Config, second: Config) -> None:
    print(f"\n== {second.name} vs {first.name}: req/s (ratio), p99")
    for a, b in zip(first.runs, second.runs, strict=True):
        print(f"{label(a.route):24}{a.wrk.rate:8.1f} -> {b.wrk.rate:8.1f} "
              f"({b.wrk.rate / a.wrk.rate:4.2f}x)   p99 {fmt_ms(a.wrk.p99_ms):>8} -> "
              f"{fmt_ms(b.wrk.p99_ms):>8}")  # fmt: skip


def machine() -> dict[str, object]:
    load = os.getloadavg()
    version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    facts: dict[str, object] = {
        "host": platform.node(),
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "wrk": version.strip(),
        "load_average": load,
    }
    print(f"{facts['host']}: {facts['cores']} cores, {facts['cpu']}, Python "
          f"{facts['python']}, {facts['wrk']}; load average at start {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print("The API, InfluxDB and wrk share these cores; others' work on them shows in the figures.")
    return facts


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=15, help="seconds per route (15)")
    p.add_argument("--connections", type=int, default=50, help="wrk connections (50)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--timeout", type=float, default=2, help="wrk's request timeout, s (2)")
    p.add_argument(
        "--routes",
        default=",".join(ROUTES),
        help="comma-separated routes, in order, from: " + ", ".join(ROUTES) + " (all; "
        f"'{REVALIDATE}' asks with If-None-Match; {BASELINE} always runs first and last)",
    )
    p.add_argument(
        "--standard-dir",
        type=Path,
        help="measure a second API process alongside, with uvloop and httptools from this "
        "directory (pip install --target DIR uvloop httptools)",
    )
    p.add_argument("--json", type=Path, help="write the figures to this file")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = p.parse_args(argv)
    args.routes = [r.strip() for r in args.routes.split(",") if r.strip()]
    if unknown := [r for r in args.routes if r not in ROUTES]:
        p.error(f"unknown routes {', '.join(unknown)}; known: {', '.join(ROUTES)}")
    if args.duration <= 0 or args.timeout <= 0 or not 1 <= args.threads <= args.connections:
        p.error("need --duration > 0, --timeout > 0 and 1 <= --threads <= --connections")
    if args.standard_dir and not (args.standard_dir / "uvloop").is_dir():
        p.error(f"no uvloop in {args.standard_dir} (pip install --target DIR uvloop httptools)")
    return args


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """File descriptor 2 (this process's and its children's) to `path`, then back."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def run(args: argparse.Namespace, tmp: Path, influx: services.InfluxService) -> list[Config]:
    broker = services.mosquitto(tmp / "mosquitto").start()
    try:
        print("building the city (Lam Phaya, 2 days, through a collector) …", flush=True)
        started = time.monotonic()
        db = InfluxClient(influx.url, f"bench_web_{uuid.uuid4().hex[:8]}")
        with db, stderr_to(tmp / "city.log"):  # the collector's log lines, dead letters and all
            db.create_database()
            city = build_city(broker, db, tmp / "var")
        print(f"  built in {time.monotonic() - started:.0f} s", flush=True)
        settings = load_settings(
            {},
            mqtt_url=broker.url,
            influx_url=influx.url,
            influx_db=city.settings.influx_db,
            data_dir=city.settings.data_dir,
            log_level="WARNING",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
        env |= settings.env()
        variants = [Variant("citydata api", env)]
        if args.standard_dir:
            path = os.pathsep.join(p for p in (str(args.standard_dir), env.get("PYTHONPATH")) if p)
            standard = {**env, "PYTHONPATH": path}
            variants.append(Variant(STANDARD, standard, ("uvloop", "httptools")))
        configs = measure(variants, influx, args, tmp)
        for config in configs:
            report(config, args)
        if len(configs) == 2:
            compare(*configs)
        return configs
    finally:
        broker.stop()


def write_json(args: argparse.Namespace, facts: dict[str, object], configs: list[Config]) -> None:
    figures = {
        "machine": facts,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "configs": [
            {
                "name": c.name,
                "api_cpu_s": c.api_cpu_s,
                "api_peak_rss": c.api_peak_rss,
                "baseline": c.baseline,
                "runs": [
                    {**asdict(r), "missed": verdict(r.route, r.wrk, c.baseline)} for r in c.runs
                ],
            }
            for c in configs
        ],
    }
    args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(INSTALL_WRK, file=sys.stderr)
        return 2
    facts = machine()
    configs: list[Config] = []

    def body(tmp: Path, influx: services.InfluxService) -> None:
        configs.extend(run(args, tmp, influx))
        if args.json:
            write_json(args, facts, configs)

    return run_with_influxdb("citydata-bench-web-", args.keep, body, errors=(httpx.HTTPError,))


if __name__ == "__main__":
    sys.exit(main())
