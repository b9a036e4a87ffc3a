"""Shared pieces of the encoders: JSON bodies and timestamps as devices write them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

ICT = timezone(timedelta(hours=7))


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()
