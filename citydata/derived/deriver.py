"""Judge one whole hour or minute and write its points: the step both the live loop and the
backfill repeat. The AQI of recent hours is kept, for the air stations' map state."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from citydata.derived.judge import (
    HourJudgments,
    MinuteJudgments,
    Stations,
    judge_hour,
    judge_minute,
)
from citydata.derived.points import aqi_point, station_point, traffic_point, water_point
from citydata.influx import InfluxClient
from citydata.readings.hourly import HOUR_NS
from citydata.registry import Registry

MINUTE_NS = 60 * 1_000_000_000
_KEEP_HOURS = 72  # AQI judgments kept for the map state: a backfill's hours, or a live day
_WRITE_BATCH = 5000  # lines per /write


def floor_to(ns: int, step_ns: int) -> int:
    return ns - ns % step_ns


def ceil_to(ns: int, step_ns: int) -> int:
    return -(-ns // step_ns) * step_ns


def hour_lines(judged: HourJudgments) -> list[str]:
    lines = (aqi_point(a, judged.time_ns) for a in judged.aqi)
    return [line for line in lines if line is not None]


def minute_lines(judged: MinuteJudgments) -> list[str]:
    t = judged.time_ns
    lines: list[str | None] = [water_point(w, t) for w in judged.water]
    lines += [traffic_point(d, t) for d in judged.traffic]
    lines += [station_point(s, t) for s in judged.stations]
    return [line for line in lines if line is not None]


@dataclass(frozen=True)
class Written:
    """What one step judged and how many points it wrote."""

    hour: HourJudgments | None
    minute: MinuteJudgments | None
    points: int


class Deriver:
    """Judges through citydata and writes the points of docs/derived.md to `influx`."""

    def __init__(
        self, influx: InfluxClient, registry: Registry, above_200: str, *, write: bool = True
    ) -> None:
        self.influx = influx
        self.writes = write  # False: judge only (the alerts service on its own)
        self.registry = registry
        self.above_200 = above_200
        self._hours: dict[int, HourJudgments] = {}
        self._lock = threading.Lock()  # minutes judged in parallel share the hours

    def write(self, lines: Iterable[str]) -> int:
        batch = list(lines)
        if not self.writes:
            return 0
        for i in range(0, len(batch), _WRITE_BATCH):
            self.influx.write_lines(batch[i : i + _WRITE_BATCH])
        return len(batch)

    def hour(self, end_ns: int) -> Written:
        """Judge every air station's AQI as of the whole hour `end_ns` and write it."""
        if end_ns % HOUR_NS:
            raise ValueError("the AQI is judged as of a whole hour")
        judged = judge_hour(self.influx, self.registry, end_ns, self.above_200)
        points = self.write(hour_lines(judged))
        with self._lock:
            self._hours[end_ns] = judged
            for old in [h for h in self._hours if h < end_ns - _KEEP_HOURS * HOUR_NS]:
                del self._hours[old]
        return Written(judged, None, points)

    def aqi_levels(self, hour_ns: int) -> dict[str, int]:
        """The air stations' AQI levels as of `hour_ns`, judged (and written) when not yet."""
        with self._lock:
            judged = self._hours.get(hour_ns)
        if judged is None:
            judged = self.hour(hour_ns).hour
            assert judged is not None
        return judged.levels()

    def judge_minute(
        self, now_ns: int, stations: Stations | None = None
    ) -> tuple[MinuteJudgments, list[str]]:
        """Every station judged as of the whole minute `now_ns`, and its points (`stations`:
        the registry's, read again when not given)."""
        if now_ns % MINUTE_NS:
            raise ValueError("stations are judged as of a whole minute")
        judged = self.judge_at(now_ns, stations)
        return judged, minute_lines(judged)

    def judge_at(self, now_ns: int, stations: Stations | None = None) -> MinuteJudgments:
        """Every station judged as of `now_ns`, any instant (the alerts' look between two
        minutes), written nowhere."""
        stations = stations or Stations.read(self.registry)
        levels = self.aqi_levels(floor_to(now_ns, HOUR_NS))
        return judge_minute(self.influx, stations, now_ns, levels)

    def minute(self, now_ns: int, stations: Stations | None = None) -> Written:
        """Judge every station as of the whole minute `now_ns` and write it."""
        judged, lines = self.judge_minute(now_ns, stations)
        return Written(None, judged, self.write(lines))
