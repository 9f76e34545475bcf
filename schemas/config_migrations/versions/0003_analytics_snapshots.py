"""Analytics snapshots (the seed's ``AnalyticsSnapshot``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from schemas.config_migrations.audit_v1 import JSON_DOCUMENT, audit_columns

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


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
