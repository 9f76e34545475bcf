"""The learning platform API's time parameters, parsed and validated in one place (ADR 0016): ``period``,
``startDate``/``endDate``, ``granularity``, ``year``/``month``. Every answer is about local days of the
tenant's time zone (the zone its rollups are bucketed in), so each resolves to one or more
:class:`~query_api.lms.models.LmsPeriod`.

Errors are :class:`~plumbing.http_errors.AnalyticsError`: an unknown value is ``ANALYTICS_VALIDATION_ERROR``,
an inconsistent or too long range ``INVALID_DATE_RANGE`` (both 400), ``details`` naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from plumbing.http_errors import AnalyticsError
from query_api.api.params import FIRST_YEAR, LAST_YEAR
from query_api.lms.models import LmsPeriod
from schemas.lms_envelope import AnalyticsErrorCode

MAX_RANGE_DAYS = 2 * 366
"""Longest ``startDate``..``endDate`` (and ``CUSTOM`` period): two years of days."""
MAX_BUCKETS = 400
"""Most points of one series (e.g. ``DAILY`` over a year and a month)."""


class AnalyticsPeriod(StrEnum):
    """The ``period`` parameter: a range of whole local days ending today (``LAST_*``, ``THIS_*``) or a
    completed calendar range (``YESTERDAY``, ``LAST_WEEK`` …); ``CUSTOM`` takes ``startDate``/``endDate``."""

    TODAY = "TODAY"
    YESTERDAY = "YESTERDAY"
    LAST_7_DAYS = "LAST_7_DAYS"
    LAST_30_DAYS = "LAST_30_DAYS"
    LAST_90_DAYS = "LAST_90_DAYS"
    THIS_WEEK = "THIS_WEEK"
    LAST_WEEK = "LAST_WEEK"
    THIS_MONTH = "THIS_MONTH"
    LAST_MONTH = "LAST_MONTH"
    THIS_QUARTER = "THIS_QUARTER"
    LAST_QUARTER = "LAST_QUARTER"
    THIS_YEAR = "THIS_YEAR"
    LAST_YEAR = "LAST_YEAR"
    CUSTOM = "CUSTOM"


class TimeGranularity(StrEnum):
    """The seed's ``TimeGranularity``: the width of a series' points."""

    HOURLY = "HOURLY"
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    YEARLY = "YEARLY"


def invalid(
    parameter: str, message: str, code: AnalyticsErrorCode = AnalyticsErrorCode.ANALYTICS_VALIDATION_ERROR
) -> AnalyticsError:
    return AnalyticsError(400, code, message, {parameter: [message]})


def _range_error(parameter: str, message: str) -> AnalyticsError:
    return invalid(parameter, message, AnalyticsErrorCode.INVALID_DATE_RANGE)


def parse_day(parameter: str, value: str) -> date:
    """A calendar day ``YYYY-MM-DD`` (the declared pattern bounds its year, as for every read:
    :data:`query_api.api.params.DAY_PATTERN`)."""
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise invalid(parameter, f"{parameter} must be a date (YYYY-MM-DD), got {value[:40]!r}") from None


def _quarter_start(day: date) -> date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def _month_end(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _named_days(period: AnalyticsPeriod, today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    quarter = _quarter_start(today)
    match period:
        case AnalyticsPeriod.TODAY:
            return today, today
        case AnalyticsPeriod.YESTERDAY:
            return today - timedelta(days=1), today - timedelta(days=1)
        case AnalyticsPeriod.LAST_7_DAYS:
            return today - timedelta(days=6), today
        case AnalyticsPeriod.LAST_30_DAYS:
            return today - timedelta(days=29), today
        case AnalyticsPeriod.LAST_90_DAYS:
            return today - timedelta(days=89), today
        case AnalyticsPeriod.THIS_WEEK:
            return monday, today
        case AnalyticsPeriod.LAST_WEEK:
            return monday - timedelta(days=7), monday - timedelta(days=1)
        case AnalyticsPeriod.THIS_MONTH:
            return month, today
        case AnalyticsPeriod.LAST_MONTH:
            end = month - timedelta(days=1)
            return end.replace(day=1), end
        case AnalyticsPeriod.THIS_QUARTER:
            return quarter, today
        case AnalyticsPeriod.LAST_QUARTER:
            end = quarter - timedelta(days=1)
            return _quarter_start(end), end
        case AnalyticsPeriod.THIS_YEAR:
            return today.replace(month=1, day=1), today
        case AnalyticsPeriod.LAST_YEAR:
            return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    raise AssertionError(period)  # CUSTOM is resolved by the caller


class DayGranularity(StrEnum):
    """The seed's ``TimeGranularity`` without ``HOURLY``: what reads served from day rollups declare, so the
    document offers only what they answer (their values equal :class:`TimeGranularity`'s)."""

    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    YEARLY = "YEARLY"


@dataclass(frozen=True, slots=True)
class DayRange:
    """Local days ``[first, last]`` of one tenant."""

    tenant_id: str
    zone: ZoneInfo
    first: date
    last: date

    @property
    def period(self) -> LmsPeriod:
        return LmsPeriod(self.tenant_id, self.zone, self.first, self.last)


def resolve_days(
    tenant_id: str,
    zone: ZoneInfo,
    today: date,
    *,
    period: AnalyticsPeriod | None,
    start_date: str | None,
    end_date: str | None,
    default: AnalyticsPeriod = AnalyticsPeriod.LAST_30_DAYS,
) -> DayRange:
    """The days a read covers: ``startDate``/``endDate`` when given (either alone runs to today or from
    ``MAX_RANGE_DAYS`` before the end), else ``period`` (default ``default``). ``CUSTOM`` needs both dates."""
    named = period
    if named is AnalyticsPeriod.CUSTOM and not (start_date and end_date):
        missing = "startDate" if not start_date else "endDate"
        raise _range_error(missing, "period CUSTOM takes startDate and endDate")
    if start_date or end_date:
        last = parse_day("endDate", end_date) if end_date else today
        first = parse_day("startDate", start_date) if start_date else last - timedelta(days=29)
        if last < first:
            raise _range_error("endDate", f"endDate {last} is before startDate {first}")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise _range_error("endDate", f"a date range spans at most {MAX_RANGE_DAYS} days")
        return DayRange(tenant_id, zone, first, last)
    first, last = _named_days(named or default, today)
    return DayRange(tenant_id, zone, first, last)


def month_range(tenant_id: str, zone: ZoneInfo, today: date, year: int | None, month: int | None) -> DayRange:
    """A calendar month (``year``/``month``, default the current one)."""
    year = today.year if year is None else year
    month = today.month if month is None else month
    if not 1 <= month <= 12:
        raise invalid("month", "month must be 1 to 12")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise _range_error("year", f"year must lie between {FIRST_YEAR} and {LAST_YEAR}")
    first = date(year, month, 1)
    return DayRange(tenant_id, zone, first, _month_end(first))


def _bucket_start(day: date, granularity: str) -> date:
    match granularity:
        case TimeGranularity.WEEKLY:
            return day - timedelta(days=day.weekday())
        case TimeGranularity.MONTHLY:
            return day.replace(day=1)
        case TimeGranularity.QUARTERLY:
            return _quarter_start(day)
        case TimeGranularity.YEARLY:
            return day.replace(month=1, day=1)
    return day


def _bucket_end(start: date, granularity: str) -> date:
    match granularity:
        case TimeGranularity.WEEKLY:
            return start + timedelta(days=6)
        case TimeGranularity.MONTHLY:
            return _month_end(start)
        case TimeGranularity.QUARTERLY:
            return _month_end(start.replace(month=start.month + 2))
        case TimeGranularity.YEARLY:
            return date(start.year, 12, 31)
    return start


def day_buckets(days: DayRange, granularity: TimeGranularity | DayGranularity) -> list[DayRange]:
    """``days`` split into calendar buckets of ``granularity`` (ISO weeks from Monday, quarters from
    January), the first and last clipped to the range. ``HOURLY`` is not a day bucket: refused here."""
    if granularity == TimeGranularity.HOURLY:
        raise invalid("granularity", "HOURLY is not served by this read; use DAILY or coarser")
    buckets: list[DayRange] = []
    start = _bucket_start(days.first, granularity)
    while start <= days.last:
        end = _bucket_end(start, granularity)
        buckets.append(DayRange(days.tenant_id, days.zone, max(start, days.first), min(end, days.last)))
        if len(buckets) > MAX_BUCKETS:
            raise _range_error("granularity", f"at most {MAX_BUCKETS} points: choose a coarser granularity")
        start = end + timedelta(days=1)
    return buckets
