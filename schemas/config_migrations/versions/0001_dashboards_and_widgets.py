"""Custom dashboards and their widgets (the seed's ``DashboardWidget``).

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from schemas.config_migrations.audit_v1 import JSON_DOCUMENT, audit_columns

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("dashboard_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dashboard_name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(2000), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        *audit_columns(),
        sa.PrimaryKeyConstraint("dashboard_id", name=op.f("pk_dashboards")),
    )
    op.create_index(op.f("ix_dashboards_tenant_id"), "dashboards", ["tenant_id"])
    op.create_index(
        "uq_dashboards_live_name",
        "dashboards",
        ["tenant_id", "dashboard_name"],
        unique=True,
        sqlite_where=sa.text("is_deleted = 0"),
        postgresql_where=sa.text("NOT is_deleted"),
    )
    op.create_table(
        "dashboard_widgets",
        sa.Column("widget_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("widget_name", sa.String(255), nullable=False),
        sa.Column("widget_type", sa.String(32), nullable=False),
        sa.Column("dashboard_id", sa.Integer(), nullable=True),
        sa.Column("position_x", sa.Integer(), nullable=False),
        sa.Column("position_y", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("widget_config", JSON_DOCUMENT, nullable=False),
        sa.Column("data_source", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        *audit_columns(),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["dashboards.dashboard_id"],
            name=op.f("fk_dashboard_widgets_dashboard_id_dashboards"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("widget_id", name=op.f("pk_dashboard_widgets")),
    )
    op.create_index(op.f("ix_dashboard_widgets_dashboard_id"), "dashboard_widgets", ["dashboard_id"])
    op.create_index(op.f("ix_dashboard_widgets_tenant_id"), "dashboard_widgets", ["tenant_id"])
    op.create_index(op.f("ix_dashboard_widgets_user_id"), "dashboard_widgets", ["user_id"])
    op.create_index(
        "ix_dashboard_widgets_tenant_dashboard", "dashboard_widgets", ["tenant_id", "dashboard_id"]
    )


def downgrade() -> None:
    op.drop_table("dashboard_widgets")
    op.drop_table("dashboards")
