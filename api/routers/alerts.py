"""Alerts: what is pending or firing now, the history of every change, acknowledgements. The
alerts service evaluates the rules (docs/alerts.md); this router reads the alerts' tables
through `citydata.alerts.store.AlertStore`. Rules: alert_rules.py; silences: alert_silences.py.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from api.auth import OperatorAccess, ReadAccess
from api.deps import AlertStoreDep as StoreDep
from api.params import INT64, moment, refuse
from api.problems import problem_responses
from citydata.alerts.inforce import ALERT_EXAMPLE, Alert, AlertList, alert_of, alerts_in_force
from citydata.alerts.rules import Severity
from citydata.alerts.store import (
    AlertNotFound,
    Event,
    Transition,
)
from citydata.timeutil import as_datetime

router = APIRouter(prefix="/alerts", tags=["alerts"])
DateTimeText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]

# --- the alerts now, the history -----------------------------------------------------------


@router.get("", response_model=AlertList, responses=problem_responses(401, 403, 422))
def list_alerts(
    store: StoreDep,
    _: ReadAccess,
    state: Annotated[
        Literal["pending", "firing"] | None, Query(description="only pending or firing ones")
    ] = None,
    severity: Annotated[Severity | None, Query(description="only this severity")] = None,
    rule: Annotated[str | None, Query(description="only this rule's")] = None,
) -> AlertList:
    """The alerts pending or firing now, critical first, then the oldest first. An alert ends
    (and leaves this list) when its rule's `clear` condition holds."""
    alerts = [
        a
        for a in alerts_in_force(store)
        if state in (None, a.state) and severity in (None, a.severity) and rule in (None, a.rule)
    ]
    return AlertList(items=alerts)


class HistoryEvent(BaseModel):
    """One transition of an alert: pending, firing, resolved, reminder, acknowledged, or
    undelivered (no channel could deliver its message)."""

    id: int = Field(description="increasing; page on with `before`")
    time: datetime
    time_ns: int
    rule: str
    subject: str
    transition: Transition
    severity: str
    value: float | None
    text_th: str
    text_en: str
    silenced: bool = Field(description="a silence matched: no message was sent")
    by: str | None = Field(description="who acknowledged it")


class HistoryPage(BaseModel):
    """Events newest first; `next` is the URL of the next (older) page, null on the last."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 4812,
                            "time": "2026-10-12T02:10:00Z",
                            "time_ns": 1791771000000000000,
                            "rule": "river-warning",
                            "subject": "lp-water-01",
                            "transition": "firing",
                            "severity": "warning",
                            "value": 0.04,
                            "text_th": ALERT_EXAMPLE["text_th"],
                            "text_en": ALERT_EXAMPLE["text_en"],
                            "silenced": False,
                            "by": None,
                        }
                    ],
                    "next": "/alerts/history?limit=1&before=4812",
                }
            ]
        }
    )

    items: list[HistoryEvent]
    next: str | None


def _event(event: Event) -> HistoryEvent:
    return HistoryEvent(
        id=event.id or 0,
        time=as_datetime(event.time_ns),
        **{k: v for k, v in vars(event).items() if k != "id"},
    )


def _int64(ns: int | None) -> int | None:
    """`ns` within what the database holds (years 1678 to 2261)."""
    return None if ns is None else min(max(ns, -INT64), INT64)


@router.get("/history", response_model=HistoryPage, responses=problem_responses(401, 403, 422))
def alert_history(
    request: Request,
    store: StoreDep,
    _: ReadAccess,
    since: Annotated[
        DateTimeText | None, Query(description="only at or after this RFC 3339 time")
    ] = None,
    until: Annotated[
        DateTimeText | None, Query(description="only before this RFC 3339 time")
    ] = None,
    rule: Annotated[str | None, Query(description="only this rule's")] = None,
    subject: Annotated[str | None, Query(description="only this subject's (a sensor id)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="events per page")] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=INT64, description="only older than this event id (paging)")
    ] = None,
) -> HistoryPage:
    """The alerts' transitions newest first: every pending, firing, resolved, reminder,
    acknowledged and undelivered event. Follow `next` for older ones."""
    problems: list[dict[str, Any]] = []
    since_ns = moment(since, ("query", "since"), problems)
    until_ns = moment(until, ("query", "until"), problems)
    refuse(problems)
    events = store.history(
        since_ns=_int64(since_ns),
        until_ns=_int64(until_ns),
        rule=rule,
        subject=subject,
        before_id=before,
        limit=limit + 1,
    )
    items = [_event(e) for e in events[:limit]]
    following = None
    if len(events) > limit:
        url = request.url.include_query_params(before=items[-1].id)
        following = f"{url.path}?{url.query}"
    return HistoryPage(items=items, next=following)


@router.post(
    "/{rule}/{subject}/ack", response_model=Alert, responses=problem_responses(401, 403, 404)
)
def acknowledge(rule: str, subject: str, store: StoreDep, who: OperatorAccess) -> Alert:
    """Mark an alert seen, by the operator key's name: shown with the alert, and kept in the
    history as an `acknowledged` event. A 404 problem when it is not pending or firing."""
    try:
        state = store.acknowledge(rule, subject, who.name, time.time_ns())
    except AlertNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    return alert_of(state, {r.rule.name: r for r in store.rules()})
