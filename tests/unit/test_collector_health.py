"""The collector's health figures: dead letters counted by reason, publish-to-store lag."""

from __future__ import annotations

from citydata.health import DEADLETTERS
from collector.health import HealthReporter, Stats

_MS = 1_000_000  # ns


def test_dead_letters_are_counted_by_reason_with_the_points_influxdb_refused() -> None:
    stats = Stats()
    for reason in ["undecodable", "unregistered", "undecodable", "future_timestamp"]:
        stats.dead_letter(reason)
    stats.reject("influx_rejected")
    stats.reject("influx_rejected")
    assert stats.dead_lettered == 4 and stats.rejected == 2
    assert stats.deadletters_by_reason() == {
        "undecodable": 2,
        "unregistered": 1,
        "future_timestamp": 1,
        "influx_rejected": 2,
    }


def test_the_same_reason_from_pipeline_and_writer_is_one_count() -> None:
    stats = Stats()
    stats.dead_letter("influx_rejected")  # a refused point replayed by hand, say
    stats.reject("influx_rejected")
    assert stats.deadletters_by_reason() == {"influx_rejected": 2}


def test_one_cumulative_point_per_reason_seen() -> None:
    stats = Stats()
    reporter = HealthReporter("c1", "h1")
    assert reporter.deadletter_lines(stats, 5) == []  # nothing seen: no points
    stats.dead_letter("unregistered")
    stats.dead_letter("bad_timestamp")
    stats.reject("influx_rejected")
    first = reporter.deadletter_lines(stats, 5)
    stats.dead_letter("unregistered")
    second = reporter.deadletter_lines(stats, 6)
    assert first == [
        f"{DEADLETTERS},collector=c1,host=h1,reason=bad_timestamp count=1.0 5",
        f"{DEADLETTERS},collector=c1,host=h1,reason=influx_rejected count=1.0 5",
        f"{DEADLETTERS},collector=c1,host=h1,reason=unregistered count=1.0 5",
    ]
    assert second[-1] == f"{DEADLETTERS},collector=c1,host=h1,reason=unregistered count=2.0 6"
    assert len(second) == 3


def test_lag_is_the_mean_and_max_over_the_interval_then_zero() -> None:
    stats = Stats()
    reporter = HealthReporter("c1", "h1")
    t = 1_700_000_000 * 10**9
    # batch 1: arrivals at t, t+2 ms, t+4 ms, durable at t+10 ms: lags 10, 8, 6 ms
    stats.record_durable(3, 3 * t + 6 * _MS, t, t + 10 * _MS)
    # batch 2: one message at t+20 ms, durable at t+21 ms: lag 1 ms
    stats.record_durable(1, t + 20 * _MS, t + 20 * _MS, t + 21 * _MS)
    fields = reporter.fields(stats, 0, 0)
    assert fields["lag_ms"] == (10 + 8 + 6 + 1) / 4
    assert fields["lag_max_ms"] == 10.0
    stats.record_durable(2, 2 * (t + 30 * _MS), t + 30 * _MS, t + 35 * _MS)
    fields = reporter.fields(stats, 0, 0)
    assert (fields["lag_ms"], fields["lag_max_ms"]) == (5.0, 5.0)  # this interval's only
    fields = reporter.fields(stats, 0, 0)
    assert (fields["lag_ms"], fields["lag_max_ms"]) == (0.0, 0.0)  # none made durable


def test_a_clock_stepped_back_gives_no_negative_lag() -> None:
    stats = Stats()
    t = 1_700_000_000 * 10**9
    stats.record_durable(2, 2 * t, t, t - 50 * _MS)
    fields = HealthReporter("c1", "h1").fields(stats, 0, 0)
    assert (fields["lag_ms"], fields["lag_max_ms"]) == (0.0, 0.0)
