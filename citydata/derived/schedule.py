"""The live loop: a cycle every whole minute, the AQI on each whole hour, with an injected
clock (`now` in epoch ns, `wait(seconds)` true once asked to stop) so tests never sleep.

A cycle judges the minute it starts in; on entering a new hour it first judges the AQI of that
hour and again of the hour before (readings that arrived late). A failing cycle (InfluxDB
down) is logged in one line and the next minute tries again, the AQI hours included; a cycle
that overran its minute is not caught up, the next one judges the minute it starts in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from citydata.derived.deriver import MINUTE_NS, Written, floor_to
from citydata.derived.judge import HourJudgments, MinuteJudgments
from citydata.readings.hourly import HOUR_NS
from citydata.timeutil import as_datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cycle:
    """One cycle's judgments, handed to the after-cycle callbacks (the alerts, later)."""

    time_ns: int
    hours: list[HourJudgments]  # the AQI hours judged in this cycle, oldest first
    minute: MinuteJudgments
    points: int
    seconds: float


AfterCycle = Callable[[Cycle], object]
FailedCycle = Callable[[int, Exception], object]  # the minute, and why it failed


class Steps(Protocol):
    """What a cycle runs: a `citydata.derived.deriver.Deriver`, or a test's fake."""

    def hour(self, end_ns: int) -> Written: ...

    def minute(self, now_ns: int) -> Written: ...


@dataclass
class Tally:
    """Cycles since the last hourly summary."""

    cycles: int = 0
    failed: int = 0
    points: int = 0
    seconds: list[float] = field(default_factory=list)

    def summary(self) -> str:
        took = self.seconds or [0.0]
        return (
            f"derived series, last hour: {self.cycles} cycles ({self.failed} failed), "
            f"{self.points} points, {sum(took) / len(took):.3f} s mean, {max(took):.3f} s max"
        )


class Loop:
    """Runs the cycles of one `Deriver`; `after` callbacks hear each successful cycle, `failed`
    callbacks each failed one (the alerts' "InfluxDB unreachable")."""

    def __init__(
        self,
        deriver: Steps,
        after: Sequence[AfterCycle] = (),
        clock: Callable[[], float] = time.monotonic,
        failed: Sequence[FailedCycle] = (),
    ) -> None:
        self.deriver = deriver
        self.after = list(after)
        self.failed = list(failed)
        self.clock = clock  # measures durations only
        self.hour_done: int | None = None
        self.tally = Tally()
        self._tally_hour: int | None = None

    def cycle(self, minute_ns: int) -> Cycle:
        """Judge and write the whole minute `minute_ns` (and its hour's AQI when new)."""
        started = self.clock()
        hour, hours, points = floor_to(minute_ns, HOUR_NS), [], 0
        if hour != self.hour_done:
            for h in (hour - HOUR_NS, hour):
                done = self.deriver.hour(h)
                assert done.hour is not None
                hours.append(done.hour)
                points += done.points
            self.hour_done = hour
        written = self.deriver.minute(minute_ns)
        assert written.minute is not None
        took = self.clock() - started
        return Cycle(minute_ns, hours, written.minute, points + written.points, took)

    def step(self, minute_ns: int) -> Cycle | None:
        """One cycle that never raises: a failure is one logged line; None then."""
        self._summarize(minute_ns)
        started = self.clock()
        try:
            done = self.cycle(minute_ns)
        except Exception as exc:  # one failing cycle must not stop the service
            self.tally.cycles += 1
            self.tally.failed += 1
            log.error(
                "derived cycle %s failed, trying again next minute: %s",
                f"{as_datetime(minute_ns):%Y-%m-%dT%H:%MZ}",
                exc,
            )
            log.debug("the failed cycle's traceback", exc_info=True)
            self._notify_failed(minute_ns, exc)
            return None
        finally:
            self.tally.seconds.append(self.clock() - started)
        self.tally.cycles += 1
        self.tally.points += done.points
        log.debug(
            "derived cycle %s: %d points in %.3f s",
            f"{as_datetime(minute_ns):%Y-%m-%dT%H:%MZ}",
            done.points,
            done.seconds,
        )
        self._notify(done)
        return done

    def _notify(self, done: Cycle) -> None:
        for callback in self.after:
            try:
                callback(done)
            except Exception:  # a consumer's bug must not stop the judgments
                log.exception("after-cycle callback %r failed", callback)

    def _notify_failed(self, minute_ns: int, exc: Exception) -> None:
        for callback in self.failed:
            try:
                callback(minute_ns, exc)
            except Exception:
                log.exception("failed-cycle callback %r failed", callback)

    def _summarize(self, minute_ns: int) -> None:
        hour = floor_to(minute_ns, HOUR_NS)
        if self._tally_hour is not None and hour != self._tally_hour and self.tally.cycles:
            log.info(self.tally.summary())
            self.tally = Tally()
        self._tally_hour = hour


def run(
    loop: Loop,
    now: Callable[[], int],
    wait: Callable[[float], bool],
    halfway: Callable[[int], object] | None = None,
) -> None:
    """A cycle every whole minute until `wait` reports a stop; the first one at once. `wait`
    is asked after every cycle, with 0 s when the next minute has begun already. `halfway`
    (the alerts' second look, so a crossing is told within about 30 s, not 60) is called with
    the time half a minute after each cycle's, unless the next minute has begun by then."""
    last: int | None = None
    half_done: int | None = None
    while True:
        current = floor_to(now(), MINUTE_NS)
        if last is None or current > last:
            loop.step(current)
            last = current
        half = last + MINUTE_NS // 2
        if halfway is not None and half_done != last and now() >= half:
            half_done = last
            if floor_to(now(), MINUTE_NS) == last:
                _halfway(halfway, now())
        until = half if halfway is not None and half_done != last else last + MINUTE_NS
        if wait(max(0.0, (until - now()) / 1e9)):
            return


def _halfway(call: Callable[[int], object], at_ns: int) -> None:
    try:
        call(at_ns)
    except Exception:  # like a failed cycle: logged, and the next minute goes on
        log.exception("the half-minute look failed")
