"""MQTT credentials kept in the registry: who may connect to the broker, and as what.

A credential is a user name, a role and the password's hash exactly as Mosquitto's password
file holds it (`$7$...`, see citydata.broker.passwords); the password itself is never stored.
Devices are named by their sensor id (one credential per registered sensor); gateways (a TTN or
ChirpStack network server) carry the topic filters they publish on; the services (collector,
api, simulator) are granted what their role needs by the ACL (citydata.broker.acl). Revoking
keeps the row, for the record; creating the name again replaces a revoked credential.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine

from citydata.registry.errors import RegistryError, SensorNotFound
from citydata.registry.keys import StoredTime
from citydata.registry.mqtt_roles import MqttRole as MqttRole  # re-exported
from citydata.registry.store import Clock, transaction, utcnow
from citydata.registry.tables import mqtt_credentials, sensors
from citydata.routes import check_topic_filter

# Gateway and service names: plain words. Device names are sensor ids, which may hold any
# character but '/', '+', '#' and blanks; ':' ends the user name in the password file.
SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CredentialNotFound(RegistryError):
    """No MQTT credential has this user name."""

    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"no MQTT credential {username!r}")


class MqttCredential(BaseModel):
    """A stored MQTT credential, without its password hash."""

    model_config = ConfigDict(frozen=True)

    username: str
    role: MqttRole
    sensor_id: str | None = None
    topics: tuple[str, ...] = ()
    created_at: StoredTime
    rotated_at: StoredTime | None = None
    revoked_at: StoredTime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def check_username(username: str, role: MqttRole) -> str:
    """`username` if it can name a credential of `role`; RegistryError saying why not."""
    if role is MqttRole.device:
        if ":" in username:
            raise RegistryError(
                f"sensor id {username!r} holds ':', which ends the user name in Mosquitto's "
                "password file: such a sensor cannot have a device credential (publish its "
                "readings through a gateway credential instead)"
            )
        return username
    if not SERVICE_NAME.match(username):
        raise RegistryError(
            f"{username!r}: a {role} name is 1 to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return username


def check_topics(role: MqttRole, topics: Iterable[str]) -> tuple[str, ...]:
    """A gateway's topic filters, validated; other roles take none."""
    found = tuple(dict.fromkeys(topics))
    if role is not MqttRole.gateway:
        if found:
            raise RegistryError(f"only a gateway takes topics; a {role} gets them from its role")
        return found
    if not found:
        raise RegistryError("a gateway needs at least one topic filter it publishes on (--topic)")
    for topic in found:
        try:
            check_topic_filter(topic)
        except ValueError as exc:
            raise RegistryError(f"gateway topic {topic!r}: {exc}") from None
        if topic.startswith("$"):
            raise RegistryError(f"gateway topic {topic!r}: a gateway publishes on no $ topics")
    return found


class MqttCredentials:
    """The MQTT credentials in a registry database (`Registry.engine`)."""

    def __init__(self, engine: Engine, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    def _transaction(self) -> AbstractContextManager[Connection]:
        return transaction(self._engine)

    def create(
        self, username: str, role: MqttRole, password_hash: str, topics: Iterable[str] = ()
    ) -> MqttCredential:
        """Store a new credential (or replace a revoked one of that name). A device's name is a
        registered, not retired, sensor's id."""
        role = MqttRole(role)
        check_username(username, role)
        found = check_topics(role, topics)
        sensor_id = username if role is MqttRole.device else None
        stored = MqttCredential(
            username=username,
            role=role,
            sensor_id=sensor_id,
            topics=found,
            created_at=self._clock(),
        )
        with self._transaction() as conn:
            if sensor_id is not None:
                _check_sensor(conn, sensor_id)
            old = _fetch(conn, username)
            if old is not None and old.revoked_at is None:
                raise RegistryError(
                    f"MQTT credential {username!r} already exists ({old.role}); rotate it to "
                    "give it a new password, or revoke it first"
                )
            if old is not None:
                conn.execute(sa.delete(mqtt_credentials).where(_named(username)))
            values = stored.model_dump()
            values["topics"] = list(found)
            conn.execute(sa.insert(mqtt_credentials).values(**values, password_hash=password_hash))
        return stored

    def rotate(self, username: str, password_hash: str) -> MqttCredential:
        """Give an active credential a new password hash; the old password stops at next sync."""
        with self._transaction() as conn:
            row = _fetch(conn, username)
            if row is None or row.revoked_at is not None:
                raise CredentialNotFound(username)
            now = self._clock()
            conn.execute(
                sa.update(mqtt_credentials)
                .where(_named(username))
                .values(password_hash=password_hash, rotated_at=now)
            )
            return _credential(row).model_copy(update={"rotated_at": now})

    def revoke(self, username: str) -> MqttCredential:
        """Revoke a credential (kept, listed with --all); the broker refuses it at next sync."""
        with self._transaction() as conn:
            row = _fetch(conn, username)
            if row is None:
                raise CredentialNotFound(username)
            cred = _credential(row)
            if cred.revoked_at is None:
                cred = cred.model_copy(update={"revoked_at": self._clock()})
                conn.execute(
                    sa.update(mqtt_credentials)
                    .where(_named(username))
                    .values(revoked_at=cred.revoked_at)
                )
        return cred

    def list(self, *, include_revoked: bool = False) -> builtins.list[MqttCredential]:
        """Credentials ordered by user name, without hashes."""
        return [cred for cred, _ in self._rows(include_revoked)]

    def active_with_hashes(self) -> builtins.list[tuple[MqttCredential, str]]:
        """Every active credential with its password hash, ordered by user name."""
        return self._rows(include_revoked=False)

    def _rows(self, include_revoked: bool) -> builtins.list[tuple[MqttCredential, str]]:
        query = sa.select(mqtt_credentials).order_by(mqtt_credentials.c.username)
        if not include_revoked:
            query = query.where(mqtt_credentials.c.revoked_at.is_(None))
        with self._transaction() as conn:
            return [(_credential(row), row.password_hash) for row in conn.execute(query)]


def _named(username: str) -> sa.ColumnElement[bool]:
    return mqtt_credentials.c.username == username


def _fetch(conn: Connection, username: str) -> Any:
    return conn.execute(sa.select(mqtt_credentials).where(_named(username))).first()


def _check_sensor(conn: Connection, sensor_id: str) -> None:
    row = conn.execute(sa.select(sensors.c.status).where(sensors.c.id == sensor_id)).first()
    if row is None:
        raise SensorNotFound(sensor_id)
    if row.status == "retired":
        raise RegistryError(f"sensor {sensor_id!r} is retired: it gets no MQTT credential")


def _credential(row: Any) -> MqttCredential:
    data = dict(row._mapping)
    data.pop("password_hash", None)
    data["topics"] = tuple(data.get("topics") or ())
    return MqttCredential.model_validate(data)
