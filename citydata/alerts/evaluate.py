"""Each cycle: every enabled rule's subjects observed, their states stepped, and the cycle's
outcome (states, history, outbox) stored in one transaction; then the transitions written to
InfluxDB (measurement `alerts`) for Grafana.

Messages, per rule and cycle: one for the subjects that began firing (and firing ones whose
silence ended before anyone was told), one for those resolved (when they had been told), and
one reminder every `repeat` listing the rule's subjects still firing and not acknowledged.
A silenced subject's transitions are kept in the history, marked silenced, and not sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from citydata.alerts.messages import Group, notices, render
from citydata.alerts.notice import Channel
from citydata.alerts.rulefile import Recipient
from citydata.alerts.rules import Rule
from citydata.alerts.sources import Observation, View, observe
from citydata.alerts.state import step
from citydata.alerts.store import AlertState, AlertStore, Event, NewNotice, Silence, Transition
from citydata.derived.judge import HourJudgments, MinuteJudgments
from citydata.derived.schedule import Cycle
from citydata.influx import InfluxClient, InfluxError
from citydata.lineprotocol import encode_point
from citydata.registry import Sensor

log = logging.getLogger(__name__)
MEASUREMENT = "alerts"
_NS = 1_000_000_000


@dataclass
class Outcome:
    """What one evaluation did (for logs, tests and the benchmark)."""

    time_ns: int
    rules: int = 0
    subjects: int = 0
    events: list[Event] = field(default_factory=list)
    notices: int = 0
    seconds: float = 0.0


@dataclass
class _Work:
    now_ns: int
    silences: list[Silence]
    changed: list[AlertState] = field(default_factory=list)
    ended: list[tuple[str, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)

    def silenced(self, rule: Rule, subject: str) -> bool:
        at = datetime.fromtimestamp(self.now_ns / _NS, UTC)
        return any(s.matches(rule, subject, at) for s in self.silences)

    def event(self, rule: Rule, state: AlertState, change: Transition, silenced: bool) -> None:
        th = render(rule, state, "th", self.now_ns)
        en = render(rule, state, "en", self.now_ns)
        self.events.append(
            Event(
                self.now_ns,
                rule.name,
                state.subject,
                change,
                rule.severity,
                state.value,
                th,
                en,
                silenced,
            )
        )


class Evaluator:
    """Evaluates the stored rules after each derived-series cycle (`after_cycle`, and
    `failed_cycle` when a cycle could not judge), queueing notices for `channels`."""

    def __init__(
        self,
        store: AlertStore,
        influx: InfluxClient,
        *,
        channels: Iterable[Channel],
        spool_max_bytes: float,
        on_queued: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.influx = influx
        self.channels = frozenset(channels)
        self.spool_max_bytes = spool_max_bytes
        self.on_queued = on_queued
        self.clock = clock
        self.hour: HourJudgments | None = None

    def after_cycle(self, cycle: Cycle) -> Outcome:
        if cycle.hours:
            self.hour = cycle.hours[-1]
        return self.look(cycle.minute)

    def look(self, minute: MinuteJudgments) -> Outcome:
        """Evaluate on judgments as of `minute.time_ns`: a cycle's, or the look between two."""
        sensors: dict[str, Sensor] = {s.sensor.id: s.sensor for s in minute.stations}
        view = View(minute.time_ns, minute, self.hour, sensors, self.influx, self.spool_max_bytes)
        return self.evaluate(view)

    def failed_cycle(self, minute_ns: int, error: Exception) -> Outcome:
        view = View(
            minute_ns,
            None,
            self.hour,
            {},
            self.influx,
            self.spool_max_bytes,
            failure=str(error)[:200] or type(error).__name__,
        )
        return self.evaluate(view)

    def evaluate(self, view: View) -> Outcome:
        started = self.clock()
        now = view.time_ns
        stored = self.store.rules()
        recipients = self.store.recipients()
        states = self.store.states()
        work = _Work(now, self.store.silences(datetime.fromtimestamp(now / _NS, UTC)))
        outcome = Outcome(now)
        enabled = [s.rule for s in stored if s.rule.enabled]
        for rule in enabled:
            try:
                seen = observe(rule, view)
            except InfluxError as exc:
                log.warning("alert rule %s: cannot read its values, state held: %s", rule.name, exc)
                continue
            mine = {subj: st for (r, subj), st in states.items() if r == rule.name}
            self._rule(rule, seen, mine, view, work)
            outcome.rules += 1
            outcome.subjects += len(seen)
        names = {r.name for r in enabled}
        for (rule_name, subject), state in states.items():
            if rule_name not in names:  # disabled or removed: ended without a message
                work.ended.append((rule_name, subject))
                work.events.append(_ended(state, now))
        queued = self._notices(work.groups, recipients)
        outcome.events = self.store.apply(work.changed, work.ended, work.events, queued, now)
        outcome.notices = len(queued)
        kinds = {key: str(s.info.get("kind", "")) for key, s in states.items()}
        kinds.update({(s.rule, s.subject): str(s.info.get("kind", "")) for s in work.changed})
        self._write(outcome.events, {s.rule.name: s.rule for s in stored}, kinds)
        if queued:
            self.on_queued()
        outcome.seconds = self.clock() - started
        return outcome

    def _rule(
        self,
        rule: Rule,
        seen: list[Observation],
        mine: dict[str, AlertState],
        view: View,
        work: _Work,
    ) -> None:
        now = work.now_ns
        updated: dict[str, AlertState] = {}
        current: list[AlertState] = []  # firing before this cycle and still
        fired: list[AlertState] = []
        resolved: list[AlertState] = []
        for obs in seen:
            prev = mine.pop(obs.subject, None)
            new, change = step(rule, prev, obs, now)
            muted = work.silenced(rule, obs.subject)
            if change is not None:
                told = new
                if told is None:  # resolved or back to inactive: the state it ends, as seen now
                    assert prev is not None
                    told = replace(
                        prev, value=obs.value, info={**obs.info, "severity": rule.severity}
                    )
                work.event(rule, told, change, muted)
            if change in ("resolved", "inactive"):
                work.ended.append((rule.name, obs.subject))
                if change == "resolved" and prev is not None and prev.notified_ns and not muted:
                    resolved.append(replace(prev, value=obs.value))
                continue
            if new is None:
                continue
            new = replace(new, info=_shown(rule, new, now))
            if new.state == "firing" and not muted and not (change is None and new.notified_ns):
                new = replace(new, notified_ns=now)  # newly firing, or its silence has ended
                fired.append(new)
            elif new.state == "firing" and not muted:
                current.append(new)
            if new != prev:
                updated[obs.subject] = new
        for subject, prev in mine.items():  # not observed this cycle
            if view.minute is None or rule.platform:
                continue  # no judgments, or a platform part not reporting: held
            work.ended.append((rule.name, subject))  # retired, or no longer selected
            work.event(rule, prev, "resolved", True)
        if fired:
            work.groups.append(Group(rule, "firing", fired, now))
        if resolved:
            work.groups.append(Group(rule, "resolved", resolved, now))
        for state in _reminders(rule, current, work):
            updated[state.subject] = state
        work.changed.extend(updated.values())

    def _notices(self, groups: list[Group], recipients: dict[str, Recipient]) -> list[NewNotice]:
        return [n for g in groups for n in notices(g, recipients, self.channels)]

    def _write(
        self, events: list[Event], rules: dict[str, Rule], kinds: dict[tuple[str, str], str]
    ) -> None:
        """The state changes as points of `alerts` (Grafana's annotations and firing list);
        `kinds` of the subjects, from their states before and after."""
        lines = []
        for e in events:
            if e.transition not in ("pending", "firing", "resolved", "inactive"):
                continue
            rule = rules.get(e.rule)
            fields: dict[str, float | str] = {
                "state": e.transition,
                "active": 1.0 if e.transition == "firing" else 0.0,
                "text": e.text_th,
                "text_en": e.text_en,
                "title": rule.title_th if rule else e.rule,
                "title_en": rule.title_en if rule else e.rule,
            }
            if e.value is not None:
                fields["value"] = float(e.value)
            tags = {"rule": e.rule, "severity": e.severity, "sensor_id": e.subject}
            kind = str(kinds.get((e.rule, e.subject), "")) or (rule.kind if rule else None)
            if kind:
                tags["kind"] = kind
            lines.append(encode_point(MEASUREMENT, tags, fields, e.time_ns))
        if not lines:
            return
        try:
            self.influx.write_lines(lines)
        except InfluxError as exc:  # the history has them; Grafana misses them
            log.warning("cannot write %d alert transitions to InfluxDB: %s", len(lines), exc)


def _reminders(rule: Rule, firing: list[AlertState], work: _Work) -> list[AlertState]:
    """Every `repeat`, one reminder listing the rule's subjects still firing, neither
    acknowledged nor silenced; the states reminded of (empty when none is due)."""
    now = work.now_ns
    open_ = [s for s in firing if s.ack_by is None and s.notified_ns]
    if rule.repeat is None or not any(
        now - (s.notified_ns or now) >= rule.repeat * _NS for s in open_
    ):
        return []
    reminded = [replace(s, notified_ns=now) for s in open_]
    work.groups.append(Group(rule, "reminder", reminded, now))
    for state in reminded:
        work.event(rule, state, "reminder", False)
    return reminded


def _shown(rule: Rule, state: AlertState, now_ns: int) -> dict[str, object]:
    """The state's info with what the API shows of it: the rule's titles, the messages."""
    return state.info | {
        "title_th": rule.title_th,
        "title_en": rule.title_en,
        "text_th": render(rule, state, "th", now_ns),
        "text_en": render(rule, state, "en", now_ns),
    }


def _ended(state: AlertState, now_ns: int) -> Event:
    """The end of an alert whose rule was disabled or removed: kept, and not told."""
    th, en = "กฎถูกปิดหรือลบ", "the rule was disabled or removed"
    severity = str(state.info.get("severity", "info"))
    return Event(now_ns, state.rule, state.subject, "resolved", severity, state.value, th, en, True)
