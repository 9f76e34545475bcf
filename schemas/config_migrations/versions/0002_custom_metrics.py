"""Custom metrics (the seed's ``CustomMetric``) and the results of their calculations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
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
        "custom_metrics",
        sa.Column("metric_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("metric_name", sa.String(255), nullable=False),
        sa.Column("metric_description", sa.String(4000), nullable=True),
        sa.Column("metric_type", sa.String(16), nullable=False),
        sa.Column("calculation_config", JSON_DOCUMENT, nullable=False),
        *audit_columns(),
        sa.PrimaryKeyConstraint("metric_id", name=op.f("pk_custom_metrics")),
    )
    op.create_index(op.f("ix_custom_metrics_metric_type"), "custom_metrics", ["metric_type"])
    op.create_index(op.f("ix_custom_metrics_tenant_id"), "custom_metrics", ["tenant_id"])
    op.create_index(
        "uq_custom_metrics_live_name",
        "custom_metrics",
        ["tenant_id", "metric_name"],
        unique=True,
        sqlite_where=sa.text("is_deleted = 0"),
        postgresql_where=sa.text("NOT is_deleted"),
    )
    op.create_table(
        "custom_metric_results",
        sa.Column("result_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("metric_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("parameters", JSON_DOCUMENT, nullable=False),
        sa.Column("result", JSON_DOCUMENT, nullable=False),
        *audit_columns(),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["custom_metrics.metric_id"],
            name=op.f("fk_custom_metric_results_metric_id_custom_metrics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("result_id", name=op.f("pk_custom_metric_results")),
    )
    op.create_index(op.f("ix_custom_metric_results_metric_id"), "custom_metric_results", ["metric_id"])
    op.create_index(op.f("ix_custom_metric_results_tenant_id"), "custom_metric_results", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("custom_metric_results")
    op.drop_table("custom_metrics")
