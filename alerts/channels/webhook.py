"""Webhook: the notice as signed JSON POSTed to the recipient's URL (notice.address).

Body: one JSON object (UTF-8), `{"subject": notice.subject, "text": notice.text,
"delivery": notice.key, **payload}` where `payload` is the notice's structured payload (rule,
transition, severity, alerts...); "subject", "text" and "delivery" always hold the notice's
own, a payload key of that name is dropped. The delivery key is in the signed body (as well as
in its header), so a replay cannot pass as a new delivery by changing it.

Headers:
- `Content-Type: application/json`
- `X-Citydata-Delivery: <notice.key>`: a UUID, the same on every attempt; a receiver that has
  seen it already should answer 2xx and do nothing (an earlier attempt did arrive);
- `X-Citydata-Timestamp: <unix seconds>`: when this attempt was signed;
- `X-Citydata-Signature: sha256=<hex>`: HMAC-SHA256, keyed with `alerts_webhook_secret`
  (its UTF-8 bytes), of the timestamp's decimal digits, a ".", then the body bytes exactly as
  received: `hmac(secret, f"{timestamp}.".encode() + body)`.

To verify: recompute the HMAC over the raw body (before parsing it), compare with
`hmac.compare_digest`, and refuse a timestamp more than a few minutes from your clock, so a
recorded request cannot be replayed later.

Answers: 2xx sent; 408, 429, 5xx, timeouts and connection errors retry (Retry-After
honoured); anything else (other 4xx, a redirect, which is not followed) failed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import httpx
import orjson

from alerts.channels import shorten
from citydata.alerts.notice import Channel, Notice, Outcome
from citydata.settings import Settings, is_http_url
from citydata.timeutil import retry_after

CHANNEL: Channel = "webhook"
RETRY_STATUSES = frozenset({408, 429})


def from_settings(settings: Settings) -> WebhookSender | None:
    if settings.alerts_webhook_secret is None:
        return None
    return WebhookSender(
        settings.alerts_webhook_secret.get_secret_value(), settings.alerts_timeout_s
    )


def body(notice: Notice) -> bytes:
    """The request body: the notice's subject, text and key, then its payload."""
    own = {"subject": notice.subject, "text": notice.text, "delivery": notice.key}
    rest = {k: v for k, v in notice.payload.items() if k not in own}
    return orjson.dumps({**own, **rest})


def signature(secret: str, timestamp: int, content: bytes) -> str:
    """The X-Citydata-Signature value of `content` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + content, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class WebhookSender:
    name: Channel = CHANNEL

    def __init__(
        self, secret: str, timeout_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self._timeout_s = timeout_s
        self._clock = clock
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, notice: Notice) -> Outcome:
        if not _is_url(notice.address):
            return Outcome("failed", f"not an http(s) URL: {notice.address!r}")
        try:
            content = body(notice)
        except TypeError as exc:  # orjson.JSONEncodeError: a value JSON cannot hold
            return Outcome("failed", f"payload is not JSON: {exc}")
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "X-Citydata-Delivery": notice.key,
            "X-Citydata-Timestamp": str(timestamp),
            "X-Citydata-Signature": signature(self._secret, timestamp, content),
        }
        try:
            response = self._client.post(notice.address, content=content, headers=headers)
        except httpx.InvalidURL as exc:
            return Outcome("failed", f"not a usable URL: {notice.address!r}: {exc}")
        except httpx.TimeoutException:
            return Outcome("retry", f"no answer within {self._timeout_s:g} s")
        except httpx.TransportError as exc:
            return Outcome("retry", f"not reachable: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return Outcome("sent", details={"status": status})
        error = f"answered {status}: {shorten(response.text) or response.reason_phrase}"
        if status in RETRY_STATUSES or status >= 500:
            return Outcome("retry", error, after_s=retry_after(response.headers.get("Retry-After")))
        return Outcome("failed", error)

    def close(self) -> None:
        self._client.close()


def _is_url(address: str) -> bool:
    try:
        return is_http_url(address)
    except ValueError:  # a malformed port or IPv6 address
        return False
