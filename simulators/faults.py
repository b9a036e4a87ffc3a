"""Fault injection: what real devices do wrong, each at a configured rate per message.

Rates are probabilities per message of a sensor (0 to 1). Stateful faults keep per-sensor state:
`stuck` repeats the sensor's previous values, `drift` starts a growing calibration error that
stays, `burst` holds this and the next few messages and releases them together, `silent` stops
the sensor for the rest of the run. Faults draw from their own random stream, so the clean
readings of a seeded run are the same with or without faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields

from citydata.kinds import all_kinds
from simulators.sensor import SimSensor

BURST_LENGTH = 5  # messages a burst holds back and releases together
DRIFT_PER_DAY = 0.05  # share of the value a drifting sensor gains per day


@dataclass(frozen=True, slots=True)
class FaultRates:
    """Per-message probability of each fault; `skew_s` is the clock error of a skewed message
    (positive: ahead; the collector refuses readings more than MAX_FUTURE_S ahead)."""

    dropout: float = 0.0
    stuck: float = 0.0
    spike: float = 0.0
    drift: float = 0.0
    malformed: float = 0.0
    duplicate: float = 0.0
    skew: float = 0.0
    burst: float = 0.0
    silent: float = 0.0
    skew_s: float = 900.0

    @classmethod
    def from_mapping(cls, data: dict[str, object]) -> FaultRates:
        """Rates from a fleet file's `faults:` mapping; unknown names and bad rates raise."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown}; known: {sorted(known)}")
        values = {k: float(v) for k, v in data.items()}  # type: ignore[arg-type]
        bad = [k for k, v in values.items() if k != "skew_s" and not 0 <= v <= 1]
        if bad:
            raise ValueError(f"fault rate(s) {bad} must be between 0 and 1")
        return cls(**values)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if f.name != "skew_s")


@dataclass(slots=True)
class Outgoing:
    """One message ready to encode: the sensor, its time, its values and the faults it shows."""

    sensor: SimSensor
    t: float
    values: dict[str, float]
    faults: list[str] = field(default_factory=list)
    malformed: bool = False


@dataclass(slots=True)
class _State:
    last: dict[str, float] | None = None
    drift_since: float | None = None
    held: list[Outgoing] = field(default_factory=list)
    hold_left: int = 0
    silent: bool = False


class FaultInjector:
    """Turns each clean reading into the messages a faulty device would send (zero or more)."""

    def __init__(self, rates: FaultRates, seed: int = 0) -> None:
        self.rates = rates
        self.rng = random.Random(f"faults-{seed}")
        self.state: dict[str, _State] = {}
        self.counts: dict[str, int] = dict.fromkeys(rates.names, 0)  # faults injected
        self.trials: dict[str, int] = dict.fromkeys(rates.names, 0)  # chances to inject

    def _hit(self, name: str) -> bool:
        rate: float = getattr(self.rates, name)
        hit = rate > 0 and self.rng.random() < rate
        self.trials[name] += 1
        self.counts[name] += hit
        return hit

    def apply(self, sensor: SimSensor, t: float, values: dict[str, float]) -> list[Outgoing]:
        st = self.state.setdefault(sensor.sensor_id, _State())
        if st.silent or self._hit("silent"):
            st.silent = True
            return []
        out = Outgoing(sensor, t, dict(values))
        if st.last is not None and self._hit("stuck"):
            out.values, out.faults = dict(st.last), ["stuck"]
        st.last = dict(out.values)
        if st.drift_since is None and self._hit("drift"):
            st.drift_since = t
        if st.drift_since is not None:
            self._drift(out, (t - st.drift_since) / 86_400)
        if self._hit("spike"):
            self._spike(out)
        if self._hit("skew"):
            out.t += self.rates.skew_s
            out.faults.append("skew")
        if self._hit("malformed"):
            out.malformed = True
            out.faults.append("malformed")
        if self._hit("dropout"):
            return []
        messages = [out]
        if self._hit("duplicate"):
            out.faults.append("duplicate")
            messages.append(out)
        return self._burst(st, messages)

    def _burst(self, st: _State, messages: list[Outgoing]) -> list[Outgoing]:
        if st.hold_left == 0 and self._hit("burst"):
            st.hold_left = BURST_LENGTH
        if st.hold_left == 0:
            return messages
        for m in messages:
            m.faults.append("burst")
        st.held.extend(messages)
        st.hold_left -= 1
        if st.hold_left:
            return []
        released, st.held = st.held, []
        return released

    def _drift(self, out: Outgoing, days: float) -> None:
        metrics = all_kinds()[out.sensor.kind].by_name
        for name, value in out.values.items():
            if name != "interval_s":
                bound = metrics[name].max if name in metrics else value
                out.values[name] = round(min(bound, value * (1 + DRIFT_PER_DAY * days)), 3)
        out.faults.append("drift")

    def _spike(self, out: Outgoing) -> None:
        """One metric jumps to many times its value (still inside the physical bounds, so it is
        stored: a spike is for alerts and dashboards to survive, not for validation to drop)."""
        metrics = all_kinds()[out.sensor.kind].by_name
        name = self.rng.choice(sorted(n for n in out.values if n != "interval_s"))
        high = metrics[name].max if name in metrics else out.values[name] * 10
        out.values[name] = round(min(high, max(1.0, out.values[name]) * self.rng.uniform(5, 20)), 3)
        out.faults.append("spike")


def malform(payload: bytes) -> bytes:
    """A payload cut short, as a flaky link or a buffer overrun delivers it."""
    return payload[: max(1, len(payload) // 2)]


def describe(rates: FaultRates) -> str:
    """The configured faults, e.g. 'dropout=0.01, malformed=0.005', for the CLI's summary."""
    parts = [f"{n}={getattr(rates, n):g}" for n in rates.names if getattr(rates, n)]
    return ", ".join(parts) or "none"
