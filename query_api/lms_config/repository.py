"""Tenant-scoped reads and writes of one configuration table (:class:`Entities`), in the caller's session:
soft-deleted rows are invisible, another tenant's rows do not exist, every write stamps the audit fields
and is checked against the version the writer read.

Lost updates: a write names the version it is based on (the client's ``If-Match``, else the version this
request read); SQLAlchemy's ``version_id_col`` adds ``WHERE version = <that>`` to the ``UPDATE``, so of two
concurrent writers of one version the second matches no row and gets :class:`StaleWrite`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.exc import StaleDataError

from schemas.config_models import Audited

Row = TypeVar("Row", bound=Audited)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who writes: the credential's tenant and subject, and the client's address."""

    tenant_id: str
    subject: str
    address: str


class NotFound(LookupError):
    """No live row with this id in the caller's tenant."""


class StaleWrite(Exception):
    """The row changed since the version the write is based on."""

    def __init__(self, current: int | None) -> None:
        super().__init__("the row changed since it was read")
        self.current = current


class Conflict(Exception):
    """The write breaks a unique rule (e.g. a second live dashboard of the same name)."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


class Entities(Generic[Row]):
    """One table's rows of one tenant."""

    def __init__(
        self,
        model: type[Row],
        key: InstrumentedAttribute[int],
        nullable: frozenset[str],
        unique_rule: str = "a unique rule",
    ) -> None:
        self.model = model
        self.key = key
        self.unique_rule = unique_rule
        """What a unique-index refusal means, in words for the client (the database's text stays here)."""
        self.nullable = nullable
        """Fields a ``PATCH`` may set to ``null``."""

    def live(self, tenant_id: str) -> Select[Row]:
        """The tenant's rows that are not deleted."""
        model: Any = self.model
        return select(self.model).where(model.tenant_id == tenant_id, model.is_deleted.is_(False))

    async def get(self, session: AsyncSession, tenant_id: str, row_id: int) -> Row:
        row = (await session.scalars(self.live(tenant_id).where(self.key == row_id))).one_or_none()
        if row is None:
            raise NotFound(row_id)
        return row

    async def page(
        self, session: AsyncSession, tenant_id: str, page: int, limit: int, *conditions: Any
    ) -> tuple[Sequence[Row], int]:
        """Page ``page`` (from 1) of the live rows matching ``conditions``, by id, and how many match."""
        query = self.live(tenant_id).where(*conditions)
        total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        ordered = query.order_by(self.key).offset((page - 1) * limit).limit(limit)
        rows: Sequence[Row] = (await session.scalars(ordered)).all()
        return rows, int(total)

    async def create(self, session: AsyncSession, actor: Actor, fields: Mapping[str, Any]) -> Row:
        model: Any = self.model
        row: Row = model(
            **fields,
            tenant_id=actor.tenant_id,
            created_by=actor.subject,
            created_ip=actor.address,
        )
        session.add(row)
        await self._flush(session, None, self.unique_rule)
        return row

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        row_id: int,
        changes: Mapping[str, Any],
        based_on: int | None,
    ) -> Row:
        """Apply ``changes`` to the live row ``row_id``, if it is still at version ``based_on`` (``None``:
        the version read now)."""
        row = await self.get(session, actor.tenant_id, row_id)
        if based_on is not None and based_on != row.version:
            raise StaleWrite(row.version)
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_by, row.updated_ip = actor.subject, actor.address
        await self._flush(session, row.version, self.unique_rule)
        return row

    async def delete(self, session: AsyncSession, actor: Actor, row_id: int, based_on: int | None) -> Row:
        """Soft delete: the row stays (audit trail) and disappears from every read."""
        return await self.update(session, actor, row_id, {"is_deleted": True, "is_active": False}, based_on)

    @staticmethod
    async def _flush(session: AsyncSession, version: int | None, unique_rule: str) -> None:
        try:
            await session.flush()
        except StaleDataError as exc:
            raise StaleWrite(version) from exc
        except IntegrityError as exc:
            raise Conflict(unique_rule) from exc
