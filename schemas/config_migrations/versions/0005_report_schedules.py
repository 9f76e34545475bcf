"""Report schedules (the seed's ``ReportSchedule``), their runs and deliveries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from schemas.config_migrations.audit_v1 import JSON_DOCUMENT, audit_columns

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("schedule_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("schedule_name", sa.String(255), nullable=False),
        sa.Column("cron_expression", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(50), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipients", JSON_DOCUMENT, nullable=False),
        sa.Column("schedule_config", JSON_DOCUMENT, nullable=True),
        *audit_columns(),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.report_id"],
            name=op.f("fk_report_schedules_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", name=op.f("pk_report_schedules")),
    )
    for column in ("report_id", "is_enabled", "next_run_at", "tenant_id"):
        op.create_index(op.f(f"ix_report_schedules_{column}"), "report_schedules", [column])
    op.create_table(
        "schedule_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("runner", sa.String(128), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["report_schedules.schedule_id"],
            name=op.f("fk_schedule_runs_schedule_id_report_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_schedule_runs")),
    )
    op.create_index(op.f("ix_schedule_runs_tenant_id"), "schedule_runs", ["tenant_id"])
    op.create_index("uq_schedule_runs_schedule_due", "schedule_runs", ["schedule_id", "due_at"], unique=True)
    op.create_table(
        "report_deliveries",
        sa.Column("delivery_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["schedule_runs.run_id"],
            name=op.f("fk_report_deliveries_run_id_schedule_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_report_deliveries")),
    )
    op.create_index(op.f("ix_report_deliveries_run_id"), "report_deliveries", ["run_id"])


def downgrade() -> None:
    op.drop_table("report_deliveries")
    op.drop_table("schedule_runs")
    op.drop_table("report_schedules")
