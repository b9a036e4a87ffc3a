"""AQI moving averages from hourly means in InfluxDB, with PCD's data-coverage rule.

The Thai AQI indexes hourly averages. An hour's mean is the mean of the readings in that clock
hour (one reading is enough: sensors report every 1-15 minutes and their rate is not known). A
pollutant's average over its window (24 h for PM2.5 and PM10, 8 h for O3 and CO, 1 h for NO2 and
SO2) is the mean of the window's hourly means, so an hour with 60 readings weighs the same as an
hour with one. The average is valid only when at least 75 % of the window's hours have a mean
(18 of 24, 6 of 8, 1 of 1), as in PCD and US-EPA practice; otherwise the pollutant is missing,
not zero. Windows end on a whole hour (UTC hours are ICT hours) and cover the hours before it:
the AQI "at 10:00" uses the hours 09:00-10:00 and back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from citydata.aqi import AVERAGING_HOURS, POLLUTANTS, UNITS
from citydata.influx import InfluxClient, quote_ident, quote_literal
from citydata.timeutil import as_datetime

HOUR_NS = 3600 * 1_000_000_000
COVERAGE = 0.75  # share of a window's hours that must have a mean
# Pollutants sharing an averaging window, longest window first.
WINDOWS: dict[int, tuple[str, ...]] = {
    hours: tuple(p for p in POLLUTANTS if AVERAGING_HOURS[p] == hours)
    for hours in sorted(set(AVERAGING_HOURS.values()), reverse=True)
}
LONGEST_H = max(WINDOWS)

Hourly = Mapping[int, Mapping[str, float | None]]  # hour start (ns) -> pollutant -> mean


class WindowAverage(BaseModel):
    """One pollutant's average over its window, or why it has none."""

    model_config = ConfigDict(frozen=True)

    pollutant: str
    unit: str
    averaging_hours: int
    start: datetime
    end: datetime
    hours_with_data: int
    min_hours: int
    average: float | None  # None when fewer than min_hours hours have data
    newest: datetime | None  # the newest reading in the window
    note_en: str | None
    note_th: str | None


def min_hours(hours: int) -> int:
    """Hours with data a window of `hours` needs: 18 of 24, 6 of 8, 1 of 1."""
    return math.ceil(COVERAGE * hours)


def floor_hour(ns: int) -> int:
    return ns - ns % HOUR_NS


def window_average(
    pollutant: str, end_ns: int, mean: float | None, hours_with_data: int, newest_ns: int | None
) -> WindowAverage:
    """The window's result from the mean of its hourly means and how many hours had one."""
    hours = AVERAGING_HOURS[pollutant]
    need = min_hours(hours)
    valid = mean is not None and hours_with_data >= need
    note_en = note_th = None
    if hours_with_data == 0:
        note_en = f"no readings in the {hours} h window"
        note_th = f"ไม่มีข้อมูลในช่วง {hours} ชั่วโมง"
    elif not valid:
        note_en = (
            f"only {hours_with_data} of {hours} hours have data; "
            f"the {hours} h average needs at least {need}"
        )
        note_th = (
            f"มีข้อมูลเพียง {hours_with_data} จาก {hours} ชั่วโมง "
            f"ค่าเฉลี่ย {hours} ชั่วโมงต้องมีข้อมูลอย่างน้อย {need} ชั่วโมง"
        )
    return WindowAverage(
        pollutant=pollutant,
        unit=UNITS[pollutant],
        averaging_hours=hours,
        start=as_datetime(end_ns - hours * HOUR_NS),
        end=as_datetime(end_ns),
        hours_with_data=hours_with_data,
        min_hours=need,
        average=float(mean) if valid and mean is not None else None,
        newest=as_datetime(newest_ns) if newest_ns is not None else None,
        note_en=note_en,
        note_th=note_th,
    )


def _span(end_ns: int, hours: int, sensor_id: str | None) -> str:
    only = f"{quote_ident('sensor_id')} = {quote_literal(sensor_id)} AND " if sensor_id else ""
    return f"WHERE {only}time >= {end_ns - hours * HOUR_NS} AND time < {end_ns}"


def _newest_query(measurement: str, end_ns: int, sensor_id: str | None) -> str:
    """One statement per pollutant: the time of its newest reading in its window, per sensor."""
    return "; ".join(
        f"SELECT LAST({quote_ident(p)}) AS {quote_ident(p)} FROM {quote_ident(measurement)} "
        f"{_span(end_ns, AVERAGING_HOURS[p], sensor_id)} GROUP BY {quote_ident('sensor_id')}"
        for p in POLLUTANTS
    )


def current_averages(
    influx: InfluxClient, end_ns: int, measurement: str = "air", sensor_id: str | None = None
) -> dict[str, dict[str, WindowAverage]]:
    """Each sensor's window averages ending at `end_ns` (a whole hour), from the hourly means of
    every sensor over the longest window (one query) and `moving_averages`, the rule the
    history uses too; one more query for the newest readings. A sensor with no pollutant
    reading in the longest window is absent."""
    if end_ns % HOUR_NS:
        raise ValueError("windows end on a whole hour")
    hourly = hourly_means(influx, end_ns - LONGEST_H * HOUR_NS, end_ns, measurement, sensor_id)
    newest: dict[str, dict[str, int]] = {}
    for series in influx.query(_newest_query(measurement, end_ns, sensor_id)):
        pollutant = next(c for c in series.columns if c != "time")
        for row in series.records():
            if row.get(pollutant) is not None:
                newest.setdefault(row["sensor_id"], {})[pollutant] = int(row["time"])
    out: dict[str, dict[str, WindowAverage]] = {}
    for sid, hours in hourly.items():
        averages = moving_averages(hours, end_ns)
        if any(count for _, count in averages.values()):
            out[sid] = {
                p: window_average(p, end_ns, *averages[p], newest.get(sid, {}).get(p))
                for p in POLLUTANTS
            }
    return out


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def hourly_means(
    influx: InfluxClient,
    start_ns: int,
    end_ns: int,
    measurement: str = "air",
    sensor_id: str | None = None,
) -> dict[str, dict[int, dict[str, float | None]]]:
    """Each sensor's (or only `sensor_id`'s) hourly mean of every pollutant over [start, end),
    by sensor id, then hour start."""
    means = ", ".join(f"MEAN({quote_ident(p)}) AS {quote_ident(p)}" for p in POLLUTANTS)
    q = (
        f"SELECT {means} FROM {quote_ident(measurement)} "
        f"{_span(end_ns, (end_ns - start_ns) // HOUR_NS, sensor_id)} "
        f"GROUP BY time(1h), {quote_ident('sensor_id')}"
    )
    out: dict[str, dict[int, dict[str, float | None]]] = {}
    for row in influx.records(q):
        hours = out.setdefault(row["sensor_id"], {})
        hours[int(row["time"])] = {p: _float(row.get(p)) for p in POLLUTANTS}
    return out


def moving_averages(hourly: Hourly, end_ns: int) -> dict[str, tuple[float | None, int]]:
    """Each pollutant's (average or None, hours with data) over its window ending at `end_ns`,
    from hourly means: the mean of the hours that have one, when enough do."""
    out: dict[str, tuple[float | None, int]] = {}
    for p in POLLUTANTS:
        hours = AVERAGING_HOURS[p]
        values = _present(hourly.get(end_ns - k * HOUR_NS, {}).get(p) for k in range(hours, 0, -1))
        enough = len(values) >= min_hours(hours)
        out[p] = (sum(values) / len(values) if enough else None, len(values))
    return out


def _present(values: Iterable[float | None]) -> Sequence[float]:
    return [v for v in values if v is not None]
