"""A simulated device in each payload format, read by the collector with the routes the simulator
names, stores the same values at the same times as the native format."""

from __future__ import annotations

import time

import pytest

from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings
from simulators.fleet import SimSensor, register_fleet
from simulators.formats import ENCODERS, routes_for
from simulators.publisher import Simulation, backfill, backfill_times
from tests.helpers import running_collector, wait_for

pytestmark = pytest.mark.integration


def fleet(fmt: str) -> list[SimSensor]:
    if fmt == "sensor_community":  # air-quality firmware, named by its chip id
        return [SimSensor("esp8266-15225252", "air", "Luftdaten", "ลุฟท์ดาเทน", 14.0, 100.14, fmt)]
    return [
        SimSensor("lp-air-01", "air", "Office", "สำนักงาน", 14.0005, 100.146, fmt),
        SimSensor("lp-water-01", "water", "Pier", "ท่าน้ำ", 14.0021, 100.1418, fmt),
    ]


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
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
        if fmt != "sensor_community":  # its bodies carry no time: stored at receive time
            assert [r["time"] for r in rows] == [round(m.t * 1e9) for m in want]
            got = [{k: r[k] for k in m.values} for r, m in zip(rows, want, strict=True)]
            assert got == [m.values for m in want]
        else:
            assert sorted(r["pm25"] for r in rows) == sorted(m.values["pm25"] for m in want)
