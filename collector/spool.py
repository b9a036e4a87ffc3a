"""The durable spool: batches of line protocol on disk, in order, between pipeline and writer.

Every batch is appended and fsynced here before its MQTT messages are acknowledged, and the
writer takes batches from here to InfluxDB, so a reading is always somewhere durable: in the
broker's session, in the spool, or in InfluxDB. The spool survives restarts: the writer resumes
at its cursor. Replaying a batch twice is harmless, since a point with the same series and time
overwrites itself in InfluxDB.

Layout under `<data_dir>/spool/`: segment files `000000000001.seg`, ... each a run of records
`<u32 length><u32 crc32><payload>`, and `cursor` (segment and offset of the next unread record).
A record torn by a crash mid-append was never acknowledged, so it is cut off at start-up.
The size is bounded: `append` waits while the unread bytes exceed `max_bytes` (backpressure).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)
_HEADER = struct.Struct("<II")


class SpoolBusy(RuntimeError):
    """Another process holds the spool."""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


class Spool:
    """One appending thread and one reading thread may use a spool at the same time."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        segment_bytes: int = 16 << 20,
        lock_timeout: float = 30.0,
    ) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._lock(lock_timeout)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._cond = threading.Condition()
        self._sizes: dict[int, int] = {}  # segment number -> bytes written
        for path in sorted(self.dir.glob("*.seg")):
            self._sizes[int(path.stem)] = path.stat().st_size
        self._cursor = self._load_cursor()
        if self._sizes:
            self._repair_tail(max(self._sizes))
        self._write_seg = max(self._sizes, default=0)
        self._out: BinaryIO | None = None
        self._in: tuple[int, BinaryIO] | None = None
        self._warned = False

    # --- state ---------------------------------------------------------------------------

    def _lock(self, timeout: float) -> BinaryIO:
        """Hold the spool's lock file, so two collectors never share one spool (a worker
        orphaned by a killed collector lets go within moments; wait for it)."""
        f = open(self.dir / "lock", "ab")  # noqa: SIM115
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return f
            except BlockingIOError:
                if time.monotonic() > deadline:
                    f.close()
                    raise SpoolBusy(f"{self.dir} is in use by another collector") from None
                time.sleep(0.1)

    def _load_cursor(self) -> Position:
        try:
            data = json.loads((self.dir / "cursor").read_text())
            cursor = Position(int(data["segment"]), int(data["offset"]))
        except (OSError, ValueError, KeyError, TypeError):
            cursor = Position(min(self._sizes, default=1), 0)
        if self._sizes and cursor.segment < min(self._sizes):
            cursor = Position(min(self._sizes), 0)
        return cursor

    def _repair_tail(self, segment: int) -> None:
        """Cut a record torn by a crash off the end of the last segment."""
        path = self._path(segment)
        good = 0
        with open(path, "rb") as f:
            while header := f.read(_HEADER.size):
                if len(header) < _HEADER.size:
                    break
                length, crc = _HEADER.unpack(header)
                payload = f.read(length)
                if len(payload) < length or zlib.crc32(payload) != crc:
                    break
                good = f.tell()
        if good < self._sizes[segment]:
            log.warning(
                "spool: cutting %d torn bytes off %s (never acknowledged)",
                self._sizes[segment] - good,
                path.name,
            )
            with open(path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
            self._sizes[segment] = good

    def _path(self, segment: int) -> Path:
        return self.dir / f"{segment:012d}.seg"

    @property
    def pending_bytes(self) -> int:
        """Bytes appended but not yet committed by the reader."""
        with self._cond:
            return self._pending()

    def _pending(self) -> int:
        total = sum(size for seg, size in self._sizes.items() if seg >= self._cursor.segment)
        return max(0, total - self._cursor.offset)

    # --- appending -----------------------------------------------------------------------

    def append(self, lines: list[str], timeout: float | None = None) -> bool:
        """Append one batch durably (fsync). Waits while the spool is full; False if still full
        after `timeout` seconds, in which case nothing was written."""
        payload = "\n".join(lines).encode("utf-8")
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        with self._cond:
            if not self._cond.wait_for(lambda: self._has_room(len(record)), timeout):
                return False
            out = self._segment_for_append()
            out.write(record)
            out.flush()
            os.fdatasync(out.fileno())
            self._sizes[self._write_seg] += len(record)
            self._cond.notify_all()
            return True

    def _has_room(self, size: int) -> bool:
        pending = self._pending()
        if pending >= 0.8 * self.max_bytes and not self._warned:
            self._warned = True
            log.warning(
                "spool is %.0f%% full (%d of %d bytes): InfluxDB is not keeping up",
                100 * pending / self.max_bytes,
                pending,
                self.max_bytes,
            )
        elif pending < 0.5 * self.max_bytes:
            self._warned = False
        return pending == 0 or pending + size <= self.max_bytes

    def full(self) -> bool:
        with self._cond:
            return self._pending() >= self.max_bytes

    def _segment_for_append(self) -> BinaryIO:
        size = self._sizes.get(self._write_seg)
        if self._out is None or size is None or size >= self.segment_bytes:
            if self._out is not None:
                self._out.close()
            if size is None or size >= self.segment_bytes:
                self._write_seg += 1
                self._sizes[self._write_seg] = 0
            self._out = open(self._path(self._write_seg), "ab")  # noqa: SIM115
        return self._out

    # --- reading -------------------------------------------------------------------------

    def read(self, max_lines: int, timeout: float | None = None) -> tuple[Position, list[bytes]]:
        """The next records' lines (UTF-8 line protocol, as stored) from the cursor, whole
        records up to about `max_lines` lines, and the position after them; waits up to
        `timeout` for one. Empty list: nothing to read."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending() > 0, timeout)
            pos = self._cursor
            lines: list[bytes] = []
            while len(lines) < max_lines:
                while (
                    pos.offset >= self._sizes.get(pos.segment, 0) and pos.segment + 1 in self._sizes
                ):
                    pos = Position(pos.segment + 1, 0)  # this segment is done; on to the next
                if pos.offset >= self._sizes.get(pos.segment, 0):
                    break
                payload, pos = self._read_record(pos)
                lines.extend(payload.split(b"\n"))
            return pos, lines

    def _read_record(self, pos: Position) -> tuple[bytes, Position]:
        if self._in is None or self._in[0] != pos.segment:
            if self._in is not None:
                self._in[1].close()
            self._in = (pos.segment, open(self._path(pos.segment), "rb"))  # noqa: SIM115
        f = self._in[1]
        f.seek(pos.offset)
        length, crc = _HEADER.unpack(f.read(_HEADER.size))
        payload = f.read(length)
        if zlib.crc32(payload) != crc:
            raise OSError(f"spool segment {pos.segment} is corrupt at offset {pos.offset}")
        return payload, Position(pos.segment, pos.offset + _HEADER.size + length)

    def commit(self, pos: Position) -> None:
        """Everything before `pos` is stored: move the cursor, delete finished segments."""
        with self._cond:
            self._cursor = pos
            tmp = self.dir / "cursor.tmp"
            tmp.write_text(json.dumps({"segment": pos.segment, "offset": pos.offset}))
            os.replace(tmp, self.dir / "cursor")
            for seg in [s for s in self._sizes if s < pos.segment]:
                del self._sizes[seg]
                self._path(seg).unlink(missing_ok=True)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            if not self._lock_file.closed:
                self._lock_file.close()  # releases the lock
            if self._out is not None:
                self._out.close()
                self._out = None
            if self._in is not None:
                self._in[1].close()
                self._in = None
