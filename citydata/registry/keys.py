"""API keys: a role, an optional sensor (device keys), and only a SHA-256 of the secret stored.

A key reads `cdk_<id>_<secret>`: the id finds the row, the secret is compared by its hash. The
secret is 256 random bits, so a fast hash is the right one (as for GitHub or Stripe tokens):
there is nothing to brute-force, and checking a key costs microseconds, not a key-stretching
round on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

PREFIX = "cdk"
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


class Role(StrEnum):
    """What a key may do. read < operator < admin; device only posts its own sensor's readings."""

    read = "read"
    operator = "operator"
    admin = "admin"
    device = "device"


class Refusal(StrEnum):
    """Why a presented key grants nothing."""

    malformed = "malformed"
    unknown = "unknown"  # no such id, or the wrong secret for it
    revoked = "revoked"
    expired = "expired"


class KeyRefused(Exception):
    """A key that grants nothing: why, and its id when it has the shape of a key (never the
    secret, so this is safe to log and to answer with)."""

    def __init__(
        self, reason: Refusal, key_id: str | None = None, expires_at: datetime | None = None
    ) -> None:
        self.reason, self.key_id, self.expires_at = reason, key_id, expires_at
        super().__init__(f"API key {key_id or '(malformed)'}: {reason}")


def _stored_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


StoredTime = Annotated[datetime, AfterValidator(_stored_utc)]
"""A time read back from the registry database, always aware (UTC)."""

RANK = {Role.read: 1, Role.operator: 2, Role.admin: 3, Role.device: 0}


class ApiKey(BaseModel):
    """A stored key, without its secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    role: Role
    sensor_id: str | None = None
    created_at: StoredTime
    revoked_at: StoredTime | None = None
    expires_at: StoredTime | None = None  # None: never

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def allows(self, role: Role) -> bool:
        """True when this key's role is `role` or above it (device keys only allow device)."""
        if role is Role.device or self.role is Role.device:
            return self.role is role
        return RANK[self.role] >= RANK[role]


def new_secret() -> tuple[str, str, str]:
    """(key id, the whole key to hand out, the hash to store)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{PREFIX}_{key_id}_{secret}", digest(secret)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _KEY.match(token.strip())
    return (match.group(1), match.group(2)) if match else None


def matches(secret: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_sha256)


def key_id_of(token: str) -> str | None:
    """The id part of a key that has the shape of one (safe to log: the id is not secret)."""
    parts = split(token)
    return parts[0] if parts else None


_SPAN = re.compile(r"^([1-9][0-9]{0,4})([hdw])$")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


def parse_expiry(text: str, now: datetime) -> datetime:
    """When a key given `--expires TEXT` at `now` stops working: a span from now (`12h`,
    `90d`, `26w`), a date (`2027-06-30`: from 00:00 UTC that day) or an RFC 3339 time with a
    zone. ValueError when it is none of these or not in the future."""
    text = text.strip()
    if match := _SPAN.match(text):
        at = now + timedelta(hours=int(match.group(1)) * _UNIT_HOURS[match.group(2)])
    else:
        try:
            at = (
                datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
                if len(text) == 10
                else datetime.fromisoformat(text)
            )
        except ValueError:
            raise ValueError(
                f"{text!r} is not a span (90d, 12h, 26w), a date (2027-06-30) or an RFC 3339 "
                "time with a zone"
            ) from None
        if at.tzinfo is None:
            raise ValueError(f"{text!r} has no time zone (add Z or +07:00)")
    if at <= now:
        raise ValueError(f"{text!r} is not in the future")
    return at.astimezone(UTC)
