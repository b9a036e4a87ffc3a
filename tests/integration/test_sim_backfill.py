"""The simulator through real Mosquitto into real InfluxDB: a week's backfill of the default
fleet, and injected faults landing where the collector puts them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from citydata.cli import main
from citydata.deadletters import DeadLetterStore
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings
from collector.service import Collector
from simulators.faults import FaultRates
from simulators.fleet import LAM_PHAYA
from simulators.publisher import Simulation, backfill, backfill_times, publish_fleet
from simulators.registration import register_fleet
from tests.helpers import running_collector, wait_for

pytestmark = pytest.mark.integration


@contextmanager
def running(settings: Settings) -> Iterator[Collector]:
    with Registry.from_settings(settings) as registry:
        register_fleet(registry, LAM_PHAYA)  # unregistered sensors would be quarantined
    with running_collector(settings) as c:
        yield c


def test_a_week_of_the_default_fleet_backfills_and_is_queryable(
    settings: Settings, influx: InfluxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "MQTT_URL": settings.mqtt_url,
        "INFLUX_URL": settings.influx_url,
        "INFLUX_DB": settings.influx_db,
        "DATA_DIR": str(settings.data_dir),
    }.items():
        monkeypatch.setenv(f"CITYDATA_{name}", value)
    rounds = 7 * 96  # the backfill's default interval is 15 minutes
    with running(settings) as c:
        assert main(["simulate", "--backfill-days", "7", "--seed", "3"]) == 0
        wait_for(lambda: c.stats.written == rounds * len(LAM_PHAYA), what="the week")
    assert c.stats.dead_lettered == 0
    sizes = Counter(s.kind for s in LAM_PHAYA)
    for kind, n in sizes.items():
        (row,) = influx.records(f'SELECT count(*) FROM "{kind}"')
        assert max(v for k, v in row.items() if k.startswith("count_")) == n * rounds
    (first,) = influx.records('SELECT first("pm25") FROM "air"')
    assert (time.time_ns() - first["time"]) / 86_400e9 == pytest.approx(7, abs=0.02)
    rows = influx.records(
        """SELECT mean("count") FROM "traffic" WHERE sensor_id = 'lp-traffic-01' """
        "GROUP BY time(1h)"
    )
    hourly = [r["mean"] for r in rows if r["mean"] is not None]
    assert len(hourly) > 160 and max(hourly) > 15  # rush hours
    assert sum(h < 5 for h in hourly) > 0.25 * len(hourly)  # nights


def test_injected_faults_land_where_the_collector_puts_them(
    settings: Settings, influx: InfluxClient
) -> None:
    sensors = [s for s in LAM_PHAYA if s.kind == "water"]
    rates = FaultRates(
        dropout=0.05, malformed=0.05, duplicate=0.05, skew=0.05, skew_s=2 * 86_400,
        stuck=0.05, spike=0.05, drift=0.01, burst=0.02, silent=0.002,
    )  # fmt: skip
    end, days, interval = time.time(), 1.0, 600.0
    expected = Simulation(sensors, 9, rates)
    sent = [m for t in backfill_times(days, interval, end) for m in expected.round(t)]
    bad = Counter(
        "undecodable" if m.malformed else "future_timestamp"
        for m in sent
        if m.faults and (m.malformed or "skew" in m.faults)
    )
    stored = {
        (m.sensor.sensor_id, round(m.t * 1e9)): m.values["level"]
        for m in sent
        if not m.malformed and "skew" not in m.faults
    }
    assert bad["undecodable"] and bad["future_timestamp"]
    assert sum("duplicate" in m.faults for m in sent) and expected.injector.counts["dropout"]
    with running(settings) as c:
        acked = backfill(
            settings, sensors, days=days, interval_s=interval, seed=9, end=end, faults=rates
        )
        assert acked == len(sent)
        wait_for(lambda: c.stats.dead_lettered == sum(bad.values()), what="the dead letters")
        wait_for(lambda: c.stats.written + c.stats.dead_lettered == len(sent), what="the rest")
    reasons = Counter(str(r["reason"]) for r in DeadLetterStore(settings.data_dir))
    assert reasons == bad
    rows = influx.records('SELECT "level", "sensor_id" FROM "water"')
    assert len(rows) == len(stored)  # duplicates overwrite; dropouts never arrive
    assert {(r["sensor_id"], r["time"]): r["level"] for r in rows} == stored  # spikes, drift...
    assert all(expected.injector.counts[n] for n in ("stuck", "spike", "drift", "burst"))
    assert len(stored) < len(sensors) * 144


def test_accelerated_time_publishes_simulated_hours_in_a_moment(
    settings: Settings, influx: InfluxClient
) -> None:
    start = (time.time() - 2 * 86_400) // 3600 * 3600
    with running(settings) as c:
        acked = publish_fleet(
            settings, LAM_PHAYA, interval_s=3600, rounds=24, speed=3600 * 1000, start=start
        )
        assert acked == 24 * len(LAM_PHAYA)
        wait_for(lambda: c.stats.written == acked, what="a simulated day")
    rows = influx.records('SELECT "level" FROM "water" WHERE sensor_id = \'lp-water-01\'')
    assert [r["time"] for r in rows] == [round((start + k * 3600) * 1e9) for k in range(24)]


def test_a_backfill_started_before_the_collector_loses_nothing(
    settings: Settings, influx: InfluxClient
) -> None:
    """The broker drops what no one subscribes to ("no matching subscribers"): a backfill that
    starts before the collector has subscribed publishes those messages again."""
    sensors = [s for s in LAM_PHAYA if s.kind == "water"]
    end, days, interval = time.time(), 0.25, 900.0
    sent = len(sensors) * len(list(backfill_times(days, interval, end)))
    result: list[int] = []
    publisher = threading.Thread(
        target=lambda: result.append(
            backfill(settings, sensors, days=days, interval_s=interval, end=end)
        )
    )
    publisher.start()
    time.sleep(1.0)  # the first messages find no subscriber
    try:
        with running(settings) as c:
            publisher.join(60)
            assert result == [sent]
            wait_for(lambda: c.stats.written == sent, what="every message stored")
    finally:
        publisher.join(60)
    (row,) = influx.records('SELECT count("level") FROM "water"')
    assert row["count"] == sent


def test_a_backfill_without_any_collector_fails_clearly(settings: Settings) -> None:
    from simulators.publisher import NoSubscriber, Publisher

    pub = Publisher(settings, seed=1, patience_s=0.5)
    try:
        with pytest.raises(NoSubscriber, match="no collector subscribed"):
            for _ in range(50):
                pub.send([("sensors/water/lp-water-01", b'{"level": 1.0}')])
                time.sleep(0.05)
    finally:
        pub.stop.set()
        pub.close()
