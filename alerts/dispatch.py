"""The outbox dispatcher: each channel's due notices delivered in order, one thread per channel.

The policy, per channel, for each notice the outbox says is due (oldest first):
- sent: marked sent.
- retry: rescheduled, and the whole channel waits for it: the service is down or throttling,
  and sending the younger notices first would reorder the messages. The next attempt waits
  what the service asked (Retry-After, up to a day), else 5 s doubled per earlier attempt
  (5, 10, 20, ...) up to `retry_max_s`; the channel's next round starts with that notice.
  No jitter: one notice per channel is retried at a time, so there is no crowd to spread.
  The notice keeps its key on every attempt, so a retry of a message that did arrive is
  recognised (LINE's 409, the webhook's X-Citydata-Delivery, the e-mail's Message-ID).
  After MAX_ATTEMPTS a notice is given up as failed and reported, so that one message cannot
  hold its channel for ever.
- failed: given up (kept with its error) and reported through `on_problem`; the round goes on,
  since the problem is this notice's (a wrong address, a refused message).
- quota: given up and reported likewise, and the channel pauses until 00:00 UTC on the first
  of next month, when LINE's monthly quota starts again; notices queued meanwhile wait in the
  outbox. The pause is kept in memory: after a restart the first push finds out again.
- a sender that raises: a bug in it; logged with the traceback and treated as retry.

`run` gives every channel a thread of its own, so a channel whose server hangs until the
timeout never delays another; `wake` starts a round at once after new notices were queued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Literal, Protocol

from alerts.channels import Sender
from citydata.alerts.notice import Channel, Notice, Outcome

log = logging.getLogger(__name__)

FIRST_RETRY_S = 5.0
MAX_ATTEMPTS = 100  # then given up: one message must not hold its channel for ever
MAX_RETRY_AFTER_S = 86_400.0  # a service asking for more is not taken literally
BATCH = 20  # notices fetched from the outbox at a time
_NS = 1_000_000_000


class Outbox(Protocol):
    """The notices waiting for delivery (citydata.alerts.store.AlertStore). Called from one
    thread per channel at the same time."""

    def due(self, channel: Channel, now_ns: int, limit: int) -> list[Notice]:
        """Pending notices of `channel` whose next attempt is at or before `now_ns`, oldest
        first, at most `limit`."""
        ...

    def sent(self, notice_id: int, now_ns: int) -> None: ...

    def retry(self, notice_id: int, next_ns: int, error: str) -> None:
        """Pending again, not due before `next_ns`; counts one more attempt."""
        ...

    def give_up(
        self, notice_id: int, status: Literal["failed", "quota"], error: str, now_ns: int
    ) -> None: ...


def backoff_s(attempts: int, retry_max_s: float) -> float:
    """The wait before the next attempt of a notice tried `attempts` times before this one."""
    return min(retry_max_s, FIRST_RETRY_S * 2.0 ** min(attempts, 40))


def next_month_ns(now_ns: int) -> int:
    """00:00 UTC on the first day of the month after the one `now_ns` is in."""
    day = datetime.fromtimestamp(now_ns // _NS, UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * _NS


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        senders: Mapping[Channel, Sender],
        *,
        retry_max_s: float,
        now: Callable[[], int] = time.time_ns,
        on_problem: Callable[[Notice, Outcome], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.senders = dict(senders)
        self.retry_max_s = retry_max_s
        self._now = now
        self.on_problem = on_problem
        self._paused_until: dict[Channel, int] = {}  # quota used up
        self._held_until: dict[Channel, int] = {}  # its oldest notice waits for a retry
        self._locks = {channel: threading.Lock() for channel in self.senders}
        self._wakeups = {channel: threading.Event() for channel in self.senders}

    def paused_until(self, channel: Channel) -> int | None:
        """When a paused channel resumes (epoch ns); None when it is not paused."""
        until = self._paused_until.get(channel)
        return until if until is not None and self._now() < until else None

    def deliver(self, channel: Channel) -> int:
        """One round of `channel`: its due notices, until one must wait. Returns how many
        were sent."""
        sender = self.senders[channel]
        sent = 0
        with self._locks[channel]:
            while self.paused_until(channel) is None and not self._held(channel):
                notices = self.outbox.due(channel, self._now(), BATCH)
                for notice in notices:
                    status = self._attempt(sender, notice)
                    if status in ("retry", "quota"):
                        return sent
                    sent += status == "sent"
                if len(notices) < BATCH:
                    break
        return sent

    def _held(self, channel: Channel) -> bool:
        return self._now() < self._held_until.get(channel, 0)

    def wake(self, channel: Channel | None = None) -> None:
        """Start a round now (of every channel when `channel` is None): notices were queued."""
        for name, event in self._wakeups.items():
            if channel is None or name == channel:
                event.set()

    def run(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        """Deliver every channel in a thread of its own until `stop` is set; a round every
        `poll_s` seconds, or at once when woken."""
        threads = [
            threading.Thread(
                target=self._loop,
                args=(channel, stop, poll_s),
                name=f"alerts-{channel}",
                daemon=True,  # a send hanging at exit lasts at most the channel's timeout
            )
            for channel in self.senders
        ]
        for thread in threads:
            thread.start()
        stop.wait()
        self.wake()
        for thread in threads:
            thread.join()

    def _loop(self, channel: Channel, stop: threading.Event, poll_s: float) -> None:
        wakeup = self._wakeups[channel]
        while not stop.is_set():
            try:
                self.deliver(channel)
            except Exception:  # the outbox failed (database gone): try again next round
                log.exception("%s: delivery round failed", channel)
            wakeup.wait(poll_s)
            # Cleared after waking, before the next round reads the outbox: a wake() from
            # now on is seen by that round or by the next wait.
            wakeup.clear()

    def _attempt(self, sender: Sender, notice: Notice) -> str:
        """Send `notice` once and record what happened in the outbox; returns the status."""
        try:
            outcome = sender.send(notice)
        except Exception as exc:
            log.exception("%s sender raised on notice %d", notice.channel, notice.id)
            outcome = Outcome("retry", f"bug in the {notice.channel} sender: {exc!r}")
        if outcome.status == "sent":
            self.outbox.sent(notice.id, self._now())
        elif outcome.status == "retry":
            self._reschedule(notice, outcome)
        else:
            self.outbox.give_up(notice.id, outcome.status, outcome.error, self._now())
            self._report(notice, outcome)
            if outcome.status == "quota":
                self._pause(notice.channel, outcome)
        return outcome.status

    def _reschedule(self, notice: Notice, outcome: Outcome) -> None:
        if notice.attempts + 1 >= MAX_ATTEMPTS:
            gave_up = Outcome("failed", f"{MAX_ATTEMPTS} attempts: {outcome.error}")
            self.outbox.give_up(notice.id, "failed", gave_up.error, self._now())
            self._report(notice, gave_up)
            return
        if outcome.after_s is not None:
            wait_s = min(max(outcome.after_s, 0.0), MAX_RETRY_AFTER_S)
        else:
            wait_s = backoff_s(notice.attempts, self.retry_max_s)
        next_ns = self._now() + int(wait_s * _NS)
        self.outbox.retry(notice.id, next_ns, outcome.error)
        self._held_until[notice.channel] = next_ns
        log.warning(
            "%s: notice %d not delivered (attempt %d): %s; next attempt in %.0f s",
            notice.channel,
            notice.id,
            notice.attempts + 1,
            outcome.error,
            wait_s,
        )

    def _report(self, notice: Notice, outcome: Outcome) -> None:
        if outcome.status != "quota":  # a quota is logged once, with the pause
            log.error("%s: notice %d failed: %s", notice.channel, notice.id, outcome.error)
        if self.on_problem is None:
            return
        try:
            self.on_problem(notice, outcome)
        except Exception:
            log.exception("reporting the problem of notice %d failed", notice.id)

    def _pause(self, channel: Channel, outcome: Outcome) -> None:
        until = next_month_ns(self._now())
        self._paused_until[channel] = until
        log.error(
            "%s: monthly quota used up (%s): delivery paused until %s UTC",
            channel,
            outcome.error,
            datetime.fromtimestamp(until // _NS, UTC).strftime("%Y-%m-%d %H:%M"),
        )
