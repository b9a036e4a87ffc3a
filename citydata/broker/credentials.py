"""Issue and rotate MQTT credentials: a random secret shown once, only its hash kept.

The secret (256 random bits, URL-safe characters) is returned to the caller to show once, as
API keys are; the registry keeps the Mosquitto hash `citydata broker sync` writes out. An
operator may bring a password of their own instead (a service's password already in a
deployment's settings); it is hashed the same way and never stored.
"""

from __future__ import annotations

from collections.abc import Iterable

from citydata.broker import passwords
from citydata.registry.errors import RegistryError
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


def ensure(
    store: MqttCredentials, username: str, role: MqttRole, password: str
) -> tuple[MqttCredential, str]:
    """The credential `username` of `role` with `password`, as a deployment's settings give
    it (Compose's .env): created when missing, rotated when its password changed, else left
    alone (so the password file is not rewritten). (credential, "created" | "rotated" |
    "unchanged"); a credential of that name in another role is an error."""
    found = {cred.username: (cred, stored) for cred, stored in store.active_with_hashes()}
    if username not in found:
        return issue(store, username, role, (), password)[0], "created"
    cred, stored = found[username]
    if cred.role is not MqttRole(role):
        raise RegistryError(
            f"MQTT credential {username!r} is a {cred.role} credential, not {MqttRole(role)}: "
            "revoke it first"
        )
    if passwords.verify(password, stored):
        return cred, "unchanged"
    return rotate(store, username, password)[0], "rotated"
