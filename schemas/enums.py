"""Enumerations of the product-analytics seed (``../shared/seeds/000_*``), shared by the HTTP models and
the ClickHouse ``Enum8`` columns. A unit test proves the migrations declare exactly these values, in order."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    USER_ACTION = "user_action"
    SYSTEM_EVENT = "system_event"
    PERFORMANCE_EVENT = "performance_event"
    ERROR_EVENT = "error_event"
    BUSINESS_EVENT = "business_event"
    ENGAGEMENT_EVENT = "engagement_event"


class EventCategory(StrEnum):
    NAVIGATION = "navigation"
    INTERACTION = "interaction"
    CONTENT = "content"
    MARKETPLACE = "marketplace"
    PROJECTS = "projects"
    ASSETS = "assets"
    AUTHENTICATION = "authentication"
    SETTINGS = "settings"
    PERFORMANCE = "performance"
    ERRORS = "errors"


class EventSource(StrEnum):
    WEB_APP = "web_app"
    MOBILE_APP = "mobile_app"
    DESKTOP_APP = "desktop_app"
    API = "api"
    WEBHOOK = "webhook"
    SYSTEM = "system"


class Platform(StrEnum):
    WEB = "web"
    MOBILE = "mobile"
    DESKTOP = "desktop"
    TABLET = "tablet"
    UNKNOWN = "unknown"


class ActivityType(StrEnum):
    USER_ACTION = "user_action"
    SYSTEM_ACTION = "system_action"
    API_CALL = "api_call"
    DATA_CHANGE = "data_change"
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class ActivityCategory(StrEnum):
    ACCOUNT = "account"
    PROJECTS = "projects"
    ASSETS = "assets"
    MARKETPLACE = "marketplace"
    COLLABORATION = "collaboration"
    SETTINGS = "settings"
    SECURITY = "security"
    PAYMENT = "payment"
    INTEGRATION = "integration"
    SYSTEM = "system"


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"
    TRACE = "trace"


def clickhouse_enum8(enum: type[StrEnum]) -> str:
    """The ``Enum8(...)`` type declaring ``enum``'s values numbered from 1 in declaration order."""
    members = ", ".join(f"'{member.value}' = {index}" for index, member in enumerate(enum, start=1))
    return f"Enum8({members})"
