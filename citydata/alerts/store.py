"""The alerts' tables in the registry database: rules, recipients, states, history, silences,
outbox. One evaluation cycle is one transaction (`apply`), so a crash leaves the cycle either
wholly done or not at all, and the next start neither forgets nor repeats a transition."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from citydata.alerts.notice import Channel, Notice
from citydata.alerts.rulefile import Recipient, RuleFile, rule_data, rule_from
from citydata.alerts.rules import Rule
from citydata.registry import Registry
from citydata.registry.errors import RegistryError
from citydata.registry.tables import (
    alert_events,
    alert_outbox,
    alert_recipients,
    alert_rules,
    alert_silences,
    alert_states,
)

Origin = Literal["file", "api"]
Transition = Literal[
    "pending", "firing", "resolved", "inactive", "reminder", "acknowledged", "undelivered"
]


class RuleNotFound(RegistryError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"alert rule {name!r} not found")


class RuleExists(RegistryError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"alert rule {name!r} already exists")


class AlertNotFound(RegistryError):
    def __init__(self, rule: str, subject: str) -> None:
        super().__init__(f"no alert of rule {rule!r} for {subject!r} is pending or firing")


class SilenceNotFound(RegistryError):
    def __init__(self, silence_id: str) -> None:
        super().__init__(f"silence {silence_id!r} not found")


@dataclass(frozen=True)
class StoredRule:
    rule: Rule
    origin: Origin
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AlertState:
    """A rule and subject (a sensor id, or a platform part) that is pending or firing.
    Inactive ones have no row; `info` holds what messages and the API show of the subject."""

    rule: str
    subject: str
    state: Literal["pending", "firing"]
    since_ns: int  # the condition has held since
    firing_ns: int | None = None
    value: float | None = None
    notified_ns: int | None = None  # the last firing or reminder message
    ack_by: str | None = None
    ack_at: datetime | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One line of the history."""

    time_ns: int
    rule: str
    subject: str
    transition: Transition
    severity: str
    value: float | None
    text_th: str
    text_en: str
    silenced: bool = False
    by: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class NewNotice:
    """A message to queue: `key` is made here, once."""

    channel: Channel
    address: str
    subject: str
    text: str
    payload: dict[str, Any]
    key: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Silence:
    """Mutes delivery (the history is kept) of the alerts it matches until `ends_at`: every
    given matcher must match (rule, subject, each label)."""

    id: str
    rule: str | None
    subject: str | None
    labels: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime

    def matches(self, rule: Rule, subject: str, at: datetime) -> bool:
        return (
            self.starts_at <= at < self.ends_at
            and self.rule in (None, rule.name)
            and self.subject in (None, subject)
            and all(rule.labels.get(k) == v for k, v in self.labels.items())
        )


@dataclass(frozen=True)
class LoadResult:
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    kept: list[str]  # changed through the API since: the file does not overwrite them
    recipients: int


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


class AlertStore:
    """The alerts' part of the registry database (`Registry.engine`)."""

    def __init__(self, registry: Registry) -> None:
        self._engine = registry.engine

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise RegistryError(f"alerts database error: {exc}") from exc

    # --- rules and recipients -------------------------------------------------------------

    def rules(self) -> list[StoredRule]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(alert_rules).order_by(alert_rules.c.name)).all()
        return [_stored(r) for r in rows]

    def rule(self, name: str) -> StoredRule:
        with self._tx() as conn:
            row = conn.execute(sa.select(alert_rules).where(alert_rules.c.name == name)).first()
        if row is None:
            raise RuleNotFound(name)
        return _stored(row)

    def create_rule(self, rule: Rule, origin: Origin = "api") -> StoredRule:
        now = datetime.now(UTC)
        try:
            with self._tx() as conn:
                conn.execute(sa.insert(alert_rules).values(**_rule_row(rule, origin, now, now)))
        except IntegrityError:
            raise RuleExists(rule.name) from None
        return self.rule(rule.name)

    def update_rule(self, rule: Rule, origin: Origin = "api") -> StoredRule:
        """Replace the rule of that name; its alerts keep their state."""
        now = datetime.now(UTC)
        with self._tx() as conn:
            row = _rule_row(rule, origin, now, now)
            del row["created_at"]
            done = conn.execute(
                sa.update(alert_rules).where(alert_rules.c.name == rule.name).values(**row)
            )
        if done.rowcount == 0:
            raise RuleNotFound(rule.name)
        return self.rule(rule.name)

    def set_enabled(self, name: str, enabled: bool) -> StoredRule:
        stored = self.rule(name)
        return self.update_rule(stored.rule.model_copy(update={"enabled": enabled}))

    def recipients(self) -> dict[str, Recipient]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(alert_recipients)).all()
        return {r.name: Recipient.model_validate(r.spec) for r in rows}

    def load(self, file: RuleFile) -> LoadResult:
        """Make the database hold the file's recipients and rules. A rule changed through the
        API since it was loaded (origin api) is kept as it is; file rules no longer in the
        file are removed (the evaluation ends their alerts)."""
        now = datetime.now(UTC)
        added, updated, unchanged, removed, kept = [], [], [], [], []
        with self._tx() as conn:
            conn.execute(sa.delete(alert_recipients))
            for name, who in file.recipients.items():
                spec = who.model_dump(mode="json")
                conn.execute(
                    sa.insert(alert_recipients).values(name=name, spec=spec, updated_at=now)
                )
            existing = {r.name: r for r in conn.execute(sa.select(alert_rules)).all()}
            for rule in file.rules:
                row = existing.pop(rule.name, None)
                if row is None:
                    conn.execute(sa.insert(alert_rules).values(**_rule_row(rule, "file", now, now)))
                    added.append(rule.name)
                elif row.origin == "api":
                    kept.append(rule.name)
                elif row.spec == rule_data(rule):
                    unchanged.append(rule.name)
                else:
                    values = _rule_row(rule, "file", row.created_at, now)
                    conn.execute(
                        sa.update(alert_rules)
                        .where(alert_rules.c.name == rule.name)
                        .values(**values)
                    )
                    updated.append(rule.name)
            for name, row in existing.items():
                if row.origin == "file":
                    # its alerts end at the next evaluation, in the history and InfluxDB
                    conn.execute(sa.delete(alert_rules).where(alert_rules.c.name == name))
                    removed.append(name)
        return LoadResult(added, updated, unchanged, removed, kept, len(file.recipients))

    # --- states, history -------------------------------------------------------------------

    def states(self) -> dict[tuple[str, str], AlertState]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(alert_states)).all()
        return {(r.rule, r.subject): _state(r) for r in rows}

    def apply(
        self,
        changed: Sequence[AlertState],
        ended: Sequence[tuple[str, str]],
        events: Sequence[Event],
        notices: Sequence[NewNotice],
        now_ns: int,
    ) -> list[Event]:
        """One cycle's outcome in one transaction: states written or ended, events kept,
        notices queued; each kind of row in one statement (a haze over a thousand stations is
        thousands of rows). Returns the events."""
        gone = [*ended, *((s.rule, s.subject) for s in changed)]
        with self._tx() as conn:
            if gone:
                delete = sa.delete(alert_states).where(
                    alert_states.c.rule == sa.bindparam("r"),
                    alert_states.c.subject == sa.bindparam("s"),
                )
                conn.execute(delete, [{"r": r, "s": subject} for r, subject in gone])
            if changed:
                conn.execute(sa.insert(alert_states), [_state_row(s) for s in changed])
            if events:
                conn.execute(sa.insert(alert_events), [_event_row(e) for e in events])
            if notices:
                conn.execute(sa.insert(alert_outbox), [_notice_row(n, now_ns) for n in notices])
        return list(events)

    def acknowledge(self, rule: str, subject: str, by: str, now_ns: int) -> AlertState:
        """Mark an alert seen by `by` (an operator): kept in its state and in the history."""
        at = datetime.fromtimestamp(now_ns / 1e9, UTC)
        with self._tx() as conn:
            key = (alert_states.c.rule == rule, alert_states.c.subject == subject)
            row = conn.execute(sa.select(alert_states).where(*key)).first()
            if row is None:
                raise AlertNotFound(rule, subject)
            conn.execute(sa.update(alert_states).where(*key).values(ack_by=by, ack_at=at))
            severity = str(row.info.get("severity", ""))
            text = f"acknowledged by {by}"
            _insert_event(
                conn,
                Event(
                    now_ns,
                    rule,
                    subject,
                    "acknowledged",
                    severity,
                    row.value,
                    f"รับทราบโดย {by}",
                    text,
                    by=by,
                ),
            )
            row = conn.execute(sa.select(alert_states).where(*key)).one()
        return _state(row)

    def history(
        self,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        rule: str | None = None,
        subject: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Events newest first; page on with `before_id` (the last id of the previous page)."""
        q = sa.select(alert_events).order_by(alert_events.c.id.desc()).limit(limit)
        for column, value, test in (
            (alert_events.c.time_ns, since_ns, "ge"),
            (alert_events.c.time_ns, until_ns, "lt"),
            (alert_events.c.rule, rule, "eq"),
            (alert_events.c.subject, subject, "eq"),
            (alert_events.c.id, before_id, "lt"),
        ):
            if value is not None:
                q = q.where(
                    column >= value
                    if test == "ge"
                    else column < value
                    if test == "lt"
                    else column == value
                )
        with self._tx() as conn:
            return [_event(r) for r in conn.execute(q).all()]

    # --- silences --------------------------------------------------------------------------

    def add_silence(
        self,
        *,
        ends_at: datetime,
        reason: str,
        created_by: str,
        rule: str | None = None,
        subject: str | None = None,
        labels: Mapping[str, str] | None = None,
        starts_at: datetime | None = None,
    ) -> Silence:
        now = datetime.now(UTC)
        silence = Silence(
            uuid.uuid4().hex,
            rule,
            subject,
            dict(labels or {}),
            _utc(starts_at or now),
            _utc(ends_at),
            reason,
            created_by,
            now,
        )
        with self._tx() as conn:
            conn.execute(sa.insert(alert_silences).values(**vars(silence)))
        return silence

    def silences(self, active_at: datetime | None = None) -> list[Silence]:
        """Every silence, or those in force at `active_at`; newest first."""
        q = sa.select(alert_silences).order_by(alert_silences.c.created_at.desc())
        if active_at is not None:  # the ended ones, which pile up, stay in the database
            q = q.where(alert_silences.c.ends_at > active_at)
        with self._tx() as conn:
            found = [_silence(r) for r in conn.execute(q).all()]
        if active_at is None:
            return found
        return [s for s in found if s.starts_at <= active_at < s.ends_at]

    def end_silence(self, silence_id: str, at: datetime | None = None) -> Silence:
        at = at or datetime.now(UTC)
        with self._tx() as conn:
            key = alert_silences.c.id == silence_id
            row = conn.execute(sa.select(alert_silences).where(key)).first()
            if row is None:
                raise SilenceNotFound(silence_id)
            if _utc(row.ends_at) > at:
                conn.execute(sa.update(alert_silences).where(key).values(ends_at=at))
            row = conn.execute(sa.select(alert_silences).where(key)).one()
        return _silence(row)

    # --- outbox (alerts.dispatch.Outbox) ------------------------------------------------------

    def due(self, channel: Channel, now_ns: int, limit: int) -> list[Notice]:
        q = (
            sa.select(alert_outbox)
            .where(
                alert_outbox.c.status == "pending",
                alert_outbox.c.channel == channel,
                alert_outbox.c.next_ns <= now_ns,
            )
            .order_by(alert_outbox.c.id)
            .limit(limit)
        )
        with self._tx() as conn:
            return [_notice(r) for r in conn.execute(q).all()]

    def sent(self, notice_id: int, now_ns: int) -> None:
        self._finish(notice_id, status="sent", done_ns=now_ns)

    def retry(self, notice_id: int, next_ns: int, error: str) -> None:
        with self._tx() as conn:
            conn.execute(
                sa.update(alert_outbox)
                .where(alert_outbox.c.id == notice_id)
                .values(attempts=alert_outbox.c.attempts + 1, next_ns=next_ns, error=error[:2000])
            )

    def give_up(
        self, notice_id: int, status: Literal["failed", "quota"], error: str, now_ns: int
    ) -> None:
        self._finish(notice_id, status=status, done_ns=now_ns, error=error[:2000])

    def _finish(self, notice_id: int, **values: Any) -> None:
        with self._tx() as conn:
            conn.execute(
                sa.update(alert_outbox)
                .where(alert_outbox.c.id == notice_id)
                .values(attempts=alert_outbox.c.attempts + 1, **values)
            )

    def notices(self, status: str | None = None, limit: int = 1000) -> list[tuple[str, Notice]]:
        """Outbox entries (status, notice), oldest first."""
        q = sa.select(alert_outbox).order_by(alert_outbox.c.id).limit(limit)
        if status is not None:
            q = q.where(alert_outbox.c.status == status)
        with self._tx() as conn:
            return [(r.status, _notice(r)) for r in conn.execute(q).all()]


def _rule_row(rule: Rule, origin: Origin, created: datetime, updated: datetime) -> dict[str, Any]:
    return {
        "name": rule.name,
        "spec": rule_data(rule),
        "enabled": rule.enabled,
        "origin": origin,
        "created_at": created,
        "updated_at": updated,
    }


def _stored(row: Any) -> StoredRule:
    rule = rule_from({**row.spec, "enabled": row.enabled})
    return StoredRule(rule, row.origin, _utc(row.created_at), _utc(row.updated_at))


def _state_row(state: AlertState) -> dict[str, Any]:
    return {k: getattr(state, k) for k in AlertState.__dataclass_fields__}


def _state(row: Any) -> AlertState:
    values = dict(row._mapping)
    if values["ack_at"] is not None:
        values["ack_at"] = _utc(values["ack_at"])
    return AlertState(**values)


def _event_row(event: Event) -> dict[str, Any]:
    return {k: getattr(event, k) for k in Event.__dataclass_fields__ if k != "id"}


def _insert_event(conn: Connection, event: Event) -> Event:
    values = _event_row(event)
    done = conn.execute(sa.insert(alert_events).values(**values))
    key = done.inserted_primary_key
    return Event(**values, id=int(key[0]) if key else None)


def _event(row: Any) -> Event:
    return Event(**dict(row._mapping))


def _silence(row: Any) -> Silence:
    values = dict(row._mapping)
    for name in ("starts_at", "ends_at", "created_at"):
        values[name] = _utc(values[name])
    return Silence(**values)


def _notice_row(notice: NewNotice, now_ns: int) -> dict[str, Any]:
    return {
        "created_ns": now_ns,
        "channel": notice.channel,
        "address": notice.address,
        "subject": notice.subject[:500],
        "text": notice.text,
        "payload": notice.payload,
        "key": notice.key,
        "status": "pending",
        "attempts": 0,
        "next_ns": now_ns,
        "error": "",
        "done_ns": None,
    }


def _notice(row: Any) -> Notice:
    return Notice(
        id=row.id,
        channel=row.channel,
        address=row.address,
        subject=row.subject,
        text=row.text,
        payload=row.payload,
        key=row.key,
        attempts=row.attempts,
        created_ns=row.created_ns,
    )
