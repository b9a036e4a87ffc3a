"""The disk spool: order, durability across reopen, torn tails, bounds, segments."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.spool import Spool, SpoolBusy

MakeSpool = Callable[..., Spool]


@pytest.fixture
def make_spool(tmp_path: Path) -> Iterator[MakeSpool]:
    """Opens spools on tmp_path (keyword arguments as Spool's) and closes them all after."""
    opened: list[Spool] = []

    def make(max_bytes: int = 1 << 20, **kw: Any) -> Spool:
        opened.append(Spool(tmp_path, max_bytes=max_bytes, **kw))
        return opened[-1]

    yield make
    for spool in opened:
        spool.close()


def lines(start: int, n: int) -> list[str]:
    return [f"m v={i}.0 {i}" for i in range(start, start + n)]


def stored(start: int, n: int) -> list[bytes]:
    """`lines(start, n)` as the spool gives them back."""
    return [line.encode() for line in lines(start, n)]


def test_batches_come_back_in_order_and_commit_frees_them(
    make_spool: MakeSpool, tmp_path: Path
) -> None:
    spool = make_spool()
    spool.append(lines(0, 3))
    spool.append(lines(3, 2))
    pos, got = spool.read(max_lines=100, timeout=0)
    assert got == stored(0, 5)  # coalesced, in order
    assert spool.pending_bytes > 0
    spool.commit(pos)
    assert spool.pending_bytes == 0
    assert spool.read(100, timeout=0)[1] == []


def test_read_coalesces_whole_records_up_to_max_lines(
    make_spool: MakeSpool, tmp_path: Path
) -> None:
    spool = make_spool()
    for i in range(5):
        spool.append(lines(i * 10, 10))
    pos, got = spool.read(max_lines=25, timeout=0)
    assert got == stored(0, 30)  # records are never cut: 3 records reach 25
    spool.commit(pos)
    assert spool.read(max_lines=100, timeout=0)[1] == stored(30, 20)


def test_reopened_spool_resumes_at_the_cursor(make_spool: MakeSpool) -> None:
    spool = make_spool()
    spool.append(lines(0, 2))
    spool.append(lines(2, 2))
    pos, _ = spool.read(max_lines=1, timeout=0)  # the first record only
    spool.commit(pos)
    spool.close()
    again = make_spool()
    assert again.read(100, timeout=0)[1] == stored(2, 2)


def test_a_torn_record_is_cut_off_at_open(make_spool: MakeSpool, tmp_path: Path) -> None:
    spool = make_spool()
    spool.append(lines(0, 2))
    spool.close()
    (segment,) = tmp_path.glob("*.seg")
    with open(segment, "ab") as f:
        f.write(b"\x40\x00\x00\x00\x01\x02\x03\x04partial")  # a crash mid-append
    again = make_spool()
    assert again.read(100, timeout=0)[1] == stored(0, 2)
    again.append(lines(2, 1))  # appending after the cut works
    assert again.read(100, timeout=0)[1] == stored(0, 3)


def test_full_spool_refuses_until_the_reader_commits(make_spool: MakeSpool) -> None:
    spool = make_spool(60)
    assert spool.append(lines(0, 5))  # 57 bytes: a second batch would not fit
    assert not spool.append(lines(5, 5), timeout=0.05)
    done = threading.Event()

    def appender() -> None:
        assert spool.append(lines(5, 5), timeout=10)
        done.set()

    thread = threading.Thread(target=appender)
    thread.start()
    pos, _ = spool.read(100, timeout=0)
    spool.commit(pos)
    thread.join(10)
    assert done.is_set()
    assert spool.read(100, timeout=0)[1] == stored(5, 5)


def test_segments_roll_over_and_finished_ones_are_deleted(
    make_spool: MakeSpool, tmp_path: Path
) -> None:
    spool = make_spool(segment_bytes=100)
    for i in range(6):
        spool.append(lines(i * 3, 3))  # 37 bytes each: three fill a 100-byte segment
    assert len(list(tmp_path.glob("*.seg"))) == 2
    pos, got = spool.read(max_lines=1000, timeout=0)
    assert got == stored(0, 18)
    spool.commit(pos)
    assert len(list(tmp_path.glob("*.seg"))) == 1  # only the one being appended to
    spool.append(lines(18, 1))
    assert spool.read(10, timeout=0)[1] == stored(18, 1)


def test_reader_waits_for_an_append(make_spool: MakeSpool) -> None:
    spool = make_spool()
    timer = threading.Timer(0.1, spool.append, args=(lines(0, 1),))
    timer.start()
    _, got = spool.read(10, timeout=10)
    timer.join()
    assert got == stored(0, 1)


def test_a_second_spool_on_the_same_directory_waits_then_refuses(make_spool: MakeSpool) -> None:
    first = make_spool()
    with pytest.raises(SpoolBusy):
        make_spool(lock_timeout=0.2)
    first.close()
    second = make_spool(lock_timeout=0.2)  # free once the first one is closed
    assert second.read(10, timeout=0)[1] == []
