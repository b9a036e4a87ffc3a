"""The outbox dispatcher against an outbox in memory and scripted senders; the clock is
injected, so nothing here sleeps to wait for time to pass."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

import pytest

from alerts.dispatch import MAX_ATTEMPTS, Dispatcher, backoff_s, next_month_ns
from citydata.alerts.notice import Channel, Notice, Outcome

S = 1_000_000_000
START = int(datetime(2025, 12, 15, 8, 0, tzinfo=UTC).timestamp()) * S


@dataclass
class Row:
    notice: Notice
    status: str = "pending"
    next_ns: int = 0
    attempts: int = 0
    error: str = ""


class MemoryOutbox:
    """The Outbox protocol kept in a dict, as the real store keeps it in a table."""

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self.lock = threading.Lock()
        self.polled: dict[Channel, threading.Event] = {}

    def add(self, channel: Channel, text: str = "") -> Notice:
        with self.lock:
            notice = Notice(
                id=len(self.rows) + 1,
                channel=channel,
                address=f"{channel}-recipient",
                subject="แจ้งเตือน PM2.5",
                text=text or f"notice {len(self.rows) + 1}",
                payload={},
                key=str(uuid.uuid4()),
            )
            self.rows[notice.id] = Row(notice)
            return notice

    def due(self, channel: Channel, now_ns: int, limit: int) -> list[Notice]:
        with self.lock:
            found = [
                replace(row.notice, attempts=row.attempts)
                for row in sorted(self.rows.values(), key=lambda r: r.notice.id)
                if row.notice.channel == channel
                and row.status == "pending"
                and row.next_ns <= now_ns
            ][:limit]
        self.polled.setdefault(channel, threading.Event()).set()
        return found

    def sent(self, notice_id: int, now_ns: int) -> None:
        with self.lock:
            self.rows[notice_id].status = "sent"

    def retry(self, notice_id: int, next_ns: int, error: str) -> None:
        with self.lock:
            row = self.rows[notice_id]
            row.next_ns, row.error = next_ns, error
            row.attempts += 1

    def give_up(
        self, notice_id: int, status: Literal["failed", "quota"], error: str, now_ns: int
    ) -> None:
        with self.lock:
            self.rows[notice_id].status = status
            self.rows[notice_id].error = error

    def status(self, notice_id: int) -> str:
        return self.rows[notice_id].status


class Scripted:
    """A sender that answers from a script (then `sent`) and remembers what it was given."""

    def __init__(self, name: Channel, *outcomes: Outcome | Exception) -> None:
        self.name: Channel = name
        self.script: deque[Outcome | Exception] = deque(outcomes)
        self.seen: list[Notice] = []

    def send(self, notice: Notice) -> Outcome:
        self.seen.append(notice)
        answer = self.script.popleft() if self.script else Outcome("sent")
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        pass


class Clock:
    def __init__(self, now_ns: int = START) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


def dispatcher(
    outbox: MemoryOutbox, *senders: Scripted, clock: Clock, retry_max_s: float = 600.0
) -> tuple[Dispatcher, list[tuple[Notice, Outcome]]]:
    problems: list[tuple[Notice, Outcome]] = []
    d = Dispatcher(
        outbox,
        {s.name: s for s in senders},
        retry_max_s=retry_max_s,
        now=clock,
        on_problem=lambda n, o: problems.append((n, o)),
    )
    return d, problems


def test_due_notices_go_out_oldest_first() -> None:
    outbox, clock, line = MemoryOutbox(), Clock(), Scripted("line")
    ids = [outbox.add("line").id for _ in range(3)]
    d, problems = dispatcher(outbox, line, clock=clock)
    assert d.deliver("line") == 3
    assert [n.id for n in line.seen] == ids
    assert all(outbox.status(i) == "sent" for i in ids)
    assert d.deliver("line") == 0 and len(line.seen) == 3 and not problems


def test_a_retry_stops_the_round_and_the_order_is_kept() -> None:
    outbox, clock = MemoryOutbox(), Clock()
    line = Scripted("line", Outcome("sent"), Outcome("retry", "LINE answered 500"))
    first, second, third = (outbox.add("line") for _ in range(3))
    d, _ = dispatcher(outbox, line, clock=clock)
    assert d.deliver("line") == 1
    assert [n.id for n in line.seen] == [first.id, second.id]  # the third was not tried
    assert outbox.rows[second.id].next_ns == START + 5 * S
    assert outbox.rows[second.id].error == "LINE answered 500"
    clock.now_ns += 4 * S
    assert d.deliver("line") == 0 and len(line.seen) == 2  # not before its time
    clock.now_ns += 1 * S
    assert d.deliver("line") == 2
    assert [n.id for n in line.seen[2:]] == [second.id, third.id]


def test_backoff_doubles_from_5_s_and_is_capped() -> None:
    outbox, clock = MemoryOutbox(), Clock()
    line = Scripted("line", *[Outcome("retry", "down")] * 8)
    notice = outbox.add("line")
    d, _ = dispatcher(outbox, line, clock=clock, retry_max_s=60)
    waits = []
    for _ in range(7):
        assert d.deliver("line") == 0
        next_ns = outbox.rows[notice.id].next_ns
        waits.append((next_ns - clock.now_ns) / S)
        clock.now_ns = next_ns
    assert waits == [5, 10, 20, 40, 60, 60, 60]
    assert [n.attempts for n in line.seen] == list(range(7))
    assert backoff_s(10_000, 600) == 600


def test_retry_after_is_honoured_beyond_the_backoff() -> None:
    outbox, clock = MemoryOutbox(), Clock()
    line = Scripted(
        "line", Outcome("retry", "rate limit", after_s=120), Outcome("retry", after_s=10**9)
    )
    notice = outbox.add("line")
    d, _ = dispatcher(outbox, line, clock=clock, retry_max_s=60)
    d.deliver("line")
    assert outbox.rows[notice.id].next_ns == START + 120 * S
    clock.now_ns = outbox.rows[notice.id].next_ns
    d.deliver("line")  # an absurd Retry-After is held to a day
    assert outbox.rows[notice.id].next_ns == clock.now_ns + 86_400 * S


def test_quota_pauses_the_channel_until_next_month_and_is_reported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox, clock = MemoryOutbox(), Clock()
    quota = Outcome("quota", "LINE answered 429: You have reached your monthly limit.")
    line, email = Scripted("line", quota), Scripted("email")
    first, second = outbox.add("line"), outbox.add("line")
    mail = outbox.add("email")
    d, problems = dispatcher(outbox, line, email, clock=clock)
    with caplog.at_level(logging.ERROR, logger="alerts.dispatch"):
        assert d.deliver("line") == 0
    assert outbox.status(first.id) == "quota" and outbox.status(second.id) == "pending"
    assert problems == [(first, quota)]
    new_year = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * S
    assert d.paused_until("line") == new_year
    [logged] = [r.getMessage() for r in caplog.records if r.name == "alerts.dispatch"]
    assert "paused until 2026-01-01 00:00 UTC" in logged  # one line
    clock.now_ns += 3 * 86_400 * S
    assert d.deliver("line") == 0 and len(line.seen) == 1  # paused: nothing tried
    assert d.deliver("email") == 1 and outbox.status(mail.id) == "sent"  # others go on
    clock.now_ns = new_year
    assert d.paused_until("line") is None
    assert d.deliver("line") == 1 and outbox.status(second.id) == "sent"
    assert len(problems) == 1


def test_next_month() -> None:
    assert next_month_ns(START) == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * S
    jan31 = int(datetime(2026, 1, 31, 23, 59, tzinfo=UTC).timestamp()) * S
    assert next_month_ns(jan31) == int(datetime(2026, 2, 1, tzinfo=UTC).timestamp()) * S


def test_a_failed_notice_is_given_up_reported_and_the_round_goes_on() -> None:
    outbox, clock = MemoryOutbox(), Clock()
    failed = Outcome(
        "failed", "LINE answered 400: The property, 'to', in the request body is invalid"
    )
    line = Scripted("line", failed)
    bad, good = outbox.add("line"), outbox.add("line")
    d, problems = dispatcher(outbox, line, clock=clock)
    assert d.deliver("line") == 1
    assert outbox.status(bad.id) == "failed" and outbox.rows[bad.id].error == failed.error
    assert outbox.status(good.id) == "sent"
    assert problems == [(bad, failed)]


def test_a_sender_that_raises_is_a_bug_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    outbox, clock = MemoryOutbox(), Clock()
    line = Scripted("line", KeyError("messages"))
    notice = outbox.add("line")
    d, problems = dispatcher(outbox, line, clock=clock)
    with caplog.at_level(logging.ERROR, logger="alerts.dispatch"):
        assert d.deliver("line") == 0
    assert outbox.status(notice.id) == "pending" and outbox.rows[notice.id].attempts == 1
    assert "bug in the line sender" in outbox.rows[notice.id].error
    assert any(r.exc_info and isinstance(r.exc_info[1], KeyError) for r in caplog.records)
    assert not problems
    clock.now_ns += 5 * S
    assert d.deliver("line") == 1


def test_a_notice_retried_max_attempts_times_is_given_up_and_frees_its_channel() -> None:
    outbox, clock = MemoryOutbox(), Clock()
    email = Scripted("email", *[Outcome("retry", "452 mailbox full")] * MAX_ATTEMPTS)
    stuck, after = outbox.add("email"), outbox.add("email")
    d, problems = dispatcher(outbox, email, clock=clock, retry_max_s=1)
    for _ in range(MAX_ATTEMPTS):
        d.deliver("email")
        clock.now_ns += 2 * S
    assert outbox.status(stuck.id) == "failed"
    assert outbox.rows[stuck.id].error == f"{MAX_ATTEMPTS} attempts: 452 mailbox full"
    assert [(n.id, o.status) for n, o in problems] == [(stuck.id, "failed")]
    assert len(email.seen) == MAX_ATTEMPTS and outbox.status(after.id) == "pending"
    d.deliver("email")  # the channel is free again: the next message goes out
    assert outbox.status(after.id) == "sent"


def test_a_retried_notice_keeps_its_key() -> None:
    outbox, clock = MemoryOutbox(), Clock()
    line = Scripted("line", Outcome("retry", "timeout"), Outcome("retry", "500"))
    notice = outbox.add("line")
    d, _ = dispatcher(outbox, line, clock=clock)
    for _ in range(3):
        d.deliver("line")
        clock.now_ns += 3600 * S
    assert [n.key for n in line.seen] == [notice.key] * 3
    assert outbox.status(notice.id) == "sent"


class Blocking(Scripted):
    """A sender whose server hangs: send waits until released."""

    def __init__(self, name: Channel) -> None:
        super().__init__(name)
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, notice: Notice) -> Outcome:
        self.entered.set()
        self.release.wait(30)
        return super().send(notice)


class Counting(Scripted):
    """A sender that says when it has sent `count` notices."""

    def __init__(self, name: Channel, count: int) -> None:
        super().__init__(name)
        self.count = count
        self.done = threading.Event()

    def send(self, notice: Notice) -> Outcome:
        outcome = super().send(notice)
        if len(self.seen) >= self.count:
            self.done.set()
        return outcome


def running(d: Dispatcher, poll_s: float) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=d.run, args=(stop, poll_s), daemon=True)
    thread.start()
    return thread, stop


def test_a_hanging_channel_does_not_delay_another() -> None:
    outbox, clock = MemoryOutbox(), Clock()
    line, email = Blocking("line"), Counting("email", 3)
    outbox.add("line")
    mails = [outbox.add("email") for _ in range(3)]
    d, _ = dispatcher(outbox, line, email, clock=clock)
    thread, stop = running(d, poll_s=3600)
    try:
        assert line.entered.wait(10), "LINE was never tried"
        assert email.done.wait(10), "e-mail waited for the hanging LINE server"
        assert not line.release.is_set() and not line.seen  # LINE still hangs meanwhile
        assert [n.id for n in email.seen] == [m.id for m in mails]
    finally:
        line.release.set()
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert len(line.seen) == 1


def test_wake_delivers_at_once_and_stop_ends_the_threads() -> None:
    outbox, clock = MemoryOutbox(), Clock()
    email = Counting("email", 1)
    d, _ = dispatcher(outbox, email, clock=clock)
    outbox.polled["email"] = threading.Event()
    thread, stop = running(d, poll_s=3600)  # without wake() the next round is an hour away
    try:
        assert outbox.polled["email"].wait(10), "the first round never ran"
        notice = outbox.add("email")
        d.wake()
        assert email.done.wait(10), "wake() did not start a round"
        assert outbox.status(notice.id) == "sent"
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive(), "run() did not end when stopped"
