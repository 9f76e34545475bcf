"""Analytics exports (the seed's ``AnalyticsExport``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from schemas.config_migrations.audit_v1 import JSON_DOCUMENT, audit_columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_exports",
        sa.Column("export_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("export_name", sa.String(255), nullable=False),
        sa.Column("export_type", sa.String(50), nullable=False),
        sa.Column("export_format", sa.String(8), nullable=False),
        sa.Column("export_status", sa.String(20), nullable=False),
        sa.Column("file_url", sa.String(500), nullable=True),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("parameters", JSON_DOCUMENT, nullable=False),
        sa.Column("rows_written", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        *audit_columns(),
        sa.PrimaryKeyConstraint("export_id", name=op.f("pk_analytics_exports")),
    )
    for column in ("export_status", "requested_by", "tenant_id"):
        op.create_index(op.f(f"ix_analytics_exports_{column}"), "analytics_exports", [column])
    op.create_index("ix_analytics_exports_created_at", "analytics_exports", ["created_at"])


def downgrade() -> None:
    op.drop_table("analytics_exports")
