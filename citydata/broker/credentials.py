"""Issue and rotate MQTT credentials: a random secret shown once, only its hash kept.

The secret (256 random bits, URL-safe characters) is returned to the caller to show once, as
API keys are; the registry keeps the Mosquitto hash `citydata broker sync` writes out. An
operator may bring a password of their own instead (a service's password already in a
deployment's settings); it is hashed the same way and never stored.
"""

from __future__ import annotations

from collections.abc import Iterable

from citydata.broker import passwords
from citydata.registry.mqtt_credentials import MqttCredential, MqttCredentials, MqttRole


def issue(
    store: MqttCredentials,
    username: str,
    role: MqttRole,
    topics: Iterable[str] = (),
    password: str | None = None,
) -> tuple[MqttCredential, str]:
    """A new credential: (what is stored, the password to hand out, this once)."""
    secret = password if password is not None else passwords.new_secret()
    cred = store.create(username, role, passwords.hash_password(secret), topics)
    return cred, secret


def rotate(
    store: MqttCredentials, username: str, password: str | None = None
) -> tuple[MqttCredential, str]:
    """A new password for an active credential: (the credential, the new password, once)."""
    secret = password if password is not None else passwords.new_secret()
    return store.rotate(username, passwords.hash_password(secret)), secret
