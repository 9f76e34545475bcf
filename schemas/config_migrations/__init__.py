"""Alembic migrations of the configuration store (ADR 0017), applied by :func:`plumbing.config_db.upgrade`."""
