"""The latest reading of each sensor, with a short cache for whole kinds (dashboards poll it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from pydantic import BaseModel

from citydata.influx import InfluxClient, Series, quote_ident, quote_literal
from citydata.kinds import Kind, all_kinds
from citydata.registry import Registry
from citydata.timeutil import as_datetime

_NS = 1_000_000_000
# The newest point of a sensor is looked for in the last hour first (every kind's offline
# threshold is shorter): InfluxDB then reads one shard and a few points per series instead of
# every shard of the retention period. Sensors registered but silent for that hour are looked
# up again without the limit, so the answer is the same, only the common case is fast.
RECENT_NS = 3600 * _NS
_IDS_PER_STATEMENT = 200  # sensor ids in one WHERE clause
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="latest")


class LatestReading(BaseModel):
    """The most recent point of one sensor: every metric it carried."""

    sensor_id: str
    kind: str
    time: datetime
    time_ns: int
    values: dict[str, float]


def _latest_statement(
    kind: Kind,
    sensor_ids: Sequence[str] | None,
    since_ns: int | None,
    metric: str | None,
    until_ns: int | None = None,
) -> str:
    conditions = []
    if sensor_ids:
        tag = quote_ident("sensor_id")
        conditions.append(
            "(" + " OR ".join(f"{tag} = {quote_literal(i)}" for i in sensor_ids) + ")"
        )
    if since_ns is not None:
        conditions.append(f"time >= {since_ns}")
    if until_ns is not None:
        conditions.append(f"time <= {until_ns}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # One metric: InfluxDB leaves out points where it is null, so this is its newest value.
    selected = "*" if metric is None else quote_ident(metric)
    return (
        f"SELECT {selected} FROM {quote_ident(kind.name)}{where} "
        f"GROUP BY {quote_ident('sensor_id')} ORDER BY time DESC LIMIT 1"
    )


def _latest_rows(
    influx: InfluxClient, statements: list[str], expected: Mapping[str, str] | None
) -> dict[str, LatestReading]:
    """Run the statements (in parallel); the newest point per sensor id. A point under the id
    of a sensor of `expected` ({sensor id: kind}) in another kind's measurement is not that
    sensor's, and is left out (it would hide the sensor's own newest point)."""
    found: dict[str, LatestReading] = {}
    if not statements:
        return found

    # POST: a few hundred sensor ids make a query too long for a URL. One request per statement,
    # in parallel: InfluxDB runs the statements of one request one after another, on one core.
    def run(statement: str) -> list[Series]:
        return influx.query(statement, method="POST")

    results = list(_POOL.map(run, statements)) if len(statements) > 1 else [run(statements[0])]
    for series in (one for result in results for one in result):
        kind = all_kinds().get(series.name)
        if kind is None:
            continue
        for row in series.records():
            ns = int(row["time"])
            sid = row["sensor_id"]
            if expected is not None and expected.get(sid, kind.name) != kind.name:
                continue
            if sid in found and found[sid].time_ns >= ns:
                continue
            found[sid] = LatestReading(
                sensor_id=sid,
                kind=kind.name,
                time=as_datetime(ns),
                time_ns=ns,
                values={k: float(v) for k, v in row.items() if k in kind.by_name and v is not None},
            )
    return found


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[i : i + _IDS_PER_STATEMENT] for i in range(0, len(ids), _IDS_PER_STATEMENT)]


def latest_of_kinds(
    influx: InfluxClient,
    kinds: Sequence[Kind],
    *,
    sensor_ids: Sequence[str] | None = None,
    expected: Mapping[str, str] | None = None,
    metric: str | None = None,
    now_ns: int | None = None,
    until_ns: int | None = None,
) -> list[LatestReading]:
    """The newest point of each sensor of these kinds, by sensor id: of `sensor_ids` only
    when given (each looked for further back when silent for the last hour), else of every
    sensor heard from in the last hour plus those of `expected` ({sensor id: kind}, the
    registry's), looked for further back. With `metric`, the newest point carrying it. With
    `until_ns` (a judgment as of a past time), points after it are left out."""
    since = (time.time_ns() if now_ns is None else now_ns) - RECENT_NS

    def of_kind(kind: Kind, ids: Sequence[str]) -> list[str]:
        return [i for i in ids if expected is None or expected.get(i) == kind.name]

    recent = []
    for kind in kinds:
        if sensor_ids is None:
            recent.append(_latest_statement(kind, None, since, metric, until_ns))
        else:
            recent += [
                _latest_statement(kind, p, since, metric, until_ns)
                for p in _chunks(of_kind(kind, sensor_ids))
            ]
    found = _latest_rows(influx, recent, expected)
    older = []
    for kind in kinds:
        if sensor_ids is not None:
            wanted = [i for i in of_kind(kind, sensor_ids) if i not in found]
        else:
            wanted = sorted(
                i for i, k in (expected or {}).items() if k == kind.name and i not in found
            )
        older += [_latest_statement(kind, page, None, metric, until_ns) for page in _chunks(wanted)]
    found.update(_latest_rows(influx, older, expected))
    return sorted(found.values(), key=lambda r: r.sensor_id)


class LatestCache:
    """The latest readings of whole kinds, reused for `ttl_s` seconds (0: never).

    Dashboards poll the latest readings; each answer costs InfluxDB a cursor per series and
    field (~20-35 ms for 100 sensors, whatever the time range), and readings arrive every few
    seconds at most. Concurrent requests for the same kinds wait for one query instead of each
    running their own."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._entries: dict[tuple[str, ...], tuple[float, list[LatestReading]]] = {}
        self._guard = threading.Lock()

    def get(
        self, key: tuple[str, ...], compute: Callable[[], list[LatestReading]]
    ) -> list[LatestReading]:
        if self.ttl_s <= 0:
            return compute()
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > time.monotonic():
                return entry[1]
            value = compute()
            self._entries[key] = (time.monotonic() + self.ttl_s, value)
            return value


def latest_readings(
    influx: InfluxClient,
    registry: Registry,
    cache: LatestCache,
    *,
    kind: str | None = None,
    sensor_id: str | None = None,
) -> list[LatestReading]:
    """The latest reading of each sensor (of `kind`, or only `sensor_id`, when given), by
    sensor id. Whole kinds come through `cache`, so they may be up to its ttl old; one
    sensor is one cheap series, always read fresh."""
    kinds = [k for name, k in sorted(all_kinds().items()) if kind in (None, name)]
    if sensor_id:
        return latest_of_kinds(influx, kinds, sensor_ids=[sensor_id])
    return cache.get(
        tuple(k.name for k in kinds),
        lambda: latest_of_kinds(influx, kinds, expected=registry.kinds()),
    )
