"""Parameters several routes share: a time range [start, end) given as RFC 3339 text, and
input problems gathered so that one 422 lists them all."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from fastapi.exceptions import RequestValidationError

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


INT64 = 2**63 - 1  # the database's epoch ns fit in 64 bits (years 1678 to 2261)
MIN_NS = int(datetime(1, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
MAX_NS = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp() + 1) * 1_000_000_000 - 1
Problems = list[dict[str, Any]]


def problem(loc: tuple[int | str, ...], msg: str) -> dict[str, Any]:
    """One input problem at `loc` (("body", "recipients", 0)), for `refuse`."""
    return {"loc": loc, "msg": msg, "type": "value_error"}


def moment(text: str | None, loc: tuple[str, ...], problems: Problems) -> int | None:
    """`text` as epoch ns; a problem at `loc` when it is not an RFC 3339 time with a zone."""
    if text is None:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        problems.append(problem(loc, str(exc)))
        return None


def refuse(problems: Problems) -> None:
    """A 422 listing every problem, when there is one."""
    if problems:
        raise RequestValidationError(problems)
