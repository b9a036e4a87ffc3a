"""Readings from InfluxDB: the latest of each sensor, and one sensor's metric over a time range."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from api.auth import ReadAccess
from api.deps import InfluxDep, KindQuery, RegistryDep
from api.problems import invalid_input, problem_responses
from citydata.influx import InfluxClient, Series, quote_ident, quote_literal
from citydata.kinds import Kind, all_kinds
from citydata.reading import SENSOR_ID_PATTERN
from citydata.settings import Settings
from citydata.timeutil import as_datetime, parse_rfc3339

router = APIRouter(tags=["readings"])

MAX_POINTS = 10_000
DAY_NS = 86_400 * 1_000_000_000
_NS = 1_000_000_000


class Every(StrEnum):
    """Bucket width of an aggregate (InfluxQL duration literals)."""

    m1 = "1m"
    m5 = "5m"
    m15 = "15m"
    h1 = "1h"
    d1 = "1d"


EVERY_NS = {
    Every.m1: 60 * _NS,
    Every.m5: 300 * _NS,
    Every.m15: 900 * _NS,
    Every.h1: 3600 * _NS,
    Every.d1: DAY_NS,
}


# The InfluxQL function applied to each bucket.
Agg = Literal["mean", "min", "max", "last", "count"]


class LatestReading(BaseModel):
    """The most recent point of one sensor: every metric it carried."""

    sensor_id: str
    kind: str
    time: datetime
    time_ns: int
    values: dict[str, float]


class LatestReadings(BaseModel):
    """The latest reading of each sensor matching the filters, by kind then sensor id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "sensor_id": "lp-air-01",
                            "kind": "air",
                            "time": "2026-01-31T07:00:00Z",
                            "time_ns": 1769842800000000000,
                            "values": {"pm25": 41.5, "pm10": 63.0, "humidity": 71.0},
                        }
                    ]
                }
            ]
        }
    )

    items: list[LatestReading]


class Point(BaseModel):
    """One raw point, or one bucket (its start time) of an aggregate; null for an empty bucket."""

    time: datetime
    time_ns: int
    value: float | None


class ReadingRange(BaseModel):
    """One sensor's metric over [start, end): raw points, or one value per `every` bucket."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sensor_id": "lp-air-01",
                    "kind": "air",
                    "metric": "pm25",
                    "unit": "µg/m³",
                    "start": "2026-01-31T00:00:00Z",
                    "end": "2026-01-31T02:00:00Z",
                    "every": "1h",
                    "agg": "mean",
                    "points": [
                        {
                            "time": "2026-01-31T00:00:00Z",
                            "time_ns": 1769817600000000000,
                            "value": 38.2,
                        },
                        {
                            "time": "2026-01-31T01:00:00Z",
                            "time_ns": 1769821200000000000,
                            "value": 40.1,
                        },
                    ],
                }
            ]
        }
    )

    sensor_id: str
    kind: str
    metric: str
    unit: str
    start: datetime
    end: datetime
    every: Every | None
    agg: Agg | None
    points: list[Point]


# The newest point of a sensor is looked for in the last hour first (every kind's offline
# threshold is shorter): InfluxDB then reads one shard and a few points per series instead of
# every shard of the retention period. Sensors registered but silent for that hour are looked
# up again without the limit, so the answer is the same, only the common case is fast.
RECENT_NS = 3600 * _NS
_IDS_PER_STATEMENT = 200  # sensor ids in one WHERE clause
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="latest")


def _latest_statement(
    kind: Kind, sensor_ids: Sequence[str] | None, since_ns: int | None, metric: str | None
) -> str:
    conditions = []
    if sensor_ids:
        tag = quote_ident("sensor_id")
        conditions.append(
            "(" + " OR ".join(f"{tag} = {quote_literal(i)}" for i in sensor_ids) + ")"
        )
    if since_ns is not None:
        conditions.append(f"time >= {since_ns}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # One metric: InfluxDB leaves out points where it is null, so this is its newest value.
    selected = "*" if metric is None else quote_ident(metric)
    return (
        f"SELECT {selected} FROM {quote_ident(kind.name)}{where} "
        f"GROUP BY {quote_ident('sensor_id')} ORDER BY time DESC LIMIT 1"
    )


def _latest_rows(influx: InfluxClient, statements: list[str]) -> dict[str, LatestReading]:
    """Run the statements (in parallel); the newest point per sensor id."""
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
) -> list[LatestReading]:
    """The newest point of each sensor of these kinds, by sensor id: of `sensor_ids` only
    when given (each looked for further back when silent for the last hour), else of every
    sensor heard from in the last hour plus those of `expected` ({sensor id: kind}, the
    registry's), looked for further back. With `metric`, the newest point carrying it."""
    since = (time.time_ns() if now_ns is None else now_ns) - RECENT_NS

    def of_kind(kind: Kind, ids: Sequence[str]) -> list[str]:
        return [i for i in ids if expected is None or expected.get(i) == kind.name]

    recent = []
    for kind in kinds:
        if sensor_ids is None:
            recent.append(_latest_statement(kind, None, since, metric))
        else:
            recent += [
                _latest_statement(kind, p, since, metric)
                for p in _chunks(of_kind(kind, sensor_ids))
            ]
    found = _latest_rows(influx, recent)
    older = []
    for kind in kinds:
        if sensor_ids is not None:
            wanted = [i for i in of_kind(kind, sensor_ids) if i not in found]
        else:
            wanted = sorted(
                i for i, k in (expected or {}).items() if k == kind.name and i not in found
            )
        older += [_latest_statement(kind, page, None, metric) for page in _chunks(wanted)]
    found.update(_latest_rows(influx, older))
    return sorted(found.values(), key=lambda r: r.sensor_id)


class LatestCache:
    """The latest readings of whole kinds, reused for `ttl_s` seconds (0: never).

    Dashboards poll this route; each answer costs InfluxDB a cursor per series and field
    (~20-35 ms for 100 sensors, whatever the time range), and readings arrive every few seconds
    at most. Concurrent requests for the same kinds wait for one query instead of each
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


def get_latest_cache(request: Request) -> LatestCache:
    cache: LatestCache | None = getattr(request.app.state, "latest_cache", None)
    if cache is None:
        settings: Settings = request.app.state.settings
        cache = request.app.state.latest_cache = LatestCache(settings.api_latest_cache_s)
    return cache


@router.get("/readings/latest", response_model=LatestReadings, responses=problem_responses(422))
def latest_readings(
    influx: InfluxDep,
    registry: RegistryDep,
    cache: Annotated[LatestCache, Depends(get_latest_cache)],
    _: ReadAccess,
    kind: KindQuery = None,
    sensor_id: Annotated[
        str | None, Query(description="only this sensor", pattern=SENSOR_ID_PATTERN)
    ] = None,
) -> LatestReadings:
    """The latest reading of each sensor, with every metric of its last point. Answers for
    whole kinds may be up to CITYDATA_API_LATEST_CACHE_S seconds old."""
    kinds = [k for name, k in sorted(all_kinds().items()) if kind in (None, name)]
    if sensor_id:  # one series: cheap, and always fresh
        return LatestReadings(items=latest_of_kinds(influx, kinds, sensor_ids=[sensor_id]))
    items = cache.get(
        tuple(k.name for k in kinds),
        lambda: latest_of_kinds(influx, kinds, expected=registry.kinds()),
    )
    return LatestReadings(items=items)


# [start, end) of a range, as every ranged route takes it (see time_range).
StartQuery = Annotated[
    str | None, Query(description="RFC 3339 with a zone, inclusive; default end - 24 h")
]
EndQuery = Annotated[str | None, Query(description="RFC 3339 with a zone, exclusive; default now")]


def time_range(start: str | None, end: str | None) -> tuple[int, int]:
    """[start, end) in epoch ns; end defaults to now, start to 24 h before end."""
    try:
        end_ns = parse_rfc3339(end) if end is not None else time.time_ns()
    except ValueError as exc:
        invalid_input(("query", "end"), str(exc))
    try:
        start_ns = parse_rfc3339(start) if start is not None else end_ns - DAY_NS
    except ValueError as exc:
        invalid_input(("query", "start"), str(exc))
    if start_ns >= end_ns:
        invalid_input(("query", "start"), "start must be before end")
    return start_ns, end_ns


def check_metrics(kind: Kind, names: Sequence[str], loc: tuple[str, ...]) -> None:
    """A 422 problem at `loc` naming every one of `names` that is not a metric of `kind`."""
    unknown = [name for name in names if name not in kind.by_name]
    if unknown:
        invalid_input(
            loc,
            f"{kind.name} sensors have no metric {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(kind.by_name)}",
        )


def _range_query(
    kind: str, sensor_id: str, metric: str, span: tuple[int, int], every: Every | None, agg: Agg
) -> str:
    where = (
        f"WHERE {quote_ident('sensor_id')} = {quote_literal(sensor_id)} "
        f"AND time >= {int(span[0])} AND time < {int(span[1])}"
    )
    if every is None:
        return (
            f"SELECT {quote_ident(metric)} AS {quote_ident('value')} FROM {quote_ident(kind)} "
            f"{where} ORDER BY time ASC LIMIT {MAX_POINTS + 1}"
        )
    # `agg` and `every` are enum members, never free text.
    return (
        f"SELECT {agg.upper()}({quote_ident(metric)}) AS {quote_ident('value')} "
        f"FROM {quote_ident(kind)} {where} GROUP BY time({every.value})"
    )


def _too_many(what: str) -> NoReturn:
    invalid_input(
        ("query",),
        f"{what} more than {MAX_POINTS} points; narrow start/end or use a wider every "
        f"({', '.join(e.value for e in Every)})",
    )


@router.get(
    "/sensors/{sensor_id}/readings",
    response_model=ReadingRange,
    tags=["sensors"],
    responses=problem_responses(404, 422),
)
def sensor_readings(
    sensor_id: str,
    registry: RegistryDep,
    influx: InfluxDep,
    _: ReadAccess,
    metric: Annotated[str, Query(description="one metric of the sensor's kind, e.g. pm25")],
    start: StartQuery = None,
    end: EndQuery = None,
    every: Annotated[
        Every | None, Query(description="bucket width; raw points when absent")
    ] = None,
    agg: Annotated[Agg, Query(description="function per bucket (with every)")] = "mean",
) -> ReadingRange:
    """One sensor's metric over [start, end), raw or aggregated; at most MAX_POINTS points."""
    kind = all_kinds()[registry.get(sensor_id).kind]  # the registry holds known kinds only
    check_metrics(kind, [metric], ("query", "metric"))
    span = time_range(start, end)
    if every is not None and math.ceil((span[1] - span[0]) / EVERY_NS[every]) + 1 > MAX_POINTS:
        _too_many("the request would give")
    rows = influx.records(_range_query(kind.name, sensor_id, metric, span, every, agg))
    if every is None and len(rows) > MAX_POINTS:
        _too_many("the range holds")
    points = [_point(row) for row in rows]
    return ReadingRange(
        sensor_id=sensor_id,
        kind=kind.name,
        metric=metric,
        unit=kind.by_name[metric].unit,
        start=as_datetime(span[0]),
        end=as_datetime(span[1]),
        every=every,
        agg=agg if every is not None else None,
        points=points,
    )


def _point(row: dict[str, Any]) -> Point:
    ns = int(row["time"])
    value = row["value"]
    return Point(time=as_datetime(ns), time_ns=ns, value=None if value is None else float(value))
