"""The derived series' live loop with a fake clock: which minutes and hours it judges, what a
failing cycle does, and the after-cycle callbacks. Nothing sleeps."""

from __future__ import annotations

import logging

import pytest

from citydata.derived.deriver import Written
from citydata.derived.judge import HourJudgments, MinuteJudgments
from citydata.derived.schedule import Cycle, Loop, run
from citydata.influx import InfluxError

S = 1_000_000_000
MIN = 60 * S
HOUR = 60 * MIN
H10 = 1_800_000_000 // 3600 * HOUR  # a whole hour, "10:00"


class FakeClock:
    """Epoch ns that moves only when the loop waits (or a cycle is made to take time)."""

    def __init__(self, start_ns: int, stop_after_waits: int) -> None:
        self.t = start_ns
        self.waits: list[float] = []
        self.stop_after = stop_after_waits

    def now(self) -> int:
        return self.t

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.t += int(seconds * S)
        return len(self.waits) > self.stop_after

    def monotonic(self) -> float:
        return self.t / S


class FakeDeriver:
    """Records what it was asked to judge; fails while `failing` holds."""

    def __init__(self, clock: FakeClock, minute_takes_s: float = 0.5) -> None:
        self.clock = clock
        self.minute_takes_s = minute_takes_s
        self.calls: list[tuple[str, int]] = []
        self.failing = False

    def hour(self, end_ns: int) -> Written:
        if self.failing:
            raise InfluxError("InfluxDB query failed: ConnectError: [Errno 111] refused")
        self.calls.append(("hour", end_ns))
        return Written(HourJudgments(end_ns, []), None, 2)

    def minute(self, now_ns: int) -> Written:
        if self.failing:
            raise InfluxError("InfluxDB query failed: ConnectError: [Errno 111] refused")
        self.calls.append(("minute", now_ns))
        self.clock.t += int(self.minute_takes_s * S)
        return Written(None, MinuteJudgments(now_ns, [], [], []), 3)


def _loop(start_ns: int, waits: int, **kw: float) -> tuple[FakeClock, FakeDeriver, Loop]:
    clock = FakeClock(start_ns, waits)
    deriver = FakeDeriver(clock, **kw)
    return clock, deriver, Loop(deriver, clock=clock.monotonic)


def test_every_whole_minute_and_each_hour_with_the_hour_before() -> None:
    clock, deriver, loop = _loop(H10 - 90 * S, waits=3)  # 09:58:30
    run(loop, clock.now, clock.wait)
    assert deriver.calls == [
        ("hour", H10 - 2 * HOUR),  # the start judges the current hour and the one before
        ("hour", H10 - HOUR),
        ("minute", H10 - 2 * MIN),
        ("minute", H10 - MIN),
        ("hour", H10 - HOUR),  # a new hour: the previous one again, for late readings
        ("hour", H10),
        ("minute", H10),
        ("minute", H10 + MIN),
    ]
    assert clock.waits[:2] == [29.5, 59.5]  # to the next whole minute, after a 0.5 s cycle


def test_a_cycle_that_overruns_is_not_caught_up() -> None:
    clock, deriver, loop = _loop(H10 + 10 * S, waits=1, minute_takes_s=150)
    run(loop, clock.now, clock.wait)
    minutes = [t for what, t in deriver.calls if what == "minute"]
    assert minutes == [H10, H10 + 2 * MIN]  # 10:01 went by during the slow cycle


def test_a_failing_cycle_logs_one_line_and_the_next_retries_the_hour(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, deriver, loop = _loop(H10, waits=0)
    deriver.failing = True
    with caplog.at_level(logging.DEBUG, "citydata.derived"):
        assert loop.step(H10) is None
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and "failed, trying again next minute" in errors[0].getMessage()
    assert "Errno 111" in errors[0].getMessage()
    deriver.failing = False
    done = loop.step(H10 + MIN)
    assert done is not None and [h.time_ns for h in done.hours] == [H10 - HOUR, H10]
    assert done.points == 2 + 2 + 3


def test_after_cycle_callbacks_hear_each_cycle_and_cannot_stop_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[Cycle] = []

    def broken(cycle: Cycle) -> None:
        raise RuntimeError("a bug in a consumer")

    clock = FakeClock(H10 + 5 * S, stop_after_waits=2)
    loop = Loop(FakeDeriver(clock), after=[broken, heard.append], clock=clock.monotonic)
    with caplog.at_level(logging.ERROR):
        run(loop, clock.now, clock.wait)
    assert [c.time_ns for c in heard] == [H10, H10 + MIN, H10 + 2 * MIN]
    assert [len(c.hours) for c in heard] == [2, 0, 0]
    assert heard[0].minute.time_ns == H10 and heard[0].seconds == 0.5
    assert sum("after-cycle callback" in r.getMessage() for r in caplog.records) == 3


def test_a_summary_each_hour_at_info(caplog: pytest.LogCaptureFixture) -> None:
    clock, _, loop = _loop(H10 - 3 * MIN, waits=4)
    with caplog.at_level(logging.DEBUG, "citydata.derived"):
        run(loop, clock.now, clock.wait)
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert info == [
        "derived series, last hour: 3 cycles (0 failed), 13 points, 0.500 s mean, 0.500 s max"
    ]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 5 and debug[0].endswith("points in 0.500 s")


def test_the_alerts_look_again_half_a_minute_after_each_cycle() -> None:
    clock, deriver, loop = _loop(H10 + 10 * S, waits=5)
    looks: list[int] = []
    run(loop, clock.now, clock.wait, halfway=looks.append)
    minutes = [t for what, t in deriver.calls if what == "minute"]
    assert minutes == [H10, H10 + MIN, H10 + 2 * MIN]
    assert looks == [H10 + 30 * S, H10 + 90 * S, H10 + 150 * S]  # a crossing waits 30 s, not 60
    assert clock.waits[:3] == [19.5, 30.0, 29.5]  # to 10:00:30 after the 0.5 s cycle, 10:01, ...


def test_a_slow_cycle_looks_late_within_its_minute_and_not_at_all_past_it() -> None:
    clock, _, loop = _loop(H10 + 10 * S, waits=2, minute_takes_s=45)
    looks: list[int] = []
    run(loop, clock.now, clock.wait, halfway=looks.append)
    assert looks == [H10 + 55 * S, H10 + 105 * S, H10 + 165 * S]  # late, within its minute
    clock, _, loop = _loop(H10 + 10 * S, waits=2, minute_takes_s=70)
    looks = []
    run(loop, clock.now, clock.wait, halfway=looks.append)
    assert looks == []  # each cycle ended in the next minute: that minute's cycle comes first
