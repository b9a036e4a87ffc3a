"""Alerts: what is pending or firing now, the history, acknowledgements, the rules, the
recipients and silences. The alerts service evaluates the rules; this router reads and writes
the alerts' tables through `citydata.alerts.store.AlertStore`.

A rule sent here is checked by `citydata.alerts.rules.rule_from`, as the rules file is, and
its recipients must exist: a 422 lists every problem at its place (`body.for`,
`body.recipients.0`). Rules created or changed here have origin "api": loading the rules file
again does not overwrite them.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from api.auth import OperatorAccess, ReadAccess
from api.deps import RegistryDep
from api.problems import problem_responses
from citydata.alerts.notice import CHANNELS, Channel
from citydata.alerts.rules import (
    Duration,
    Lang,
    Names,
    Rule,
    RuleName,
    RulesError,
    Severity,
    check_references,
    rule_data,
    rule_from,
)
from citydata.alerts.store import (
    AlertNotFound,
    AlertState,
    AlertStore,
    Event,
    Origin,
    RuleExists,
    RuleNotFound,
    Silence,
    SilenceNotFound,
    StoredRule,
    Transition,
)
from citydata.timeutil import as_datetime, parse_rfc3339

router = APIRouter(prefix="/alerts", tags=["alerts"])


def get_store(registry: RegistryDep) -> AlertStore:
    return AlertStore(registry)


StoreDep = Annotated[AlertStore, Depends(get_store)]
DateTimeText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]

# --- the alerts now, the history -----------------------------------------------------------

INT64 = 2**63 - 1
MIN_NS = int(datetime(1, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
MAX_NS = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp() + 1) * 1_000_000_000 - 1
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


class Alert(BaseModel):
    """A rule and subject (a sensor id, or a platform part) whose condition holds: pending
    until it has held for the rule's `for`, then firing. The subject's names and the rendered
    message are what the alerts service last wrote (null when it wrote none)."""

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


class AlertList(BaseModel):
    """The alerts pending or firing now, critical first, then the oldest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [ALERT_EXAMPLE]}]})

    items: list[Alert]


def _alert(state: AlertState, rules: dict[str, StoredRule]) -> Alert:
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


def _alert_order(alert: Alert) -> tuple[int, datetime]:
    return SEVERITY_RANK.get(alert.severity or "", len(SEVERITY_RANK)), alert.since


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
    rules = {r.rule.name: r for r in store.rules()}
    alerts = [_alert(s, rules) for s in store.states().values()]
    alerts = [
        a
        for a in alerts
        if state in (None, a.state) and severity in (None, a.severity) and rule in (None, a.rule)
    ]
    return AlertList(items=sorted(alerts, key=_alert_order))


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


def _time(text: str | None, loc: tuple[str, ...], problems: list[dict[str, Any]]) -> int | None:
    """`text` as epoch ns; a problem at `loc` when it is not an RFC 3339 time with a zone."""
    if text is None:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        problems.append({"loc": loc, "msg": str(exc), "type": "value_error"})
        return None


def _int64(ns: int | None) -> int | None:
    """`ns` within what the database holds (years 1678 to 2261)."""
    return None if ns is None else min(max(ns, -INT64), INT64)


def _refuse(problems: list[dict[str, Any]]) -> None:
    if problems:
        raise RequestValidationError(problems)


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
    since_ns = _time(since, ("query", "since"), problems)
    until_ns = _time(until, ("query", "until"), problems)
    _refuse(problems)
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
    return _alert(state, {r.rule.name: r for r in store.rules()})


# --- rules ---------------------------------------------------------------------------------

_DURATION_CHECK = get_args(Duration)[1].func
_NAMES_CHECK = get_args(Names)[1].func
DURATION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\s*(0|([0-9]+(\.[0-9]+)?[smhdwSMHDW])+)\s*$",
    "description": "a duration: a number and a unit s, m, h, d or w (30m, 1h30m), or seconds",
}


class _RuleInputSchema(GenerateJsonSchema):
    """A rule as it is sent: durations as text or seconds, one name or a list where either
    is read."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        check = schema["function"]["function"]
        inner = super().function_before_schema(schema)
        if check is _DURATION_CHECK:
            return {"anyOf": [DURATION_SCHEMA, {"type": "number", "minimum": 0}]}
        if check is _NAMES_CHECK:
            return {"anyOf": [{"type": "string"}, inner]}
        return inner


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with every `#/$defs/...` reference replaced by its definition (OpenAPI would
    look for them at the document's root)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def rule_input_schema() -> dict[str, Any]:
    """The JSON schema of a rule as POST and PUT take it."""
    schema = Rule.model_json_schema(by_alias=True, schema_generator=_RuleInputSchema)
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined


# From deploy/alerts.yaml.
RULE_EXAMPLE: dict[str, Any] = {
    "name": "pm25-hour-high",
    "title_th": "ฝุ่น PM2.5 เฉลี่ย 1 ชั่วโมงสูง",
    "title_en": "PM2.5 one-hour mean high",
    "select": {"kind": "air"},
    "value": {"metric": "pm25", "aggregate": "mean_1h"},
    "when": {"op": ">", "value": 75},
    "clear": {"op": "<", "value": 60},
    "for": "5m",
    "severity": "warning",
    "labels": {"team": "health"},
    "message_th": "{name}: PM2.5 เฉลี่ย 1 ชั่วโมง {value} {unit}",
    "message_en": "{name}: PM2.5 one-hour mean {value} {unit}",
    "recipients": ["health"],
    "repeat": "3h",
}
INDEX_RULE_EXAMPLE: dict[str, Any] = {
    "name": "river-warning",
    "title_th": "ระดับน้ำถึงระดับเตือนภัย",
    "title_en": "River at warning level",
    "select": {"kind": "water"},
    "value": {"index": "water_margin", "threshold": "warning"},
    "when": {"op": ">=", "value": 0},
    "clear": {"op": "<", "value": -0.05},
    "message_th": "{name}: {detail}",
    "message_en": "{name}: {detail}",
    "recipients": ["disaster"],
    "repeat": "3h",
}
RULE_EXAMPLES: dict[str, Example] = {
    "metric": {"summary": "a metric's one-hour mean, with hysteresis", "value": RULE_EXAMPLE},
    "index": {
        "summary": "a station judgment: the river's warning line",
        "value": INDEX_RULE_EXAMPLE,
    },
}
RuleBody = Annotated[
    dict[str, Any],
    Body(
        description="A rule as in the rules file (docs/alerts.md), in JSON.",
        openapi_examples=RULE_EXAMPLES,
    ),
    WithJsonSchema(rule_input_schema()),
]


class RuleView(Rule):
    """A rule as stored: its fields (defaults left out), whether it is enabled, and where it
    came from: "file" (loaded from the rules file) or "api" (created or changed here)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **RULE_EXAMPLE,
                    "enabled": True,
                    "origin": "api",
                    "created_at": "2026-01-05T03:00:00Z",
                    "updated_at": "2026-01-05T03:00:00Z",
                }
            ]
        }
    )

    enabled: bool
    origin: Origin
    created_at: datetime
    updated_at: datetime


class RuleList(BaseModel):
    """Every rule, by name."""

    items: list[RuleView]


def _view(stored: StoredRule) -> RuleView:
    return RuleView.model_validate(
        rule_data(stored.rule)
        | {
            "origin": stored.origin,
            "created_at": stored.created_at,
            "updated_at": stored.updated_at,
        }
    )


# Where a problem line of the rules' checks splits: "; " before the next field's place.
_FIELDS = "|".join(re.escape(f.alias or n) for n, f in Rule.model_fields.items())
_NEXT_PLACE = re.compile(rf"; (?=(?:{_FIELDS})(?:[.\[][^:;]*)?: )")
_PLACED = re.compile(rf"^((?:{_FIELDS})(?:[.\[][^:]*)?): (.*)$", re.DOTALL)
_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def _error(place: str | None, msg: str) -> dict[str, Any]:
    """An error at `place` of the body (`value.metric`, `recipients[0]`; None: the body)."""
    parts = _PART.findall(place or "")
    loc = ("body", *(int(n) if n else name for n, name in parts))
    return {"loc": loc, "msg": msg, "type": "value_error"}


def _errors(line: str) -> list[dict[str, Any]]:
    """A problem line of the rules' checks (`for: must be ...`) as errors with their `loc`.
    The check of a rule as a whole says `file: a: ...; b: ...`: one error per place."""
    place, _, msg = line.partition(": ")
    if place != "file":
        return [_error(place, msg)]
    out = []
    for part in _NEXT_PLACE.split(msg):
        placed = _PLACED.match(part)
        out.append(_error(*placed.groups()) if placed else _error(None, part))
    return out


SERVER_FIELDS = ("origin", "created_at", "updated_at")


def _judgeable(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`data` as rule_from can judge it, and the problems found on the way. rule_from raises
    TypeError (not RulesError) for a value, when or clear that is not an object (its union tags
    read any value as one) and for a message that is not text (its template check parses any
    value): until it refuses them itself, the former become {} (which it refuses with its own
    message) and the latter are refused here. The server's own fields of an answer, sent
    back, are refused as such."""
    untexts = [k for k in ("message_th", "message_en") if not isinstance(data.get(k, ""), str)]
    unions = [k for k in ("value", "when", "clear") if data.get(k) is not None]
    swapped: dict[str, Any] = {k: {} for k in unions if not isinstance(data[k], dict)}
    servers = [k for k in SERVER_FIELDS if k in data]
    problems = [f"{k}: must be text" for k in untexts]
    problems += [f"{k}: is set by the server; leave it out" for k in servers]
    judged = data | swapped | dict.fromkeys(untexts, "-")
    return {k: v for k, v in judged.items() if k not in servers}, problems


def _checked(data: dict[str, Any], store: AlertStore, name: str | None = None) -> Rule:
    """The rule in `data`, or a 422 listing every problem: its own, unknown recipients, and a
    name other than the path's `name`."""
    judged, lines = _judgeable(data)
    rule = None
    try:
        rule = rule_from(judged)
    except RulesError as exc:
        lines += exc.problems
    recipients = data.get("recipients")
    if isinstance(recipients, list) and all(isinstance(r, str) for r in recipients):
        # checked even when the rule has other problems, so that one answer lists them all
        named = Rule.model_construct(name=str(data.get("name")), recipients=recipients)
        found = check_references([named], store.recipients())
        lines += [p.removeprefix("rules[0].") for p in found]
    problems = [e for line in lines for e in _errors(line)]
    if name is not None and data.get("name") != name:
        problems.append(
            _error("name", f"must be {name!r}, the name in the path (a rule cannot be renamed)")
        )
    _refuse(problems)
    assert rule is not None
    return rule


def _stored(store: AlertStore, name: str) -> StoredRule:
    try:
        return store.rule(name)
    except RuleNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None


@router.get(
    "/rules",
    response_model=RuleList,
    response_model_exclude_defaults=True,
    responses=problem_responses(401, 403),
)
def list_rules(store: StoreDep, _: ReadAccess) -> RuleList:
    """Every rule, by name, enabled or not."""
    return RuleList(items=[_view(r) for r in store.rules()])


@router.get(
    "/rules/{name}",
    response_model=RuleView,
    response_model_exclude_defaults=True,
    responses=problem_responses(401, 403, 404),
)
def get_rule(name: str, store: StoreDep, _: ReadAccess) -> RuleView:
    """One rule; a 404 problem when there is none of this name."""
    return _view(_stored(store, name))


@router.post(
    "/rules",
    status_code=201,
    response_model=RuleView,
    response_model_exclude_defaults=True,
    responses=problem_responses(400, 401, 403, 409, 422),
)
def create_rule(body: RuleBody, store: StoreDep, response: Response, _: OperatorAccess) -> RuleView:
    """Add a rule: checked as the rules file is (a 422 lists every problem at its place), its
    recipients must exist (they come from the rules file); a 409 problem when the name is
    taken. The alerts service judges it from its next cycle."""
    rule = _checked(body, store)
    try:
        stored = store.create_rule(rule, origin="api")
    except RuleExists as exc:
        raise HTTPException(409, detail=str(exc)) from None
    response.headers["Location"] = f"/alerts/rules/{rule.name}"
    return _view(stored)


@router.put(
    "/rules/{name}",
    response_model=RuleView,
    response_model_exclude_defaults=True,
    responses=problem_responses(400, 401, 403, 404, 422),
)
def replace_rule(name: str, body: RuleBody, store: StoreDep, _: OperatorAccess) -> RuleView:
    """Replace a rule as a whole (the body's `name` must be the path's); its alerts keep their
    state. Its origin becomes "api", so loading the rules file again leaves it as it is."""
    _stored(store, name)
    return _view(store.update_rule(_checked(body, store, name), origin="api"))


class RuleSwitch(BaseModel):
    """Turn a rule off (its alerts end at the next cycle) or on again."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"enabled": False}]}
    )

    enabled: bool


@router.patch(
    "/rules/{name}",
    response_model=RuleView,
    response_model_exclude_defaults=True,
    responses=problem_responses(400, 401, 403, 404, 422),
)
def switch_rule(name: str, body: RuleSwitch, store: StoreDep, _: OperatorAccess) -> RuleView:
    """Disable or enable a rule: `{"enabled": false}`. Its origin becomes "api"."""
    try:
        return _view(store.set_enabled(name, body.enabled))
    except RuleNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None


# --- recipients ----------------------------------------------------------------------------


class RecipientView(BaseModel):
    """Who gets a rule's messages, in which language(s), on which channels."""

    name: str
    lang: Lang
    channels: list[Channel]
    line: list[str]
    email: list[str]
    webhook: list[str]


class RecipientList(BaseModel):
    """Every recipient of the rules file, by name."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "name": "engineers",
                            "lang": "both",
                            "channels": ["email", "webhook"],
                            "line": [],
                            "email": ["engineers@lamphaya.example"],
                            "webhook": ["https://hooks.lamphaya.example/citydata"],
                        }
                    ]
                }
            ]
        }
    )

    items: list[RecipientView]


@router.get("/recipients", response_model=RecipientList, responses=problem_responses(401, 403))
def list_recipients(store: StoreDep, _: OperatorAccess) -> RecipientList:
    """The recipients the rules may name, with their addresses (personal data: operator key).
    They come from the rules file (`citydata alerts load`)."""
    items = []
    for name, who in sorted(store.recipients().items()):
        addresses = {c: list(getattr(who, c)) for c in CHANNELS}
        channels = [c for c in CHANNELS if addresses[c]]
        items.append(RecipientView(name=name, lang=who.lang, channels=channels, **addresses))
    return RecipientList(items=items)


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


class SilenceView(BaseModel):
    """A silence, and whether it is in force now."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0f3c2a9d7e4f61a8c2b3d4e5f60718",
                    **SILENCE_EXAMPLE,
                    "labels": {},
                    "starts_at": "2026-02-01T02:00:00Z",
                    "ends_at": "2026-02-01T03:00:00Z",
                    "created_by": "control room",
                    "created_at": "2026-02-01T02:00:00Z",
                    "active": True,
                }
            ]
        }
    )

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
    ns = _time(text, ("body", field), problems)
    if ns is not None and not MIN_NS <= ns <= MAX_NS:
        problems.append(_error(field, "must be a time between the years 1 and 9999 (UTC)"))
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
            problems.append(_error("ends_at", "must be in the future"))
        elif starts_ns is not None and ends_ns <= starts_ns:
            problems.append(_error("ends_at", "must be after starts_at"))
    if body.rule is None and body.subject is None and not body.labels:
        problems.append(_error(None, "give at least one matcher: rule, subject or labels"))
    _refuse(problems)
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
