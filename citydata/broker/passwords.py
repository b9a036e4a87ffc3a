"""Mosquitto password-file hashes: PBKDF2-HMAC-SHA512, `$7$<iterations>$<salt>$<hash>` (base64),
as `mosquitto_passwd` 2.x writes them, so `citydata broker sync` writes the file from stored
hashes without ever knowing a secret.

Iterations: 101, mosquitto_passwd's own default. Key stretching protects guessable passwords;
the secrets issued here are 256 random bits, where it buys nothing, while the broker pays the
iterations on every CONNECT (a fleet reconnecting at once). A hash with another count (one an
operator made with `mosquitto_passwd -I`) is read and verified as it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

ITERATIONS = 101
SALT_BYTES = 12
_HASH_BYTES = 64  # SHA-512's output
_PREFIX = "$7$"


def new_secret() -> str:
    """A random MQTT password: 256 bits, URL-safe characters (it goes into mqtt://user:pass@)."""
    return secrets.token_urlsafe(32)


def _pbkdf2(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The password-file hash of `password` (a fresh random salt unless one is given)."""
    if not password:
        raise ValueError("an MQTT password must not be empty")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = _pbkdf2(password, salt, iterations)
    return f"{_PREFIX}{iterations}${_b64(salt)}${_b64(digest)}"


def parse(stored: str) -> tuple[int, bytes, bytes]:
    """(iterations, salt, hash) of a `$7$` hash; ValueError saying what is wrong otherwise."""
    if not stored.startswith(_PREFIX):
        raise ValueError("not a $7$ (PBKDF2-SHA512) Mosquitto password hash")
    parts = stored[len(_PREFIX) :].split("$")
    if len(parts) != 3 or not parts[0].isdigit() or int(parts[0]) < 1:
        raise ValueError("a $7$ hash reads $7$<iterations>$<salt>$<hash>")
    try:
        salt = base64.b64decode(parts[1], validate=True)
        digest = base64.b64decode(parts[2], validate=True)
    except binascii.Error as exc:
        raise ValueError(f"salt or hash is not base64: {exc}") from None
    if not salt or len(digest) != _HASH_BYTES:
        raise ValueError(f"a $7$ hash has a salt and a {_HASH_BYTES}-byte hash")
    return int(parts[0]), salt, digest


def verify(password: str, stored: str) -> bool:
    """True when `password` is the one `stored` was made from (constant-time comparison)."""
    try:
        iterations, salt, digest = parse(stored)
    except ValueError:
        return False
    return hmac.compare_digest(_pbkdf2(password, salt, iterations), digest)


def read_file(text: str) -> dict[str, str]:
    """{username: hash} of a password file's text; blank lines, comments and malformed lines
    are skipped (the file is ours, rewritten whole: this only recovers reusable hashes)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        username, sep, stored = line.partition(":")
        if sep and username and not username.startswith("#"):
            found[username] = stored.strip()
    return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
