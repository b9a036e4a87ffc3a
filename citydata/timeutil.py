"""Timestamps as sensors send them (RFC 3339 text, epoch seconds or milliseconds) to epoch ns;
and the wait an HTTP server asks for (Retry-After)."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
# Epoch values at or above this are milliseconds: as seconds it would be the year 5138.
_MS_FROM = 100_000_000_000
_MAX_MS = 100_000_000_000_000  # year 5138 in milliseconds; larger is neither unit


def parse_rfc3339(text: str) -> int:
    """RFC 3339 date-time, which must carry a zone (Z or ±hh:mm), to epoch ns.
    Fractions keep their nanoseconds, which `datetime` alone would cut to microseconds."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{text[:64]!r} is not an RFC 3339 time with a zone (e.g. 2026-01-31T07:00:00Z)"
        )
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        seconds = int(datetime.fromisoformat(base.replace(" ", "T") + zone).timestamp())
    except ValueError as exc:
        raise ValueError(f"{text[:64]!r}: {exc}") from None
    return seconds * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def parse_epoch(value: int | float) -> int:
    """Epoch seconds or milliseconds (told apart by size) to epoch ns."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a time")
    if value < 0 or value >= _MAX_MS:
        raise ValueError(f"{value} is neither epoch seconds nor milliseconds")
    scale = 1_000_000 if value >= _MS_FROM else 1_000_000_000
    if isinstance(value, int):
        return value * scale
    try:  # via the float's shortest text, so 1700000000.123 gives ...123000000 exactly
        return int(Decimal(repr(value)) * scale)
    except InvalidOperation as exc:
        raise ValueError(f"{value} is not a time") from exc


def parse_timestamp(value: object) -> int:
    """A `ts` field as found in a payload to epoch ns; ValueError says what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int | float):
        return parse_epoch(value)
    if isinstance(value, str):
        return parse_rfc3339(value)
    raise ValueError(f"{value!r} is not a time (want RFC 3339 text or epoch seconds/ms)")


def as_datetime(ns: int) -> datetime:
    """Epoch ns as an aware UTC datetime (microseconds: what `datetime` holds)."""
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> int:
    """A positive duration such as `2d`, `36h`, `90m`, `1h30m` or `1.5d` to ns."""
    compact = text.strip().lower()
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(
            f"{text[:64]!r} is not a duration (a number and a unit s, m, h, d or w: 2d, 36h, 90m)"
        )
    ns = sum(Decimal(n) * _UNIT_S[u] for n, u in parts) * 1_000_000_000
    if ns <= 0:
        raise ValueError(f"{text[:64]!r} is not a positive duration")
    return int(ns)


def retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """Seconds to wait from an HTTP Retry-After header (seconds or an HTTP date); None when
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; a date without zone is read as such
        return None
    return max(0.0, when.timestamp() - (time.time() if now_s is None else now_s))
