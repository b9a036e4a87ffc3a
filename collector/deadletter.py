"""The dead-letter store: invalid messages kept with their reason, as JSON lines per UTC day.

Each record holds the receive time, topic, reason code, every problem found, and the raw
payload (text when it is UTF-8, else base64), so a message can be inspected and replayed.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.decoders import Message, Problem


def record(message: Message, problems: list[Problem]) -> dict[str, Any]:
    """The dead-letter record for `message`; its reason is the first problem's code."""
    received = datetime.fromtimestamp(message.received_ns / 1e9, UTC)
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


class DeadLetterStore:
    """Appends records under `<data_dir>/deadletter/YYYY-MM-DD.jsonl`; safe across threads."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "deadletter"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def add(self, records: list[dict[str, Any]]) -> None:
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
                    f.write("\n".join(lines) + "\n")
                    f.flush()
                    os.fsync(f.fileno())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest day first."""
        for path in sorted(self.dir.glob("*.jsonl")):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        yield json.loads(line)
