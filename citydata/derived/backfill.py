"""The derived series of a past span: the AQI of every whole hour, then the minute series every
`step_s` seconds, judged in parallel (InfluxDB answers several queries at once).

The registry is read once, at the start: a past minute is judged with today's stations and
thresholds. The AQI hours come first, in order, through `aqi_now` (two queries an hour
whatever the number of stations); each minute then takes its air stations' state from them.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from citydata.derived.deriver import MINUTE_NS, Deriver, ceil_to, floor_to
from citydata.derived.judge import Stations
from citydata.derived.points import STATION
from citydata.influx import InfluxClient, quote_ident
from citydata.readings.hourly import HOUR_NS

log = logging.getLogger(__name__)
_NS = 1_000_000_000
WORKERS = 4
CATCH_UP_MAX_NS = 2 * 24 * HOUR_NS  # a longer outage is backfilled by hand (--since)
CATCH_UP_STEP_S = 300
_CHUNK = 32  # minutes handed to the workers between checks of `stop`


@dataclass(frozen=True)
class Backfilled:
    """What a backfill wrote, and how long it took."""

    hours: int
    minutes: int
    points: int
    seconds: float


def hours_in(since_ns: int, until_ns: int) -> range:
    """The whole hours a span's minutes belong to, up to its end: the AQI to judge."""
    return range(floor_to(since_ns, HOUR_NS), floor_to(until_ns, HOUR_NS) + 1, HOUR_NS)


def minutes_in(since_ns: int, until_ns: int, step_s: int) -> range:
    """The minutes to judge in [since, until]: the multiples of `step_s` (whole minutes)."""
    if step_s <= 0 or step_s % 60:
        raise ValueError(f"the step must be a positive number of whole minutes, not {step_s} s")
    step = step_s * _NS
    return range(ceil_to(since_ns, step), floor_to(until_ns, MINUTE_NS) + 1, step)


def backfill(
    deriver: Deriver,
    since_ns: int,
    until_ns: int,
    step_s: int = 60,
    stop: threading.Event | None = None,
) -> Backfilled:
    """Judge and write [since, until]: each whole hour's AQI, then a minute every `step_s`."""
    started, stop = time.monotonic(), stop or threading.Event()
    hours, minutes = hours_in(since_ns, until_ns), minutes_in(since_ns, until_ns, step_s)
    points = 0
    for h in hours:
        if stop.is_set():
            break
        points += deriver.hour(h).points
    stations = Stations.read(deriver.registry)
    done = 0
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="derive") as pool:
        for i in range(0, len(minutes), _CHUNK):
            if stop.is_set():
                break
            chunk = minutes[i : i + _CHUNK]
            judged = pool.map(lambda m: deriver.judge_minute(m, stations)[1], chunk)
            points += deriver.write(line for lines in judged for line in lines)
            done += len(chunk)
    took = time.monotonic() - started
    log.debug(  # the command prints its own summary
        "backfilled %d hours, %d minutes: %d points in %.1f s", len(hours), done, points, took
    )
    return Backfilled(len(hours), done, points, took)


def catch_up_since(influx: InfluxClient, now_ns: int) -> int | None:
    """Where a restarted service resumes: just after the newest station snapshot written, when
    that is more than one catch-up step (5 min) and less than CATCH_UP_MAX_NS ago; None
    otherwise: a first start, a gap finer than the catch-up's own step (a backfill at that
    step ends up to a step before now: nothing to fill), or an outage too long to fill
    unasked."""
    rows = influx.records(
        f"SELECT last({quote_ident('state')}) FROM {quote_ident(STATION)} "
        f"WHERE time > {now_ns - CATCH_UP_MAX_NS}"
    )
    if not rows:
        return None
    newest = int(rows[0]["time"])
    return newest + MINUTE_NS if now_ns - newest > CATCH_UP_STEP_S * _NS else None
