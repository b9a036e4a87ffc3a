"""Migration 0005: MQTT credentials (Mosquitto password hashes) for devices, gateways and
services, from which `citydata broker sync` writes the broker's password file and ACL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "mqtt_credentials",
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("sensor_id", sa.String(128), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_mqtt_credentials")),
        sa.CheckConstraint(
            "role IN ('device', 'gateway', 'collector', 'api', 'simulator')",
            name=op.f("ck_mqtt_credentials_role"),
        ),
        sa.CheckConstraint(
            "(role = 'device') = (sensor_id IS NOT NULL)",
            name=op.f("ck_mqtt_credentials_device_sensor"),
        ),
    )


def downgrade() -> None:
    op.drop_table("mqtt_credentials")
