"""Columns every configuration table of revisions 0001–0006 starts with, frozen as those revisions wrote
them: a later change of the models gets a revision of its own, never an edit here."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def audit_columns() -> list[sa.Column[object]]:
    """``tenant_id``, the seed's ``BaseAuditFields`` and the row version (as ``config_models.Audited``)."""
    return [
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_ip", sa.String(45), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=True),
        sa.Column("updated_ip", sa.String(45), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]
