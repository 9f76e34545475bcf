"""Tables of the configuration store (ADR 0017): what people edit, beside the events in ClickHouse. SQLAlchemy
2 declarative models; their DDL is Alembic's (``schemas/config_migrations/``), and a test keeps the two
equal. No I/O here: :mod:`plumbing.config_db` opens the store.

Every table carries the seed's audit fields (``BaseAuditFields``) and is scoped to a tenant:

- integer ids; ``tenant_id`` is the credential's tenant (text, as everywhere in this product);
- ``created_by``/``updated_by`` are the credential's subject and ``created_ip``/``updated_ip`` the client's
  address (the seed types them as integers and 45 characters; a subject here may be ``key:...`` or a name);
- ``is_deleted`` marks a soft delete (hidden from every read, the row kept for the audit trail);
- ``version`` counts the row's writes: SQLAlchemy adds ``WHERE version = <read>`` to every ``UPDATE``
  (``version_id_col``), so of two writers that read the same version one wins and the other gets a stale
  write; the API exposes it as the ``ETag``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}
"""Constraint names fixed by rule, so migrations name them the same on SQLite and PostgreSQL."""


class UtcDateTime(TypeDecorator[datetime]):
    """A UTC instant: stored with its zone where the database keeps one (PostgreSQL), read back aware on
    both (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored in the configuration store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSON_DOCUMENT = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document: ``jsonb`` on PostgreSQL (indexable, compact), JSON text on SQLite."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class ConfigBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Audited:
    """The seed's ``BaseAuditFields``, a tenant and a version (see the module docstring)."""

    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(128))
    created_ip: Mapped[str] = mapped_column(String(45))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, onupdate=utc_now)
    updated_by: Mapped[str | None] = mapped_column(String(128))
    updated_ip: Mapped[str | None] = mapped_column(String(45))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 (a class-level directive)
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class Dashboard(Audited, ConfigBase):
    """A custom dashboard: a named set of widgets (the seed refers to it by ``dashboard_id`` only)."""

    __tablename__ = "dashboards"

    dashboard_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dashboard_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(2000))
    user_id: Mapped[int | None] = mapped_column(Integer)
    """The owner, for a personal dashboard; ``None`` for one shared by the tenant's admins."""

    __table_args__ = (
        Index(
            "uq_dashboards_live_name",
            "tenant_id",
            "dashboard_name",
            unique=True,
            sqlite_where=text("is_deleted = 0"),
            postgresql_where=text("NOT is_deleted"),
        ),
    )


class DashboardWidget(Audited, ConfigBase):
    """The seed's ``DashboardWidget``: a widget's place and size on a grid, what it shows
    (``widget_config``) and where its data comes from (``data_source``)."""

    __tablename__ = "dashboard_widgets"

    widget_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    widget_name: Mapped[str] = mapped_column(String(255))
    widget_type: Mapped[str] = mapped_column(String(32))
    dashboard_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("dashboards.dashboard_id", ondelete="SET NULL"), index=True
    )
    position_x: Mapped[int] = mapped_column(Integer)
    position_y: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    widget_config: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    data_source: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)


Index("ix_dashboard_widgets_tenant_dashboard", DashboardWidget.tenant_id, DashboardWidget.dashboard_id)


class CustomMetric(Audited, ConfigBase):
    """The seed's ``CustomMetric``: a named, declarative calculation (``metric_type`` one of the seed's
    ``MetricType`` names, ``calculation_config`` a document the query API checks against its catalog)."""

    __tablename__ = "custom_metrics"

    metric_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    metric_name: Mapped[str] = mapped_column(String(255))
    metric_description: Mapped[str | None] = mapped_column(String(4000))
    metric_type: Mapped[str] = mapped_column(String(16), index=True)
    calculation_config: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)

    __table_args__ = (
        Index(
            "uq_custom_metrics_live_name",
            "tenant_id",
            "metric_name",
            unique=True,
            sqlite_where=text("is_deleted = 0"),
            postgresql_where=text("NOT is_deleted"),
        ),
    )


class CustomMetricResult(Audited, ConfigBase):
    """One calculation of a custom metric, kept as computed (aggregates only): the period, the parameters,
    the value and, for a trend, its points (JSON with decimals as text, exact)."""

    __tablename__ = "custom_metric_results"

    result_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    metric_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("custom_metrics.metric_id", ondelete="CASCADE"), index=True
    )
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    result: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)


class AnalyticsSnapshot(Audited, ConfigBase):
    """The seed's ``AnalyticsSnapshot``: the data of named custom metrics and widgets as computed at
    ``snapshot_date``, kept as it was (aggregates only): later changes, expiry or erasure of the rows they
    came from do not change it. Written once, never updated (deleting it is soft)."""

    __tablename__ = "analytics_snapshots"

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    snapshot_name: Mapped[str] = mapped_column(String(255))
    snapshot_type: Mapped[str] = mapped_column(String(50), index=True)
    snapshot_date: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    snapshot_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON_DOCUMENT)


class Report(Audited, ConfigBase):
    """The seed's ``Report``: what to report on (``report_type``, one of the seed's ``ReportType`` names,
    and ``report_config``, the parameters the query API checks), its ``report_status`` (``ReportStatus``)
    and where its latest generation went."""

    __tablename__ = "reports"

    report_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_name: Mapped[str] = mapped_column(String(255))
    report_type: Mapped[str] = mapped_column(String(32), index=True)
    report_description: Mapped[str | None] = mapped_column(String(4000))
    report_config: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    report_status: Mapped[str] = mapped_column(
        String(16), index=True, default="DRAFT", server_default="DRAFT"
    )
    last_generated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    report_data_url: Mapped[str | None] = mapped_column(String(500))


class ReportGeneration(Audited, ConfigBase):
    """One generation of a report (ours; the seed keeps only the latest URL on ``Report``): the format and
    parameters it was asked with, its state while it runs off the request path (``GENERATING`` with a
    heartbeat, so a generation whose process died is found and marked ``FAILED``), and the file it wrote."""

    __tablename__ = "report_generations"

    generation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("reports.report_id", ondelete="CASCADE"), index=True
    )
    export_format: Mapped[str] = mapped_column(String(8))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    status: Mapped[str] = mapped_column(String(16), index=True)
    rows_written: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(2000))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReportSchedule(Audited, ConfigBase):
    """The seed's ``ReportSchedule``: when (a five-field ``cron_expression`` in the IANA ``timezone``) a
    report is generated and to whom it goes (``recipients``: e-mail addresses; ``schedule_config``: the
    format, webhooks, overrides of the report's parameters). ``next_run_at`` is the claim a scheduler takes:
    it advances it with a compare-and-set, so of several schedulers one runs each due time."""

    __tablename__ = "report_schedules"

    schedule_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("reports.report_id", ondelete="CASCADE"), index=True
    )
    schedule_name: Mapped[str] = mapped_column(String(255))
    cron_expression: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(50))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    recipients: Mapped[list[Any]] = mapped_column(JSON_DOCUMENT)
    schedule_config: Mapped[dict[str, Any] | None] = mapped_column(JSON_DOCUMENT)


class ScheduleRun(ConfigBase):
    """One due time of a schedule, run once (unique per schedule and due time): the generation it made and
    each recipient's delivery."""

    __tablename__ = "schedule_runs"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    schedule_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("report_schedules.schedule_id", ondelete="CASCADE")
    )
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    runner: Mapped[str] = mapped_column(String(128))
    generation_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """beaten while the run goes on: a ``RUNNING`` run silent for long belonged to a scheduler that died,
    and another one resumes it (delivering only to the recipients not reached yet)"""

    __table_args__ = (Index("uq_schedule_runs_schedule_due", "schedule_id", "due_at", unique=True),)


class ReportDelivery(ConfigBase):
    """A run's delivery to one recipient (an e-mail address or a webhook URL): its state, attempts and the
    last error."""

    __tablename__ = "report_deliveries"

    delivery_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("schedule_runs.run_id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(String(2000))
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AnalyticsExport(Audited, ConfigBase):
    """The seed's ``AnalyticsExport``: an asynchronous export of analytics data (``export_type`` the
    requested ``dataType``) as a file, its state (``pending`` → ``processing`` → ``completed`` /
    ``failed`` / ``cancelled``), size and expiry; with ours: the parameters, rows written, the error, and
    the heartbeat that tells a job of a dead process."""

    __tablename__ = "analytics_exports"

    export_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    export_name: Mapped[str] = mapped_column(String(255))
    export_type: Mapped[str] = mapped_column(String(50))
    export_format: Mapped[str] = mapped_column(String(8))
    export_status: Mapped[str] = mapped_column(String(20), index=True)
    file_url: Mapped[str | None] = mapped_column(String(500))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    requested_by: Mapped[str] = mapped_column(String(128), index=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    rows_written: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(String(2000))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


Index("ix_analytics_exports_created_at", AnalyticsExport.created_at)
