"""The alerts in force: each pending or firing (rule, subject) with what the alerts service last
wrote of it (names, message), critical first, then the oldest first. The API's `GET /alerts`
and the public city page both read them here."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from citydata.alerts.store import AlertState, AlertStore, StoredRule
from citydata.timeutil import as_datetime

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
INFO_KEYS = (
    "title_th",
    "title_en",
    "name_th",
    "name_en",
    "kind",
    "zone",
    "site",
    "text_th",
    "text_en",
    "unit",
)


ALERT_EXAMPLE: dict[str, Any] = {
    "rule": "river-warning",
    "subject": "lp-water-01",
    "state": "firing",
    "severity": "warning",
    "since": "2026-10-12T02:10:00Z",
    "firing_since": "2026-10-12T02:10:00Z",
    "value": 0.04,
    "acknowledged_by": None,
    "acknowledged_at": None,
    "title_th": "ระดับน้ำถึงระดับเตือนภัย",
    "title_en": "River at warning level",
    "name_th": "ท่าน้ำวัดลำพญา",
    "name_en": "Wat Lam Phaya pier",
    "kind": "water",
    "zone": "lam-phaya",
    "site": "pier",
    "text_th": "ท่าน้ำวัดลำพญา: ระดับน้ำ 2.04 ม.รทก. สูงกว่าระดับเตือนภัย 0.04 ม.",
    "text_en": "Wat Lam Phaya pier: level 2.04 m MSL, 0.04 m above the warning level",
    "unit": "m",
}


class Alert(BaseModel):
    """A rule and subject (a sensor id, or a platform part) whose condition holds: pending
    until it has held for the rule's `for`, then firing. The subject's names and the rendered
    message are what the alerts service last wrote (null when it wrote none)."""

    model_config = ConfigDict(json_schema_extra={"examples": [ALERT_EXAMPLE]})

    rule: str
    subject: str
    state: Literal["pending", "firing"]
    severity: str | None
    since: datetime = Field(description="the condition has held since")
    firing_since: datetime | None
    value: float | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    title_th: str | None = None
    title_en: str | None = None
    name_th: str | None = None
    name_en: str | None = None
    kind: str | None = None
    zone: str | None = None
    site: str | None = None
    text_th: str | None = None
    text_en: str | None = None
    unit: str | None = None


class AlertList(BaseModel):
    """The alerts pending or firing now, critical first, then the oldest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [ALERT_EXAMPLE]}]})

    items: list[Alert]


def alert_of(state: AlertState, rules: dict[str, StoredRule]) -> Alert:
    info, stored = state.info, rules.get(state.rule)
    shown = {k: str(info[k]) for k in INFO_KEYS if info.get(k) is not None}
    if stored is not None:  # the rule's own, when the service wrote none
        shown.setdefault("title_th", stored.rule.title_th)
        shown.setdefault("title_en", stored.rule.title_en)
    severity = info.get("severity") or (stored.rule.severity if stored else None)
    return Alert(
        rule=state.rule,
        subject=state.subject,
        state=state.state,
        severity=None if severity is None else str(severity),
        since=as_datetime(state.since_ns),
        firing_since=None if state.firing_ns is None else as_datetime(state.firing_ns),
        value=state.value,
        acknowledged_by=state.ack_by,
        acknowledged_at=state.ack_at,
        **shown,
    )


def alert_order(alert: Alert) -> tuple[int, datetime]:
    return SEVERITY_RANK.get(alert.severity or "", len(SEVERITY_RANK)), alert.since


def alerts_in_force(store: AlertStore) -> list[Alert]:
    """Every alert pending or firing now, critical first, then the oldest first."""
    rules = {r.rule.name: r for r in store.rules()}
    return sorted((alert_of(s, rules) for s in store.states().values()), key=alert_order)
