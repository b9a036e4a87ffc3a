"""Progress of a long publish: a live bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

log = logging.getLogger(__name__)

Update = Callable[[int], None]  # called with the number done so far


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")


def describe(done: int, total: int, elapsed_s: float, what: str) -> str:
    """'5,000/11,520 readings (43 %), 2,100/s, about 3 s left': one plain progress line."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    line = f"{done:,}/{total:,} {what} ({100 * done / total if total else 100:.0f} %)"
    if rate > 0:
        line += f", {rate:,.0f}/s"
        if done < total:
            line += f", about {(total - done) / rate:,.0f} s left"
    return line


@contextmanager
def progress(
    total: int,
    label: str,
    what: str = "readings",
    stream: TextIO | None = None,
    every_s: float = 5.0,
) -> Iterator[Update]:
    """Report progress towards `total`: a rich bar when `stream` (stderr) is a terminal, else a
    log line at most every `every_s` seconds and one at the end."""
    stream = stream or sys.stderr
    if stream.isatty():
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(what),
            _RateColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(file=stream)) as bar:
            task = bar.add_task(label, total=total)
            yield lambda done: bar.update(task, completed=done)
        return
    start = last = time.monotonic()
    count = 0

    def update(done: int) -> None:
        nonlocal last, count
        count = done
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            log.info("%s: %s", label, describe(done, total, now - start, what))

    yield update
    log.info("%s: %s", label, describe(count, total, time.monotonic() - start, what))
