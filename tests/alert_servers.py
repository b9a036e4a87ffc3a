"""Fake servers for alert delivery tests, on free loopback ports: the LINE Messaging API's push
endpoint checking every request against LINE's documented rules, a mailbox for a real SMTP
server (aiosmtpd) that needs STARTTLS and a login, and a webhook receiver that verifies the
signature as a receiver should."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
import ssl
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import quote

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from citydata.services import free_port
from citydata.settings import Settings, load_settings

LINE_TOKEN = "test-channel-access-token"
LINE_USER = "U" + "4af4980629" * 3 + "aa"  # a LINE user id: U and 32 hex digits
WEBHOOK_SECRET = "webhook-test-secret"


# --- a small HTTP server for the fakes -------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    accept: bool = False  # the push goes through though the answer says otherwise
    hang: bool = False  # no answer until the test ends


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up
            super().handle_error(request, client_address)


class FakeServer:
    """A ThreadingHTTPServer on a free loopback port; `handle` answers each POST."""

    def __init__(self) -> None:
        self.script: deque[Answer] = deque()
        self.problems: list[str] = []  # requests that broke the rules the fake checks
        self.lock = threading.Lock()
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with fake.lock:
                    answer = fake.handle(self.path, self.headers, body)
                if answer.hang:
                    fake.release.wait(30)
                    return
                data = json.dumps(answer.body).encode() if answer.status != 204 else b""
                self.send_response(answer.status)
                if data:  # a 204 has no body, and says nothing about one
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, path: str, headers: Any, body: bytes) -> Answer:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


# --- LINE --------------------------------------------------------------------------------------


UNAUTHORIZED = (
    "Authentication failed. Confirm that the access token in the authorization header is valid."
)
BAD_TO = "The property, 'to', in the request body is invalid (line: -, column: -)"


class FakeLine(FakeServer):
    """The push endpoint of the LINE Messaging API as documented: bearer token, JSON, a UUID
    retry key (409 once accepted), 1-5 text messages of at most 5000 UTF-16 units each."""

    def __init__(self) -> None:
        super().__init__()
        self.pushes: list[tuple[str, dict[str, Any]]] = []  # (retry key, body) accepted
        self.accepted: set[str] = set()

    def handle(self, path: str, headers: Any, body: bytes) -> Answer:
        if path != "/v2/bot/message/push":
            return Answer(404, {"message": "Not found"})
        if headers.get("Authorization") != f"Bearer {LINE_TOKEN}":
            return Answer(401, {"message": UNAUTHORIZED})
        problem = self.check(headers, body)
        if problem:
            self.problems.append(problem)
            details = [{"message": problem, "property": "messages"}]
            return Answer(400, {"message": "The request body has 1 error(s)", "details": details})
        push = json.loads(body)
        if not re.fullmatch(r"[UCR][0-9a-f]{32}", push["to"]):
            return Answer(400, {"message": BAD_TO})
        key = headers["X-Line-Retry-Key"]
        if key in self.accepted:
            return Answer(
                409,
                {"message": "The retry key is already accepted"},
                {"x-line-accepted-request-id": f"req-{key[:8]}"},
            )
        answer = self.script.popleft() if self.script else Answer(200, {"sentMessages": []})
        if answer.status == 200 or answer.accept:
            self.accepted.add(key)
            self.pushes.append((key, push))
        return answer

    @staticmethod
    def check(headers: Any, body: bytes) -> str:
        if headers.get("Content-Type", "").split(";")[0] != "application/json":
            return f"Content-Type {headers.get('Content-Type')!r}"
        try:
            uuid.UUID(headers.get("X-Line-Retry-Key", ""))
        except ValueError:
            return f"X-Line-Retry-Key {headers.get('X-Line-Retry-Key')!r} is not a UUID"
        push = json.loads(body)
        messages = push.get("messages")
        if not isinstance(push.get("to"), str) or not isinstance(messages, list):
            return "'to' and 'messages' are required"
        if not 1 <= len(messages) <= 5:
            return f"{len(messages)} messages: must be 1 to 5"
        for m in messages:
            if m.get("type") != "text" or not m.get("text"):
                return f"not a text message: {m}"
            units = len(m["text"].encode("utf-16-le")) // 2
            if units > 5000:
                return f"text of {units} characters: at most 5000"
        return ""


MAIL_USER = "alerts@lamphaya.go.th"
MAIL_PASSWORD = "p@ss:w/rd 100%"  # needs percent-encoding in the URL


@dataclass
class Mailbox:
    messages: list[tuple[Envelope, EmailMessage, bool]] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "450 4.2.1 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed, session.ssl is not None))
        return "250 OK"


def authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        MAIL_USER.encode(),
        MAIL_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 535 itself


@dataclass
class MailServer:
    mailbox: Mailbox
    port: int
    ca_file: Path

    def url(self, scheme: str = "smtp", password: str = MAIL_PASSWORD) -> str:
        user = f"{quote(MAIL_USER, safe='')}:{quote(password, safe='')}"
        return f"{scheme}://{user}@127.0.0.1:{self.port}"

    def settings(self, scheme: str = "smtp", **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "alerts_smtp_url": self.url(scheme),
            "alerts_smtp_from": "citydata@lamphaya.go.th",
            "alerts_smtp_ca_file": self.ca_file,
            "alerts_timeout_s": 5,
        }
        return load_settings({}, **(values | overrides))


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


class Receiver(FakeServer):
    """A webhook receiver that verifies the signature and the timestamp as documented in
    alerts/channels/webhook.py, and refuses (401) what does not verify."""

    max_age_s: ClassVar[int] = 300

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []

    def handle(self, path: str, headers: Any, body: bytes) -> Answer:
        timestamp = headers.get("X-Citydata-Timestamp", "")
        mac = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        signature = headers.get("X-Citydata-Signature", "")
        if not hmac.compare_digest(signature, f"sha256={mac.hexdigest()}"):
            return Answer(401, {"error": "bad signature"})
        if abs(time.time() - int(timestamp)) > self.max_age_s:
            return Answer(401, {"error": "stale timestamp"})
        if headers.get("Content-Type") != "application/json":
            return Answer(415, {"error": "not JSON"})
        answer = self.script.popleft() if self.script else Answer(204)
        if answer.status < 300:
            self.received.append((dict(headers), json.loads(body)))
        return answer


def start_mail_server(ca_file: Path, **smtp: Any) -> tuple[Controller, MailServer]:
    """A real SMTP server on a free loopback port with a login check and aiosmtpd's `smtp`
    options (`secure(ca)` for STARTTLS required); stop it with the controller's `stop()`."""
    mailbox, port = Mailbox(), free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        server_hostname="mail.test",
        authenticator=authenticate,
        **smtp,
    )
    controller.start()
    return controller, MailServer(mailbox, port, ca_file)


def secure(ca: trustme.CA) -> dict[str, Any]:
    """STARTTLS required (a certificate from `ca`), and a login, offered only once encrypted."""
    return {"tls_context": server_context(ca), "require_starttls": True, "auth_required": True}
