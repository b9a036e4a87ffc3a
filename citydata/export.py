"""One sensor's readings over a range as CSV or Parquet bytes, produced a page at a time.

The readings come from citydata.readings.pages, a window (a day) at a time in pages of bounded
size; each page becomes one pandas frame that is encoded and handed on before the next one is
read, so a year of a sensor never sits in memory and bytes flow from the first window on.

Columns: `time` then one per metric. In CSV, time is RFC 3339 UTC with all nine fraction
digits (one fixed format that keeps InfluxDB's nanoseconds and that pandas and spreadsheets
parse as one column) and a missing value is an empty field; in Parquet, time is
timestamp[ns, UTC], values are float64 (null when missing), one row group per page, and the
schema is fixed by the metrics asked for, so empty windows do not change it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from citydata.errors import QueryError, RangeTooLarge
from citydata.influx import InfluxClient
from citydata.kinds import Kind
from citydata.readings.pages import Page, raw_pages
from citydata.readings.ranges import DAY_NS, check_metrics
from citydata.timeutil import parse_rfc3339

# Two years, leap day included: longer ranges are split by the caller, one request per part.
MAX_DAYS = 732
# Well inside what InfluxDB and numpy's datetime64[ns] hold (int64 ns, years 1677 to 2262).
EARLIEST, LATEST = "1700-01-01T00:00:00Z", "2200-01-01T00:00:00Z"


@dataclass(frozen=True)
class Export:
    """What to export: `metrics` of one sensor of `kind` over [start, end) in epoch ns."""

    kind: Kind
    sensor_id: str
    metrics: tuple[str, ...]
    start: int
    end: int

    @classmethod
    def checked(
        cls, kind: Kind, sensor_id: str, metrics: Sequence[str], start: int, end: int
    ) -> Export:
        """An export of these, if allowed: UnknownMetric (at `metrics`), QueryError when
        [start, end) leaves EARLIEST-LATEST, RangeTooLarge beyond MAX_DAYS."""
        check_metrics(kind, metrics, "metrics")
        if not parse_rfc3339(EARLIEST) <= start < end <= parse_rfc3339(LATEST):
            raise QueryError(f"start and end must lie between {EARLIEST} and {LATEST}")
        if end - start > MAX_DAYS * DAY_NS:
            raise RangeTooLarge(
                f"an export covers at most {MAX_DAYS} days (two years); split the range into "
                "several requests"
            )
        return cls(kind, sensor_id, tuple(metrics), start, end)

    @property
    def columns(self) -> list[str]:
        return ["time", *self.metrics]

    def frames(self, influx: InfluxClient) -> Iterator[pd.DataFrame]:
        """Frames in time order, one per page, at least one per window (empty when the window
        is): column `time` (epoch ns, int64), then one float64 column per metric."""
        pages = raw_pages(
            influx, self.kind.name, self.sensor_id, self.metrics, self.start, self.end
        )
        for page in pages:
            yield self._frame(page)

    def _frame(self, page: Page) -> pd.DataFrame:
        # reindex: a metric the sensor never sent is absent from the result, and stays a column.
        frame = pd.DataFrame(page.rows, columns=page.columns).reindex(columns=self.columns)
        return frame.astype({"time": "int64", **dict.fromkeys(self.metrics, "float64")})

    def schema(self) -> pa.Schema:
        """The Parquet schema: time, then the metrics with their units as field metadata."""
        fields = [pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False)]
        for name in self.metrics:
            unit = self.kind.by_name[name].unit
            fields.append(pa.field(name, pa.float64(), metadata={"unit": unit}))
        meta = {"sensor_id": self.sensor_id, "kind": self.kind.name}
        return pa.schema(fields, metadata=meta)


def rfc3339_ns(times: Any) -> Any:
    """Epoch ns (an int64 array) as RFC 3339 UTC text with nine fraction digits."""
    text = np.datetime_as_string(np.asarray(times, dtype="int64").view("datetime64[ns]"), "ns")
    return np.char.add(text, "Z")


def csv_chunks(export: Export, frames: Iterable[pd.DataFrame]) -> Iterator[bytes]:
    """The header line, then the rows of each non-empty frame as UTF-8 CSV."""
    yield _csv(pd.DataFrame(columns=export.columns), header=True)
    for frame in frames:
        if len(frame):
            yield _csv(frame.assign(time=rfc3339_ns(frame["time"])), header=False)


def _csv(frame: pd.DataFrame, header: bool) -> bytes:
    text: str = frame.to_csv(index=False, header=header, lineterminator="\n")
    return text.encode("utf-8")


class _Sink(io.RawIOBase):
    """Where the Parquet writer writes: bytes kept until drained, so they leave as written."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def parquet_chunks(export: Export, frames: Iterable[pd.DataFrame]) -> Iterator[bytes]:
    """A Parquet file in pieces: the magic, one row group per non-empty frame, the footer."""
    schema = export.schema()
    sink = _Sink()
    with pq.ParquetWriter(sink, schema) as writer:
        for frame in frames:
            if len(frame):
                frame = frame.assign(time=pd.to_datetime(frame["time"], unit="ns", utc=True))
                writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
                yield sink.drain()
    yield sink.drain()
