"""Backfill progress: a bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import io
import logging

import pytest

from simulators.progress import describe, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_plain_line_says_count_share_rate_and_time_left() -> None:
    assert describe(5_000, 11_520, 2.0, "readings") == (
        "5,000/11,520 readings (43 %), 2,500/s, about 3 s left"
    )
    assert describe(11_520, 11_520, 4.0, "readings") == "11,520/11,520 readings (100 %), 2,880/s"
    assert describe(0, 0, 0.0, "readings") == "0/0 readings (100 %)"


def test_without_a_terminal_progress_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="simulators.progress")
    stream = io.StringIO()
    with progress(100, "backfill", stream=stream, every_s=0.0) as update:
        update(40)
        update(100)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("backfill: 40/100 readings (40 %)")
    assert lines[-1].startswith("backfill: 100/100 readings (100 %)")
    assert stream.getvalue() == ""  # nothing drawn


def test_on_a_terminal_a_bar_is_drawn(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="simulators.progress")
    stream = Terminal()
    with progress(200, "backfill", stream=stream) as update:
        update(200)
    drawn = stream.getvalue()
    assert "backfill" in drawn and "200/200" in drawn and "readings" in drawn
    assert caplog.records == []
