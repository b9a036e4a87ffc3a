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
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator

PREFIX = "cdk"
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


class Role(StrEnum):
    """What a key may do. read < operator < admin; device only posts its own sensor's readings."""

    read = "read"
    operator = "operator"
    admin = "admin"
    device = "device"


RANK = {Role.read: 1, Role.operator: 2, Role.admin: 3, Role.device: 0}


class ApiKey(BaseModel):
    """A stored key, without its secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    role: Role
    sensor_id: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None

    @field_validator("created_at", "revoked_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite hands back naive datetimes; they were written in UTC.
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    @property
    def active(self) -> bool:
        return self.revoked_at is None

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
