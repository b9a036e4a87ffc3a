"""The sensor registry: sensors kept in a SQL database (SQLite by default), migrated on open."""

from __future__ import annotations

import builtins
import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, Row
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from citydata.registry import keys, migrate
from citydata.registry.errors import KeyNotFound, RegistryError, SensorExists, SensorNotFound
from citydata.registry.keys import ApiKey, Role
from citydata.registry.model import EDITABLE, Sensor, Status
from citydata.registry.tables import api_keys, sensors
from citydata.settings import Settings

Clock = Callable[[], datetime]
REGISTRY_FILE = "registry.db"


def registry_url(settings: Settings) -> str:
    """CITYDATA_REGISTRY_URL when set, else the SQLite file registry.db in the data directory."""
    url: str = getattr(settings, "registry_url", "") or ""  # the setting may not exist yet
    return url or f"sqlite:///{(Path(settings.data_dir) / REGISTRY_FILE).resolve()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction on the registry database; a database failure becomes a RegistryError."""
    try:
        with engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise RegistryError(f"registry database error: {exc}") from exc


@dataclass
class UpsertResult:
    """What upsert_many did, by sensor id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise RegistryError(f"invalid registry URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.database in (None, "", ":memory:"):  # one shared in-memory database, for tests
        return sa.create_engine(parsed, poolclass=StaticPool)
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(parsed)


class Registry:
    """Registered sensors. Open with `Registry.open(url)`; close, or use as a context manager."""

    def __init__(self, engine: Engine, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    @classmethod
    def open(cls, url: str, *, clock: Clock = utcnow) -> Registry:
        """Connect to `url` (any SQLAlchemy URL) and bring its schema up to date."""
        engine = _engine(url)
        try:
            migrate.ensure_current(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise RegistryError(f"cannot open the registry at {_safe(url)}: {exc}") from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock)

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        """The registry the settings name (see `registry_url`)."""
        return cls.open(registry_url(settings))

    @property
    def engine(self) -> Engine:
        """The database connection pool, for the tables others keep there (the alerts')."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _transaction(self) -> contextlib.AbstractContextManager[Connection]:
        return transaction(self._engine)

    def add(self, sensor: Sensor) -> Sensor:
        """Register a new sensor; SensorExists when the id is taken."""
        with self._transaction() as conn:
            if _fetch(conn, sensor.id) is not None:
                raise SensorExists([sensor.id])
            stored = self._stamped(sensor, created=None)
            conn.execute(sa.insert(sensors).values(_row(stored)))
        return stored

    def get(self, sensor_id: str) -> Sensor:
        """The sensor with this id; SensorNotFound when there is none."""
        with self._transaction() as conn:
            row = _fetch(conn, sensor_id)
        if row is None:
            raise SensorNotFound(sensor_id)
        return _sensor(row)

    def list(
        self, *, kind: str | None = None, zone: str | None = None, status: Status | None = None
    ) -> builtins.list[Sensor]:
        """Sensors ordered by id, only those matching every filter given."""
        query = sa.select(sensors).order_by(sensors.c.id)
        for column, value in (("kind", kind), ("zone", zone), ("status", status)):
            if value is not None:
                query = query.where(sensors.c[column] == value)
        with self._transaction() as conn:
            return [_sensor(row) for row in conn.execute(query)]

    def update(self, sensor_id: str, **changes: Any) -> Sensor:
        """Change some fields of a sensor; the result is validated as a whole."""
        bad = sorted(name for name in changes if name == "id" or name not in EDITABLE)
        if bad:
            raise RegistryError(f"cannot change {', '.join(bad)} (editable: {_editable()})")
        with self._transaction() as conn:
            row = _fetch(conn, sensor_id)
            if row is None:
                raise SensorNotFound(sensor_id)
            current = _sensor(row)
            changed = Sensor.model_validate({**current.as_dict(), **changes})
            if changed.same_as(current):
                return current
            stored = self._stamped(changed, created=current.created_at)
            conn.execute(sa.update(sensors).where(sensors.c.id == sensor_id).values(_row(stored)))
        return stored

    def retire(self, sensor_id: str) -> Sensor:
        """Mark a sensor retired; it stays registered, with its history."""
        return self.update(sensor_id, status="retired")

    def upsert_many(self, batch: Iterable[Sensor], *, update: bool = True) -> UpsertResult:
        """Add or replace many sensors in ONE transaction: all are stored, or none.

        With update=False an id already registered raises SensorExists and nothing is stored.
        """
        items = list(batch)
        ids = [s.id for s in items]
        twice = {i for i, n in Counter(ids).items() if n > 1}
        if twice:
            raise RegistryError(f"the same id twice in one batch: {', '.join(sorted(twice))}")
        result = UpsertResult()
        with self._transaction() as conn:
            existing = _existing(conn, ids)
            if existing and not update:
                raise SensorExists(existing)
            for sensor in items:
                self._upsert_one(conn, sensor, existing.get(sensor.id), result)
        return result

    def _upsert_one(
        self, conn: Connection, sensor: Sensor, old: Sensor | None, result: UpsertResult
    ) -> None:
        if old is None:
            conn.execute(sa.insert(sensors).values(_row(self._stamped(sensor, created=None))))
            result.added.append(sensor.id)
        elif sensor.same_as(old):
            result.unchanged.append(sensor.id)
        else:
            stored = self._stamped(sensor, created=old.created_at)
            conn.execute(sa.update(sensors).where(sensors.c.id == sensor.id).values(_row(stored)))
            result.updated.append(sensor.id)

    def kinds(self) -> dict[str, str]:
        """{sensor id: kind} of every registered sensor: one light query, no validation."""
        with self._transaction() as conn:
            return {
                row.id: row.kind for row in conn.execute(sa.select(sensors.c.id, sensors.c.kind))
            }

    def snapshot(self) -> dict[str, Sensor]:
        """Every sensor by id, read in one query: what the collector refreshes periodically."""
        with self._transaction() as conn:
            return {row.id: _sensor(row) for row in conn.execute(sa.select(sensors))}

    def create_key(
        self,
        name: str,
        role: Role,
        sensor_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """A new API key: (what is stored, the key itself, shown this once and never again).
        Device keys speak for one registered sensor; other roles for none. `expires_at`: when
        it stops working (None: never)."""
        role = Role(role)
        if (role is Role.device) != (sensor_id is not None):
            raise RegistryError("a device key needs a sensor id, and only a device key takes one")
        if not name.strip():
            raise RegistryError("a key needs a name saying who or what holds it")
        key_id, token, hashed = keys.new_secret()
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise RegistryError(f"the expiry {expires_at.isoformat()} is not in the future")
        stored = ApiKey(
            id=key_id,
            name=name.strip(),
            role=role,
            sensor_id=sensor_id,
            created_at=now,
            expires_at=expires_at,
        )
        with self._transaction() as conn:
            if sensor_id is not None and _fetch(conn, sensor_id) is None:
                raise SensorNotFound(sensor_id)
            conn.execute(sa.insert(api_keys).values(**stored.model_dump(), secret_sha256=hashed))
        return stored, token

    def list_keys(self, *, include_revoked: bool = False) -> builtins.list[ApiKey]:
        """Keys ordered by creation, without secrets."""
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self._transaction() as conn:
            return [ApiKey.model_validate(dict(row._mapping)) for row in conn.execute(query)]

    def revoke_key(self, key_id: str) -> ApiKey:
        """Revoke a key at once (it stays listed with --all, for the record)."""
        with self._transaction() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
            if row is None:
                raise KeyNotFound(key_id)
            key = ApiKey.model_validate(dict(row._mapping))
            if key.revoked_at is None:
                key = key.model_copy(update={"revoked_at": self._clock()})
                conn.execute(
                    sa.update(api_keys)
                    .where(api_keys.c.id == key_id)
                    .values(revoked_at=key.revoked_at)
                )
        return key

    def authenticate(self, token: str) -> ApiKey | None:
        """The key `token` is while it grants access, else None (see verify_key)."""
        try:
            return self.verify_key(token)
        except keys.KeyRefused:
            return None

    def verify_key(self, token: str) -> ApiKey:
        """The key `token` is, if it grants access now; KeyRefused saying why not (malformed,
        unknown or wrong secret, revoked, expired)."""
        parts = keys.split(token)
        if parts is None:
            raise keys.KeyRefused(keys.Refusal.malformed)
        key_id, secret = parts
        with self._transaction() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None or not keys.matches(secret, row.secret_sha256):
            raise keys.KeyRefused(keys.Refusal.unknown, key_id)
        key = ApiKey.model_validate(dict(row._mapping))
        if key.revoked_at is not None:
            raise keys.KeyRefused(keys.Refusal.revoked, key_id)
        if key.expired(self._clock()):
            raise keys.KeyRefused(keys.Refusal.expired, key_id, key.expires_at)
        return key

    def _stamped(self, sensor: Sensor, created: datetime | None) -> Sensor:
        now = self._clock()
        return sensor.model_copy(update={"created_at": created or now, "updated_at": now})


def _editable() -> str:
    return ", ".join(name for name in EDITABLE if name != "id")


def _fetch(conn: Connection, sensor_id: str) -> Row[Any] | None:
    return conn.execute(sa.select(sensors).where(sensors.c.id == sensor_id)).first()


def _existing(conn: Connection, ids: Sequence[str]) -> dict[str, Sensor]:
    found: dict[str, Sensor] = {}
    for start in range(0, len(ids), 500):  # databases cap the parameters of one statement
        query = sa.select(sensors).where(sensors.c.id.in_(ids[start : start + 500]))
        found.update((row.id, _sensor(row)) for row in conn.execute(query))
    return found


def _row(sensor: Sensor) -> dict[str, Any]:
    data = sensor.as_dict()
    data["install_date"] = sensor.install_date  # a date object: the Date column wants one
    data["created_at"], data["updated_at"] = sensor.created_at, sensor.updated_at
    return data


def _sensor(row: Row[Any]) -> Sensor:
    try:
        return Sensor.model_validate(dict(row._mapping))
    except ValueError as exc:  # a row edited by hand, or written by a newer citydata
        raise RegistryError(f"sensor {row.id!r} in the database is invalid: {exc}") from exc


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"
