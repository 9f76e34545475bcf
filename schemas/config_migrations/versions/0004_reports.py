"""Reports (the seed's ``Report``) and their generations.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from schemas.config_migrations.audit_v1 import JSON_DOCUMENT, audit_columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("report_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_name", sa.String(255), nullable=False),
        sa.Column("report_type", sa.String(32), nullable=False),
        sa.Column("report_description", sa.String(4000), nullable=True),
        sa.Column("report_config", JSON_DOCUMENT, nullable=False),
        sa.Column("report_status", sa.String(16), server_default="DRAFT", nullable=False),
        sa.Column("last_generated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report_data_url", sa.String(500), nullable=True),
        *audit_columns(),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_reports")),
    )
    op.create_index(op.f("ix_reports_report_type"), "reports", ["report_type"])
    op.create_index(op.f("ix_reports_report_status"), "reports", ["report_status"])
    op.create_index(op.f("ix_reports_tenant_id"), "reports", ["tenant_id"])
    op.create_table(
        "report_generations",
        sa.Column("generation_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("export_format", sa.String(8), nullable=False),
        sa.Column("parameters", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_written", sa.Integer(), server_default="0", nullable=False),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        *audit_columns(),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.report_id"],
            name=op.f("fk_report_generations_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("generation_id", name=op.f("pk_report_generations")),
    )
    op.create_index(op.f("ix_report_generations_report_id"), "report_generations", ["report_id"])
    op.create_index(op.f("ix_report_generations_status"), "report_generations", ["status"])
    op.create_index(op.f("ix_report_generations_tenant_id"), "report_generations", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("report_generations")
    op.drop_table("reports")
