"""Alerts benchmark: the evaluation's time per cycle with the shipped rules, and the latency
from a threshold-crossing reading to the LINE request.

Everything runs for real on 127.0.0.1: InfluxDB and Mosquitto from `citydata.services`, a
registry (SQLite) per city in a temporary data directory.

1. Evaluation, in this process, as `citydata derive --alerts` runs it: every whole minute the
   real Loop judges and writes the stations (the derived judgment) and the real Evaluator
   evaluates the 15 rules of deploy/alerts.yaml after it (queueing for LINE, e-mail and
   webhook); half a minute later the alerts look again (the stations judged as of that instant
   by Deriver.judge_at, written nowhere, then Evaluator.look). Each part is timed apart, over
   --cycles consecutive minutes ending at the newest data, with the evaluator's InfluxDB
   queries and SQLite time. Cities: the simulated Lam Phaya fleet and --stations synthetic
   stations, their readings over --days days written as bench/derived.py writes them. "Quiet"
   is the simulated data as it is; for the large city, "haze + flood" then overwrites the air
   stations' PM (160 µg/m³ over the last 26 h) and the water stations' level (2.6 m, above
   every line, over the last 3 h): the onset cycle (states, events and notices for most
   subjects; repeated --onsets times from no state) and the evaluations of the following
   --episode-cycles minutes, while everything is firing. A warm-up minute before the quiet
   run is not counted.
2. Latency, through the whole pipeline: a Mosquitto of its own, `citydata collector` and
   `citydata derive --alerts` as subprocesses, a rules file of one metric rule (`last` PM2.5
   > 100, clear < 50, for 0) on two stations with a LINE recipient, and a fake LINE push
   endpoint here recording when each request arrives. The Lam Phaya fleet (plus
   --latency-stations synthetic ones) is registered with --days of simulated readings, so the
   cycle judges real data. Readings are published over MQTT at random moments of the minute,
   one station crossing while the other clears, so --latency-runs firing and as many resolved
   messages take --latency-runs + 1 minutes. Each latency is split into the wait for the
   evaluation that saw the reading (a cycle on the minute or the look on the half minute, told
   apart by the message's time and its arrival) and the evaluation plus the delivery.

Figures are printed, never asserted; they vary on shared machines.

Run:  .venv/bin/python bench/alerts.py                  # about 9 minutes on 2 cores
      .venv/bin/python bench/alerts.py --stations 300 --cycles 10 --latency-runs 2
      .venv/bin/python bench/alerts.py --only latency --latency-stations 1000
Options: --help. Everything started is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common

from bench.common import BenchError, run_with_influxdb, stop_process
from bench.derived import load, thousand
from citydata import services
from citydata.alerts.evaluate import Evaluator, Outcome
from citydata.alerts.notice import Channel
from citydata.alerts.rulefile import Recipient, RuleFile, load_rules
from citydata.alerts.sources import View, observe
from citydata.alerts.store import AlertState, AlertStore, Event, NewNotice, Silence, StoredRule
from citydata.derived.deriver import MINUTE_NS, Deriver, floor_to
from citydata.derived.schedule import Cycle, Loop
from citydata.influx import InfluxClient, Series
from citydata.lineprotocol import encode_point
from citydata.registry import Registry
from citydata.registry.tables import alert_states
from citydata.settings import load_settings
from simulators.fleet import LAM_PHAYA
from simulators.publisher import backfill_times
from simulators.registration import register_fleet, registry_entries
from simulators.sensor import SimSensor

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "deploy" / "alerts.yaml"
CHANNELS: frozenset[Channel] = frozenset({"line", "email", "webhook"})
NS = 1_000_000_000
HOUR_S = 3600
HAZE_PM25, HAZE_H = 160.0, 26  # µg/m³ over the last hours: 1-h mean and 24-h AQI both over
FLOOD_LEVEL, FLOOD_H = 2.6, 3  # m, above every registered line (bank 2.3 m)
TARGET_S = 60.0  # the issue: "notified within 60 s"


# --- timing the evaluator's parts ---------------------------------------------------------------


class TimedInflux(InfluxClient):
    """The evaluator's own InfluxDB client: every query and write timed."""

    def __init__(self, url: str, database: str) -> None:
        super().__init__(url, database)
        self.queries: list[tuple[str, float]] = []
        self.write_s = 0.0

    def reset(self) -> None:
        self.queries, self.write_s = [], 0.0

    def query(
        self, q: str, *, params: Mapping[str, str] | None = None, method: str = "GET"
    ) -> list[Series]:
        started = time.perf_counter()
        try:
            return super().query(q, params=params, method=method)
        finally:
            self.queries.append((q, time.perf_counter() - started))

    def write(self, body: bytes, *, compress: bool = True) -> None:
        started = time.perf_counter()
        try:
            super().write(body, compress=compress)
        finally:
            self.write_s += time.perf_counter() - started


class TimedStore(AlertStore):
    """The alert tables: the time the evaluator spends in them (SQLite), summed."""

    seconds = 0.0
    rows = 0  # state rows written or deleted by `apply`

    def _since(self, started: float) -> None:
        self.seconds += time.perf_counter() - started

    def rules(self) -> list[StoredRule]:
        started = time.perf_counter()
        try:
            return super().rules()
        finally:
            self._since(started)

    def recipients(self) -> dict[str, Recipient]:
        started = time.perf_counter()
        try:
            return super().recipients()
        finally:
            self._since(started)

    def states(self) -> dict[tuple[str, str], AlertState]:
        started = time.perf_counter()
        try:
            return super().states()
        finally:
            self._since(started)

    def silences(self, active_at: datetime | None = None) -> list[Silence]:
        started = time.perf_counter()
        try:
            return super().silences(active_at)
        finally:
            self._since(started)

    def apply(
        self,
        changed: Sequence[AlertState],
        ended: Sequence[tuple[str, str]],
        events: Sequence[Event],
        notices: Sequence[NewNotice],
        now_ns: int,
    ) -> list[Event]:
        started = time.perf_counter()
        self.rows += len(changed) + len(ended)
        try:
            return super().apply(changed, ended, events, notices, now_ns)
        finally:
            self._since(started)


@dataclass(frozen=True)
class Timed:
    """One evaluation and the judgment before it: a whole-minute cycle's (judged and written)
    or the half-minute look's (judged as of that instant, written nowhere)."""

    look: bool
    judged_s: float
    hours: int  # AQI hours judged in this cycle (2 on entering an hour, else 0)
    alerts_s: float
    outcome: Outcome
    queries: list[tuple[str, float]]
    store_s: float
    state_rows: int
    write_s: float


@dataclass
class City:
    """A registry, a database with its readings, the shipped rules, and the real cycle."""

    name: str
    sensors: list[SimSensor]
    interval_s: float
    end: float  # the newest readings' time, epoch s
    influx: TimedInflux
    store: TimedStore
    deriver: Deriver
    evaluator: Evaluator
    rules: RuleFile
    registry: Registry
    loop: Loop = field(init=False)
    last: Cycle | None = None

    def __post_init__(self) -> None:
        self.loop = Loop(self.deriver)

    def minutes(self, n: int) -> list[int]:
        """The n whole minutes ending at the newest readings."""
        last = floor_to(int(self.end * NS), MINUTE_NS)
        return [last - k * MINUTE_NS for k in range(n - 1, -1, -1)]

    def _timed(self, look: bool, judged_s: float, hours: int, outcome: Outcome) -> Timed:
        return Timed(
            look,
            judged_s,
            hours,
            outcome.seconds,
            outcome,
            list(self.influx.queries),
            self.store.seconds,
            self.store.rows,
            self.influx.write_s,
        )

    def _zero(self) -> None:
        self.influx.reset()
        self.store.seconds, self.store.rows = 0.0, 0

    def cycle(self, minute_ns: int) -> Timed:
        """A whole minute as `citydata derive --alerts` runs it: judged and written, then
        evaluated (Evaluator.after_cycle)."""
        self._zero()
        cycle = self.loop.cycle(minute_ns)
        outcome = self.evaluator.after_cycle(cycle)
        self.last = cycle
        return self._timed(False, cycle.seconds, len(cycle.hours), outcome)

    def look(self, at_ns: int) -> Timed:
        """The look half a minute later: judged as of `at_ns` (Deriver.judge_at), evaluated
        (Evaluator.look)."""
        self._zero()
        started = time.monotonic()
        judged = self.deriver.judge_at(at_ns)
        judged_s = time.monotonic() - started
        return self._timed(True, judged_s, 0, self.evaluator.look(judged))

    def minute(self, minute_ns: int) -> list[Timed]:
        """The cycle of a whole minute and its half-minute look."""
        return [self.cycle(minute_ns), self.look(minute_ns + MINUTE_NS // 2)]

    def reset(self) -> None:
        """No alert state (the table emptied); a new loop, so its first cycle judges the AQI
        hours again."""
        with self.registry.engine.begin() as conn:
            conn.execute(sa.delete(alert_states))
        self.loop = Loop(self.deriver)


# --- part 1: evaluation --------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def spread(values: Sequence[float]) -> str:
    return (
        f"median {ms(statistics.median(values)):>9}  p95 {ms(percentile(values, 95)):>9}  "
        f"max {ms(max(values)):>9}"
    )


def short(q: str, limit: int = 96) -> str:
    q = re.sub(r"\d{15,}", "…", " ".join(q.split()))  # epoch ns: noise in a report
    return q if len(q) <= limit else q[: limit - 1] + "…"


def report(label: str, timed: Sequence[Timed]) -> None:
    """Median / p95 of the judgments and the evaluations, cycles and looks apart, and what the
    median evaluation after a cycle did."""
    if not timed:
        return
    cycles = [t for t in timed if not t.look]
    looks = [t for t in timed if t.look]
    print(f"  {label}: {len(cycles)} cycles, {len(looks)} half-minute looks")
    for name, group, what in (
        ("cycle", cycles, ("derived judgment, written (Loop.cycle)", "Evaluator.after_cycle")),
        ("look ", looks, ("stations judged as of :30 (judge_at)", "Evaluator.look")),
    ):
        if not group:
            continue
        print(f"    {name} {what[0]:41} {spread([t.judged_s for t in group])}")
        print(f"          {'alert evaluation (' + what[1] + ')':41} "
              f"{spread([t.alerts_s for t in group])}")  # fmt: skip
    with_hours = [t.judged_s for t in cycles if t.hours]
    if with_hours:
        print(
            f"      {len(with_hours)} of the cycles also judged 2 AQI hours (entering an hour): "
            f"max {ms(max(with_hours))}"
        )
    mid = sorted(timed, key=lambda t: t.alerts_s)[len(timed) // 2]
    out = mid.outcome
    query_s = sum(s for _, s in mid.queries)
    rest = out.seconds - query_s - mid.store_s - mid.write_s
    print(
        f"      median evaluation: {out.rules} rules, {out.subjects} subjects; {len(mid.queries)} "
        f"InfluxDB queries {ms(query_s)};\n        SQLite {ms(mid.store_s)} ({mid.state_rows} "
        f"state rows written), alert points written {ms(mid.write_s)}, the rest (observe, "
        f"step, messages) {ms(rest)}"
    )
    events = sum(len(t.outcome.events) for t in timed)
    notices = sum(t.outcome.notices for t in timed)
    print(f"      all {len(timed)}: {events} events, {notices} notices queued", end="")
    slowest = max((q for t in timed for q in t.queries), key=lambda q: q[1], default=None)
    if slowest is None:
        print()
    else:
        print(f"; slowest query {ms(slowest[1])}:\n        {short(slowest[0])}")


def rule_costs(city: City) -> list[tuple[str, float, int]]:
    """Each enabled rule observed alone on a view of the last cycle without the query cache:
    (rule, seconds, subjects), slowest first."""
    cycle = city.last
    assert cycle is not None
    sensors = {s.sensor.id: s.sensor for s in cycle.minute.stations}
    out = []
    for stored in city.store.rules():
        if not stored.rule.enabled:
            continue
        view = View(cycle.time_ns, cycle.minute, city.evaluator.hour, sensors, city.influx, 1e9)
        started = time.perf_counter()
        seen = observe(stored.rule, view)
        out.append((stored.rule.name, time.perf_counter() - started, len(seen)))
    return sorted(out, key=lambda r: -r[1])


def open_city(
    tmp: Path, server: services.InfluxService, name: str, sensors: list[SimSensor],
    days: float, interval_s: float, registry: Registry,
) -> City:  # fmt: skip
    """A database of the city's readings, its sensors registered, the shipped rules loaded."""
    settings = load_settings({}, influx_url=server.url, influx_db=name, data_dir=tmp / name)
    end = time.time() // 300 * 300
    influx = TimedInflux(server.url, name)
    influx.create_database()
    registry.upsert_many(registry_entries(sensors, zone="bench"))
    n, took = load(influx, sensors, days, interval_s, end)
    counts = {k: sum(s.kind == k for s in sensors) for k in ("air", "water", "traffic")}
    kinds = ", ".join(f"{v} {k}" for k, v in counts.items())
    print(f"\n{name}: {len(sensors)} stations ({kinds}); wrote {n} readings (every "
          f"{interval_s:g} s over {days:g} days) in {took:.1f} s", flush=True)  # fmt: skip
    store = TimedStore(registry)
    rules = load_rules(SHIPPED)
    store.load(rules)
    deriver = Deriver(InfluxClient(server.url, name), registry, settings.aqi_above_200)
    evaluator = Evaluator(
        store, influx, channels=CHANNELS, spool_max_bytes=float(settings.collector_spool_max_bytes)
    )
    return City(name, sensors, interval_s, end, influx, store, deriver, evaluator, rules, registry)


def quiet(city: City, cycles: int) -> None:
    minutes = city.minutes(cycles)
    city.minute(minutes[0] - MINUTE_NS)  # warm-up: the AQI hours, the data's own transitions
    timed = [t for m in minutes for t in city.minute(m)]
    enabled = sum(r.enabled for r in city.rules.rules)
    print(f"  {len(city.rules.rules)} shipped rules ({enabled} enabled), channels line, email, "
          "webhook")  # fmt: skip
    report("quiet (the simulated data as it is)", timed)
    print(f"    states held after: {len(city.store.states())}")
    costs = rule_costs(city)
    top = ", ".join(f"{n} {ms(s)} ({k})" for n, s, k in costs[:3])
    print(f"    each rule observed alone (subjects), slowest: {top}")


def episode_lines(city: City, days: float) -> Iterator[str]:
    """Haze over every air station, a flood at every water station, on the data's own times."""
    for t in backfill_times(days, city.interval_s, city.end):
        for s in city.sensors:
            tags = {"sensor_id": s.sensor_id, "zone": "bench", "site": s.kind}
            if s.kind == "air" and t > city.end - HAZE_H * HOUR_S:
                values = {"pm25": HAZE_PM25, "pm10": HAZE_PM25 * 1.3}
            elif s.kind == "water" and t > city.end - FLOOD_H * HOUR_S:
                values = {"level": FLOOD_LEVEL}
            else:
                continue
            yield encode_point(s.kind, tags, values, round(t * NS))


def episode(city: City, days: float, cycles: int, onsets: int) -> None:
    lines = list(episode_lines(city, days))
    for i in range(0, len(lines), 20_000):
        city.influx.write_lines(lines[i : i + 20_000])
    air = sum(s.kind == "air" for s in city.sensors)
    water = sum(s.kind == "water" for s in city.sensors)
    print(
        f"  haze + flood: PM2.5 {HAZE_PM25:g} µg/m³ at all {air} air stations over the last "
        f"{HAZE_H} h, level {FLOOD_LEVEL:g} m at all {water} water stations over the last "
        f"{FLOOD_H} h ({len(lines)} readings overwritten)"
    )
    minutes = city.minutes(cycles)
    first: list[Timed] = []
    for _ in range(onsets):
        city.reset()
        first.append(city.cycle(minutes[0]))
    rest = [city.look(minutes[0] + MINUTE_NS // 2)]
    rest += [t for m in minutes[1:] for t in city.minute(m)]
    transitions: dict[str, int] = {}
    for e in first[-1].outcome.events:
        transitions[e.transition] = transitions.get(e.transition, 0) + 1
    told = ", ".join(f"{v} {k}" for k, v in sorted(transitions.items()))
    print(f"  onset, from no state (repeated {onsets}x): {told}")
    report("onset (the first cycle)", first)
    fired = [t for t in rest if t.outcome.events]
    report("later, with transitions (pm25-hour-high's `for: 5m` ends, ...)", fired)
    report("firing, nothing new", [t for t in rest if not t.outcome.events])
    print(f"    states held after: {len(city.store.states())}")


def evaluation(tmp: Path, server: services.InfluxService, args: argparse.Namespace) -> None:
    print("\n== 1. evaluation time per cycle (derived judgment and alert evaluation apart)")
    for name, sensors, interval in (
        ("fleet", list(LAM_PHAYA), 300.0),
        ("thousand", thousand(args.stations), args.interval),
    ):
        with Registry.open(f"sqlite:///{tmp / f'{name}.db'}") as registry:
            city = open_city(tmp, server, name, sensors, args.days, interval, registry)
            try:
                quiet(city, args.cycles)
                if name == "thousand":
                    episode(city, args.days, args.episode_cycles, args.onsets)
            finally:
                city.influx.close()
                city.deriver.influx.close()


# --- part 2: latency ------------------------------------------------------------------------------


LINE_TOKEN = "bench-channel-access-token"
LINE_GROUP = "C" + "0123456789abcdef" * 2
PUSH_PATH = "/v2/bot/message/push"
STATIONS = ("lp-air-01", "lp-air-02")
CROSS, CLEAR = 150.0, 20.0  # PM2.5, against > 100 and < 50
LATENCY_RULES = f"""
recipients:
  bench: {{lang: both, line: [{LINE_GROUP}]}}
rules:
  - name: bench-pm25-last
    title_th: ฝุ่น PM2.5 สูง
    title_en: PM2.5 high
    select: {{kind: air, ids: [{", ".join(STATIONS)}]}}
    value: {{metric: pm25, aggregate: last}}
    when: {{op: ">", value: 100}}
    clear: {{op: "<", value: 50}}
    for: 0s
    severity: warning
    message_th: "{{name}} ({{sensor_id}}): PM2.5 {{value}} {{unit}}"
    message_en: "{{name}} ({{sensor_id}}): PM2.5 {{value}} {{unit}}"
    recipients: [bench]
"""


@dataclass(frozen=True)
class Push:
    """One request to the fake LINE push endpoint, when it arrived."""

    at: float
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return "\n".join(str(m.get("text", "")) for m in self.body.get("messages", []))


class FakeLine:
    """The LINE Messaging API's push endpoint on a free loopback port: a bearer token, 200 for
    a good push, and the arrival time of each (taken when its headers have been read)."""

    def __init__(self) -> None:
        self.pushes: list[Push] = []
        self.refused = 0
        self.arrived = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                good = (
                    self.path == PUSH_PATH
                    and self.headers.get("Authorization") == f"Bearer {LINE_TOKEN}"
                )
                with fake.arrived:
                    if good:
                        fake.pushes.append(Push(at, json.loads(body)))
                    else:
                        fake.refused += 1
                    fake.arrived.notify_all()
                data = b'{"sentMessages":[]}' if good else b'{"message":"Authentication failed"}'
                self.send_response(200 if good else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", services.free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLine:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, count: int, deadline: float) -> None:
        """Until `count` pushes have arrived, or the monotonic `deadline`."""
        with self.arrived:
            while len(self.pushes) < count and time.monotonic() < deadline:
                self.arrived.wait(min(1.0, max(0.0, deadline - time.monotonic())))


class Child:
    """`python -m citydata ...` as a subprocess, its output in a log file, stopped by PID."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "citydata", *args],
                env=env,
                cwd=log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.proc.poll() is not None:
                raise BenchError(f"{self.log_path.name}: exited {self.proc.returncode}:\n"
                                 f"{self.tail()}")  # fmt: skip
            if time.monotonic() > deadline:
                raise BenchError(f"{self.log_path.name}: no {text!r} in {timeout:g} s:\n"
                                 f"{self.tail()}")  # fmt: skip
            time.sleep(0.05)

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM by PID, SIGKILL if it has not exited within `timeout`."""
        stop_process(self.proc, timeout)


@dataclass(frozen=True)
class Sent:
    """A reading published: which station, crossing or clearing, when (epoch s)."""

    station: str
    transition: Literal["firing", "resolved"]
    at: float


def schedule(runs: int, start: float, rng: random.Random) -> list[tuple[float, str, float]]:
    """(when, station, PM2.5) for `runs` crossings and their clearings, each at a random moment
    of its minute: in minute k one station clears while the other crosses, so the runs take
    one minute each, plus one."""
    out = []
    for k in range(runs + 1):
        minute = start + 60 * k
        if k < runs:
            out.append((minute + rng.uniform(0, 60), STATIONS[k % 2], CROSS))
        if k > 0:
            out.append((minute + rng.uniform(0, 60), STATIONS[(k - 1) % 2], CLEAR))
    return sorted(out)


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-alerts-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish(client: mqtt.Client, station: str, pm25: float) -> Sent:
    """One reading, stamped now (when it is handed to paho), at QoS 1."""
    at = time.time()
    body = json.dumps({"ts": int(at * 1000), "pm25": pm25, "pm10": pm25 * 1.3})
    client.publish(f"sensors/air/{station}", body.encode(), qos=1).wait_for_publish(10)
    return Sent(station, "firing" if pm25 == CROSS else "resolved", at)


def wait_stored(influx: InfluxClient, since: float, timeout: float = 30) -> None:
    """Until both stations have a reading from `since` on in InfluxDB."""
    deadline = time.monotonic() + timeout
    q = f"SELECT count(pm25) AS v FROM air WHERE time >= {int(since * NS)} GROUP BY sensor_id"
    while len(influx.records(q)) < len(STATIONS):
        if time.monotonic() > deadline:
            raise BenchError(f"the baseline readings were not stored within {timeout:g} s")
        time.sleep(0.1)


def evaluated_at(push: Push, published: float) -> float | None:
    """When the evaluation that queued the message began: the whole minute of a cycle or the
    half minute of a look, the latest at or before the push's arrival in the minute its text
    names ('at HH:MM ICT'); None when there is no such instant after the reading."""
    found = re.search(r"at (\d\d):(\d\d) ICT", push.text)
    if found is None:
        return None
    named = (int(found[1]), int(found[2]))
    instant = push.at // 30 * 30
    while instant >= published - 30:  # bounded: from the arrival back to the reading
        ict = time.gmtime(instant + 7 * 3600)
        if (ict.tm_hour, ict.tm_min) == named:
            return instant if instant >= published - 1 else None
        instant -= 30
    return None


def matches(push: Push, sent: Sent) -> bool:
    resolved = "RESOLVED" in push.text
    return sent.station in push.text and resolved == (sent.transition == "resolved")


def latency_report(sent: list[Sent], pushes: list[Push]) -> None:
    left = list(pushes)
    rows: list[tuple[Sent, Push | None]] = []
    for s in sent:
        push = next((p for p in left if p.at > s.at and matches(p, s)), None)
        if push is not None:
            left.remove(push)
        rows.append((s, push))
    took, waits, tails = [], [], []
    print(f"  {'reading published':30} {'latency':>8}  {'wait for the evaluation':>24}  "
          f"{'evaluation+delivery':>19}  <= 60 s")  # fmt: skip
    for s, push in rows:
        verb = "crosses" if s.transition == "firing" else "clears "
        what = f"{s.station} {verb} at :{s.at % 60:04.1f}"
        if push is None:
            print(f"  {what:30} no LINE request")
            continue
        took.append(push.at - s.at)
        at = evaluated_at(push, s.at)
        if at is None:
            split = f"{'?':>24}  {'?':>19}"
        else:
            which = "(look :30)" if at % 60 else "(cycle :00)"
            late = " one later" if at - s.at >= 30 else ""
            waits.append(max(0.0, at - s.at))
            tails.append(push.at - at)
            split = f"{at - s.at:8.1f} s {which + late:>14}  {push.at - at:17.2f} s"
        print(f"  {what:30} {took[-1]:6.2f} s  {split}  {'yes' if took[-1] <= TARGET_S else 'NO'}")
    if took:
        within = sum(t <= TARGET_S for t in took)
        print(
            f"  {len(took)} messages ({len(rows) - len(took)} missing): latency median "
            f"{statistics.median(took):.2f} s, max {max(took):.2f} s; within 60 s: "
            f"{within} of {len(took)}"
        )
    if tails:
        print(
            f"  split: waiting for the evaluation median {statistics.median(waits):.1f} s, max "
            f"{max(waits):.1f} s; evaluation + delivery median {statistics.median(tails):.2f} s, "
            f"max {max(tails):.2f} s"
        )
    if left:
        print(f"  {len(left)} LINE requests matched no reading")


def prepare(base: Path, server: services.InfluxService, args: argparse.Namespace) -> Path:
    """The data directory with the stations registered, their simulated readings in the
    database `latency`, and the rules file; returns the rules file."""
    data = base / "var"
    data.mkdir(parents=True)
    sensors = list(LAM_PHAYA) + (thousand(args.latency_stations) if args.latency_stations else [])
    with Registry.open(f"sqlite:///{data / 'registry.db'}") as registry:
        register_fleet(registry, sensors)
    with InfluxClient(server.url, "latency") as influx:
        influx.create_database()
        n, _ = load(influx, sensors, args.days, 300.0, time.time() // 300 * 300)
    print(f"  {len(sensors)} stations registered (the Lam Phaya fleet + "
          f"{args.latency_stations}), {n} simulated readings written first; one rule on "
          f"{' and '.join(STATIONS)}", flush=True)  # fmt: skip
    rules = base / "rules.yaml"
    rules.write_text(LATENCY_RULES, encoding="utf-8")
    return rules


def latency(tmp: Path, server: services.InfluxService, args: argparse.Namespace) -> None:
    print(f"\n== 2. latency, reading published over MQTT -> LINE request "
          f"({args.latency_runs} crossings and clearings)", flush=True)  # fmt: skip
    base = tmp / "latency"
    rules = prepare(base, server, args)
    broker = services.mosquitto(base / "mosquitto")
    children: list[Child] = []
    client: mqtt.Client | None = None
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    env |= {
        "CITYDATA_MQTT_URL": broker.url,
        "CITYDATA_INFLUX_URL": server.url,
        "CITYDATA_INFLUX_DB": "latency",
        "CITYDATA_DATA_DIR": str(base / "var"),
        "CITYDATA_LOG_LEVEL": "INFO",
    }
    try:
        broker.start()
        children.append(Child(["collector"], env, base / "collector.log"))
        children[-1].wait_for("connected to MQTT", 60)
        client = publisher(broker.port)
        since = time.time()
        for station in STATIONS:
            publish(client, station, CLEAR)
        with InfluxClient(server.url, "latency") as influx:
            wait_stored(influx, since - 1)
        with FakeLine() as line:
            env |= {
                "CITYDATA_ALERTS_RULES_FILE": str(rules),
                "CITYDATA_ALERTS_LINE_API_URL": line.url,
                "CITYDATA_ALERTS_LINE_TOKEN": LINE_TOKEN,
            }
            children.append(Child(["derive", "--alerts"], env, base / "derive.log"))
            children[-1].wait_for("a cycle every whole minute", 120)
            sent = drive(client, line, args)
            latency_report(sent, list(line.pushes))
            record = [{"at": p.at, "text": p.text} for p in line.pushes]
            (base / "pushes.json").write_text(json.dumps(record, ensure_ascii=False, indent=1))
            if line.refused:
                print(f"  {line.refused} requests refused by the fake LINE (path or token)")
    finally:
        if client is not None:
            client.disconnect()
            client.loop_stop()
        for child in reversed(children):
            child.stop()
        broker.stop()


def drive(client: mqtt.Client, line: FakeLine, args: argparse.Namespace) -> list[Sent]:
    """Publish the schedule from the next whole minute on, then wait for its messages."""
    start = time.time() // 60 * 60 + 60
    plan = schedule(args.latency_runs, start, random.Random(args.seed))
    sent = []
    for when, station, pm25 in plan:
        pause = when - time.time()
        if pause > 0:
            time.sleep(pause)
        sent.append(publish(client, station, pm25))
    line.wait(len(plan), time.monotonic() + 150)
    return sent


# --- main ---------------------------------------------------------------------------------------


def machine() -> None:
    load1, load5, load15 = os.getloadavg()
    print(
        f"{platform.node()}: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; load average at start {load1:.2f} {load5:.2f} "
        f"{load15:.2f}"
    )
    print("Figures vary on shared machines: others' work on the same cores shows in them.")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stations", type=int, default=1000, help="the large city (1000)")
    p.add_argument("--days", type=float, default=2.0, help="days of readings (2)")
    p.add_argument("--interval", type=float, default=300.0,
                   help="seconds between the large city's readings (300)")  # fmt: skip
    p.add_argument("--cycles", type=int, default=30, help="cycles timed per run (30)")
    p.add_argument("--episode-cycles", type=int, default=10,
                   help="minutes timed in the haze + flood, the onset's included (10)")  # fmt: skip
    p.add_argument("--onsets", type=int, default=3, help="onset cycles timed, from no state (3)")
    p.add_argument("--latency-runs", type=int, default=4,
                   help="crossings, each cleared again (4; at most 20)")  # fmt: skip
    p.add_argument("--latency-stations", type=int, default=0,
                   help="synthetic stations added to the fleet for the latency (0)")  # fmt: skip
    p.add_argument("--only", choices=["evaluation", "latency"], help="run one part")
    p.add_argument("--seed", type=int, default=1, help="the random moments of the readings (1)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = p.parse_args(argv)
    if not 1 <= args.latency_runs <= 20:
        p.error("--latency-runs must be 1 to 20")
    if args.cycles < 2 or args.episode_cycles < 2 or args.onsets < 1 or args.stations < 3:
        p.error("need --cycles and --episode-cycles >= 2, --onsets >= 1 and --stations >= 3")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine()
    started = time.monotonic()

    def body(tmp: Path, server: services.InfluxService) -> None:
        if args.only in (None, "evaluation"):
            evaluation(tmp, server, args)
        if args.only in (None, "latency"):
            latency(tmp, server, args)
        print(f"\nbench took {time.monotonic() - started:.0f} s")

    return run_with_influxdb("citydata-bench-alerts-", args.keep, body)


if __name__ == "__main__":
    sys.exit(main())
