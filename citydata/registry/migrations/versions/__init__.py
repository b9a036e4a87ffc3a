"""Registry migrations, one module per revision, applied in order by alembic."""
