"""Alembic migrations: the schema, one revision per feature branch, applied by ``gis.migrate.upgrade``."""
