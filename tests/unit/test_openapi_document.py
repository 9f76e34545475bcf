"""The OpenAPI document of each app (gateway, query API, ``analytics dev``) is a valid OpenAPI 3.1 document
whose every ``$ref`` resolves, declares the credentials where they are checked, documents every error in
the envelope, and documents ``/metrics`` as Prometheus text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate

from cli.dev_app import create_dev_app
from ingest_gateway.main import create_app as gateway_app
from ingest_gateway.settings import GatewaySettings
from query_api.main import create_app as query_app
from schemas.lms_envelope import LMS_PATH_PREFIXES
from schemas.topics import Stream
from stream_processors.settings import WorkerSettings
from tests.support.examples import LMS_EVENT_TYPES
from tests.support.gateway import RecordingSink

UNSECURED = {"/healthz", "/readyz", "/metrics", "/api/admin/reports/{reportId}/download"}
"""Probes, and the signed download link (the link is its own credential)."""
LEARNING = {
    "/api/learning/entities",
    "/api/learning/activity",
    "/api/learning/telemetry",
}
INGESTION = {
    "/analytics/events",
    "/analytics/events/batch",
    "/analytics/performance",
    "/analytics/usage",
    "/analytics/activities",
    *LEARNING,
    *(f"{path}/batch" for path in LEARNING),
}
EVENT_TYPES = {
    "/api/learning/entities": LMS_EVENT_TYPES[Stream.LMS_ENTITIES],
    "/api/learning/activity": LMS_EVENT_TYPES[Stream.LMS_ACTIVITY],
    "/api/learning/telemetry": LMS_EVENT_TYPES[Stream.LMS_TELEMETRY],
}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _documents(tmp_path: Path) -> dict[str, dict[str, Any]]:
    dev = create_dev_app(
        GatewaySettings(), WorkerSettings(clickhouse_url=f"chdb://{tmp_path / 'ch'}")
    )  # builds and migrates an empty store; no request is served
    apps: dict[str, FastAPI] = {
        "gateway": gateway_app(GatewaySettings(), sink=RecordingSink()),
        "query": query_app(),
        "dev": dev,
    }
    return {name: app.openapi() for name, app in apps.items()}


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return _documents(tmp_path_factory.mktemp("openapi"))


@pytest.mark.parametrize("name", ["gateway", "query", "dev"])
def test_the_document_is_valid_openapi_31_and_every_ref_resolves(
    documents: dict[str, dict[str, Any]], name: str
) -> None:
    document = documents[name]
    assert document["openapi"].startswith("3.1")
    validate(document)
    refs = set(_refs(document))
    assert "#/components/schemas/ErrorEnvelope" in refs
    for ref in refs:
        _resolve(document, ref)
    assert "$defs" not in str(document["paths"])


@pytest.mark.parametrize("name", ["gateway", "query", "dev"])
def test_credentials_are_declared_where_checked_and_errors_are_enveloped(
    documents: dict[str, dict[str, Any]], name: str
) -> None:
    document = documents[name]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert (schemes["apiKeyAuth"]["in"], schemes["apiKeyAuth"]["name"]) == ("header", "X-API-Key")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            if path in UNSECURED:
                assert "security" not in operation, path
                continue
            expected: list[dict[str, list[str]]] = (
                [{"bearerAuth": []}, {"apiKeyAuth": []}]
                if path in INGESTION and method == "post"
                else [{"bearerAuth": []}]
            )
            assert operation["security"] == expected, (method, path)
            assert {"401", "403", "429", "503"} <= statuses, (method, path)
            if path in INGESTION and method == "post":
                assert {"400", "413", "415", "422"} <= statuses, path
                body = operation["requestBody"]["content"]["application/json"]
                assert body["schema"]["$ref"].startswith("#/components/schemas/")
                assert body["examples"], path
            else:  # the query API answers request validation with 400; 422 only for what the seed answers so
                assert "400" in statuses, (method, path)
                if "422" in statuses:
                    example = operation["responses"]["422"]["content"]["application/json"]["example"]
                    assert path.startswith(LMS_PATH_PREFIXES), (method, path)
                    assert example["errorCode"] in (
                        "CALCULATION_ERROR",
                        "INSUFFICIENT_DATA",
                        "DASHBOARD_CONFIG_ERROR",
                        "REPORT_GENERATION_FAILED",
                    ), (method, path)
            # the learning platform's reads answer in the second seed's envelope, every other route in ours
            envelope = "TApiErrorResponse" if path.startswith(LMS_PATH_PREFIXES) else "ErrorEnvelope"
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": f"#/components/schemas/{envelope}"}, (method, path, status)


@pytest.mark.parametrize("name", ["gateway", "dev"])
def test_the_learning_routes_document_their_union_and_an_example_of_every_event_type(
    documents: dict[str, dict[str, Any]], name: str
) -> None:
    document = documents[name]
    for path, types in EVENT_TYPES.items():
        single = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        union = _resolve(document, single["schema"]["$ref"])
        assert set(union["discriminator"]["mapping"]) == types, path
        assert {
            _resolve(document, ref)["properties"]["type"]["const"] for ref in _refs(union["oneOf"])
        } == types
        assert {example["value"]["type"] for example in single["examples"].values()} == types, path
        batch = document["paths"][f"{path}/batch"]["post"]["requestBody"]["content"]["application/json"]
        events = _resolve(document, batch["schema"]["$ref"])["properties"]["events"]
        assert events["items"] == single["schema"], path
        (every,) = batch["examples"].values()
        assert {item["type"] for item in every["value"]["events"]} == types, path


def test_metrics_are_documented_as_prometheus_text(documents: dict[str, dict[str, Any]]) -> None:
    for document in documents.values():
        content = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
        assert list(content) == ["text/plain; version=1.0.0; charset=utf-8"]


def test_paged_and_dated_parameters_declare_their_bounds(documents: dict[str, dict[str, Any]]) -> None:
    parameters = {
        p["name"]: p["schema"] for p in documents["query"]["paths"]["/analytics/audit"]["get"]["parameters"]
    }
    assert (parameters["page"]["minimum"], parameters["page"]["maximum"]) == (1, 100_000)
    assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"]) == (1, 1000)
    events = {
        p["name"]: p["schema"] for p in documents["query"]["paths"]["/analytics/events"]["get"]["parameters"]
    }
    day = events["start_date"]["anyOf"][0]
    assert day["format"] == "date" and day["pattern"].startswith("^(19[7-9][0-9]|20[0-9][0-9])-")
