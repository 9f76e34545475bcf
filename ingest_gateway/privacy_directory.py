"""Each tenant's privacy policy for the gateway, without a database call on the request path.

A :class:`TenantPrivacyDirectory` keeps an in-memory snapshot of every tenant's ``ip_handling`` and
``user_agent_handling`` (``tenant_settings``, saved through ``PUT /analytics/config``), re-read every
``ANALYTICS_PRIVACY_REFRESH_S`` (30 s) in a thread; a change reaches every gateway process within that
time. :meth:`~TenantPrivacyDirectory.policy_for` is synchronous and answers from memory.

Contract:
- while ClickHouse is unreachable the last good snapshot stays in use (failures are logged and counted);
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
import contextlib
import logging
import secrets
from collections.abc import Callable
from datetime import date, datetime

from clickhouse_connect.driver.client import Client

from schemas.privacy import PrivacyPolicy, PrivacySettings, day_salt, warm_up_user_agent_parser
from schemas.storage import ClientHolder
from schemas.tenant_config import IpHandling, TenantSettings, UserAgentHandling, stored_privacy

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


class TenantPrivacyDirectory:
    def __init__(
        self,
        open_client: Callable[[], Client],
        secret: bytes | None = None,
        *,
        refresh_s: float = 30.0,
        keep_user_agent: bool = True,
    ) -> None:
        """``open_client`` is called for the first read and again after a failed one; the directory owns
        (and closes) the clients it returns. ``secret``: ``ANALYTICS_PRIVACY_SECRET``; ``None`` means a
        random one for this process (logged), so ``hash`` values differ between processes and restarts."""
        if secret is None:
            log.warning(
                "ANALYTICS_PRIVACY_SECRET is not set: IP hashes use a random key of this process, so other "
                "gateway processes (and this one after a restart) hash the same address differently"
            )
            secret = secrets.token_bytes(32)
        self._secret = secret
        self._reader = ClientHolder(open_client)
        self._refresh_s = refresh_s
        self._keep_user_agent = keep_user_agent
        self._snapshot: dict[str, Choice] = {}
        self._policies: dict[tuple[str, date], PrivacyPolicy] = {}
        self._salts: dict[date, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self.loaded = False
        """Whether a snapshot was read since the process started (until then: the strictest policy)."""
        self.failures = 0
        """Failed refreshes since the process started."""

    @classmethod
    def from_settings(
        cls, settings: PrivacySettings, open_client: Callable[[], Client]
    ) -> TenantPrivacyDirectory:
        return cls(
            open_client,
            settings.secret_bytes(),
            refresh_s=settings.privacy_refresh_s,
            keep_user_agent=settings.privacy_keep_user_agent,
        )

    # ---- the request path ------------------------------------------------------------------------------

    def policy_for(self, tenant_id: str, today: date) -> PrivacyPolicy:
        """The policy of ``tenant_id``'s events received on ``today`` (UTC); from memory, ~0.1 µs."""
        key = (tenant_id, today)
        policy = self._policies.get(key)
        if policy is None:
            policy = self._build(tenant_id, today)
            if len(self._policies) >= _MAX_CACHED_POLICIES:
                self._policies.clear()
            self._policies[key] = policy
        return policy

    def _build(self, tenant_id: str, today: date) -> PrivacyPolicy:
        if isinstance(today, datetime):  # would cache (and salt) per instant instead of per day
            raise TypeError("policy_for() takes the UTC date of received_at, not a datetime")
        if not self.loaded:
            return _UNKNOWN
        ip, user_agent = self._snapshot.get(tenant_id, _DEFAULT)
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

    # ---- the snapshot ----------------------------------------------------------------------------------

    def use(self, stored: dict[str, Choice]) -> None:
        """Replace the snapshot with ``stored`` (tenant → choices); cached policies are rebuilt on demand."""
        if stored != self._snapshot or not self.loaded:
            self._snapshot = dict(stored)
            self._policies = {}
        self.loaded = True

    def _read(self) -> dict[str, Choice]:
        """Blocking: one read of ``tenant_settings`` (run in a thread)."""
        return self._reader.call(stored_privacy)

    async def refresh(self) -> bool:
        """Re-read the snapshot off the event loop; on failure keep the last one. Whether it succeeded."""
        try:
            stored = await asyncio.to_thread(self._read)
        except Exception as exc:
            self.failures += 1
            log.warning(
                "reading tenant privacy settings failed (%s: %s); %s",
                type(exc).__name__,
                exc,
                "keeping the last snapshot"
                if self.loaded
                else "no IP addresses or user agents kept until read",
            )
            return False
        self.use(stored)
        return True

    async def start(self) -> None:
        """Build the user-agent parser and read the first snapshot (a failure is tolerated, see the module
        docstring), then keep refreshing in the background until :meth:`close`."""
        await asyncio.to_thread(warm_up_user_agent_parser)
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_forever(), name="privacy-directory-refresh")

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s if self.loaded else min(self._refresh_s, _RETRY_UNLOADED_S))
            await self.refresh()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._reader.close)
