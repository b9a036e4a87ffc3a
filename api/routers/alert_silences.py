"""Silences: mute the delivery of matching alerts until an end time, with a reason; the
history is kept (docs/alerts.md)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from api.auth import OperatorAccess, ReadAccess
from api.deps import AlertStoreDep as StoreDep
from api.params import MAX_NS, MIN_NS, moment, problem, refuse
from api.problems import problem_responses
from citydata.alerts.rules import RuleName
from citydata.alerts.store import (
    Silence,
    SilenceNotFound,
)
from citydata.timeutil import as_datetime

router = APIRouter(prefix="/alerts", tags=["alerts"])
DateTimeText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]

# --- silences ------------------------------------------------------------------------------

SILENCE_EXAMPLE: dict[str, Any] = {
    "rule": "sensor-offline",
    "subject": "lp-air-03",
    "ends_at": "2026-02-01T10:00:00+07:00",
    "reason": "เปลี่ยนแบตเตอรี่ / battery replacement",
}


class NewSilence(BaseModel):
    """Mute delivery (the history is kept) of the alerts matching every matcher given: `rule`,
    `subject`, each of `labels`; at least one is needed. `ends_at` must be in the future."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [SILENCE_EXAMPLE]}
    )

    rule: RuleName | None = None
    subject: str | None = Field(None, min_length=1, max_length=200)
    labels: dict[
        Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,31}$")],
        Annotated[str, Field(max_length=200)],
    ] = Field(default_factory=dict)
    starts_at: DateTimeText | None = Field(None, description="RFC 3339; default now")
    ends_at: DateTimeText = Field(description="RFC 3339, in the future")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


SILENCE_VIEW_EXAMPLE: dict[str, Any] = {
    "id": "5b0f3c2a9d7e4f61a8c2b3d4e5f60718",
    **SILENCE_EXAMPLE,
    "labels": {},
    "starts_at": "2026-02-01T02:00:00Z",
    "ends_at": "2026-02-01T03:00:00Z",
    "created_by": "control room",
    "created_at": "2026-02-01T02:00:00Z",
    "active": True,
}


class SilenceView(BaseModel):
    """A silence, and whether it is in force now."""

    model_config = ConfigDict(json_schema_extra={"examples": [SILENCE_VIEW_EXAMPLE]})

    id: str
    rule: str | None
    subject: str | None
    labels: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    active: bool


class SilenceList(BaseModel):
    """Silences, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [SILENCE_VIEW_EXAMPLE]}]})

    items: list[SilenceView]


def _silence(silence: Silence, now: datetime) -> SilenceView:
    active = silence.starts_at <= now < silence.ends_at
    return SilenceView(**vars(silence), active=active)


@router.get("/silences", response_model=SilenceList, responses=problem_responses(401, 403, 422))
def list_silences(
    store: StoreDep,
    _: ReadAccess,
    active: Annotated[
        bool | None, Query(description="true: only those in force now; false: only the others")
    ] = None,
) -> SilenceList:
    """Every silence, newest first, ended ones too."""
    now = datetime.now(UTC)
    views = [_silence(s, now) for s in store.silences()]
    return SilenceList(items=[v for v in views if active in (None, v.active)])


def _moment(text: str | None, field: str, problems: list[dict[str, Any]]) -> int | None:
    """A time of the body as epoch ns, one that a timestamp holds (UTC years 1 to 9999)."""
    ns = moment(text, ("body", field), problems)
    if ns is not None and not MIN_NS <= ns <= MAX_NS:
        problems.append(
            problem(("body", field), "must be a time between the years 1 and 9999 (UTC)")
        )
        return None
    return ns


@router.post(
    "/silences",
    status_code=201,
    response_model=SilenceView,
    responses=problem_responses(400, 401, 403, 422),
)
def create_silence(
    body: NewSilence, store: StoreDep, response: Response, who: OperatorAccess
) -> SilenceView:
    """Silence matching alerts until `ends_at` (from `starts_at`, default now): their
    transitions are kept in the history, marked silenced, and no message is sent."""
    problems: list[dict[str, Any]] = []
    starts_ns = _moment(body.starts_at, "starts_at", problems)
    ends_ns = _moment(body.ends_at, "ends_at", problems)
    if ends_ns is not None:
        if ends_ns <= time.time_ns():
            problems.append(problem(("body", "ends_at"), "must be in the future"))
        elif starts_ns is not None and ends_ns <= starts_ns:
            problems.append(problem(("body", "ends_at"), "must be after starts_at"))
    if body.rule is None and body.subject is None and not body.labels:
        problems.append(problem(("body",), "give at least one matcher: rule, subject or labels"))
    refuse(problems)
    assert ends_ns is not None
    silence = store.add_silence(
        ends_at=as_datetime(ends_ns),
        reason=body.reason,
        created_by=who.name,
        rule=body.rule,
        subject=body.subject,
        labels=body.labels,
        starts_at=None if starts_ns is None else as_datetime(starts_ns),
    )
    response.headers["Location"] = f"/alerts/silences/{silence.id}"
    return _silence(silence, datetime.now(UTC))


@router.delete(
    "/silences/{silence_id}", response_model=SilenceView, responses=problem_responses(401, 403, 404)
)
def end_silence(silence_id: str, store: StoreDep, _: OperatorAccess) -> SilenceView:
    """End a silence now (it stays listed, ended); a 404 problem when there is none with this
    id. Ending an ended one changes nothing."""
    now = datetime.now(UTC)
    try:
        return _silence(store.end_silence(silence_id, now), now)
    except SilenceNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
