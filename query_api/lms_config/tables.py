"""The configuration tables as tenant-scoped :class:`Entities` (one definition each, shared by the routes
that write them and those that read them)."""

from __future__ import annotations

from query_api.lms_config.repository import Entities
from schemas.config_models import (
    AnalyticsExport,
    AnalyticsSnapshot,
    CustomMetric,
    CustomMetricResult,
    Dashboard,
    DashboardWidget,
    Report,
    ReportGeneration,
    ReportSchedule,
)

DASHBOARDS = Entities(
    Dashboard,
    Dashboard.dashboard_id,
    nullable=frozenset({"description", "user_id"}),
    unique_rule="a dashboard of this name exists already",
)
WIDGETS = Entities(
    DashboardWidget, DashboardWidget.widget_id, nullable=frozenset({"dashboard_id", "user_id"})
)
METRICS = Entities(
    CustomMetric,
    CustomMetric.metric_id,
    nullable=frozenset({"metric_description"}),
    unique_rule="a custom metric of this name exists already",
)
RESULTS = Entities(CustomMetricResult, CustomMetricResult.result_id, nullable=frozenset())
SNAPSHOTS = Entities(AnalyticsSnapshot, AnalyticsSnapshot.snapshot_id, nullable=frozenset())
REPORTS = Entities(Report, Report.report_id, nullable=frozenset({"report_description"}))
GENERATIONS = Entities(ReportGeneration, ReportGeneration.generation_id, nullable=frozenset())
SCHEDULES = Entities(ReportSchedule, ReportSchedule.schedule_id, nullable=frozenset({"schedule_config"}))
EXPORTS = Entities(AnalyticsExport, AnalyticsExport.export_id, nullable=frozenset())
