"""Query parameters several routes share: a time range [start, end) given as RFC 3339 text."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Query

from api.problems import invalid_input
from citydata.readings.ranges import DAY_NS
from citydata.timeutil import parse_rfc3339

# [start, end) of a range, as every ranged route takes it (see time_range).
StartQuery = Annotated[
    str | None, Query(description="RFC 3339 with a zone, inclusive; default end - 24 h")
]
EndQuery = Annotated[str | None, Query(description="RFC 3339 with a zone, exclusive; default now")]


def time_range(start: str | None, end: str | None) -> tuple[int, int]:
    """[start, end) in epoch ns; end defaults to now, start to 24 h before end."""
    try:
        end_ns = parse_rfc3339(end) if end is not None else time.time_ns()
    except ValueError as exc:
        invalid_input(("query", "end"), str(exc))
    try:
        start_ns = parse_rfc3339(start) if start is not None else end_ns - DAY_NS
    except ValueError as exc:
        invalid_input(("query", "start"), str(exc))
    if start_ns >= end_ns:
        invalid_input(("query", "start"), "start must be before end")
    return start_ns, end_ns
