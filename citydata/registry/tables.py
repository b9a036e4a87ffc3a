"""The registry's database schema as SQLAlchemy tables; migrations must build exactly this."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    MetaData,
    String,
    Table,
)

# Named constraints, so a migration can refer to them on every database (SQLite batch mode too).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

sensors = Table(
    "sensors",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("name_th", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("zone", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    Column("datum", String(64), nullable=False),
    Column("install_date", Date, nullable=True),
    Column("status", String(16), nullable=False),
    Column("calibration", JSON, nullable=False),
    Column("thresholds", JSON, nullable=False),
    Column("meta", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("status IN ('active', 'maintenance', 'retired', 'pending')", name="status"),
    Index(None, "kind"),
    Index(None, "zone"),
    Index(None, "status"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("sensor_id", String(128), nullable=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("role IN ('read', 'operator', 'admin', 'device')", name="role"),
    CheckConstraint("(role = 'device') = (sensor_id IS NOT NULL)", name="device_sensor"),
)

# Alembic's bookkeeping table, named for the registry so it can share a database with others.
VERSION_TABLE = "registry_alembic_version"
