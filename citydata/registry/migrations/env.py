"""Alembic environment: migrate the connection citydata hands over, or connect to the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from citydata.registry.tables import VERSION_TABLE, metadata


def _configure(**kwargs: object) -> None:
    # Batch mode lets later migrations alter tables on SQLite, which lacks most ALTER TABLE.
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )
    with context.begin_transaction():
        context.run_migrations()


def _online() -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url set")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            _configure(connection=conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    _configure(url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True)
else:
    _online()
