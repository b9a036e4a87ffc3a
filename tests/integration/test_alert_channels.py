"""The delivery channels against real servers on loopback: a fake LINE Messaging API that
checks every push against LINE's documented rules, a real SMTP server (aiosmtpd) that requires
STARTTLS and a login, with a certificate from a test CA (trustme), and a webhook receiver that
verifies the signature as a receiver should."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from alerts.channels import Sender, senders
from alerts.channels.line import MAX_MESSAGES, MAX_TEXT, split_text, text_units
from alerts.channels.webhook import WebhookSender
from citydata.alerts.notice import Channel, Notice
from citydata.services import free_port
from citydata.settings import Settings, load_settings
from tests.alert_servers import (
    LINE_TOKEN,
    LINE_USER,
    WEBHOOK_SECRET,
    Answer,
    FakeLine,
    MailServer,
    Receiver,
    secure,
    server_context,
    start_mail_server,
)

pytestmark = pytest.mark.integration

SUBJECT = "แจ้งเตือนคุณภาพอากาศ: PM2.5 เกินมาตรฐานที่เทศบาลลำพญา"
TEXT = "ค่า PM2.5 เฉลี่ย 24 ชั่วโมง 78 µg/m³ (มีผลกระทบต่อสุขภาพ)\nPM2.5 24-hour mean 78 µg/m³"


def notice(channel: Channel, address: str, **fields: Any) -> Notice:
    values: dict[str, Any] = {
        "id": 1,
        "channel": channel,
        "address": address,
        "subject": SUBJECT,
        "text": TEXT,
        "payload": {"rule": "pm25-high", "severity": "warning", "value": 78.0},
        "key": str(uuid.uuid4()),
    }
    return Notice(**(values | fields))


def sender(channel: Channel, **settings: Any) -> Sender:
    built = senders(load_settings({}, **settings))
    assert set(built) == {channel}, f"only {channel} is configured, got {sorted(built)}"
    return built[channel]


@pytest.fixture
def line_api() -> Iterator[FakeLine]:
    with FakeLine() as fake:
        yield fake
    assert not fake.problems, f"pushes that LINE would refuse: {fake.problems}"


@pytest.fixture
def line(line_api: FakeLine) -> Iterator[Sender]:
    s = sender(
        "line", alerts_line_api_url=line_api.url, alerts_line_token=LINE_TOKEN, alerts_timeout_s=1
    )
    yield s
    s.close()


def test_line_push_as_documented(line: Sender, line_api: FakeLine) -> None:
    n = notice("line", LINE_USER)
    outcome = line.send(n)
    assert outcome.status == "sent", outcome
    assert line_api.pushes == [
        (n.key, {"to": LINE_USER, "messages": [{"type": "text", "text": f"{SUBJECT}\n{TEXT}"}]})
    ]


def test_line_retry_of_an_accepted_push_is_not_delivered_twice(
    line: Sender, line_api: FakeLine
) -> None:
    n = notice("line", LINE_USER)
    line_api.script.append(Answer(500, {"message": "Internal error"}))
    first = line.send(n)
    assert first.status == "retry" and "500" in first.error
    assert not line_api.pushes
    # LINE took the push but the answer was a 500: the retry, with the same key, gets a 409
    line_api.script.append(Answer(500, {"message": "Internal error"}, accept=True))
    assert line.send(n).status == "retry"
    again = line.send(n)
    assert again.status == "sent", again
    assert again.details["already_accepted"] is True
    assert again.details["accepted_request_id"] == f"req-{n.key[:8]}"
    assert [key for key, _ in line_api.pushes] == [n.key]  # delivered once


def test_line_rate_limit_retries_after_what_line_says(line: Sender, line_api: FakeLine) -> None:
    line_api.script.append(
        Answer(
            429,
            {"message": "The API rate limit has been exceeded. Try again later."},
            {"Retry-After": "7"},
        )
    )
    outcome = line.send(notice("line", LINE_USER))
    assert (outcome.status, outcome.after_s) == ("retry", 7.0)
    assert "rate limit" in outcome.error


def test_line_monthly_limit_is_quota(line: Sender, line_api: FakeLine) -> None:
    line_api.script.append(Answer(429, {"message": "You have reached your monthly limit."}))
    outcome = line.send(notice("line", LINE_USER))
    assert outcome.status == "quota"
    assert "monthly limit" in outcome.error


def test_line_refusals_fail_with_lines_message(line_api: FakeLine) -> None:
    wrong = sender("line", alerts_line_api_url=line_api.url, alerts_line_token="revoked")
    try:
        outcome = wrong.send(notice("line", LINE_USER))
    finally:
        wrong.close()
    assert outcome.status == "failed" and "401" in outcome.error
    assert "Authentication failed" in outcome.error
    right = sender("line", alerts_line_api_url=line_api.url, alerts_line_token=LINE_TOKEN)
    try:
        outcome = right.send(notice("line", "not-a-line-id"))
    finally:
        right.close()
    assert outcome.status == "failed" and "'to'" in outcome.error
    assert not line_api.pushes


def test_line_timeout_and_unreachable_are_retried(line: Sender, line_api: FakeLine) -> None:
    line_api.script.append(Answer(200, hang=True))
    outcome = line.send(notice("line", LINE_USER))
    assert outcome.status == "retry" and "did not answer" in outcome.error
    nowhere = f"http://127.0.0.1:{free_port()}"
    nobody = sender("line", alerts_line_api_url=nowhere, alerts_line_token=LINE_TOKEN)
    try:
        outcome = nobody.send(notice("line", LINE_USER))
    finally:
        nobody.close()
    assert outcome.status == "retry" and "not reachable" in outcome.error


def test_line_long_text_goes_in_bubbles_that_line_accepts(line: Sender, line_api: FakeLine) -> None:
    body = "\n".join(f"สถานี {i:03d}: " + "ฝุ่นละอองขนาดเล็ก" * 6 for i in range(120))
    n = notice("line", LINE_USER, text=body)
    assert line.send(n).status == "sent"
    [(_, push)] = line_api.pushes
    texts = [m["text"] for m in push["messages"]]
    assert len(texts) > 1
    assert "\n".join(texts) == f"{SUBJECT}\n{body}"


def test_line_split_keeps_everything_that_fits_in_five_bubbles() -> None:
    thai = "ระดับน้ำแม่น้ำท่าจีนสูงขึ้น"  # 26 characters
    lines = [(thai * 4)[: 99 - len(str(i))] + str(i) for i in range(120)]  # 120 x 99 characters
    text = "\n".join(lines)
    assert len(text) == 120 * 100 - 1
    bubbles = split_text(text)
    assert len(bubbles) <= MAX_MESSAGES
    assert all(text_units(b) <= MAX_TEXT for b in bubbles)
    assert "\n".join(bubbles) == text  # cut at line boundaries only: nothing lost
    one_line = "ก" * 12_000  # no line boundary: cut inside the line, nothing lost either
    assert "".join(split_text(one_line)) == one_line
    emoji = "🌧" * 4000  # 4000 characters, but 8000 UTF-16 units as LINE counts them
    bubbles = split_text(emoji)
    assert [text_units(b) for b in bubbles] == [5000, 3000] and "".join(bubbles) == emoji
    assert split_text("สั้น") == ["สั้น"]


def test_line_split_of_far_too_much_cuts_the_last_bubble_with_a_note() -> None:
    lines = [f"{i:04d} " + "น้ำท่วมขัง" * 9 for i in range(600)]  # 600 x 95 characters
    bubbles = split_text("\n".join(lines))
    assert len(bubbles) == MAX_MESSAGES
    assert all(text_units(b) <= MAX_TEXT for b in bubbles)
    *shown, note = bubbles[-1].split("\n")
    assert shown[-1].endswith("…")
    shown_lines = "\n".join([*bubbles[:-1], *shown])[:-1].split("\n")
    assert shown_lines == lines[: len(shown_lines)]
    left_out = len(lines) - len(shown_lines)
    assert left_out > 0 and f"{left_out} more lines not shown" in note


# --- e-mail ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(test_ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def mail_server_factory(test_ca: trustme.CA, ca_file: Path) -> Iterator[Callable[..., MailServer]]:
    started: list[Controller] = []

    def start(**smtp: Any) -> MailServer:
        controller, server = start_mail_server(ca_file, **smtp)
        started.append(controller)
        return server

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def mail_server(test_ca: trustme.CA, mail_server_factory: Callable[..., MailServer]) -> MailServer:
    """STARTTLS required, and a login (offered only once the connection is encrypted)."""
    return mail_server_factory(**secure(test_ca))


def send_mail(settings: Settings, n: Notice) -> Any:
    s = senders(settings)["email"]
    try:
        return s.send(n)
    finally:
        s.close()


def test_email_arrives_in_thai_over_starttls_after_login(mail_server: MailServer) -> None:
    n = notice("email", "duty@lamphaya.go.th")
    outcome = send_mail(mail_server.settings(), n)
    assert outcome.status == "sent", outcome
    [(envelope, message, encrypted)] = mail_server.mailbox.messages
    assert encrypted and envelope.rcpt_tos == ["duty@lamphaya.go.th"]
    assert message["Subject"] == SUBJECT
    assert message.get_content().rstrip("\n") == TEXT
    assert message.get_content_charset() == "utf-8"
    assert message["Message-ID"] == f"<{n.key}@citydata>"
    assert message["From"] == "citydata@lamphaya.go.th"
    assert message["To"] == "duty@lamphaya.go.th"
    assert message["Date"] is not None
    raw = envelope.original_content or b""
    assert raw.isascii(), "headers and body travel 7-bit encoded"


def test_email_wrong_password_fails_clearly(mail_server: MailServer) -> None:
    settings = mail_server.settings(alerts_smtp_url=mail_server.url(password="wrong"))
    outcome = send_mail(settings, notice("email", "duty@lamphaya.go.th"))
    assert outcome.status == "failed", outcome
    assert "refused the login" in outcome.error and "wrong" not in outcome.error
    settings = mail_server.settings(alerts_smtp_url=mail_server.url(password="รหัสผ่าน"))
    outcome = send_mail(settings, notice("email", "duty@lamphaya.go.th"))
    assert outcome.status == "failed" and "must be ASCII" in outcome.error
    assert not mail_server.mailbox.messages


def test_email_refused_recipients(mail_server: MailServer) -> None:
    gone = send_mail(mail_server.settings(), notice("email", "nobody@lamphaya.go.th"))
    assert gone.status == "failed" and "550" in gone.error
    busy = send_mail(mail_server.settings(), notice("email", "busy@lamphaya.go.th"))
    assert busy.status == "retry" and "450" in busy.error


def test_email_is_never_sent_in_clear(mail_server_factory: Callable[..., MailServer]) -> None:
    plain = mail_server_factory()  # no STARTTLS on offer
    outcome = send_mail(plain.settings(), notice("email", "duty@lamphaya.go.th"))
    assert outcome.status == "failed" and "does not offer STARTTLS" in outcome.error
    assert not plain.mailbox.messages


def test_email_untrusted_certificate_fails(mail_server: MailServer) -> None:
    settings = mail_server.settings(alerts_smtp_ca_file=None)  # the system's CAs
    outcome = send_mail(settings, notice("email", "duty@lamphaya.go.th"))
    assert outcome.status == "failed" and "certificate" in outcome.error
    assert not mail_server.mailbox.messages


def test_email_over_implicit_tls(
    test_ca: trustme.CA, mail_server_factory: Callable[..., MailServer]
) -> None:
    # The whole connection is TLS: aiosmtpd's "AUTH only after STARTTLS" rule does not apply.
    server = mail_server_factory(ssl_context=server_context(test_ca), auth_require_tls=False)
    n = notice("email", "duty@lamphaya.go.th")
    assert send_mail(server.settings("smtps"), n).status == "sent"
    [(_, message, _)] = server.mailbox.messages
    assert message["Subject"] == SUBJECT


def test_email_server_down_is_retried(ca_file: Path) -> None:
    settings = load_settings(
        {}, alerts_smtp_url=f"smtp://127.0.0.1:{free_port()}", alerts_smtp_ca_file=ca_file
    )
    outcome = send_mail(settings, notice("email", "duty@lamphaya.go.th"))
    assert outcome.status == "retry"


# --- webhook -----------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as fake:
        yield fake


@pytest.fixture
def webhook() -> Iterator[Sender]:
    s = sender("webhook", alerts_webhook_secret=WEBHOOK_SECRET, alerts_timeout_s=2)
    yield s
    s.close()


def test_webhook_is_signed_and_carries_the_notice(webhook: Sender, receiver: Receiver) -> None:
    n = notice("webhook", f"{receiver.url}/hooks/citydata")
    outcome = webhook.send(n)
    assert outcome.status == "sent", outcome
    [(headers, body)] = receiver.received
    assert body == {"subject": SUBJECT, "text": TEXT, "delivery": n.key, **n.payload}
    assert headers["X-Citydata-Delivery"] == n.key


def test_webhook_signature_with_another_secret_is_refused(receiver: Receiver) -> None:
    other = WebhookSender("not-the-secret", timeout_s=2)
    try:
        outcome = other.send(notice("webhook", receiver.url))
    finally:
        other.close()
    assert outcome.status == "failed" and "401" in outcome.error
    assert not receiver.received


def test_webhook_replayed_later_is_refused(receiver: Receiver) -> None:
    late = WebhookSender(WEBHOOK_SECRET, timeout_s=2, clock=lambda: time.time() - 3600)
    try:
        outcome = late.send(notice("webhook", receiver.url))
    finally:
        late.close()
    assert outcome.status == "failed" and "stale" in outcome.error


def test_webhook_answers(webhook: Sender, receiver: Receiver) -> None:
    receiver.script.extend(
        [Answer(503, {}, {"Retry-After": "30"}), Answer(429), Answer(400, {"error": "no"})]
    )
    n = notice("webhook", receiver.url)
    unavailable = webhook.send(n)
    assert (unavailable.status, unavailable.after_s) == ("retry", 30.0)
    assert webhook.send(n).status == "retry"
    refused = webhook.send(n)
    assert refused.status == "failed" and "400" in refused.error
    assert webhook.send(notice("webhook", "ftp://example.org/x")).status == "failed"
    nobody = notice("webhook", f"http://127.0.0.1:{free_port()}/")
    assert webhook.send(nobody).status == "retry"
