"""Migration 0002: API keys (hashed), with a role; device keys name their sensor."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("sensor_id", sa.String(128), nullable=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.CheckConstraint(
            "role IN ('read', 'operator', 'admin', 'device')", name=op.f("ck_api_keys_role")
        ),
        sa.CheckConstraint(
            "(role = 'device') = (sensor_id IS NOT NULL)",
            name=op.f("ck_api_keys_device_sensor"),
        ),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
