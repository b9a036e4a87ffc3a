"""Alert rules and their recipients. A rule sent here is checked by
`citydata.alerts.rules.rule_from`, as the rules file is, and its recipients must exist: a 422
lists every problem at its place (`body.for`, `body.recipients.0`). Rules created or changed
here have origin "api": loading the rules file again does not overwrite them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Response
from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, WithJsonSchema

from api.auth import OperatorAccess, ReadAccess
from api.deps import AlertStoreDep as StoreDep
from api.params import problem, refuse
from api.problems import problem_responses
from citydata.alerts.notice import CHANNELS, Channel
from citydata.alerts.rulefile import Lang, rule_data, rule_from, unknown_recipients
from citydata.alerts.rules import Rule, RulesError
from citydata.alerts.schema import rule_input_schema
from citydata.alerts.store import (
    AlertStore,
    Origin,
    RuleExists,
    RuleNotFound,
    StoredRule,
)

router = APIRouter(prefix="/alerts", tags=["alerts"])

# --- rules ---------------------------------------------------------------------------------

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


RULE_VIEW_EXAMPLE: dict[str, Any] = {
    **RULE_EXAMPLE,
    "enabled": True,
    "origin": "api",
    "created_at": "2026-01-05T03:00:00Z",
    "updated_at": "2026-01-05T03:00:00Z",
}


class RuleView(Rule):
    """A rule as stored: its fields (defaults left out), whether it is enabled, and where it
    came from: "file" (loaded from the rules file) or "api" (created or changed here)."""

    model_config = ConfigDict(json_schema_extra={"examples": [RULE_VIEW_EXAMPLE]})

    enabled: bool
    origin: Origin
    created_at: datetime
    updated_at: datetime


class RuleList(BaseModel):
    """Every rule, by name."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [RULE_VIEW_EXAMPLE]}]})

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


SERVER_FIELDS = ("origin", "created_at", "updated_at")


def _checked(data: dict[str, Any], store: AlertStore, name: str | None = None) -> Rule:
    """The rule in `data`, or a 422 listing every problem at its place: the rule's own, its
    unknown recipients, the server's fields sent back, a name other than the path's."""
    problems = [
        problem(("body", k), "is set by the server; leave it out")
        for k in SERVER_FIELDS
        if k in data
    ]
    rule = None
    try:
        rule = rule_from({k: v for k, v in data.items() if k not in SERVER_FIELDS})
    except RulesError as exc:
        problems += [problem(("body", *loc), msg) for loc, msg in exc.located]
    recipients = data.get("recipients")
    if isinstance(recipients, list) and all(isinstance(r, str) for r in recipients):
        # checked even when the rule has other problems, so that one answer lists them all
        problems += [
            problem(("body", "recipients", j), message)
            for j, message in unknown_recipients(recipients, store.recipients())
        ]
    if name is not None and data.get("name") != name:
        problems.append(
            problem(
                ("body", "name"),
                f"must be {name!r}, the name in the path (a rule cannot be renamed)",
            )
        )
    refuse(problems)
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
