"""One message for one address on one channel, as the outbox keeps it, and what sending it did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Channel = Literal["line", "email", "webhook"]
CHANNELS: tuple[Channel, ...] = ("line", "email", "webhook")
NoticeStatus = Literal["pending", "sent", "failed", "quota"]


@dataclass(frozen=True)
class Notice:
    """A message waiting in (or taken from) the outbox.

    `key` is fixed when the notice is created and sent with every attempt (LINE's
    X-Line-Retry-Key, the webhook's X-Citydata-Delivery, the e-mail's Message-ID), so a retry
    of a message that did arrive is recognised as the same message."""

    id: int
    channel: Channel
    address: str  # LINE user/group/room id, e-mail address, or webhook URL
    subject: str  # one line: the e-mail subject, the first line of a LINE message
    text: str  # the body, in the recipient's language(s)
    payload: dict[str, Any]  # structured (rule, transition, severity, alerts): the webhook body
    key: str  # a UUID
    attempts: int = 0
    created_ns: int = 0


@dataclass(frozen=True)
class Outcome:
    """What one send attempt did.

    - `sent`: delivered (or the service says it already had it: LINE's 409 for a known retry
      key); never sent again.
    - `retry`: a temporary failure (timeout, 5xx, rate limit): send again, not before
      `after_s` when the service said so (Retry-After), else by the outbox's backoff.
    - `failed`: the service refused it for good (bad token, unknown recipient, 4xx): kept with
      `error` and reported, never retried.
    - `quota`: LINE's monthly quota is used up: kept, reported to the engineers, not retried.
    """

    status: Literal["sent", "retry", "failed", "quota"]
    error: str = ""
    after_s: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
