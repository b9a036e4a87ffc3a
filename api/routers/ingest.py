"""Ingestion over HTTP: `POST /ingest/{format}` for devices that cannot speak MQTT.

The body is checked with the collector's own decoder and validation, then published unchanged
at QoS 1 onto the broker, so one pipeline (the collector) stores every reading; the answer (202)
comes only after the broker's PUBACK.

The topic: the first route in CITYDATA_ROUTES with the posted format whose filter, wildcards
filled in, the collector also matches to that same route (first match wins there too). A `+`
level takes the sensor id (the kind at the route's `kind_level`, and for native the level before
the last); `#` takes `{kind}/{sensor_id}` for native and `{sensor_id}` otherwise. So with the
default route `sensors/#`, a native post for air-1 goes to `sensors/air/air-1`, and with the
route `luftdaten/+` a Sensor.Community post goes to `luftdaten/esp8266-15225252`.

Statuses: 202 published; 401 no key or a bad one; 403 a key that may not post for this sensor;
404 unknown format; 413 body over 256 KiB; 422 a bad body (JSON nested deeper than
MAX_JSON_DEPTH levels among them), sensor or kind, or no route for the format (listed in
`errors`); 503 with Retry-After when the broker is not connected, has no
subscriber for the topic, or does not acknowledge in time: send it again. (After a timeout the
broker may still get the message once it answers; it then carries its first receive time, so
only the device's resend can add a second point. Delivery is at least once, as over MQTT.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from paho.mqtt.client import topic_matches_sub
from pydantic import BaseModel, ConfigDict, Field

from api.auth import DeviceAccess
from api.deps import KindName, RegistryDep, SettingsDep
from api.problems import invalid_input, problem_responses
from api.publisher import BrokerUnavailable, PublisherDep
from citydata.decoders import DecodeError, Message, RawReading, all_decoders
from citydata.reading import SENSOR_ID_PATTERN
from citydata.registry import ApiKey, Registry, Role, SensorNotFound
from citydata.routes import Route, apply_field_map
from citydata.settings import Settings
from citydata.validate import Validator

router = APIRouter(prefix="/ingest", tags=["ingest"])

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 16  # the deepest payload of any format (a TTN uplink) nests 6 levels
RETRY_AFTER_S = 10
_VALID_ID = re.compile(SENSOR_ID_PATTERN)
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The payload exactly as the device sends it over MQTT in this format "
        f"(at most {MAX_BODY_BYTES // 1024} KiB).",
        "content": {
            "application/json": {
                "schema": {"anyOf": [{"type": "object"}, {"type": "array", "items": {}}]}
            },
            "text/plain": {"schema": {"type": "string"}},  # line protocol
        },
    }
}


class Accepted(BaseModel):
    """The broker has acknowledged the body; the collector stores its readings."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "published",
                    "topic": "luftdaten/esp8266-15225252",
                    "sensor_ids": ["esp8266-15225252"],
                    "readings": 1,
                    "ignored": ["BME280_pressure", "signal"],
                }
            ]
        }
    )

    status: Literal["published"] = "published"
    topic: str = Field(description="The MQTT topic the body was published on.")
    sensor_ids: list[str]
    readings: int = Field(description="Readings the collector will store.")
    ignored: list[str] = Field(
        description="Names in the body that are not metrics of the kind: not stored."
    )


def _known_format(
    format: Annotated[
        str,
        PathParam(
            description="The payload format: a decoder of the collector.",
            json_schema_extra={"enum": sorted(all_decoders())},
        ),
    ],
) -> str:
    formats = all_decoders()
    if format not in formats:
        raise HTTPException(
            404, detail=f"no payload format {format!r}; formats: {', '.join(sorted(formats))}"
        )
    return format


async def _body(request: Request) -> bytes:
    """The request body, refused with 413 past MAX_BODY_BYTES before it is all read."""
    too_large = HTTPException(
        413, detail=f"the body is larger than {MAX_BODY_BYTES // 1024} KiB; send fewer readings"
    )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def fill_topic(route: Route, sensor_id: str, kind: str | None) -> str | None:
    """The topic of `route`'s filter for this sensor, wildcards filled in; None when the filter
    needs a kind and `kind` is None."""
    native = route.format == "native"
    levels = route.topic.split("/")
    out: list[str | None] = []
    for i, level in enumerate(levels):
        if level == "#":
            out.extend([kind, sensor_id] if native else [sensor_id])
        elif level == "+":
            wants_kind = i == route.kind_level or (native and i == len(levels) - 2)
            out.append(kind if wants_kind else sensor_id)
        else:
            out.append(level)
    parts = [part for part in out if part is not None]
    return "/".join(parts) if len(parts) == len(out) else None


def choose_route(
    routes: Sequence[Route], fmt: str, sensor_id: str, kind: str | None
) -> tuple[Route, str] | None:
    """The route the collector will read this post with (kind filled in), and its topic."""
    for route in routes:
        if route.format != fmt:
            continue
        topic = fill_topic(route, sensor_id, route.kind or kind)
        if topic is None:
            continue
        first = next((r for r in routes if topic_matches_sub(r.topic, topic)), None)
        if first is route:  # else an earlier route would take the message
            return route.for_topic(topic), topic
    return None


def _claimed_sensor(key: ApiKey, x_sensor: str | None) -> str:
    """The sensor the request is for: X-Sensor, else the device key's own sensor."""
    sensor_id = (x_sensor or "").strip() or key.sensor_id
    if key.role is Role.device and sensor_id != key.sensor_id:
        raise HTTPException(
            403,
            detail=f"this device key posts for sensor {key.sensor_id!r} only, not {sensor_id!r}",
        )
    if sensor_id is None:
        invalid_input(("header", "X-Sensor"), "say which sensor this is for (X-Sensor: <id>)")
    if not _VALID_ID.match(sensor_id):
        invalid_input(("header", "X-Sensor"), f"{sensor_id!r:.64} is not a valid sensor id")
    return sensor_id


def _kind(registry: Registry, sensor_id: str, asked: str | None) -> str | None:
    """The sensor's kind: the one asked for, else the registry's (None when unregistered)."""
    try:
        registered = registry.get(sensor_id).kind
    except SensorNotFound:
        return asked
    if asked is not None and asked != registered:
        invalid_input(("query", "kind"), f"sensor {sensor_id!r} is registered as {registered}")
    return registered


def _route(settings: Settings, fmt: str, sensor_id: str, kind: str | None) -> tuple[Route, str]:
    chosen = choose_route(settings.routes, fmt, sensor_id, kind)
    if chosen is not None:
        return chosen
    routes = [r for r in settings.routes if r.format == fmt]
    if kind is None and any(fill_topic(r, sensor_id, r.kind) is None for r in routes):
        invalid_input(
            ("query", "kind"),
            f"sensor {sensor_id!r} is not in the registry, so its kind is unknown: "
            "register it (citydata sensors add) or pass ?kind=",
        )
    example = f'{{"topic": "ingest/{fmt}/+", "format": "{fmt}", "kind": "<kind>"}}'
    why = "shadowed by earlier routes" if routes else "none has this format"
    invalid_input(
        ("path", "format"),
        f"no route in CITYDATA_ROUTES reads {fmt} posts ({why}): add one such as {example} "
        "before any route whose filter matches its topics, and restart the collector and API",
    )


def json_depth(value: object, limit: int) -> int:
    """How deep `value` (parsed JSON) nests, counted up to `limit` + 1 (then it stops)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        stack.extend(
            (child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
        )
    return deepest


def _check_depth(body: bytes) -> None:
    """422 for a JSON body nested deeper than MAX_JSON_DEPTH; a body that is not JSON is left
    to its decoder."""
    if body.lstrip()[:1] not in (b"{", b"["):
        return
    try:
        data = orjson.loads(body)  # it refuses nesting past 1024 levels itself
    except orjson.JSONDecodeError:
        return
    if json_depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        invalid_input(
            ("body",), f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "json_too_deep"
        )


def _decode(route: Route, topic: str, body: bytes, received_ns: int) -> list[RawReading]:
    try:
        return all_decoders()[route.format](Message(topic, body, received_ns), route)
    except DecodeError as exc:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": exc.problem.detail, "type": exc.problem.reason}]
        ) from None


def _check_owner(key: ApiKey, claimed: str, raws: list[RawReading]) -> None:
    """Every reading is for the sensor the request claims, and the key may post for it."""
    for sensor_id in dict.fromkeys(raw.sensor_id for raw in raws):
        if key.role is Role.device and sensor_id != key.sensor_id:
            raise HTTPException(
                403,
                detail=f"this device key posts for sensor {key.sensor_id!r} only, "
                f"but the body is for {sensor_id!r}",
            )
        if sensor_id != claimed:
            invalid_input(
                ("header", "X-Sensor"),
                f"the request is for sensor {claimed!r} but the body is for {sensor_id!r} "
                "(the collector stores it under the body's id)",
            )


def _validate(
    raws: list[RawReading], route: Route, settings: Settings, received_ns: int
) -> list[str]:
    """Judge each reading as the collector will: 422 listing every problem, else the names
    it will ignore (not metrics of the kind)."""
    validator = Validator(settings.collector_max_future_s, settings.collector_max_age_s)
    errors: list[dict[str, Any]] = []
    ignored: list[str] = []
    for i, raw in enumerate(raws):
        apply_field_map(raw, route)
        checked = validator.check(raw, received_ns)
        ignored.extend(checked.unknown)
        if checked.problem is not None:
            loc = ("body", i) if len(raws) > 1 else ("body",)
            errors.append(
                {"loc": loc, "msg": checked.problem.detail, "type": checked.problem.reason}
            )
    if errors:
        raise RequestValidationError(errors)
    return sorted(set(ignored))


@router.post(
    "/{format}",
    status_code=202,
    response_model=Accepted,
    responses=problem_responses(404, 413, 422, 503),  # 401 and 403: app._document_access
    openapi_extra=_BODY_DOC,
)
def ingest(
    caller: DeviceAccess,
    fmt: Annotated[str, Depends(_known_format)],
    body: Annotated[bytes, Depends(_body)],
    settings: SettingsDep,
    registry: RegistryDep,
    publisher: PublisherDep,
    x_sensor: Annotated[
        str | None,
        Header(
            alias="X-Sensor",
            description="The sensor id (Sensor.Community firmware sends `esp8266-<chipid>`); "
            "optional with a device key, which names its sensor.",
        ),
    ] = None,
    kind: Annotated[
        KindName | None,
        Query(
            description="The kind of a sensor not yet in the registry (auto-registering "
            "routes); registered sensors have theirs.",
        ),
    ] = None,
) -> Accepted:
    """Publish one device payload in `format` (`sensor_community`, `native`, ...) onto the
    broker for the collector, after checking it as the collector will. Needs a device key for
    the sensor (X-API-Key, Bearer, or HTTP Basic with the sensor id as user name), or an
    operator/admin key with X-Sensor. Answers 202 once the broker has acknowledged (QoS 1); 503
    with Retry-After means the broker did not confirm it and the device should send it again."""
    received_ns = time.time_ns()
    key = caller.key
    assert key is not None  # DeviceAccess lets no anonymous caller through
    claimed = _claimed_sensor(key, x_sensor)
    route, topic = _route(settings, fmt, claimed, _kind(registry, claimed, kind))
    _check_depth(body)
    raws = _decode(route, topic, body, received_ns)
    _check_owner(key, claimed, raws)
    ignored = _validate(raws, route, settings, received_ns)
    try:
        publisher.publish(topic, body, received_ns)
    except BrokerUnavailable as exc:
        raise HTTPException(
            503,
            detail=f"{exc}; send it again later",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    sensor_ids = list(dict.fromkeys(raw.sensor_id for raw in raws))
    return Accepted(topic=topic, sensor_ids=sensor_ids, readings=len(raws), ignored=ignored)
