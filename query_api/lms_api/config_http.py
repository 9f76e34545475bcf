"""What every configuration route shares (ADR 0017): the configuration store of the app, the writer's
identity, ``ETag``/``If-Match``, answers with the row's version, and the store's refusals as the seed's
errors (404 unknown or another tenant's, 409 a unique rule, 412 a stale write)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from plumbing.config_db import ConfigDatabase
from plumbing.http_errors import AnalyticsError
from query_api.lms_api.access import LmsCaller
from query_api.lms_api.responses import LmsResponse
from query_api.lms_config.repository import Actor, Conflict, Entities, NotFound, Row, StaleWrite
from schemas.lms_envelope import AnalyticsErrorCode, Pagination, lms_success


async def config_database(request: Request) -> ConfigDatabase:
    database: ConfigDatabase = request.app.state.config_db
    return database


ConfigDbDep = Annotated[ConfigDatabase, Depends(config_database)]

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='the `ETag` of the version this write is based on (`"3"`); a newer row answers 412',
    ),
]


def actor_of(request: Request, caller: LmsCaller) -> Actor:
    """The admin writing (after :meth:`LmsCaller.require_admin`): tenant and subject of the credential,
    the client's address as the server sees it (behind a proxy: uvicorn's ``--forwarded-allow-ips``)."""
    address = request.client.host if request.client is not None else ""
    return Actor(caller.tenant_id, caller.principal.subject, address[:45])


def based_on(if_match: str | None) -> int | None:
    """The version an ``If-Match`` names (``None``: no header, or ``*``); a value that names no version
    of ours matches nothing (412)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.split(",")[0].strip().removeprefix("W/").strip('"')
    return int(tag) if tag.isdigit() else -1


def etag(version: int) -> str:
    return f'"{version}"'


def entity_answer(request: Request, data: Any, version: int, status: int = 200) -> LmsResponse:
    """``data`` in the success envelope, the row's version as ``ETag``."""
    message = "Created" if status == 201 else "OK"
    body = lms_success(data, str(getattr(request.state, "request_id", "")), status=status, message=message)
    return LmsResponse(body, status_code=status, headers={"ETag": etag(version)})


def list_answer(request: Request, data: list[Any], pagination: Pagination) -> LmsResponse:
    return LmsResponse(
        lms_success(data, str(getattr(request.state, "request_id", "")), pagination=pagination)
    )


@asynccontextmanager
async def writing(database: ConfigDatabase, what: str, field: str) -> AsyncIterator[AsyncSession]:
    """A transaction on the configuration store whose refusals answer as the seed's errors: ``what``
    (``widget 7``) and the path parameter ``field`` name the row."""
    try:
        async with database.session() as session:
            yield session
    except NotFound as exc:
        raise AnalyticsError(
            404, AnalyticsErrorCode.NOT_FOUND, f"{what} does not exist", {field: [f"no {what}"]}
        ) from exc
    except StaleWrite as exc:
        current = "" if exc.current is None else f" (now version {exc.current})"
        raise AnalyticsError(
            412,
            AnalyticsErrorCode.PRECONDITION_FAILED,
            f"{what} changed since the version this write is based on{current}: read it again",
            {"If-Match": ["stale version"]},
        ) from exc
    except Conflict as exc:
        raise AnalyticsError(
            409, AnalyticsErrorCode.CONFLICT, f"{what} conflicts with another of this tenant: {exc.rule}"
        ) from exc


async def soft_delete(
    request: Request,
    caller: LmsCaller,
    database: ConfigDatabase,
    entities: Entities[Row],
    kind: str,
    row_id: int,
    field: str,
    if_match: str | None = None,
) -> Row:
    """Soft-delete the tenant's ``kind`` (``custom metric``) ``row_id`` (``field``: its path parameter),
    audited as ``lms_config_delete`` of ``custom_metric:<id>``; answers the deleted row."""
    caller.require_admin()
    actor = actor_of(request, caller)
    async with writing(database, f"{kind} {row_id}", field) as session:
        row = await entities.delete(session, actor, row_id, based_on(if_match))
    caller.record_change("lms_config_delete", f"{kind.replace(' ', '_')}:{row_id}")
    return row


def patch_changes(body: BaseModel, nullable: frozenset[str]) -> dict[str, Any]:
    """The fields a ``PATCH`` sent (JSON values), ``null`` only where the field may be empty (else 400)."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise refuse_field(name, f"{name} cannot be null")
    return changes


def refuse_field(field: str, message: str) -> AnalyticsError:
    """400 naming the body field at fault."""
    return AnalyticsError(400, AnalyticsErrorCode.ANALYTICS_VALIDATION_ERROR, message, {field: [message]})
