"""A simulated device in each payload format, read by the collector with the routes the simulator
names, stores the same values at the same times as the native format."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings
from simulators.encoders import all_encoders, routes_for
from simulators.publisher import Simulation, backfill, backfill_times
from simulators.registration import register_fleet
from simulators.sensor import SimSensor
from tests.helpers import running_collector, wait_for

pytestmark = pytest.mark.integration


SAMPLE = (
    SimSensor("lp-air-01", "air", "Office", "สำนักงาน", 14.0005, 100.146),
    SimSensor("lp-water-01", "water", "Pier", "ท่าน้ำ", 14.0021, 100.1418),
)


def fleet(fmt: str) -> list[SimSensor]:
    """The sample sensors of the kinds the format's devices report, with ids of its form
    (Sensor.Community: air-quality firmware, named by its chip id)."""
    encoder = all_encoders()[fmt]
    prefix = encoder.id_form.partition("<")[0]
    return [
        replace(s, sensor_id=f"{prefix}{15225252 + n}" if prefix else s.sensor_id, format=fmt)
        for n, s in enumerate(SAMPLE)
        if not encoder.kinds or s.kind in encoder.kinds
    ]


@pytest.mark.parametrize("fmt", sorted(all_encoders()))
def test_each_format_is_stored_like_the_native_one(
    fmt: str, settings: Settings, influx: InfluxClient
) -> None:
    sensors = fleet(fmt)
    settings = settings.model_copy(update={"routes": routes_for({fmt}, {s.kind for s in sensors})})
    with Registry.from_settings(settings) as registry:
        register_fleet(registry, sensors)
    end, days, interval = time.time(), 2 / 24, 1800.0
    sim = Simulation(sensors, 4)
    expected = [m for t in backfill_times(days, interval, end) for m in sim.round(t)]
    with running_collector(settings) as c:
        assert backfill(
            settings, sensors, days=days, interval_s=interval, seed=4, end=end
        ) == 4 * len(sensors)
        wait_for(lambda: c.stats.written == len(expected), what=f"the {fmt} readings")
    assert c.stats.dead_lettered == 0
    for s in sensors:
        rows = influx.records(f"SELECT * FROM \"{s.kind}\" WHERE sensor_id = '{s.sensor_id}'")
        want = [m for m in expected if m.sensor == s]
        assert len(rows) == len(want)
        if all_encoders()[fmt].timed:  # else the bodies carry no time: stored at receive time
            assert [r["time"] for r in rows] == [round(m.t * 1e9) for m in want]
            got = [{k: r[k] for k in m.values} for r, m in zip(rows, want, strict=True)]
            assert got == [m.values for m in want]
        else:
            assert sorted(r["pm25"] for r in rows) == sorted(m.values["pm25"] for m in want)
