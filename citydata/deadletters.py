"""The dead-letter store: invalid messages kept with their reason, as JSON lines per UTC day.

Each record (`DeadLetter`) holds the receive time, topic, reason code, every problem found, and
the raw payload (text when it is UTF-8, else base64), so a message can be inspected and replayed.
A payload over the size limit (`too_large`) is not kept whole: its record holds the first
`KEPT_BYTES` of it with its `size` and `sha256`, and is not replayable.
A record's id (`record_id`) is a hash of its content: it survives other records leaving the
file, and a replayed message that fails again (same receive time) comes back under the same id.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

from citydata.decoders import Message, Problem


class DeadLetter(TypedDict):
    """One dead-letter record: a JSON line of a day file, as written and as read back."""

    time: str  # the receive time, RFC 3339 UTC with milliseconds (its day names the file)
    received_ns: int  # the receive time in epoch ns, kept by a replay
    topic: str  # "" for a point InfluxDB refused: no MQTT message, so nothing to replay
    reason: str  # the first problem's code
    errors: list[str]  # every problem, "reason: detail"
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    size: NotRequired[int]  # only for a cut payload (too_large): its whole size in bytes,
    sha256: NotRequired[str]  # and its SHA-256 (hex); `payload` holds its beginning


KEPT_BYTES = 1024  # what a dead letter keeps of a payload over the size limit
Cut = tuple[int, str]
"""What a too-large payload's dead letter keeps besides its beginning: size, SHA-256 (hex)."""


def cut(payload: bytes | bytearray, limit: int) -> tuple[bytes, Cut | None]:
    """`payload` (as bytes) and None when it holds at most `limit` bytes; else its first
    KEPT_BYTES (less up to 3, so as not to split a UTF-8 character) and its size and SHA-256.
    A payload over the limit is read in place: nothing is copied but the beginning."""
    if len(payload) <= limit:
        return bytes(payload), None  # bytes: the same object, not a copy
    digest = hashlib.sha256(payload).hexdigest()
    head = bytes(payload[:KEPT_BYTES])
    for trim in range(1, 4):
        try:
            head.decode("utf-8")
            break
        except UnicodeDecodeError:
            head = bytes(payload[: KEPT_BYTES - trim])
    return head, (len(payload), digest)


def too_large(message: Message, cut: Cut, limit: int) -> DeadLetter:
    """The dead letter of a message whose payload was cut: `message.payload` is its beginning."""
    size, digest = cut
    problem = Problem(
        "too_large",
        f"payload of {size} bytes is over the limit of {limit} "
        f"(CITYDATA_COLLECTOR_MAX_PAYLOAD_BYTES); its first {len(message.payload)} bytes kept",
    )
    rec = record(message, [problem])
    rec["size"], rec["sha256"] = size, digest
    return rec


def record(message: Message, problems: list[Problem]) -> DeadLetter:
    """The dead-letter record for `message`; its reason is the first problem's code."""
    received = datetime.fromtimestamp(message.received_ns / 1e9, UTC)
    encoding: Literal["utf-8", "base64"]
    try:
        payload, encoding = message.payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(message.payload).decode("ascii"), "base64"
    return {
        "time": received.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "received_ns": message.received_ns,
        "topic": message.topic,
        "reason": problems[0].reason,
        "errors": [str(p) for p in problems],
        "payload": payload,
        "payload_encoding": encoding,
    }


def record_id(rec: DeadLetter) -> str:
    """A stable id for a record: 16 hex digits of the SHA-256 of its canonical JSON."""
    canonical = json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def names_sensor(rec: DeadLetter, sensor_id: str) -> bool:
    """True when the record is about `sensor_id`: the last topic level, or a sensor its errors
    name (device formats carry the id in the payload)."""
    topic = str(rec.get("topic") or "")
    return topic.rsplit("/", 1)[-1] == sensor_id or any(
        f"sensor {sensor_id!r}" in error for error in rec.get("errors", [])
    )


@dataclass(frozen=True)
class Selection:
    """Which records to take: each criterion given must hold (any of the values of a list)."""

    reasons: Collection[str] = ()
    topic: str | None = None  # a prefix
    sensors: Collection[str] = ()
    since_ns: int | None = None
    ids: Collection[str] = ()

    @property
    def everything(self) -> bool:
        return not (self.reasons or self.topic or self.sensors or self.ids) and (
            self.since_ns is None
        )

    def __call__(self, rec: DeadLetter) -> bool:
        return (
            (not self.reasons or rec.get("reason") in self.reasons)
            and (not self.topic or str(rec.get("topic") or "").startswith(self.topic))
            and (not self.sensors or any(names_sensor(rec, s) for s in self.sensors))
            and (self.since_ns is None or int(rec.get("received_ns", 0)) >= self.since_ns)
            and (not self.ids or record_id(rec) in self.ids)
        )


class DeadLetterStore:
    """Appends records under `<data_dir>/deadletter/YYYY-MM-DD.jsonl`; safe across threads."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "deadletter"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def add(self, records: list[DeadLetter]) -> None:
        """Append and fsync, so a dead letter survives a crash like a stored reading does."""
        if not records:
            return
        by_day: dict[str, list[str]] = {}
        for rec in records:
            line = json.dumps(rec, ensure_ascii=False, separators=(",", ":"))
            by_day.setdefault(rec["time"][:10], []).append(line)
        with self._lock:
            for day, lines in by_day.items():
                with open(self.dir / f"{day}.jsonl", "a", encoding="utf-8") as f:
                    fcntl.flock(f, fcntl.LOCK_EX)  # a replay may be rewriting this day
                    f.write("\n".join(lines) + "\n")
                    f.flush()
                    os.fsync(f.fileno())

    def take(
        self,
        wanted: Callable[[DeadLetter], bool],
        handle: Callable[[list[DeadLetter]], None],
    ) -> int:
        """Move the records `wanted` selects out of the store, day by day: `handle` gets them
        first (a replay publishes them), and only if it returns do they leave the day file for
        `replayed/<day>.jsonl`. Returns how many moved."""
        moved = 0
        (self.dir / "replayed").mkdir(exist_ok=True)
        for path in sorted(self.dir.glob("*.jsonl")):
            with open(path, "r+", encoding="utf-8") as f:
                fcntl.flock(f, fcntl.LOCK_EX)  # the collector waits to append meanwhile
                lines = [line for line in f.read().splitlines() if line.strip()]
                records = [json.loads(line) for line in lines]
                chosen = [i for i, rec in enumerate(records) if wanted(rec)]
                if not chosen:
                    continue
                handle([records[i] for i in chosen])
                with open(self.dir / "replayed" / path.name, "a", encoding="utf-8") as done:
                    done.write("".join(lines[i] + "\n" for i in chosen))
                    done.flush()
                    os.fsync(done.fileno())
                keep = set(range(len(lines))) - set(chosen)
                f.seek(0)
                f.truncate()
                f.write("".join(lines[i] + "\n" for i in sorted(keep)))
                f.flush()
                os.fsync(f.fileno())
                moved += len(chosen)
        return moved

    def newest_first(self) -> Iterator[DeadLetter]:
        """Every record, newest first: day files newest first, each sorted by receive time."""
        for path in sorted(self.dir.glob("*.jsonl"), reverse=True):
            records = _read(path)
            records.sort(key=lambda rec: int(rec.get("received_ns", 0)), reverse=True)
            yield from records

    def __iter__(self) -> Iterator[DeadLetter]:
        """Every record, oldest day first."""
        for path in sorted(self.dir.glob("*.jsonl")):
            yield from _read(path)


def _read(path: Path) -> list[DeadLetter]:
    """A day file's records, read under a shared lock: a file a replay is rewriting (`take`)
    is never half-read."""
    with open(path, encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_SH)
        return [json.loads(line) for line in f if line.strip()]
