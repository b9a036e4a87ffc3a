"""The AQI averaging rule: hourly means, window per pollutant, 75 % of hours with data."""

from __future__ import annotations

import pytest

from citydata.readings.hourly import HOUR_NS
from citydata.stations.aqi_windows import (
    WINDOWS,
    floor_hour,
    min_hours,
    moving_averages,
    window_average,
)

END = 1_769_860_800 * 1_000_000_000  # 2026-01-31T12:00:00Z


def test_windows_and_coverage() -> None:
    assert WINDOWS == {24: ("pm25", "pm10"), 8: ("o3", "co"), 1: ("no2", "so2")}
    assert [min_hours(h) for h in (24, 8, 1)] == [18, 6, 1]


def test_floor_hour() -> None:
    assert floor_hour(END + HOUR_NS - 1) == END and floor_hour(END) == END


def _hours(**series: list[float | None]) -> dict[int, dict[str, float | None]]:
    """Hourly means given oldest first, the last one being the hour just before END."""
    out: dict[int, dict[str, float | None]] = {}
    for pollutant, values in series.items():
        for k, value in enumerate(reversed(values), start=1):
            out.setdefault(END - k * HOUR_NS, {})[pollutant] = value
    return out


def test_eighteen_of_twenty_four_hours_is_enough_seventeen_is_not() -> None:
    eighteen = _hours(pm25=[None] * 6 + [30.0] * 17 + [60.0])
    assert moving_averages(eighteen, END)["pm25"] == pytest.approx(((17 * 30 + 60) / 18, 18))
    seventeen = _hours(pm25=[None] * 7 + [30.0] * 17)
    assert moving_averages(seventeen, END)["pm25"] == (None, 17)


def test_each_window_takes_only_its_own_hours() -> None:
    # the same series for three pollutants: 24, 8 and 1 hour windows give three answers
    values: list[float | None] = [*[100.0] * 16, *[10.0] * 7, 50.0]
    result = moving_averages(_hours(pm10=values, co=values, so2=values), END)
    assert result["pm10"] == pytest.approx(((1600 + 70 + 50) / 24, 24))
    assert result["co"] == pytest.approx(((70 + 50) / 8, 8))
    assert result["so2"] == (50.0, 1)
    assert result["o3"] == (None, 0)


def test_an_hour_older_than_the_window_does_not_count() -> None:
    hourly = _hours(no2=[80.0, None])  # data two hours before END, none in the last hour
    assert moving_averages(hourly, END)["no2"] == (None, 0)
    assert moving_averages(hourly, END - HOUR_NS)["no2"] == (80.0, 1)


def test_window_average_explains_a_missing_pollutant() -> None:
    short = window_average("o3", END, 40.0, 5, END - 10 * 60 * 1_000_000_000)
    assert short.average is None and (short.hours_with_data, short.min_hours) == (5, 6)
    assert short.note_en == "only 5 of 8 hours have data; the 8 h average needs at least 6"
    assert short.start.isoformat() == "2026-01-31T04:00:00+00:00"
    assert short.newest is not None and short.newest.isoformat() == "2026-01-31T11:50:00+00:00"
    empty = window_average("co", END, None, 0, None)
    assert empty.average is None and empty.note_en == "no readings in the 8 h window"
    ok = window_average("co", END, 5.5, 6, END - HOUR_NS)
    assert ok.average == 5.5 and ok.note_en is None and ok.unit == "ppm"
