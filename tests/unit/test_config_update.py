"""Partial ``PUT /analytics/config`` bodies (ADR 0012), without a database: a body changes exactly the
fields it names, nested settings field by field; null and unknown fields are refused; the merged whole is
validated; the OpenAPI schema of a partial body allows no null."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas.tenant_config import (
    ConfigUpdate,
    IpHandling,
    Retention,
    TenantSettings,
    TenantSettingsUpdate,
    TrackingPreferences,
    TrackingUpdate,
    updated,
)
from schemas.topics import Stream

STORED = TenantSettings(
    time_zone="Europe/Berlin",
    ip_handling=IpHandling.HASH,
    retention=Retention(raw_days=1000, daily_rollup_days=1000, weekly_monthly_rollup_days=2000),
)
STORED_RETENTION = {"raw_days": 1000, "daily_rollup_days": 1000, "weekly_monthly_rollup_days": 2000}
STORED_FIELDS: dict[str, Any] = {
    "time_zone": "Europe/Berlin",
    "ip_handling": "hash",
    "user_agent_handling": "keep",
    "retention": STORED_RETENTION,
}


@pytest.mark.parametrize(
    ("body", "changed"),
    [
        ({}, {}),
        ({"ip_handling": "truncate"}, {"ip_handling": "truncate"}),
        ({"time_zone": "UTC"}, {"time_zone": "UTC"}),  # the default, named: a change
        ({"retention": {"raw_days": 395}}, {"retention": {**STORED_RETENTION, "raw_days": 395}}),
        ({"retention": {}}, {}),
        (
            {"user_agent_handling": "drop", "retention": {"weekly_monthly_rollup_days": 1826}},
            {
                "user_agent_handling": "drop",
                "retention": {**STORED_RETENTION, "weekly_monthly_rollup_days": 1826},
            },
        ),
    ],
)
def test_a_tenant_update_changes_exactly_the_fields_it_names(
    body: dict[str, Any], changed: dict[str, Any]
) -> None:
    result = updated(STORED, TenantSettingsUpdate.model_validate(body))
    assert result.model_dump() == {**STORED_FIELDS, **changed}


def test_a_tracking_update_keeps_the_other_preference_and_replaces_a_list_whole() -> None:
    stored = TrackingPreferences(enabled=True, tracked_streams=[Stream.EVENTS, Stream.USAGE])
    assert updated(stored, TrackingUpdate(enabled=False)).model_dump() == {
        "enabled": False,
        "tracked_streams": ["events", "usage"],
    }
    assert updated(
        stored, TrackingUpdate.model_validate({"tracked_streams": ["performance"]})
    ).model_dump() == {
        "enabled": True,
        "tracked_streams": ["performance"],
    }


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"tenant": {"time_zone": None}}, ("tenant", "time_zone")),
        ({"tenant": {"retention": None}}, ("tenant", "retention")),
        (
            {"tenant": {"retention": {"daily_rollup_days": None}}},
            ("tenant", "retention", "daily_rollup_days"),
        ),
        ({"tenant": {"retention": {"raw_days": 29}}}, ("tenant", "retention", "raw_days")),
        ({"tenant": {"colour": "blue"}}, ("tenant", "colour")),
        ({"tracking": {"tracked_streams": None}}, ("tracking", "tracked_streams")),
        ({"tracking": {"tracked_streams": ["telepathy"]}}, ("tracking", "tracked_streams", 0)),
    ],
)
def test_null_unknown_and_out_of_range_fields_are_refused(
    body: dict[str, Any], location: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigUpdate.model_validate(body)
    assert [e["loc"] for e in caught.value.errors()] == [location]


def test_the_merged_settings_are_validated_as_a_whole() -> None:
    update = TenantSettingsUpdate.model_validate({"retention": {"raw_days": 1500}})  # above the stored daily
    with pytest.raises(ValidationError) as caught:
        updated(STORED, update)
    assert [e["loc"] for e in caught.value.errors()] == [("retention",)]


def _properties(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    every: dict[str, Any] = {}
    for name, definition in {model.__name__: schema, **schema.get("$defs", {})}.items():
        for prop, spec in definition.get("properties", {}).items():
            every[f"{name}.{prop}"] = spec
    return every


def test_the_schema_of_a_partial_body_allows_no_null_in_its_parts() -> None:
    props = {k: v for k, v in _properties(ConfigUpdate).items() if not k.startswith("ConfigUpdate.")}
    assert len(props) == 4 + 3 + 2
    assert all("null" not in str(spec) and "default" not in spec for spec in props.values()), props
    assert props["RetentionUpdate.raw_days"] == {
        "maximum": 3660,
        "minimum": 30,
        "title": "Raw Days",
        "type": "integer",
    }
