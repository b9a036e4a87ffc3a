"""The state machine of one rule and one subject, a pure function of the clock it is given:
inactive -> pending (the condition holds, for `for`) -> firing -> resolved (the clear condition
holds) -> inactive. A value of None (no data, maintenance) holds the state as it is: silence
is the offline rule's business, and a flood warning must not resolve because a gauge went
quiet."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from citydata.alerts.rules import Rise, Rule
from citydata.alerts.sources import Observation
from citydata.alerts.store import AlertState

_NS = 1_000_000_000
Change = Literal["pending", "firing", "resolved", "inactive"]  # inactive: pending ended early


def holds(rule: Rule, value: float) -> bool:
    """Whether the rule's `when` holds for `value` (for a rise: the change over the window)."""
    return rule.when.holds(value)


def clears(rule: Rule, value: float) -> bool:
    """Whether a firing alert resolves at `value`: its `clear` condition, else `when` no
    longer holding."""
    if rule.clear is not None:
        return rule.clear.holds(value)
    return not holds(rule, value)


def step(
    rule: Rule, prev: AlertState | None, seen: Observation, now_ns: int
) -> tuple[AlertState | None, Change | None]:
    """The next state of (rule, subject) at `now_ns` and the change made, if any. The state
    returned carries the new value and info even when nothing changed."""
    value = seen.value
    if value is None:
        return prev, None
    info = {**seen.info, "severity": rule.severity}
    if prev is None:
        if not holds(rule, value):
            return None, None
        if rule.for_ <= 0:
            return _firing(rule, seen, now_ns, now_ns, info), "firing"
        state = AlertState(rule.name, seen.subject, "pending", now_ns, value=value, info=info)
        return state, "pending"
    if prev.state == "pending":
        if not holds(rule, value):
            return None, "inactive"
        if now_ns - prev.since_ns >= rule.for_ * _NS:
            return _firing(rule, seen, prev.since_ns, now_ns, info), "firing"
        return replace(prev, value=value, info=info), None
    if clears(rule, value) and not (isinstance(rule.when, Rise) and holds(rule, value)):
        return None, "resolved"
    return replace(prev, value=value, info=info), None


def _firing(
    rule: Rule, seen: Observation, since_ns: int, now_ns: int, info: dict[str, object]
) -> AlertState:
    return AlertState(
        rule.name, seen.subject, "firing", since_ns, firing_ns=now_ns, value=seen.value, info=info
    )
