"""Errors of the configuration store (:mod:`plumbing.config_db`), in a module of their own so the CLI can
answer them without importing SQLAlchemy and Alembic for every command."""

from __future__ import annotations


class ConfigStoreError(ValueError):
    """The configuration store's URL cannot be used."""


class ConfigStoreUnavailable(ConnectionError):
    """The configuration store cannot be reached (a state of the deployment: retry later)."""
