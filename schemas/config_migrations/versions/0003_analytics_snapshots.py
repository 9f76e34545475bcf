"""Analytics snapshots (the seed's ``AnalyticsSnapshot``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def audit_columns() -> list[sa.Column[object]]:
    """As revision 0001's (a revision stays as it was written, whatever the models become)."""
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


def upgrade() -> None:
    op.create_table(
        "analytics_snapshots",
        sa.Column("snapshot_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("snapshot_name", sa.String(255), nullable=False),
        sa.Column("snapshot_type", sa.String(50), nullable=False),
        sa.Column("snapshot_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSON_DOCUMENT, nullable=False),
        sa.Column("metadata", JSON_DOCUMENT, nullable=True),
        *audit_columns(),
        sa.PrimaryKeyConstraint("snapshot_id", name=op.f("pk_analytics_snapshots")),
    )
    op.create_index(op.f("ix_analytics_snapshots_snapshot_date"), "analytics_snapshots", ["snapshot_date"])
    op.create_index(op.f("ix_analytics_snapshots_snapshot_type"), "analytics_snapshots", ["snapshot_type"])
    op.create_index(op.f("ix_analytics_snapshots_tenant_id"), "analytics_snapshots", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("analytics_snapshots")
