"""A city of a few stations for alert tests: a registry of its own, readings written straight
to a real InfluxDB, the shipped rules (deploy/alerts.yaml) or others, and the real derived
cycle and evaluator stepped through time by the test (no sleeping)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from citydata.alerts.evaluate import Evaluator, Outcome
from citydata.alerts.notice import Channel, Notice
from citydata.alerts.rulefile import load_rules, parse_rules, rule_data
from citydata.alerts.store import AlertStore
from citydata.derived.deriver import MINUTE_NS, Deriver
from citydata.derived.schedule import Loop
from citydata.influx import InfluxClient
from citydata.lineprotocol import encode_point
from citydata.registry import Registry, Sensor
from tests.helpers import make_station

NS = 1_000_000_000
HOUR_NS = 3600 * NS
SHIPPED = Path(__file__).resolve().parents[1] / "deploy" / "alerts.yaml"
LINE_ID = "C" + "a" * 32
RECIPIENTS: dict[str, Any] = {
    "team": {
        "lang": "both",
        "line": [LINE_ID],
        "email": ["team@example.org"],
        "webhook": ["http://127.0.0.1:9/hook"],
    },
}
ALL_CHANNELS: frozenset[Channel] = frozenset({"line", "email", "webhook"})


def shipped(*names: str, **changes: Any) -> list[dict[str, Any]]:
    """The shipped rules of these names as data, sent to the test's recipient; `changes`
    replace fields of every one (repeat=None: no reminders)."""
    found = {r.name: r for r in load_rules(SHIPPED).rules}
    out = []
    for name in names:
        data = rule_data(found[name]) | {"recipients": ["team"]}
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        out.append(data)
    return out


def rules_text(rules: Iterable[dict[str, Any]], recipients: dict[str, Any] | None = None) -> str:
    return yaml.safe_dump(
        {"recipients": recipients or RECIPIENTS, "rules": list(rules)}, allow_unicode=True
    )


def water_station(sid: str, **fields: Any) -> Sensor:
    levels = {"watch": 1.6, "warning": 1.8, "critical": 2.0, "bank": 2.3}
    return make_station(
        sid, "water", thresholds={"level": levels}, meta={"water_class": "3"}, **fields
    )


def tide(t_ns: int) -> float:
    """The Tha Chin's twice-daily swing around 1.0 m MSL: ±0.45 m, period 12.42 h."""
    return 1.0 + 0.45 * math.sin(2 * math.pi * (t_ns / HOUR_NS) / 12.42)


@dataclass
class AlertCity:
    """The stations, the store and the real cycle; `now` is the cycle's minute."""

    influx: InfluxClient
    registry: Registry
    channels: frozenset[Channel] = ALL_CHANNELS
    store: AlertStore = field(init=False)
    evaluator: Evaluator = field(init=False)
    loop: Loop = field(init=False)
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """New store, evaluator and loop on the same database: a restarted service."""
        self.store = AlertStore(self.registry)
        self.evaluator = Evaluator(
            self.store, self.influx, channels=self.channels, spool_max_bytes=1e9
        )
        deriver = Deriver(self.influx, self.registry, "extrapolate", write=False)
        self.loop = Loop(deriver, after=[self.outcomes_of], failed=[self.failed_of])

    def outcomes_of(self, cycle: Any) -> None:
        self.outcomes.append(self.evaluator.after_cycle(cycle))

    def failed_of(self, minute_ns: int, exc: Exception) -> None:
        self.outcomes.append(self.evaluator.failed_cycle(minute_ns, exc))

    def rules(self, text: str) -> None:
        self.store.load(parse_rules(text))

    def add(self, *sensors: Sensor) -> None:
        self.registry.upsert_many(sensors)

    def write(
        self, kind: str, sid: str, times: Iterable[int], values: Callable[[int], dict[str, float]]
    ) -> None:
        lines = [encode_point(kind, {"sensor_id": sid}, values(t), t) for t in times]
        for i in range(0, len(lines), 5000):
            self.influx.write_lines(lines[i : i + 5000])

    def run(self, start_ns: int, end_ns: int, step_ns: int = MINUTE_NS) -> None:
        """A cycle at every step from start to end (both included)."""
        for t in range(start_ns, end_ns + 1, step_ns):
            self.loop.step(t)

    def notices(self, channel: Channel | None = None) -> list[Notice]:
        return [n for _, n in self.store.notices() if channel in (None, n.channel)]

    def sent(self, rule: str, transition: str, channel: Channel = "line") -> list[Notice]:
        """The notices of `rule` with `transition` (firing, resolved, reminder) on `channel`."""
        return [
            n
            for n in self.notices(channel)
            if n.payload.get("rule") == rule and n.payload.get("transition") == transition
        ]

    def events(self, rule: str, transition: str | None = None) -> list[Any]:
        return [
            e
            for e in reversed(self.store.history(rule=rule, limit=1000))
            if transition in (None, e.transition)
        ]


def every(start_ns: int, end_ns: int, step_s: int) -> range:
    return range(start_ns, end_ns + 1, step_s * NS)
