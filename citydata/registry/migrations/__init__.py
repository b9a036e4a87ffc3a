"""Alembic migration environment of the sensor registry (loaded by alembic, not imported)."""
