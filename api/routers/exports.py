"""Exports: one sensor's readings over a range as a CSV or Parquet download, streamed."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.auth import ReadAccess
from api.deps import InfluxDep, RegistryDep
from api.params import EndQuery, StartQuery, time_range
from api.problems import problem_responses
from citydata.export import Export, csv_chunks, parquet_chunks
from citydata.kinds import Kind, all_kinds
from citydata.readings.ranges import DAY_NS, check_metrics

router = APIRouter(tags=["sensors"])


class ExportFormat(StrEnum):
    """The file format of an export."""

    csv = "csv"
    parquet = "parquet"


MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.parquet: "application/vnd.apache.parquet",
}

CSV_EXAMPLE = (
    "time,pm25,pm10\n"
    "2026-01-01T00:00:00.000000000Z,38.2,61.0\n"
    "2026-01-01T00:01:00.000000000Z,38.9,\n"
)

EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The readings as a file download, streamed as it is read: columns "
        "`time` (RFC 3339 UTC, nanoseconds) and one per metric, in time order; an empty field "
        "(CSV) or null (Parquet) where a point lacks a metric.",
        "content": {
            MEDIA_TYPES[ExportFormat.csv]: {
                "schema": {"type": "string"},
                "example": CSV_EXAMPLE,
            },
            MEDIA_TYPES[ExportFormat.parquet]: {
                "schema": {"type": "string", "format": "binary"},
            },
        },
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="lp-air-01_2026-01-01_2026-02-01.csv"',
                "schema": {"type": "string"},
            }
        },
    },
    **problem_responses(404, 422),
}


def _metrics(kind: Kind, text: str | None) -> tuple[str, ...]:
    """The metrics asked for, in the order given (duplicates once); every one of the kind's
    when none are."""
    if text is None:
        return tuple(kind.by_name)
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    check_metrics(kind, names, "metrics")
    return names


def _stamp(ns: int) -> str:
    """A range end in a file name: the date at UTC midnight, else date and time (no colons)."""
    at = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return at.strftime("%Y-%m-%d" if ns % DAY_NS == 0 else "%Y-%m-%dT%H%M%SZ")


def _disposition(name: str) -> str:
    """Content-Disposition for `name`: an ASCII fallback, and the exact name (RFC 6266)."""
    ascii_name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    value = f'attachment; filename="{ascii_name}"'
    return value if ascii_name == name else f"{value}; filename*=UTF-8''{quote(name, safe='')}"


@router.get(
    "/sensors/{sensor_id}/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
def export_readings(
    sensor_id: str,
    registry: RegistryDep,
    influx: InfluxDep,
    _: ReadAccess,
    format: Annotated[ExportFormat, Query(description="file format")] = ExportFormat.csv,
    start: StartQuery = None,
    end: EndQuery = None,
    metrics: Annotated[
        str | None,
        Query(description="comma-separated metrics of the sensor's kind; default all of them"),
    ] = None,
) -> StreamingResponse:
    """One sensor's readings over [start, end) as a CSV or Parquet download, at most two years
    (732 days). The file is streamed as InfluxDB is read, a day at a time, so a long range does
    not load into memory at once."""
    kind = all_kinds()[registry.get(sensor_id).kind]  # the registry holds known kinds only
    names = _metrics(kind, metrics)
    span = time_range(start, end)
    export = Export.checked(kind, sensor_id, names, *span)
    frames = export.frames(influx)
    # Read the first window now: if InfluxDB fails, the answer is still a problem, not a
    # truncated download.
    first = next(frames)
    encode = csv_chunks if format is ExportFormat.csv else parquet_chunks
    filename = f"{sensor_id}_{_stamp(span[0])}_{_stamp(span[1])}.{format.value}"
    return StreamingResponse(
        encode(export, itertools.chain([first], frames)),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": _disposition(filename)},
    )
