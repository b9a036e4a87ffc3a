"""E-mail through the city's mail server, always encrypted.

`smtp://user:pass@host:587` connects in clear and must upgrade with STARTTLS before anything
else is said: a server that does not offer it gets nothing (failed, with that reason), so a
password or an alert is never sent in clear. `smtps://user:pass@host:465` speaks TLS from the
start. The certificate is checked against `alerts_smtp_ca_file` (else the system's CAs) and the
host name always. User and password in the URL are percent-decoded; without them no login.

The message is UTF-8 (Thai subject as an RFC 2047 encoded word, Thai body as a UTF-8 MIME
part), with `Message-ID: <{notice.key}@citydata>` so a resent copy is recognisably the same.

Answers: accepted sent; a 5xx refusal (recipient, sender or data), a refused login or a
certificate that does not verify failed; a 4xx (greylisting, mailbox busy), a dropped
connection, a timeout or a refused connection retry.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from alerts.channels import shorten
from citydata.alerts.notice import Channel, Notice, Outcome
from citydata.settings import Settings

CHANNEL: Channel = "email"


def from_settings(settings: Settings) -> EmailSender | None:
    if not settings.alerts_smtp_url:
        return None
    return EmailSender(
        settings.alerts_smtp_url,
        settings.alerts_smtp_from,
        settings.alerts_smtp_ca_file,
        settings.alerts_timeout_s,
    )


class _Refused(Exception):
    """The server cannot be used safely as configured: a permanent failure."""


class EmailSender:
    name: Channel = CHANNEL

    def __init__(self, url: str, sender: str, ca_file: Path | None, timeout_s: float) -> None:
        parts = urlsplit(url)
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname or ""
        self._port = parts.port or (465 if self._implicit_tls else 587)
        self._user = unquote(parts.username) if parts.username else ""
        self._password = unquote(parts.password) if parts.password else ""
        self._sender = sender
        self._timeout_s = timeout_s
        # check_hostname and CERT_REQUIRED are the defaults of a default context
        self._context = ssl.create_default_context(cafile=ca_file)

    @property
    def server(self) -> str:
        return f"{self._host}:{self._port}"

    def send(self, notice: Notice) -> Outcome:
        try:
            message = self.message(notice)
        except ValueError as exc:  # a line break in an address or header
            return Outcome("failed", f"cannot write the message: {exc}")
        try:
            self._deliver(message)
        except _Refused as exc:
            return Outcome("failed", str(exc))
        except smtplib.SMTPRecipientsRefused as exc:
            reply = "; ".join(_text(c, m) for c, m in exc.recipients.values())
            error = shorten(f"{self.server} refused {notice.address}: {reply}")
            return Outcome(_by_code(*(c for c, _ in exc.recipients.values())), error)
        except smtplib.SMTPResponseException as exc:
            error = shorten(f"{self.server} answered {_reply(exc)}")
            return Outcome(_by_code(exc.smtp_code), error)
        except ssl.SSLCertVerificationError as exc:
            return Outcome("failed", shorten(f"{self.server}: certificate not trusted: {exc}"))
        except TimeoutError:
            return Outcome("retry", f"{self.server} did not answer within {self._timeout_s:g} s")
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome("retry", shorten(f"{self.server}: {type(exc).__name__}: {exc}"))
        return Outcome("sent", details={"server": self.server})

    def close(self) -> None:
        """Nothing to release: each message has a connection of its own (alerts are few)."""

    def message(self, notice: Notice) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = " ".join(notice.subject.split())  # one line, whatever it holds
        message["From"] = self._sender
        message["To"] = notice.address
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = f"<{notice.key}@citydata>"
        message.set_content(notice.text, charset="utf-8")
        return message

    def _deliver(self, message: EmailMessage) -> None:
        if self._implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout_s, context=self._context
            )
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout_s)
        try:
            if not self._implicit_tls:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise _Refused(
                        f"{self.server} does not offer STARTTLS: not sending in clear text "
                        "(use smtps:// if the server speaks TLS from the start)"
                    )
                smtp.starttls(context=self._context)
                smtp.ehlo()
            if self._user:
                self._login(smtp)
            smtp.send_message(message)
        finally:
            _quit(smtp)

    def _login(self, smtp: smtplib.SMTP) -> None:
        if not (self._user + self._password).isascii():  # smtplib encodes them as ASCII
            raise _Refused(
                "the user and password in CITYDATA_ALERTS_SMTP_URL must be ASCII "
                "(percent-encoded in the URL as needed)"
            )
        try:
            smtp.login(self._user, self._password)
        except smtplib.SMTPAuthenticationError as exc:
            raise _Refused(
                f"{self.server} refused the login of {self._user!r} ({_reply(exc)}): "
                "check the user and password in CITYDATA_ALERTS_SMTP_URL"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise _Refused(
                f"{self.server} offers no login (AUTH) although CITYDATA_ALERTS_SMTP_URL "
                "names a user"
            ) from exc


def _by_code(*codes: int) -> Literal["retry", "failed"]:
    """A 4xx reply is temporary (try again later), a 5xx one permanent."""
    return "retry" if any(400 <= code < 500 for code in codes) else "failed"


def _text(code: int, reply: bytes | str) -> str:
    return f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _text(exc.smtp_code, exc.smtp_error)


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye; once the message is accepted, a bad answer to QUIT changes nothing."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
