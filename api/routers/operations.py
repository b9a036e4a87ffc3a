"""Operations: the collectors' health figures, the dead-letter list, and replay of dead letters.

Dead letters hold raw payloads, so every route here needs an operator key. A dead letter's id
is a hash of its record (collector.deadletter.record_id): stable while it waits, and usable to
replay exactly that one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import OperatorAccess
from api.deps import InfluxDep, SettingsDep
from api.problems import invalid_input, problem_responses
from api.publisher import Publisher, PublisherDep
from citydata import deadletters
from citydata.deadletters import DeadLetterStore, Selection, record_id
from citydata.influx import InfluxError
from citydata.mqtt import MQTTConnectError
from citydata.readings.collector_health import (
    STALE_INTERVALS,
    CollectorStatus,
    collector_statuses,
)
from citydata.replay import replay, replayable
from citydata.settings import Settings
from citydata.timeutil import as_datetime, parse_rfc3339

router = APIRouter(prefix="/operations", tags=["operations"])


class CollectorHealth(BaseModel):
    """Every collector instance that ever recorded its health, by collector id then host."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "stale_after_s": 30.0,
                    "items": [
                        {
                            "collector": "citydata-collector",
                            "host": "ingest-1",
                            "time": "2026-01-31T07:00:00Z",
                            "age_s": 4.2,
                            "stale": False,
                            "figures": {"received": 1520.0, "written": 1518.0, "queue_depth": 0.0},
                        }
                    ],
                }
            ]
        }
    )

    stale_after_s: float
    items: list[CollectorStatus]


@router.get(
    "/collector", response_model=CollectorHealth, responses=problem_responses(401, 403, 503)
)
def collector_health(
    influx: InfluxDep, settings: SettingsDep, _: OperatorAccess
) -> CollectorHealth:
    """The newest health point of each collector instance (measurement `citydata_collector`,
    tags collector and host). Counters are cumulative since the instance started; figures are
    stale when older than three health intervals (CITYDATA_COLLECTOR_HEALTH_INTERVAL_S)."""
    stale_after = STALE_INTERVALS * settings.collector_health_interval_s
    try:
        items = collector_statuses(influx, stale_after)
    except InfluxError as exc:
        raise HTTPException(503, detail=f"cannot read the collectors' health: {exc}") from exc
    return CollectorHealth(stale_after_s=stale_after, items=items)


class DeadLetter(BaseModel):
    """A message the collector could not store, with why and its raw payload."""

    id: str = Field(description="stable id (hash of the record), for replaying this one")
    time: datetime = Field(description="when the collector first received the message")
    received_ns: int
    topic: str
    reason: str = Field(description="the first problem's code, e.g. unregistered")
    errors: list[str]
    payload: str = Field(
        description="the payload as received; for one over the size limit (too_large), only "
        "its beginning (the first KiB)"
    )
    payload_encoding: str = Field(description="utf-8, or base64 for binary payloads")
    size: int | None = Field(
        None, description="a too_large payload's whole size in bytes; null for the others"
    )
    sha256: str | None = Field(
        None, description="a too_large payload's SHA-256 (hex); null for the others"
    )
    replayable: bool = Field(
        description="false for points InfluxDB refused (they have no MQTT topic to replay to) "
        "and for payloads cut for being too large (only their beginning was kept)"
    )


class DeadLetterPage(BaseModel):
    """One page of dead letters, newest first, with the number matching the filters in all."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "3f9c2a7d51e04b88",
                            "time": "2026-11-25T03:12:08.512000Z",
                            "received_ns": 1795835528512000000,
                            "topic": "sensors/air/lp-air-11",
                            "reason": "unregistered",
                            "errors": [
                                "sensor 'lp-air-11' is not in the registry: add it "
                                "(citydata sensors add) and replay its dead letters"
                            ],
                            "payload": '{"ts": 1795835528, "pm25": 41.0}',
                            "payload_encoding": "utf-8",
                            "size": None,
                            "sha256": None,
                            "replayable": True,
                        }
                    ],
                    "total": 1,
                    "limit": 100,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[DeadLetter]
    total: int
    limit: int
    offset: int


def _dead_letter(rec: deadletters.DeadLetter) -> DeadLetter:
    return DeadLetter(
        id=record_id(rec),
        time=as_datetime(int(rec["received_ns"])),
        received_ns=int(rec["received_ns"]),
        topic=str(rec.get("topic") or ""),
        reason=str(rec.get("reason", "")),
        errors=[str(e) for e in rec.get("errors", [])],
        payload=str(rec.get("payload", "")),
        payload_encoding=str(rec.get("payload_encoding", "utf-8")),
        size=rec.get("size"),
        sha256=rec.get("sha256"),
        replayable=replayable(rec),
    )


def _since(since: str | None, loc: tuple[str, ...]) -> int | None:
    if since is None:
        return None
    try:
        return parse_rfc3339(since)
    except ValueError as exc:
        invalid_input(loc, str(exc))


@router.get(
    "/deadletters", response_model=DeadLetterPage, responses=problem_responses(401, 403, 422)
)
def dead_letters(
    settings: SettingsDep,
    _: OperatorAccess,
    reason: Annotated[list[str], Query(description="only this reason code (repeatable)")] = [],  # noqa: B006
    sensor_id: Annotated[
        list[str],
        Query(description="only about this sensor: last topic level or named in the errors"),
    ] = [],  # noqa: B006
    topic: Annotated[str | None, Query(description="only topics starting with this")] = None,
    since: Annotated[
        str | None,
        Query(
            description="only received at or after this RFC 3339 time (with a zone)",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="dead letters per page")] = 100,
    offset: Annotated[int, Query(ge=0, description="dead letters to skip")] = 0,
) -> DeadLetterPage:
    """Dead letters waiting in the data directory, newest first. Replayed ones have moved to
    deadletter/replayed/ and are not listed."""
    wanted = Selection(
        reasons=reason,
        topic=topic,
        sensors=sensor_id,
        since_ns=_since(since, ("query", "since")),
    )
    items, total = [], 0
    for rec in DeadLetterStore(settings.data_dir).newest_first():
        if wanted(rec):
            if offset <= total < offset + limit:
                items.append(_dead_letter(rec))
            total += 1
    return DeadLetterPage(items=items, total=total, limit=limit, offset=offset)


class ReplayRequest(BaseModel):
    """Which dead letters to replay: every criterion given must hold. An empty filter is
    refused unless `all` is true."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"reason": ["unregistered"], "sensor_id": ["lp-air-07"]}]},
    )

    reason: list[str] = Field(default_factory=list, description="reason codes")
    sensor_id: list[str] = Field(default_factory=list, description="sensor ids")
    topic: str | None = Field(None, description="a topic prefix")
    since: str | None = Field(
        None,
        description="received at or after this RFC 3339 time (with a zone)",
        json_schema_extra={"format": "date-time"},
    )
    ids: list[str] = Field(default_factory=list, description="dead-letter ids from the list")
    all: bool = Field(False, description="needed to replay with no criterion: every one")
    dry_run: bool = Field(False, description="only count what would be replayed")


class ReplayResult(BaseModel):
    """What a replay did: messages republished (and moved to deadletter/replayed/), and matching
    dead letters left alone because they cannot be republished (no MQTT topic)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"replayed": 3, "skipped": 0, "dry_run": False}]}
    )

    replayed: int
    skipped: int
    dry_run: bool = False


def _broker_away(exc: Exception) -> NoReturn:
    raise HTTPException(
        503,
        detail=f"cannot replay through the MQTT broker: {exc}; the dead letters stay",
        headers={"Retry-After": "10"},
    ) from exc


def _replay(
    settings: Settings, publisher: Publisher, wanted: Selection, dry_run: bool
) -> ReplayResult:
    """Replay as `citydata deadletters replay` does: collector.replay publishes each one with
    its first receive time, and moves it only once the broker acknowledged it."""
    matching = [rec for rec in DeadLetterStore(settings.data_dir) if wanted(rec)]
    skipped = sum(1 for rec in matching if not replayable(rec))
    if dry_run or len(matching) == skipped:
        return ReplayResult(replayed=len(matching) - skipped, skipped=skipped, dry_run=dry_run)
    if not publisher.connected:  # answer now rather than after replay's connect timeout
        _broker_away(MQTTConnectError("the API is not connected to it"))
    try:
        replayed = replay(settings, wanted)
    except (ConnectionError, TimeoutError) as exc:  # MQTTConnectError, ReplayRefused
        _broker_away(exc)
    return ReplayResult(replayed=replayed, skipped=skipped)


@router.post(
    "/deadletters/replay",
    response_model=ReplayResult,
    responses=problem_responses(400, 401, 403, 422, 503),
)
def replay_dead_letters(
    body: ReplayRequest, settings: SettingsDep, publisher: PublisherDep, _: OperatorAccess
) -> ReplayResult:
    """Publish the matching dead letters to the broker again, after a sensor was registered or
    a route fixed: the collectors judge them anew, with their first receive time. Those that
    fail again become dead letters again (under the same id when the reason is unchanged)."""
    wanted = Selection(
        reasons=body.reason,
        topic=body.topic,
        sensors=body.sensor_id,
        since_ns=_since(body.since, ("body", "since")),
        ids=frozenset(body.ids),
    )
    if wanted.everything and not body.all:
        invalid_input(
            ("body",),
            "give at least one of reason, sensor_id, topic, since or ids, "
            'or "all": true to replay every dead letter',
        )
    return _replay(settings, publisher, wanted, body.dry_run)


@router.post(
    "/deadletters/{deadletter_id}/replay",
    response_model=ReplayResult,
    responses=problem_responses(401, 403, 404, 503),
)
def replay_dead_letter(
    deadletter_id: str, settings: SettingsDep, publisher: PublisherDep, _: OperatorAccess
) -> ReplayResult:
    """Publish one dead letter to the broker again; a 404 problem when no waiting dead letter
    has this id (it may have been replayed already)."""
    wanted = Selection(ids=frozenset({deadletter_id}))
    if not any(wanted(rec) for rec in DeadLetterStore(settings.data_dir)):
        raise HTTPException(404, detail=f"no dead letter {deadletter_id!r} is waiting")
    return _replay(settings, publisher, wanted, dry_run=False)
