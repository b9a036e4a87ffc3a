"""LINE: a push message through the LINE Messaging API (LINE Notify is gone since March 2025).

`POST {alerts_line_api_url}/v2/bot/message/push` with the channel access token and the
notice's key as `X-Line-Retry-Key`, so a retried push that LINE already accepted is answered
409 and never delivered twice. The text (subject, newline, body) goes in up to 5 text bubbles
of at most 5000 characters each, as LINE counts them (UTF-16 code units); one push counts
once against the monthly quota however many bubbles it has (see `split_text`).

Answers: 2xx sent; 409 sent (an earlier attempt was accepted); 429 "monthly limit" quota;
other 429, 5xx, timeouts and connection errors retry (Retry-After honoured); any other
answer (400 bad message or recipient, 401 bad token, 403, 404) failed with LINE's message.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from alerts.channels import shorten
from citydata.alerts.notice import Channel, Notice, Outcome
from citydata.settings import Settings
from citydata.timeutil import retry_after

CHANNEL: Channel = "line"
PUSH_PATH = "/v2/bot/message/push"
MAX_MESSAGES = 5  # message objects in one push
MAX_TEXT = 5000  # characters of one text message, in UTF-16 code units
MONTHLY_LIMIT = "monthly limit"  # in LINE's 429 message: "You have reached your monthly limit."


def from_settings(settings: Settings) -> LineSender | None:
    if settings.alerts_line_token is None:
        return None
    return LineSender(
        settings.alerts_line_api_url,
        settings.alerts_line_token.get_secret_value(),
        settings.alerts_timeout_s,
    )


class LineSender:
    name: Channel = CHANNEL

    def __init__(self, api_url: str, token: str, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {token}"},
        )

    def send(self, notice: Notice) -> Outcome:
        bubbles = split_text(f"{notice.subject}\n{notice.text}")
        body = {"to": notice.address, "messages": [{"type": "text", "text": t} for t in bubbles]}
        headers = {"Content-Type": "application/json", "X-Line-Retry-Key": notice.key}
        try:
            response = self._client.post(PUSH_PATH, content=orjson.dumps(body), headers=headers)
        except httpx.TimeoutException:
            return Outcome("retry", f"LINE did not answer within {self._timeout_s:g} s")
        except httpx.TransportError as exc:
            return Outcome("retry", f"LINE not reachable: {type(exc).__name__}: {exc}")
        return _judge(response, len(bubbles))

    def close(self) -> None:
        self._client.close()


def _judge(response: httpx.Response, bubbles: int) -> Outcome:
    status = response.status_code
    request_id = response.headers.get("x-line-request-id", "")
    if 200 <= status < 300:
        return Outcome("sent", details={"request_id": request_id, "bubbles": bubbles})
    if status == 409:  # the retry key was accepted before: that attempt was delivered
        accepted = response.headers.get("x-line-accepted-request-id", "")
        return Outcome(
            "sent",
            details={
                "already_accepted": True,
                "accepted_request_id": accepted,
                "note": "LINE had accepted an earlier attempt with this retry key (409)",
            },
        )
    message = _message(response)
    error = f"LINE answered {status}: {message}"
    if status == 429 and MONTHLY_LIMIT in message.lower():
        return Outcome("quota", error)
    if status == 429 or status >= 500:
        return Outcome("retry", error, after_s=retry_after(response.headers.get("Retry-After")))
    return Outcome("failed", error, details={"request_id": request_id})


def _message(response: httpx.Response) -> str:
    """LINE's error message, with the details it gives (which property is wrong)."""
    try:
        data: Any = response.json()
    except ValueError:
        return shorten(response.text) or response.reason_phrase
    if not isinstance(data, dict):
        return shorten(str(data))
    message = str(data.get("message", "")) or response.reason_phrase
    details = data.get("details")
    if isinstance(details, list):
        parts = [
            f"{d.get('property', '')}: {d.get('message', '')}".strip(": ")
            for d in details
            if isinstance(d, dict)
        ]
        if parts:
            message += " (" + "; ".join(parts) + ")"
    return shorten(message)


def text_units(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units (a character outside the BMP, like most
    emoji, counts twice; Thai counts once)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def split_text(text: str) -> list[str]:
    """`text` as at most MAX_MESSAGES bubbles of at most MAX_TEXT units each.

    A text that fits is one bubble. A longer one is cut at line boundaries, as many whole lines
    in each bubble as fit (the newline between two bubbles is dropped); a single line longer
    than a bubble is cut at the limit and continues in the next. When even five bubbles cannot
    hold it, the fifth ends with "…" and a line saying how many lines were not shown in full.
    """
    if text_units(text) <= MAX_TEXT:
        return [text]
    pending = text.split("\n")
    bubbles: list[str] = []
    i = 0
    while i < len(pending) and len(bubbles) < MAX_MESSAGES - 1:
        parts, i = _take(pending, i, MAX_TEXT)
        bubbles.append("\n".join(parts))
    rest = "\n".join(pending[i:])
    if i == len(pending):
        return bubbles
    if text_units(rest) <= MAX_TEXT:
        return [*bubbles, rest]
    room = MAX_TEXT - text_units("…\n" + _left_out_note(len(pending)))
    parts, i = _take(pending, i, room)
    return [*bubbles, "\n".join(parts) + "…\n" + _left_out_note(len(pending) - i)]


def _left_out_note(lines: int) -> str:
    return f"(อีก {lines} บรรทัดไม่ได้แสดง · {lines} more lines not shown)"


def _take(pending: list[str], i: int, limit: int) -> tuple[list[str], int]:
    """The lines from pending[i] that fit in `limit` units joined by newlines, and the index
    of the first line left. A line too long for an empty bubble is cut: its head is taken, its
    rest replaces it in `pending`."""
    parts: list[str] = []
    used = 0
    while i < len(pending):
        need = text_units(pending[i]) + (1 if parts else 0)
        if used + need <= limit:
            parts.append(pending[i])
            used += need
            i += 1
            continue
        if not parts:
            head, pending[i] = _cut(pending[i], limit)
            parts.append(head)
        break
    return parts, i


def _cut(line: str, limit: int) -> tuple[str, str]:
    """`line` split after `limit` units, never inside a surrogate pair."""
    used = 0
    for k, ch in enumerate(line):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return line[:k], line[k:]
    return line, ""
