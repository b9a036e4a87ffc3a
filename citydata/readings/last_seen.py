"""When each sensor was last heard from, and so whether it is online; when each field was.

A sensor is "never_seen" without any point, "offline" once silent for longer than its
`offline_limit_s` (its kind's threshold, or its `meta.offline_after_s`), else "online";
"unknown" while InfluxDB cannot be asked, so that callers of the registry keep working.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from citydata.influx import InfluxClient, InfluxError, quote_ident, quote_literal
from citydata.kinds import all_kinds
from citydata.readings.latest import LatestReading, latest_of_kinds
from citydata.registry import Sensor
from citydata.timeutil import as_datetime

log = logging.getLogger(__name__)
Heard = Literal["online", "offline", "never_seen"]
Online = Literal["online", "offline", "never_seen", "unknown"]
_NS = 1_000_000_000


@dataclass(frozen=True)
class Seen:
    """When a sensor was last heard from (None: never, or unknown) and its online status."""

    last_seen: datetime | None
    online: Online


def last_seen(
    influx: InfluxClient, sensors: Sequence[Sensor], now_ns: int | None = None
) -> dict[str, int]:
    """The time (epoch ns) of each sensor's newest point (at or before `now_ns` when given);
    sensors never seen are absent. Looked for in the hour before first, then further back
    (see latest.latest_of_kinds)."""
    expected = {s.id: s.kind for s in sensors}
    kinds = [k for name, k in sorted(all_kinds().items()) if name in expected.values()]
    latest = latest_of_kinds(
        influx, kinds, sensor_ids=list(expected), expected=expected, now_ns=now_ns, until_ns=now_ns
    )
    return {r.sensor_id: r.time_ns for r in latest}


def _seen(sensor: Sensor, seen: dict[str, int] | None, now_ns: int) -> Seen:
    seen_ns = None if seen is None else seen.get(sensor.id)
    online: Online
    if seen is None:
        online = "unknown"
    elif seen_ns is None:
        online = "never_seen"
    elif sensor.offline_after((now_ns - seen_ns) / _NS):
        online = "offline"
    else:
        online = "online"
    return Seen(None if seen_ns is None else as_datetime(seen_ns), online)


def heard(
    influx: InfluxClient,
    sensors: Sequence[Sensor],
    every_latest: Callable[[], Sequence[LatestReading]] | None = None,
) -> list[Seen]:
    """When each of `sensors` was last heard from and its online status, in the same order;
    all "unknown" (logged) when InfluxDB cannot be asked. `every_latest`, when given, answers
    the newest reading of every registered sensor (the API's cached whole-registry answer,
    shared by every reader), instead of a query for these sensors."""
    try:
        seen: dict[str, int] | None = (
            last_seen(influx, sensors)
            if every_latest is None
            else {r.sensor_id: r.time_ns for r in every_latest()}
        )
    except InfluxError as exc:  # say the status is unknown, not why
        log.warning("cannot look up when sensors were last seen: %s", exc)
        seen = None
    now = time.time_ns()
    return [_seen(s, seen, now) for s in sensors]


def fields_last_seen(
    influx: InfluxClient,
    measurement: str,
    spans: Mapping[str, tuple[int, int]],
    sensor_id: str | None = None,
) -> dict[str, dict[str, int]]:
    """The time (epoch ns) of each field's newest value within its own [start, end) span of
    `spans`, by sensor id (only `sensor_id` when given), then field; one statement per field."""
    only = f"{quote_ident('sensor_id')} = {quote_literal(sensor_id)} AND " if sensor_id else ""
    q = "; ".join(
        f"SELECT LAST({quote_ident(f)}) AS {quote_ident(f)} FROM {quote_ident(measurement)} "
        f"WHERE {only}time >= {start} AND time < {end} GROUP BY {quote_ident('sensor_id')}"
        for f, (start, end) in spans.items()
    )
    newest: dict[str, dict[str, int]] = {}
    for series in influx.query(q):
        field = next(c for c in series.columns if c != "time")
        for row in series.records():
            if row.get(field) is not None:
                newest.setdefault(row["sensor_id"], {})[field] = int(row["time"])
    return newest
