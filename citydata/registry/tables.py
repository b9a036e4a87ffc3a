"""The registry's database schema as SQLAlchemy tables; migrations must build exactly this."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
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
    Column("expires_at", DateTime(timezone=True), nullable=True),  # 0004; null: never
    CheckConstraint("role IN ('read', 'operator', 'admin', 'device')", name="role"),
    CheckConstraint("(role = 'device') = (sensor_id IS NOT NULL)", name="device_sensor"),
)

# MQTT credentials (citydata.registry.mqtt_credentials): who may connect to the broker, with
# the password hash exactly as Mosquitto's password file holds it. Devices are named by their
# sensor id; gateways list the topic filters they publish on.
mqtt_credentials = Table(
    "mqtt_credentials",
    metadata,
    Column("username", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("sensor_id", String(128), nullable=True),
    Column("topics", JSON, nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("role IN ('device', 'gateway', 'collector', 'api', 'simulator')", name="role"),
    CheckConstraint("(role = 'device') = (sensor_id IS NOT NULL)", name="device_sensor"),
)

# Alerts (citydata.alerts.store): rules and recipients as operators gave them, the state of every
# rule and subject not inactive, the history of transitions, silences, and the outbox. Times
# of evaluation are epoch nanoseconds, as in InfluxDB; times people set are timestamps.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("origin", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("origin IN ('file', 'api')", name="origin"),
)

alert_recipients = Table(
    "alert_recipients",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

alert_states = Table(
    "alert_states",
    metadata,
    Column("rule", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("state", String(8), nullable=False),
    Column("since_ns", BigInteger, nullable=False),
    Column("firing_ns", BigInteger, nullable=True),
    Column("value", Float, nullable=True),
    Column("notified_ns", BigInteger, nullable=True),
    Column("ack_by", String(200), nullable=True),
    Column("ack_at", DateTime(timezone=True), nullable=True),
    Column("info", JSON, nullable=False),
    PrimaryKeyConstraint("rule", "subject"),
    CheckConstraint("state IN ('pending', 'firing')", name="state"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time_ns", BigInteger, nullable=False),
    Column("rule", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("transition", String(12), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("value", Float, nullable=True),
    Column("text_th", Text, nullable=False),
    Column("text_en", Text, nullable=False),
    Column("silenced", Boolean, nullable=False),
    Column("by", String(200), nullable=True),
    Index(None, "time_ns"),
    Index(None, "rule"),
)

alert_silences = Table(
    "alert_silences",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("rule", String(64), nullable=True),
    Column("subject", String(200), nullable=True),
    Column("labels", JSON, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "ends_at"),
)

alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_ns", BigInteger, nullable=False),
    Column("channel", String(8), nullable=False),
    Column("address", String(500), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("text", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("key", String(36), nullable=False, unique=True),
    Column("status", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_ns", BigInteger, nullable=False),
    Column("error", Text, nullable=False),
    Column("done_ns", BigInteger, nullable=True),
    CheckConstraint("status IN ('pending', 'sent', 'failed', 'quota')", name="status"),
    CheckConstraint("channel IN ('line', 'email', 'webhook')", name="channel"),
    Index(None, "status"),
)

# Alembic's bookkeeping table, named for the registry so it can share a database with others.
VERSION_TABLE = "registry_alembic_version"
