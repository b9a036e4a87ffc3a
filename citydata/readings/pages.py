"""One sensor's raw points over a long range, read a window (a day) at a time, in bounded pages.

Memory stays bounded whatever the range: InfluxDB is asked for one window at a time, and a
window holding more than PAGE_ROWS points is read in pages of PAGE_ROWS. Windows are [lo, hi)
and tile [start, end) exactly, so no row is lost or repeated at a window edge.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from citydata.influx import InfluxClient, InfluxQueryError, quote_ident, quote_literal

WINDOW_NS = 86_400 * 1_000_000_000
PAGE_ROWS = 10_000


class Page(NamedTuple):
    """Rows of one page in time order; `columns` is `time` then the fields found (none when
    the page is empty)."""

    columns: list[str]
    rows: list[list[Any]]


def raw_pages(
    influx: InfluxClient,
    measurement: str,
    sensor_id: str,
    fields: Sequence[str],
    start_ns: int,
    end_ns: int,
) -> Iterator[Page]:
    """Pages in time order, at least one per window (empty when the window is)."""
    for lo in range(start_ns, end_ns, WINDOW_NS):
        yield from _window(influx, measurement, sensor_id, fields, lo, min(lo + WINDOW_NS, end_ns))


def _window(
    influx: InfluxClient, measurement: str, sensor_id: str, fields: Sequence[str], lo: int, hi: int
) -> Iterator[Page]:
    """[lo, hi) in pages. A full page may stop part-way through the rows at its last time
    (the sensor's series under earlier tags share times), so those rows are left for the
    next page, which starts at that time."""
    while True:
        page = _page(influx, measurement, sensor_id, fields, lo, hi)
        if len(page.rows) < PAGE_ROWS:
            yield page
            return
        last = page.rows[-1][0]
        cut = bisect_left(page.rows, last, key=lambda row: row[0])
        if cut == 0:
            raise InfluxQueryError(f"{sensor_id}: more than {PAGE_ROWS} points at time {last}")
        yield Page(page.columns, page.rows[:cut])
        lo = last


def _page(
    influx: InfluxClient, measurement: str, sensor_id: str, fields: Sequence[str], lo: int, hi: int
) -> Page:
    selected = ", ".join(quote_ident(f) for f in fields)
    q = (
        f"SELECT {selected} FROM {quote_ident(measurement)} "
        f"WHERE {quote_ident('sensor_id')} = {quote_literal(sensor_id)} "
        f"AND time >= {int(lo)} AND time < {int(hi)} ORDER BY time ASC LIMIT {PAGE_ROWS}"
    )
    # No GROUP BY: InfluxDB merges the sensor's series into one, in time order.
    series = influx.query(q)
    return Page(series[0].columns, series[0].values) if series else Page([], [])
