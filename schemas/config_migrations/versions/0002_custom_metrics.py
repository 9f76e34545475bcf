"""Custom metrics (the seed's ``CustomMetric``) and the results of their calculations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from schemas.config_migrations.audit_v1 import JSON_DOCUMENT, audit_columns

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


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
