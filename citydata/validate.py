"""Judge raw readings against their sensor kind: known kind, numeric values within physical
bounds, a plausible time. Unknown metric names are dropped and reported, not fatal."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from citydata.decoders import Problem, RawReading
from citydata.kinds import Kind, all_kinds
from citydata.reading import Reading


@dataclass(slots=True)
class Checked:
    """The outcome for one raw reading: a reading or a problem, and unknown names dropped."""

    reading: Reading | None = None
    problem: Problem | None = None
    unknown: list[str] = field(default_factory=list)


def _as_float(value: int | float) -> float:
    """The value as a float; an integer too large for one becomes infinity (out of bounds)."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


class Validator:
    """Checks raw readings; the clock is an argument so tests control "now"."""

    def __init__(
        self,
        max_future_s: float,
        max_age_s: float,
        kinds: dict[str, Kind] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.kinds = all_kinds() if kinds is None else kinds
        self.max_future_ns = int(max_future_s * 1e9)
        self.max_age_ns = int(max_age_s * 1e9)
        self.clock = clock

    def check(self, raw: RawReading, received_ns: int) -> Checked:
        if raw.problem is not None:
            return Checked(problem=raw.problem)
        kind = self.kinds.get(raw.kind)
        if kind is None:
            known = ", ".join(sorted(self.kinds))
            return Checked(
                problem=Problem("unknown_kind", f"kind {raw.kind!r} is not one of {known}")
            )
        time_ns = received_ns if raw.time_ns is None else raw.time_ns
        problem = self._check_time(time_ns)
        if problem is not None:
            return Checked(problem=problem)
        fields: dict[str, float] = {}
        unknown: list[str] = []
        errors: list[tuple[str, str]] = []
        for name, value in raw.values.items():
            metric = kind.by_name.get(name)
            if metric is None:
                unknown.append(name)
            elif value is None:
                continue  # JSON null: the sensor did not measure this metric this time
            elif isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(("non_numeric", f"{name}={value!r:.40} is not a number"))
            elif (why := metric.check(_as_float(value))) is not None:
                errors.append(("out_of_bounds", why))
            else:
                fields[name] = float(value)
        if errors:
            detail = "; ".join(d for _, d in errors)
            return Checked(problem=Problem(errors[0][0], detail), unknown=unknown)
        if not fields:
            got = sorted(raw.values) or "nothing"
            return Checked(
                problem=Problem(
                    "no_metrics", f"no known {kind.name} metric in the reading (got {got})"
                ),
                unknown=unknown,
            )
        try:
            reading = Reading(
                kind=kind.name,
                sensor_id=raw.sensor_id,
                time_ns=time_ns,
                fields=fields,
                tags=raw.tags,
            )
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return Checked(problem=Problem("bad_sensor_id", detail), unknown=unknown)
        return Checked(reading=reading, unknown=unknown)

    def _check_time(self, time_ns: int) -> Problem | None:
        now = self.clock()
        if time_ns > now + self.max_future_ns:
            ahead = (time_ns - now) / 1e9
            return Problem("future_timestamp", f"time is {ahead:.0f}s in the future")
        if time_ns < now - self.max_age_ns:
            age = (now - time_ns) / 86_400e9
            return Problem("stale_timestamp", f"time is {age:.1f} days old")
        return None
