"""AQI moving averages from hourly means, with PCD's data-coverage rule.

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

from pydantic import BaseModel, ConfigDict

from citydata.aqi import AVERAGING_HOURS, POLLUTANTS, UNITS
from citydata.readings.hourly import HOUR_NS
from citydata.timeutil import as_datetime

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
