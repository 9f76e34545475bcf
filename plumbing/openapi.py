"""The OpenAPI document every service publishes, completed so that it tells the truth and resolves.

FastAPI's own document is the starting point; :func:`install_openapi` replaces ``app.openapi`` with one that
also:

- moves the ``$defs`` of hand-written body schemas into ``components/schemas`` (every ``$ref`` resolves,
  so generated clients and fuzzers can use every route);
- declares the credentials (``bearerAuth``: a JWT; ``apiKeyAuth``: the ``X-API-Key`` header of ingestion
  keys) and applies them to the operations that authenticate, and only to those;
- lists the error statuses each operation really answers, each with the error envelope
  (:class:`schemas.envelope.ErrorEnvelope`): 401/403/429 where a credential is checked, 413 where a body
  is read, and request validation at the status the app's error handler really answers (FastAPI always
  writes 422; the query API answers 400);
- documents ``/metrics`` as the Prometheus text it is, and ``/readyz``'s 503.

The document is built once, on first request, from the routes mounted by then (``analytics dev`` mounts
the query routes after the gateway installed this).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from starlette.requests import Request

from schemas.envelope import ErrorEnvelope
from schemas.lms_envelope import is_lms_path

COMPONENTS = "#/components/schemas/"
ENVELOPE_REF = {"$ref": f"{COMPONENTS}ErrorEnvelope"}
LMS_ENVELOPE_REF = {"$ref": f"{COMPONENTS}TApiErrorResponse"}
BEARER = "bearerAuth"
API_KEY = "apiKeyAuth"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "`Authorization: Bearer <JWT>` "
        "(`analytics token` mints one; `analytics dev` prints one)",
    },
    API_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "an ingestion API key (`analytics api-keys create`); accepted by the ingestion routes",
    },
}

ERROR_DESCRIPTIONS = {
    400: "a malformed or inconsistent parameter or body (VALIDATION_ERROR; `details` names each)",
    401: "no valid credential (UNAUTHORIZED; `WWW-Authenticate` says why)",
    403: "the credential may not do this (FORBIDDEN)",
    404: "not found (NOT_FOUND)",
    413: "the body (or the batch) is too large (PAYLOAD_TOO_LARGE)",
    415: "unsupported Content-Type or Content-Encoding (UNSUPPORTED_MEDIA_TYPE)",
    422: "the body does not match its schema; every failing field listed (VALIDATION_ERROR)",
    429: "over the credential's or the tenant's rate (RATE_LIMITED; `Retry-After`)",
    503: "the store or the broker is unavailable; nothing was done (SERVICE_UNAVAILABLE; `Retry-After`)",
}


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One documented error answer: its description and the error envelope."""
    return {
        "description": description or ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": dict(ENVELOPE_REF)}},
    }


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a router or a route: each status with its standard description."""
    return {status: error_response(status) for status in statuses}


PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "reason": {"type": "string"}},
    "required": ["status"],
}
PROMETHEUS = {
    "description": "Prometheus text exposition format",
    "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
}


def install_openapi(
    app: FastAPI,
    authenticate: Callable[..., Any],
    api_key_dependency: Callable[..., Any] | None = None,
    request_examples: Mapping[str, Mapping[str, Any]] | None = None,
    request_description: Mapping[str, str] | None = None,
) -> None:
    """Serve the completed document on ``app``. Operations whose dependencies include ``authenticate``
    (the service's credential check) need a credential; those that also include ``api_key_dependency``
    accept an API key besides a bearer token. ``request_examples`` maps a path to named request-body
    examples (``{name: {"summary", "value"}}``) and ``request_description`` to a request-body description.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app.state, "openapi_completed", None) is None:
            document = copy.deepcopy(generate())
            app.state.openapi_completed = complete(
                app,
                document,
                authenticate,
                api_key_dependency,
                request_examples or {},
                request_description or {},
            )
            app.openapi_schema = app.state.openapi_completed
        completed: dict[str, Any] = app.state.openapi_completed
        return completed

    app.openapi = openapi  # type: ignore[method-assign]


def complete(
    app: FastAPI,
    document: dict[str, Any],
    authenticate: Callable[..., Any],
    api_key_dependency: Callable[..., Any] | None,
    request_examples: Mapping[str, Mapping[str, Any]],
    request_description: Mapping[str, str],
) -> dict[str, Any]:
    """``document`` (FastAPI's) made true and self-contained; see the module's docstring."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _add_model(schemas, ErrorEnvelope)
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    routes = {
        (route.path_format, method.lower()): route.dependant
        for route in iter_route_contexts(app.routes)
        if isinstance(getattr(route, "dependant", None), Dependant)
        for method in route.methods or ()
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            dependant = routes.get((path, method))
            _complete_operation(
                app, path, method, operation, dependant, authenticate, api_key_dependency, schemas
            )
            body = operation.get("requestBody")
            if body is not None:
                _name_body_schemas(body, schemas)
                if path in request_examples:
                    for media in body.get("content", {}).values():
                        media["examples"] = copy.deepcopy(dict(request_examples[path]))
                if path in request_description:
                    body["description"] = request_description[path]
    _hoist_defs(document, schemas)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and f'"{COMPONENTS}{unused}"' not in _text(document, skip=unused):
            del schemas[unused]
    return document


def _complete_operation(
    app: FastAPI,
    path: str,
    method: str,
    operation: dict[str, Any],
    dependant: Dependant | None,
    authenticate: Callable[..., Any],
    api_key_dependency: Callable[..., Any] | None,
    schemas: dict[str, Any],
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if path == "/metrics":
        responses["200"] = copy.deepcopy(PROMETHEUS)
    if path == "/readyz":
        ok = {"description": "ready", "content": {"application/json": {"schema": PROBE_SCHEMA}}}
        responses["200"] = copy.deepcopy(ok)
        responses["503"] = {
            "description": "not ready; `reason` says what is missing",
            "content": {"application/json": {"schema": copy.deepcopy(PROBE_SCHEMA)}},
        }
    if path == "/healthz":
        responses["200"]["description"] = "the process is alive"
    if dependant is not None and _depends_on(dependant, authenticate):
        accepts_key = api_key_dependency is not None and _depends_on(dependant, api_key_dependency)
        operation["security"] = [{BEARER: []}, {API_KEY: []}] if accepts_key else [{BEARER: []}]
        for status in (401, 403, 429):
            responses.setdefault(str(status), error_response(status))
    if "requestBody" in operation:
        responses.setdefault("413", error_response(413))
    validation = responses.get("422")
    if validation is not None and "HTTPValidationError" in str(validation):
        del responses["422"]
        answered = _validation_status(app, method, path)
        responses.setdefault(str(answered), error_response(answered))
    if is_lms_path(path):  # the second seed's routes answer every error in its envelope (ADR 0016)
        for code, response in responses.items():
            if int(code) >= 400:
                for media in response.get("content", {}).values():
                    if media.get("schema") == ENVELOPE_REF:
                        media["schema"] = dict(LMS_ENVELOPE_REF)
    for response in responses.values():
        for media in response.get("content", {}).values():
            # FastAPI describes each event of a Server-Sent Events stream with OpenAPI 3.2's ``itemSchema``;
            # this document is 3.1, so the event's schema becomes the stream's (what tools validate events by)
            if "itemSchema" in media:
                media["schema"] = media.pop("itemSchema")
    for code, response in responses.items():
        if int(code) >= 400:
            media = response.setdefault("content", {}).setdefault("application/json", {})
            media.setdefault("schema", dict(ENVELOPE_REF))
            response.setdefault("description", ERROR_DESCRIPTIONS.get(int(code), "error"))
    operation["responses"] = dict(sorted(responses.items()))


def _validation_status(app: FastAPI, method: str, path: str) -> int:
    """The status the app answers a request validation failure of ``method`` on ``path`` with."""
    status_of: Callable[[Request], int] | None = getattr(app.state, "validation_status", None)
    if status_of is None:
        return 422
    return status_of(Request({"type": "http", "method": method.upper(), "headers": [], "path": path}))


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def _add_model(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template=COMPONENTS + "{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(model.__name__, schema)


def _name_body_schemas(body: dict[str, Any], schemas: dict[str, Any]) -> None:
    """A hand-written body schema (a whole model with ``title``) becomes a named component."""
    for media in body.get("content", {}).values():
        schema = media.get("schema")
        if not isinstance(schema, dict) or "$ref" in schema or "title" not in schema:
            continue
        if "properties" not in schema:
            continue
        name = schema["title"]
        defs = schema.pop("$defs", {})
        for def_name, definition in defs.items():
            _put(schemas, def_name, definition)
        _put(schemas, name, schema)
        media["schema"] = {"$ref": f"{COMPONENTS}{name}"}


def _put(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    existing = schemas.setdefault(name, schema)
    if existing != schema and _comparable(existing) != _comparable(schema):
        raise ValueError(f"two different schemas are both named {name!r} in the OpenAPI components")


def _comparable(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema without its prose (descriptions and examples may differ between two uses of one type)."""
    return {k: v for k, v in schema.items() if k not in ("description", "examples", "example")}


def _hoist_defs(node: Any, schemas: dict[str, Any]) -> None:
    """Any ``$defs`` left anywhere (their refs already point at components) move to the components."""
    for container in list(_dicts(node)):
        defs = container.pop("$defs", None)
        if isinstance(defs, dict):
            for name, definition in defs.items():
                _put(schemas, name, definition)


def _dicts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in list(node.values()):
            yield from _dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dicts(value)


def _text(document: dict[str, Any], skip: str) -> str:
    """The document as text, without component ``skip`` itself (to see whether anything refers to it)."""
    schemas = document.get("components", {}).get("schemas", {})
    rest = {k: v for k, v in schemas.items() if k != skip}
    return json.dumps({"paths": document.get("paths", {}), "schemas": rest})


__all__ = ["error_response", "error_responses", "install_openapi"]
