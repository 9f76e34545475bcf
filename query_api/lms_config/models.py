"""Bodies and answers of the configuration routes, field for field the seed's models (snake_case, as the
seed's ``DashboardWidget``), with the seed's enums. Request bodies refuse unknown fields (a typo must not be
dropped silently) and name the field of every problem."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from schemas.json_limits import JSONObject
from schemas.lms_payloads import MAX_LMS_ID


class WidgetType(StrEnum):
    """The seed's ``WidgetType``."""

    CHART = "CHART"
    TABLE = "TABLE"
    METRIC_CARD = "METRIC_CARD"
    PROGRESS_BAR = "PROGRESS_BAR"
    MAP = "MAP"
    TIMELINE = "TIMELINE"


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def storable(value: Any) -> Any:
    """Text the configuration store keeps as sent: valid Unicode (no unpaired surrogate) and no NUL
    character, which PostgreSQL refuses in text and JSON alike (SQLite would take them: both stores must
    answer the same)."""
    for text in _texts(value):
        if "\x00" in text:
            raise ValueError("contains a NUL character")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("contains an unpaired surrogate: not valid Unicode") from None
    return value


Storable = AfterValidator(storable)
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), Storable]
Description = Annotated[str, StringConstraints(max_length=2000), Storable]
Document = Annotated[JSONObject, Storable]
GridPlace = Annotated[int, Field(ge=0, le=10_000)]
GridSpan = Annotated[int, Field(ge=1, le=1_000)]
OwnerId = Annotated[int, Field(ge=1, le=MAX_LMS_ID)]
DataSource = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z][A-Za-z0-9_.:-]*$"),
    Field(description="where the widget's data comes from: a metric name, e.g. `system_metrics`"),
]


class _Body(BaseModel):
    """The tenant is always the credential's: a body naming one (the seed's ``tenant_id``) is refused as
    any unknown field is, rather than silently written elsewhere than its sender meant."""

    model_config = ConfigDict(extra="forbid")


class DashboardCreate(_Body):
    dashboard_name: Name
    description: Description | None = None
    user_id: OwnerId | None = None


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


UNSET: Any = Field(default=None, json_schema_extra=_without_default)
"""The default of a ``PATCH`` field that may be left out but not set to ``null`` (its schema has no
``null``; an explicit ``null`` fails validation naming the field)."""


class DashboardUpdate(_Body):
    dashboard_name: Name = UNSET
    description: Description | None = None
    user_id: OwnerId | None = None
    is_active: StrictBool = UNSET


class WidgetCreate(_Body):
    """``Omit<DashboardWidget, 'widget_id' | BaseAuditFields>``."""

    widget_name: Name
    widget_type: WidgetType
    dashboard_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    position_x: GridPlace
    position_y: GridPlace
    width: GridSpan
    height: GridSpan
    widget_config: Document
    data_source: DataSource
    user_id: OwnerId | None = None


class WidgetUpdate(_Body):
    """``Partial<Omit<DashboardWidget, 'widget_id' | BaseAuditFields>>`` (and ``is_active``)."""

    widget_name: Name = UNSET
    widget_type: WidgetType = UNSET
    dashboard_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    """``null`` takes the widget off its dashboard."""
    position_x: GridPlace = UNSET
    position_y: GridPlace = UNSET
    width: GridSpan = UNSET
    height: GridSpan = UNSET
    widget_config: Document = UNSET
    data_source: DataSource = UNSET
    user_id: OwnerId | None = None
    is_active: StrictBool = UNSET


class AuditFields(BaseModel):
    """The seed's ``BaseAuditFields`` (``created_by``/``updated_by``: the credential's subject), and the
    row ``version`` (also the ``ETag``)."""

    tenant_id: str
    is_active: bool
    is_deleted: bool
    created_at: datetime
    created_by: str
    created_ip: str
    updated_at: datetime | None
    updated_by: str | None
    updated_ip: str | None
    version: int


class DashboardOut(AuditFields):
    dashboard_id: int
    dashboard_name: str
    description: str | None
    user_id: int | None
    widget_count: int = 0


class WidgetOut(AuditFields):
    """The seed's ``DashboardWidget``."""

    widget_id: int
    widget_name: str
    widget_type: WidgetType
    dashboard_id: int | None
    position_x: int
    position_y: int
    width: int
    height: int
    widget_config: dict[str, Any]
    data_source: str
    user_id: int | None
