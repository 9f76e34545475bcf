"""Each tenant's privacy policy and raw retention for the gateway, without a database call on the request
path.

A :class:`TenantPrivacyDirectory` keeps an in-memory snapshot of every tenant's ``ip_handling`` and
``user_agent_handling`` (``tenant_settings``, saved through ``PUT /analytics/config``), re-read every
``ANALYTICS_PRIVACY_REFRESH_S`` (30 s) in a thread; a change reaches every gateway process within that
time. :meth:`~TenantPrivacyDirectory.policy_for` is synchronous and answers from memory.

A second snapshot, re-read on the same schedule but on its own (so that a failure of one never holds up the
other), holds each tenant's raw retention and time zone: :meth:`~TenantPrivacyDirectory.retention_for`
tells the gateway which events the retention job would delete, so they are refused instead of acknowledged
and then lost. It fails open: until a retention snapshot was read, the longest retention a tenant may set
is assumed (only events the table TTLs would drop are refused); tenants without a row get the default
retention in the deployment's zone for them (``ANALYTICS_TENANT_TIMEZONE(S)``).

Contract:
- while ClickHouse is unreachable the last good snapshot stays in use (failures are counted, and logged
  once per run of failures; :class:`plumbing.snapshot.PeriodicSnapshot`);
- before any snapshot was read (ClickHouse down since the process started) the policy is the strictest
  one: no IP address, no raw user agent — a tenant that chose ``drop`` must never get an address stored
  because a gateway started at the wrong moment. :attr:`~TenantPrivacyDirectory.loaded` tells readiness
  probes when that phase is over;
- tenants without a stored row get ``TenantSettings``' defaults (``store``, keep the user agent);
- ``ANALYTICS_PRIVACY_KEEP_USER_AGENT=false`` drops every tenant's raw user agent;
- ``today`` is the UTC day of ``received_at``: the hash salt rotates at midnight UTC on every process.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from annotated_types import Le
from clickhouse_connect.driver.client import Client

from plumbing.clickhouse import ClientHolder
from plumbing.settings import ZoneLookup
from plumbing.snapshot import PeriodicSnapshot, in_thread
from plumbing.tenant_store import stored_privacy, stored_retentions
from privacy.policy import PrivacyPolicy, PrivacySettings, day_salt, warm_up_user_agent_parser
from schemas.event_time import RawRetention
from schemas.tenant_config import (
    DEFAULT_RAW_RETENTION_DAYS,
    IpHandling,
    Retention,
    TenantSettings,
    UserAgentHandling,
)

log = logging.getLogger(__name__)

Choice = tuple[IpHandling, UserAgentHandling]
_DEFAULT: Choice = (
    IpHandling(TenantSettings().ip_handling),
    UserAgentHandling(TenantSettings().user_agent_handling),
)
_UNKNOWN = PrivacyPolicy(IpHandling.DROP, b"", keep_user_agent=False)
"""The policy of every tenant until a snapshot was read."""
_MAX_CACHED_POLICIES = 100_000
_MAX_CACHED_SALTS = 4
_RETRY_UNLOADED_S = 5.0


def _max_raw_days() -> int:
    bounds = [m.le for m in Retention.model_fields["raw_days"].metadata if isinstance(m, Le)]
    if len(bounds) != 1 or not isinstance(bounds[0], int):
        raise RuntimeError("Retention.raw_days must declare exactly one integer upper bound (le=...)")
    return bounds[0]


_MAX_RAW_DAYS = _max_raw_days()
"""The longest raw retention a tenant may set: assumed for a tenant whose retention is not known."""


def longest_retention(zone: ZoneInfo) -> RawRetention:
    """The retention assumed when a tenant's is unknown (no snapshot yet, no directory, invalid settings):
    the longest a tenant may set, so only events no tenant keeps (the table TTLs drop them) are refused."""
    return RawRetention(_MAX_RAW_DAYS, zone)


class TenantPrivacyDirectory:
    def __init__(
        self,
        open_client: Callable[[], Client],
        secret: bytes | None = None,
        *,
        refresh_s: float = 30.0,
        keep_user_agent: bool = True,
        zones: ZoneLookup | None = None,
    ) -> None:
        """``open_client`` is called for the first read and again after a failed one; the directory owns
        (and closes) the clients it returns. ``secret``: ``ANALYTICS_PRIVACY_SECRET``; ``None`` means a
        random one for this process (logged), so ``hash`` values differ between processes and restarts.
        ``zones``: the deployment's zone of tenants without a stored one (default: UTC)."""
        if secret is None:
            log.warning(
                "ANALYTICS_PRIVACY_SECRET is not set: IP hashes use a random key of this process, so other "
                "gateway processes (and this one after a restart) hash the same address differently"
            )
            secret = secrets.token_bytes(32)
        self._secret = secret
        self._reader = ClientHolder(open_client)
        self._keep_user_agent = keep_user_agent
        self._policies: dict[tuple[str, date], PrivacyPolicy] = {}
        self._policies_of: dict[str, Choice] | None = None
        """The privacy snapshot the cached policies were built from (``None``: none yet)."""
        self._salts: dict[date, bytes] = {}
        self._zones = zones or ZoneLookup("UTC", {})
        # two snapshots, each refreshed on its own, so that a failure of one never holds up the other
        self._privacy: PeriodicSnapshot[dict[str, Choice]] = PeriodicSnapshot(
            in_thread(self._read),
            {},
            what="tenant privacy settings",
            interval_s=refresh_s,
            retry_unloaded_s=_RETRY_UNLOADED_S,
            until_loaded="no IP addresses or user agents kept until read",
            on_update=self._forget_policies,
        )
        self._retention: PeriodicSnapshot[dict[str, RawRetention | None]] = PeriodicSnapshot(
            in_thread(self._read_retention),
            {},
            what="tenants' retention",
            interval_s=refresh_s,
            retry_unloaded_s=_RETRY_UNLOADED_S,
            until_loaded="refusing no event for its age until read",
        )

    @classmethod
    def from_settings(
        cls, settings: PrivacySettings, open_client: Callable[[], Client], zones: ZoneLookup
    ) -> TenantPrivacyDirectory:
        """The directory ``settings`` (``ANALYTICS_PRIVACY_*``) configure; ``zones``: the deployment's zone
        of tenants without a stored one (the service settings' ``zone_lookup()``)."""
        return cls(
            open_client,
            settings.secret_bytes(),
            refresh_s=settings.privacy_refresh_s,
            keep_user_agent=settings.privacy_keep_user_agent,
            zones=zones,
        )

    @property
    def loaded(self) -> bool:
        """Whether a snapshot was read since the process started (until then: the strictest policy)."""
        return self._privacy.loaded

    @property
    def failures(self) -> int:
        """Failed refreshes since the process started."""
        return self._privacy.failures

    @property
    def retention_loaded(self) -> bool:
        """Whether tenants' retention was read since the process started (until then: the longest)."""
        return self._retention.loaded

    @property
    def retention_failures(self) -> int:
        """Failed reads of tenants' retention since the process started."""
        return self._retention.failures

    # ---- the request path ------------------------------------------------------------------------------

    def policy_for(self, tenant_id: str, today: date) -> PrivacyPolicy:
        """The policy of ``tenant_id``'s events received on ``today`` (UTC), from memory."""
        key = (tenant_id, today)
        policy = self._policies.get(key)
        if policy is None:
            policy = self._build(tenant_id, today)
            if len(self._policies) >= _MAX_CACHED_POLICIES:
                self._policies.clear()
            self._policies[key] = policy
        return policy

    def retention_for(self, tenant_id: str) -> RawRetention:
        """``tenant_id``'s raw retention and zone, from memory (see the module docstring for the defaults)."""
        retention = self._retention.value
        if tenant_id in retention:
            stored = retention[tenant_id]
            return stored if stored is not None else longest_retention(self._zones(tenant_id))
        if not self._retention.loaded:
            return longest_retention(self._zones(tenant_id))
        return RawRetention(DEFAULT_RAW_RETENTION_DAYS, self._zones(tenant_id))

    def _build(self, tenant_id: str, today: date) -> PrivacyPolicy:
        if isinstance(today, datetime):  # would cache (and salt) per instant instead of per day
            raise TypeError("policy_for() takes the UTC date of received_at, not a datetime")
        if not self._privacy.loaded:
            return _UNKNOWN
        ip, user_agent = self._privacy.value.get(tenant_id, _DEFAULT)
        keep = self._keep_user_agent and user_agent == UserAgentHandling.KEEP
        salt = self._salt(today) if ip == IpHandling.HASH else b""
        return PrivacyPolicy(ip, salt, keep_user_agent=keep)

    def _salt(self, today: date) -> bytes:
        salt = self._salts.get(today)
        if salt is None:
            if len(self._salts) >= _MAX_CACHED_SALTS:
                self._salts.clear()
            salt = self._salts[today] = day_salt(self._secret, today)
        return salt

    # ---- the snapshots ---------------------------------------------------------------------------------

    def use(self, stored: dict[str, Choice]) -> None:
        """Replace the snapshot with ``stored`` (tenant → choices); cached policies are rebuilt on demand."""
        self._privacy.use(dict(stored))

    def use_retention(self, stored: dict[str, RawRetention | None]) -> None:
        """Replace the retention snapshot with ``stored`` (tenant → raw retention and zone in force; ``None``:
        unknown, nothing refused for its age but what the table TTLs drop)."""
        self._retention.use(dict(stored))

    def _forget_policies(self, stored: dict[str, Choice]) -> None:
        """Drop the cached policies when the choices they were built from change (or were not read)."""
        if stored != self._policies_of:
            self._policies = {}
            self._policies_of = stored

    def _read(self) -> dict[str, Choice]:
        """Blocking: one read of ``tenant_settings`` (run in a thread)."""
        return self._reader.call(stored_privacy)

    def _read_retention(self) -> dict[str, RawRetention | None]:
        """Blocking: each stored tenant's raw retention in force now and zone (run in a thread)."""
        now = datetime.now(UTC)
        return self._reader.call(lambda client: stored_raw_retention(client, now))

    async def refresh(self) -> bool:
        """Re-read the snapshots off the event loop; on failure keep the last ones. Whether the privacy
        snapshot was read (a failed retention read is counted in ``retention_failures``)."""
        await self._retention.refresh()
        return await self._privacy.refresh()

    async def start(self) -> None:
        """Build the user-agent parser and read the first snapshots (a failure is tolerated, see the module
        docstring), then keep refreshing them in the background until :meth:`close`: every ``refresh_s``,
        every 5 s at most while a snapshot was never read."""
        await asyncio.to_thread(warm_up_user_agent_parser)
        await self._retention.start()
        await self._privacy.start()

    async def close(self) -> None:
        await self._retention.stop()
        await self._privacy.stop()
        await asyncio.to_thread(self._reader.close)


def stored_raw_retention(client: Client, now: datetime) -> dict[str, RawRetention | None]:
    """Every stored tenant's raw retention *in force* at ``now`` (as the retention job applies it: a
    shortening only once its grace period has passed, :func:`schemas.retention_schedule.retention_in_force`)
    and zone. ``None`` for a tenant whose stored settings or pending shortenings fail validation: the job
    keeps all of its data, so the gateway refuses nothing for its age but what the table TTLs drop."""
    retentions, invalid = stored_retentions(client, now)
    stored: dict[str, RawRetention | None] = dict.fromkeys(invalid)
    for name, retention in retentions.items():
        try:
            stored[name] = RawRetention(retention.in_force.raw_days, ZoneInfo(retention.zone))
        except (ValueError, ZoneInfoNotFoundError) as exc:
            log.warning("tenant %s: stored zone not usable (%s)", name, exc)
            stored[name] = None
    return stored
