"""The simulator's models: reproducible for a seed, inside the kinds' bounds, and shaped like the
city (haze season, night highs, shared regional air, tides, rain floods, rush hours)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from datetime import datetime

import pytest

from citydata.kinds import all_kinds
from simulators.fleet import LAM_PHAYA
from simulators.models import generic, model_for
from simulators.models._common import local_hour, weekday
from simulators.models.water import BANK_M, tide
from simulators.publisher import Simulation
from simulators.sensor import SimSensor

SENSORS = {s.sensor_id: s for s in LAM_PHAYA}


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def series(
    sensor: SimSensor, start: str, days: float, step_s: float, seed: int = 1
) -> list[tuple[float, dict[str, float]]]:
    rng, t0 = random.Random(seed), ts(start)
    model = model_for(sensor.kind)
    return [
        (t0 + k * step_s, model(sensor, t0 + k * step_s, rng))
        for k in range(int(days * 86_400 / step_s))
    ]


def mean_where(
    rows: list[tuple[float, dict[str, float]]], metric: str, keep: Callable[[float], bool]
) -> float:
    return statistics.fmean(r[metric] for t, r in rows if keep(t))


def test_a_fixed_seed_reproduces_exactly_and_another_differs() -> None:
    def run(seed: int) -> list[object]:
        sim = Simulation(LAM_PHAYA, seed)
        return [
            (m.sensor.sensor_id, m.t, m.values)
            for k in range(48)
            for m in sim.round(ts("2026-03-01T00:00+07:00") + k * 1800)
        ]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_every_value_stays_inside_its_kinds_bounds_all_year() -> None:
    rng, t0 = random.Random(3), ts("2026-01-01T00:00+07:00")
    for k in range(0, 365 * 24, 7):
        for s in LAM_PHAYA:
            values = model_for(s.kind)(s, t0 + k * 3600, rng)
            metrics = all_kinds()[s.kind].by_name
            assert set(values) <= set(metrics)
            problems = [metrics[n].check(v) for n, v in values.items()]
            assert problems == [None] * len(values), (s.sensor_id, values)


def test_an_unmodelled_kind_falls_back_to_the_generic_model() -> None:
    assert model_for("no-such-kind") is generic
    sensor = SimSensor("x", "air", "x", "x", 14.0, 100.1)
    values = generic(sensor, 0.0, random.Random(0))
    assert set(values) == set(all_kinds()["air"].by_name)


def test_dry_season_pm25_is_far_above_the_wet_season() -> None:
    air = [s for s in LAM_PHAYA if s.kind == "air"]
    dry = [r["pm25"] for s in air for _, r in series(s, "2026-01-15T00:00+07:00", 28, 3600)]
    wet = [r["pm25"] for s in air for _, r in series(s, "2026-08-01T00:00+07:00", 28, 3600)]
    print(f"PM2.5 mean: dry {statistics.fmean(dry):.1f}, wet {statistics.fmean(wet):.1f} µg/m³")
    assert statistics.fmean(dry) > 2.5 * statistics.fmean(wet)
    assert statistics.fmean(wet) < 25 < 37.5 < statistics.fmean(dry)


def test_pm25_is_high_at_night_and_in_the_morning_low_in_the_afternoon() -> None:
    rows = series(SENSORS["lp-air-01"], "2026-02-01T00:00+07:00", 28, 1800)
    morning = mean_where(rows, "pm25", lambda t: 5 <= local_hour(t) < 9)
    night = mean_where(rows, "pm25", lambda t: local_hour(t) < 3 or local_hour(t) >= 22)
    afternoon = mean_where(rows, "pm25", lambda t: 13 <= local_hour(t) < 17)
    assert morning > 1.4 * afternoon and night > 1.2 * afternoon
    assert mean_where(rows, "temperature", lambda t: 13 <= local_hour(t) < 17) > mean_where(
        rows, "temperature", lambda t: 3 <= local_hour(t) < 7
    )


def test_nearby_stations_move_together_but_are_not_copies() -> None:
    a = [r["pm25"] for _, r in series(SENSORS["lp-air-01"], "2026-03-01T00:00+07:00", 40, 3600, 1)]
    b = [r["pm25"] for _, r in series(SENSORS["lp-air-09"], "2026-03-01T00:00+07:00", 40, 3600, 2)]
    assert statistics.correlation(a, b) > 0.6
    assert a != b


def test_burning_episodes_happen_in_the_dry_season() -> None:
    rows = series(SENSORS["lp-air-06"], "2026-01-01T00:00+07:00", 90, 3600)
    median = statistics.median(r["pm25"] for _, r in rows)
    assert max(r["pm25"] for _, r in rows) > 2 * median


def test_the_river_has_two_tidal_highs_a_day_and_spring_and_neap_tides() -> None:
    step = 900
    rows = series(SENSORS["lp-water-01"], "2026-02-01T00:00+07:00", 15, step)
    levels = [r["level"] for _, r in rows]
    window = int(25 * 3600 / step)  # longer than a tidal day: the mean level without the tide
    highs, above = 0, False
    for k in range(window, len(levels)):
        swing = levels[k] - statistics.fmean(levels[k - window : k])
        if not above and swing > 0.1:
            highs, above = highs + 1, True
        elif above and swing < -0.1:
            above = False
    days = (len(levels) - window) * step / 86_400
    assert 1.8 < highs / days < 2.1  # 24 h / 12.42 h = 1.93
    ranges = []
    t0 = ts("2026-02-01T00:00+07:00")
    for d in range(30):
        day = [tide(t0 + d * 86_400 + k * 600) for k in range(144)]
        ranges.append(max(day) - min(day))
    assert max(ranges) > 1.6 * min(ranges)


def test_rain_floods_the_river_past_the_bank_and_muddies_it() -> None:
    rows = series(SENSORS["lp-water-01"], "2026-09-01T00:00+07:00", 30, 1800)
    dry = series(SENSORS["lp-water-01"], "2026-02-01T00:00+07:00", 30, 1800)
    assert max(r["level"] for _, r in rows) > BANK_M > max(r["level"] for _, r in dry)
    assert statistics.fmean(r["turbidity"] for _, r in rows) > 1.3 * statistics.fmean(
        r["turbidity"] for _, r in dry
    )
    flooded = [r for _, r in rows if r["turbidity"] > 120]
    assert flooded and statistics.fmean(r["ph"] for r in flooded) < 7.1


def test_dissolved_oxygen_sags_at_night_and_sometimes_runs_low() -> None:
    rows = series(SENSORS["lp-water-03"], "2026-02-01T00:00+07:00", 120, 1800)
    night = mean_where(rows, "do", lambda t: 3 <= local_hour(t) < 6)
    afternoon = mean_where(rows, "do", lambda t: 13 <= local_hour(t) < 17)
    assert night + 1.5 < afternoon
    assert min(r["do"] for _, r in rows) < 2.0  # below class 4


@pytest.fixture(scope="module")
def highway() -> list[tuple[float, dict[str, float]]]:
    return series(SENSORS["lp-traffic-01"], "2026-11-02T00:00+07:00", 28, 300)


def test_weekday_rush_hours_peak_above_midday_and_the_weekend(
    highway: list[tuple[float, dict[str, float]]],
) -> None:
    def count(days: set[int], hours: tuple[float, float]) -> float:
        return mean_where(
            highway, "count", lambda t: weekday(t) in days and hours[0] <= local_hour(t) < hours[1]
        )

    weekdays, weekend = {0, 1, 2, 3, 4}, {5, 6}
    for rush in ((7, 8.5), (16.5, 18.5)):
        assert count(weekdays, rush) > 1.5 * count(weekdays, (11, 13))
        assert count(weekdays, rush) > 1.5 * count(weekend, rush)
    assert count(weekdays, (7, 8.5)) > 5 * count(weekdays, (1, 4))


def test_speed_falls_and_occupancy_rises_with_volume(
    highway: list[tuple[float, dict[str, float]]],
) -> None:
    rows = [r for _, r in highway if r["occupancy"] < 60]  # not a locked junction
    busy = [r for r in rows if r["count"] >= 20]
    quiet = [r for r in rows if r["count"] <= 5]
    assert statistics.fmean(r["speed"] for r in busy) < 0.7 * statistics.fmean(
        r["speed"] for r in quiet
    )
    assert statistics.fmean(r["occupancy"] for r in busy) > 4 * statistics.fmean(
        r["occupancy"] for r in quiet
    )
    for r in rows:  # occupancy = flow x effective length / speed
        expected = 100 * r["count"] / r["interval_s"] * 5.0 / (r["speed"] / 3.6)
        assert r["occupancy"] == pytest.approx(min(100.0, expected), abs=0.2)


def test_motorcycles_are_a_large_share_and_classes_add_up(
    highway: list[tuple[float, dict[str, float]]],
) -> None:
    total = sum(r["count"] for _, r in highway)
    assert 0.45 < sum(r["motorcycle"] for _, r in highway) / total < 0.65
    for _, r in highway:
        assert r["motorcycle"] + r["car"] + r["bus"] + r["truck"] == r["count"]


def test_incidents_lock_a_junction() -> None:
    roads = [s for s in LAM_PHAYA if s.kind == "traffic"]
    locked = [
        r
        for s in roads
        for _, r in series(s, "2026-01-01T00:00+07:00", 60, 300)
        if r["speed"] < 10 and r["occupancy"] > 60
    ]
    assert 5 < len(locked) < 0.02 * len(roads) * 60 * 288
