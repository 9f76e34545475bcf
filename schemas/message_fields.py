"""The fields the gateway stamps on every Kafka message, shared by the product's message models
(:mod:`schemas.messages`) and the learning platform's (:mod:`schemas.lms_messages`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.event_time import StoredTime
from schemas.topics import SCHEMA_VERSION

SCHEMA_VERSION_HEADER = "schema_version"
HASHED_IP_PREFIX = "h:"
HASHED_IP_HEX_DIGITS = 32
HashedIPAddress = Annotated[str, Field(pattern=rf"^{HASHED_IP_PREFIX}[0-9a-f]{{{HASHED_IP_HEX_DIGITS}}}$")]
"""The gateway's keyed hash of an address (``ip_handling: hash``, :func:`privacy.policy.hash_ip`)."""
ClientField = Annotated[str, Field(max_length=64)]


SentAt = AwareDatetime | None
"""``sent_at`` as stored: informational (no bucket), so not range-checked on messages, and rows stored before
the gateway checked it (e.g. ``sent_at: 0``) still read back (rollup rebuilds)."""


class _ServerFields(BaseModel):
    """Fields the gateway stamps on every message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(min_length=1, max_length=64)
    id: UUID
    received_at: StoredTime
    time_clamped: bool = False
    client_keyed: bool = False
    """The id came from the client (``id`` or ``Idempotency-Key``): a retry of the event carries it again."""
    schema_version: int = SCHEMA_VERSION
