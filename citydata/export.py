"""One sensor's readings over a range as CSV or Parquet bytes, produced a window at a time.

Memory stays bounded whatever the range: InfluxDB is asked for one window (a day) at a time,
and a window holding more than PAGE_ROWS points is read in pages of PAGE_ROWS. Each page
becomes one pandas frame that is encoded and handed on before the next one is read, so a year
of a sensor never sits in memory and bytes flow from the first window on. Windows are [lo, hi)
and tile [start, end) exactly, so no row is lost or repeated at a window edge.

Columns: `time` then one per metric. In CSV, time is RFC 3339 UTC with all nine fraction
digits (one fixed format that keeps InfluxDB's nanoseconds and that pandas and spreadsheets
parse as one column) and a missing value is an empty field; in Parquet, time is
timestamp[ns, UTC], values are float64 (null when missing), one row group per page, and the
schema is fixed by the metrics asked for, so empty windows do not change it.
"""

from __future__ import annotations

import io
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from citydata.influx import InfluxClient, InfluxQueryError, quote_ident, quote_literal
from citydata.kinds import Kind

WINDOW_NS = 86_400 * 1_000_000_000
PAGE_ROWS = 10_000


@dataclass(frozen=True)
class Export:
    """What to export: `metrics` of one sensor of `kind` over [start, end) in epoch ns."""

    kind: Kind
    sensor_id: str
    metrics: tuple[str, ...]
    start: int
    end: int

    @property
    def columns(self) -> list[str]:
        return ["time", *self.metrics]

    def frames(self, influx: InfluxClient) -> Iterator[pd.DataFrame]:
        """Frames in time order, one per page, at least one per window (empty when the window
        is): column `time` (epoch ns, int64), then one float64 column per metric."""
        for lo in range(self.start, self.end, WINDOW_NS):
            yield from self._window(influx, lo, min(lo + WINDOW_NS, self.end))

    def _window(self, influx: InfluxClient, lo: int, hi: int) -> Iterator[pd.DataFrame]:
        """[lo, hi) in pages. A full page may stop part-way through the rows at its last time
        (the sensor's series under earlier tags share times), so those rows are left for the
        next page, which starts at that time."""
        while True:
            columns, rows = self._page(influx, lo, hi)
            if len(rows) < PAGE_ROWS:
                yield self._frame(columns, rows)
                return
            last = rows[-1][0]
            cut = bisect_left(rows, last, key=lambda row: row[0])
            if cut == 0:
                raise InfluxQueryError(
                    f"{self.sensor_id}: more than {PAGE_ROWS} points at time {last}"
                )
            yield self._frame(columns, rows[:cut])
            lo = last

    def _page(self, influx: InfluxClient, lo: int, hi: int) -> tuple[list[str], list[list[Any]]]:
        fields = ", ".join(quote_ident(m) for m in self.metrics)
        q = (
            f"SELECT {fields} FROM {quote_ident(self.kind.name)} "
            f"WHERE {quote_ident('sensor_id')} = {quote_literal(self.sensor_id)} "
            f"AND time >= {int(lo)} AND time < {int(hi)} ORDER BY time ASC LIMIT {PAGE_ROWS}"
        )
        # No GROUP BY: InfluxDB merges the sensor's series into one, in time order.
        series = influx.query(q)
        return (series[0].columns, series[0].values) if series else ([], [])

    def _frame(self, columns: list[str], rows: list[list[Any]]) -> pd.DataFrame:
        # reindex: a metric the sensor never sent is absent from the result, and stays a column.
        frame = pd.DataFrame(rows, columns=columns).reindex(columns=self.columns)
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
