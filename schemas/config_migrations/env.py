"""Alembic's environment for the configuration store: migrations run on the connection that
:func:`plumbing.config_db.upgrade` opened (and locked), inside its transaction. ``render_as_batch`` lets
``ALTER`` operations work on SQLite too (Alembic copies the table there).

Alembic executes this file; imported any other way (a walk over the packages) it does nothing."""

from __future__ import annotations

from alembic import context

from schemas.config_models import ConfigBase


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run the configuration store's migrations with `analytics migrate`")
    context.configure(
        connection=connection,
        target_metadata=ConfigBase.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # set only while Alembic runs this environment
    run_migrations()
