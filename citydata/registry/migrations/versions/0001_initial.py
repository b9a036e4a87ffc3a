"""Migration 0001: the sensors table."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Written out in full, not imported from tables.py: a migration describes the schema of its day.
# op.f() marks names as final, so the naming convention in tables.py is not applied twice.


def upgrade() -> None:
    op.create_table(
        "sensors",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name_th", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("datum", sa.String(64), nullable=False),
        sa.Column("install_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensors")),
        sa.CheckConstraint(
            "status IN ('active', 'maintenance', 'retired', 'pending')",
            name=op.f("ck_sensors_status"),
        ),
    )
    for column in ("kind", "zone", "status"):
        op.create_index(op.f(f"ix_sensors_{column}"), "sensors", [column])


def downgrade() -> None:
    for column in ("kind", "zone", "status"):
        op.drop_index(op.f(f"ix_sensors_{column}"), table_name="sensors")
    op.drop_table("sensors")
