"""The learning platform API's time parameters and envelopes (ADR 0016), with expected values written out."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from plumbing.http_errors import AnalyticsError
from query_api.lms import CourseAnalytics
from query_api.lms_api.params import CourseFigure
from query_api.lms_api.periods import (
    MAX_BUCKETS,
    MAX_RANGE_DAYS,
    AnalyticsPeriod,
    DayRange,
    TimeGranularity,
    day_buckets,
    month_range,
    resolve_days,
)
from schemas.envelope import ErrorCode
from schemas.lms_envelope import AnalyticsErrorCode, analytics_code, details_by_field, is_lms_path, lms_error

ZONE = ZoneInfo("America/Chicago")
TODAY = date(2026, 3, 10)  # a Tuesday


def days(
    period: AnalyticsPeriod | None = None, start: str | None = None, end: str | None = None
) -> tuple[date, date]:
    found = resolve_days("t", ZONE, TODAY, period=period, start_date=start, end_date=end)
    return found.first, found.last


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        (AnalyticsPeriod.TODAY, date(2026, 3, 10), date(2026, 3, 10)),
        (AnalyticsPeriod.YESTERDAY, date(2026, 3, 9), date(2026, 3, 9)),
        (AnalyticsPeriod.LAST_7_DAYS, date(2026, 3, 4), date(2026, 3, 10)),
        (AnalyticsPeriod.LAST_30_DAYS, date(2026, 2, 9), date(2026, 3, 10)),
        (AnalyticsPeriod.LAST_90_DAYS, date(2025, 12, 11), date(2026, 3, 10)),
        (AnalyticsPeriod.THIS_WEEK, date(2026, 3, 9), date(2026, 3, 10)),
        (AnalyticsPeriod.LAST_WEEK, date(2026, 3, 2), date(2026, 3, 8)),
        (AnalyticsPeriod.THIS_MONTH, date(2026, 3, 1), date(2026, 3, 10)),
        (AnalyticsPeriod.LAST_MONTH, date(2026, 2, 1), date(2026, 2, 28)),
        (AnalyticsPeriod.THIS_QUARTER, date(2026, 1, 1), date(2026, 3, 10)),
        (AnalyticsPeriod.LAST_QUARTER, date(2025, 10, 1), date(2025, 12, 31)),
        (AnalyticsPeriod.THIS_YEAR, date(2026, 1, 1), date(2026, 3, 10)),
        (AnalyticsPeriod.LAST_YEAR, date(2025, 1, 1), date(2025, 12, 31)),
        (None, date(2026, 2, 9), date(2026, 3, 10)),
    ],
)
def test_named_periods_are_local_days(period: AnalyticsPeriod | None, first: date, last: date) -> None:
    assert days(period) == (first, last)


def test_dates_override_the_period_and_either_alone_is_completed() -> None:
    assert days(AnalyticsPeriod.LAST_WEEK, "2026-01-05", "2026-01-07") == (date(2026, 1, 5), date(2026, 1, 7))
    assert days(None, "2026-01-05", None) == (date(2026, 1, 5), TODAY)
    assert days(None, None, "2026-01-31") == (date(2026, 1, 2), date(2026, 1, 31))


def refusal(call: object) -> AnalyticsError:
    with pytest.raises(AnalyticsError) as caught:
        assert callable(call)
        call()
    return caught.value


def test_inconsistent_ranges_are_invalid_date_ranges_naming_the_parameter() -> None:
    error = refusal(lambda: days(None, "2026-02-10", "2026-02-01"))
    assert (error.status, error.code, list(error.details)) == (
        400,
        AnalyticsErrorCode.INVALID_DATE_RANGE,
        ["endDate"],
    )
    error = refusal(lambda: days(AnalyticsPeriod.CUSTOM, "2026-02-01", None))
    assert (error.code, list(error.details)) == (AnalyticsErrorCode.INVALID_DATE_RANGE, ["endDate"])
    error = refusal(lambda: days(None, "2020-01-01", "2026-01-01"))
    assert error.code is AnalyticsErrorCode.INVALID_DATE_RANGE and str(MAX_RANGE_DAYS) in error.message
    error = refusal(lambda: days(None, "2026-02-30", None))
    assert (error.code, list(error.details)) == (AnalyticsErrorCode.ANALYTICS_VALIDATION_ERROR, ["startDate"])


def spans(first: date, last: date, granularity: TimeGranularity) -> list[tuple[date, date]]:
    return [(b.first, b.last) for b in day_buckets(DayRange("t", ZONE, first, last), granularity)]


def test_buckets_are_calendar_units_clipped_to_the_range() -> None:
    assert spans(date(2025, 12, 30), date(2026, 1, 13), TimeGranularity.WEEKLY) == [
        (date(2025, 12, 30), date(2026, 1, 4)),
        (date(2026, 1, 5), date(2026, 1, 11)),
        (date(2026, 1, 12), date(2026, 1, 13)),
    ]
    assert spans(date(2025, 11, 15), date(2026, 4, 2), TimeGranularity.QUARTERLY) == [
        (date(2025, 11, 15), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 4, 1), date(2026, 4, 2)),
    ]
    assert spans(date(2026, 1, 31), date(2026, 3, 1), TimeGranularity.MONTHLY) == [
        (date(2026, 1, 31), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 1)),
    ]
    assert spans(date(2025, 6, 1), date(2026, 2, 1), TimeGranularity.YEARLY) == [
        (date(2025, 6, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 2, 1)),
    ]
    assert spans(date(2026, 2, 27), date(2026, 3, 1), TimeGranularity.DAILY) == [
        (date(2026, 2, 27), date(2026, 2, 27)),
        (date(2026, 2, 28), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 1)),
    ]


def test_hourly_and_too_many_points_are_refused() -> None:
    error = refusal(lambda: spans(date(2026, 1, 1), date(2026, 1, 2), TimeGranularity.HOURLY))
    assert list(error.details) == ["granularity"]
    error = refusal(lambda: spans(date(2024, 1, 1), date(2025, 12, 31), TimeGranularity.DAILY))
    assert error.code is AnalyticsErrorCode.INVALID_DATE_RANGE and str(MAX_BUCKETS) in error.message


def test_month_range_defaults_to_this_month() -> None:
    found = month_range("t", ZONE, TODAY, None, None)
    assert (found.first, found.last) == (date(2026, 3, 1), date(2026, 3, 31))
    found = month_range("t", ZONE, TODAY, 2024, 2)
    assert (found.first, found.last) == (date(2024, 2, 1), date(2024, 2, 29))


def test_error_envelope_is_the_seeds() -> None:
    details = [
        {"field": "dateRange", "reason": "End date must be after start date", "type": "x"},
        {"field": "courseId", "reason": "Course not found or no access", "type": "y"},
        {"field": "courseId", "reason": "second", "type": "y"},
    ]
    body = lms_error(
        400,
        analytics_code(ErrorCode.VALIDATION_ERROR),
        "Analytics query validation failed",
        "req_1",
        details_by_field(details),
    )
    assert body == {
        "statusCode": 400,
        "message": "Analytics query validation failed",
        "errorCode": "ANALYTICS_VALIDATION_ERROR",
        "details": {
            "dateRange": ["End date must be after start date"],
            "courseId": ["Course not found or no access", "second"],
        },
        "correlationId": "req_1",
    }
    assert analytics_code(ErrorCode.FORBIDDEN) is AnalyticsErrorCode.FORBIDDEN
    assert analytics_code(ErrorCode.TIMESTAMP_OUT_OF_RANGE) is AnalyticsErrorCode.ANALYTICS_VALIDATION_ERROR
    assert is_lms_path("/api/admin/analytics/realtime") and is_lms_path("/api/student/analytics/progress")
    assert not is_lms_path("/api/learning/activity") and not is_lms_path("/analytics/events")


def test_course_figures_are_every_figure_of_course_analytics() -> None:
    keys = {"course_id", "tenant_id", "period_start", "period_end"}
    assert [f.value for f in CourseFigure] == [f.name for f in fields(CourseAnalytics) if f.name not in keys]
