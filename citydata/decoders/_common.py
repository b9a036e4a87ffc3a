"""Helpers the JSON device decoders share: lenient numbers, flattening, topic levels, times."""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson

from citydata.decoders import DecodeError, Route
from citydata.timeutil import parse_rfc3339

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a JSON payload may have: real device payloads nest a
few levels; deeper ones are refused (`too_deep`) before any other step walks them."""

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_number(text: str) -> int | float | None:
    """A number sent as text ("12.5", "-3", "1e3", " 7 ") or None; never nan, inf or hex."""
    text = text.strip()
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return None


def as_number(value: object) -> int | float | None:
    """A JSON number (not a boolean) or numeric text as a number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return parse_number(value)
    return None


def lenient(value: object) -> object:
    """Numeric text made a number; every other value unchanged."""
    if isinstance(value, str):
        number = parse_number(value)
        return value if number is None else number
    return value


def flatten(values: Mapping[str, object]) -> dict[str, object]:
    """Values with one level of nested objects joined by "." and numeric text made numbers."""
    flat: dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                flat[f"{key}.{inner}"] = lenient(item)
        else:
            flat[key] = lenient(value)
    return flat


def _depth_over(data: object, limit: int) -> bool:
    """Whether `data` nests arrays and objects more than `limit` deep (walked without recursion,
    containers only, stopping at the first one too deep)."""
    if not isinstance(data, dict | list):
        return False
    stack: list[tuple[dict[str, object] | list[object], int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def load_json(payload: bytes) -> object:
    """The payload as JSON: DecodeError("undecodable") when it is not JSON (invalid UTF-8, NaN,
    integers over 64 bits too), DecodeError("too_deep") when it nests more than
    MAX_JSON_DEPTH arrays and objects."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("undecodable", f"not JSON: {exc}") from None
    # Fewer brackets than the limit cannot nest deeper than it: most payloads skip the walk.
    if payload.count(b"[") + payload.count(b"{") > MAX_JSON_DEPTH and _depth_over(
        data, MAX_JSON_DEPTH
    ):
        raise DecodeError(
            "too_deep", f"JSON nests arrays and objects more than {MAX_JSON_DEPTH} levels deep"
        )
    return data


def load_object(payload: bytes, what: str) -> dict[str, object]:
    """The payload as a JSON object (see load_json); DecodeError("undecodable") when it is
    another JSON value."""
    data = load_json(payload)
    if not isinstance(data, dict):
        raise DecodeError(
            "undecodable", f"expected a {what} JSON object, got {type(data).__name__}"
        )
    return data


def topic_level_after(topic: str, marker: str) -> str | None:
    """The topic level right after the level `marker` (`devices/{id}`), or None."""
    levels = topic.split("/")
    for i, level in enumerate(levels[:-1]):
        if level == marker and levels[i + 1]:
            return levels[i + 1]
    return None


def rfc3339_or_none(value: object, what: str) -> int | None:
    """An RFC 3339 time found at `what` to epoch ns; absent gives None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise DecodeError("bad_timestamp", f"{what} {value!r:.64} is not an RFC 3339 time")
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise DecodeError("bad_timestamp", f"{what}: {exc}") from None


def require_kind(route: Route, fmt: str) -> str:
    """The route's kind: these payloads never name one."""
    if not route.kind:
        raise DecodeError("no_kind", f"{fmt} payloads carry no kind: set `kind` on the route")
    return route.kind
