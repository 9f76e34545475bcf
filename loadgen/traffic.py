"""The traffic model: what a population of users does, as request bodies of every stream. Pure and seeded.

Users (a few heavy, many light) open sessions; a session walks pages drawn from a Zipf-like long tail
(a handful of pages get most views), each page view followed by interactions of that page's section,
sometimes a web-vitals report, rarely an activity log entry (mostly ``info``) or a client error. A
user's first session of a day also sends that day's usage summary, so usage is once per user-day.

With ``history_days`` every body carries a backdated event time (``timestamp``; ``date`` for usage)
drawn over that many days before ``now``, weighted by the user's local hour and weekday, so rollups
span weeks. Without it the bodies carry no time and the gateway stamps the receive time.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

from loadgen import catalog
from loadgen.vitals import draw_vitals
from schemas.enums import Severity
from schemas.topics import Stream

ZIPF_EXPONENT = 1.1
"""Page popularity ~ 1 / rank**s: the top page gets ~20% of views, half the pages share ~5%."""
DAY_S = 86_400.0

# Relative activity by local hour (0-23): quiet nights, a morning ramp, busy office hours, an evening tail.
_HOURLY = (
    0.08, 0.05, 0.04, 0.04, 0.05, 0.08, 0.18, 0.35, 0.6, 0.85, 1.0, 1.0,
    0.9, 0.95, 1.0, 0.95, 0.85, 0.7, 0.55, 0.5, 0.45, 0.35, 0.22, 0.12,
)  # fmt: skip
_WEEKEND = 0.55
VITALS_SAMPLE = 0.2
"""Share of page views that report web vitals (real-user monitoring samples page loads)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One request body of one stream (an ``events`` item may share a batch request with others)."""

    stream: Stream
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    client: catalog.Client
    ip_address: str
    location: dict[str, str]
    utc_offset_h: int
    signup_days_ago: int


class _Weighted:
    """Draws indices by fixed weights in O(log n) with one random number."""

    def __init__(self, weights: Sequence[float]) -> None:
        self._cumulative = list(accumulate(weights))
        self._total = self._cumulative[-1]

    def draw(self, rng: random.Random) -> int:
        return min(bisect(self._cumulative, rng.random() * self._total), len(self._cumulative) - 1)


def zipf_weights(count: int, exponent: float = ZIPF_EXPONENT) -> list[float]:
    return [1.0 / rank**exponent for rank in range(1, count + 1)]


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


class TrafficModel:
    """An endless, deterministic (for a given ``seed`` and ``now``) stream of :class:`Item`."""

    def __init__(
        self,
        *,
        seed: int = 0,
        users: int = 100,
        history_days: float = 0.0,
        now: datetime | None = None,
        streams: frozenset[Stream] = frozenset(Stream),
        user_prefix: str = "user_",
    ) -> None:
        if users < 1:
            raise ValueError("users must be at least 1")
        if history_days < 0:
            raise ValueError("history_days must not be negative")
        self._rng = rng = random.Random(seed)
        self._history_s = history_days * DAY_S
        self._now = (now or datetime.now(UTC)).timestamp()
        self._streams = streams
        self.pages = catalog.page_catalog()
        self._page_draw = _Weighted(zipf_weights(len(self.pages)))
        self._page_slowness = [rng.lognormvariate(0.0, 0.3) for _ in self.pages]
        self._page_index = {page: index for index, page in enumerate(self.pages)}
        self._client_draw = _Weighted([weight for _, weight in catalog.CLIENTS])
        self._severity_draw = _Weighted([weight for _, weight in catalog.SEVERITY_WEIGHTS])
        self._feature_draw = _Weighted(zipf_weights(len(catalog.FEATURES), 0.8))
        self.users = [self._new_user(f"{user_prefix}{number}") for number in range(1, users + 1)]
        # a few heavy users, many light ones (activity ~ 1 / rank**0.9), in random order
        weights = zipf_weights(users, 0.9)
        rng.shuffle(weights)
        self._user_draw = _Weighted(weights)
        self._usage_sent: set[tuple[int, str]] = set()

    def _new_user(self, user_id: str) -> User:
        rng = self._rng
        client = catalog.CLIENTS[self._client_draw.draw(rng)][0]
        country, city, offset = rng.choice(catalog.LOCATIONS)
        ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        location = {"country": country, "city": city}
        return User(user_id, client, ip, location, offset, rng.randrange(1, 720))

    def items(self) -> Iterator[Item]:
        while True:
            yield from self.session()

    def _session_start(self, user: User) -> float | None:
        """A backdated start, weighted by the user's local hour and weekday; None for live traffic."""
        if not self._history_s:
            return None
        rng = self._rng
        while True:
            start = self._now - rng.random() * self._history_s
            local = start + user.utc_offset_h * 3600
            weight = _HOURLY[int(local % DAY_S) // 3600]
            if (int(local // DAY_S) + 3) % 7 >= 5:  # 1970-01-01 was a Thursday (weekday 3)
                weight *= _WEEKEND
            if rng.random() < weight:
                return start

    def session(self) -> list[Item]:
        """Every item of one session of the selected streams, in time order.

        Every stream is drawn and only the selected ones are kept, so the same seed gives the same
        sessions whatever ``streams`` is: runs for different streams describe one population.
        """
        items = self._all_streams_session()
        if len(self._streams) == len(Stream):
            return items
        return [item for item in items if item.stream in self._streams]

    def _all_streams_session(self) -> list[Item]:
        rng = self._rng
        user_index = self._user_draw.draw(rng)
        user = self.users[user_index]
        start = self._session_start(user)
        clock = [start]
        session_id = f"sess_{rng.getrandbits(64):016x}"
        items: list[Item] = []

        def at() -> float | None:
            """The current event time, advanced by a think time first."""
            if clock[0] is None:
                return None
            clock[0] = min(self._now, clock[0] + rng.expovariate(1 / 20.0))
            return clock[0]

        day = (
            _iso(start)[:10]
            if start is not None
            else datetime.fromtimestamp(self._now, UTC).date().isoformat()
        )
        if (user_index, day) not in self._usage_sent:
            self._usage_sent.add((user_index, day))
            items.append(Item(Stream.USAGE, self._usage(user, day, start)))
        if rng.random() < 0.3:
            items.append(self._event(user, session_id, catalog.LOGIN, {"method": "password"}, at()))
        page = catalog.LANDING_PAGES[min(int(rng.expovariate(0.9)), len(catalog.LANDING_PAGES) - 1)]
        referrer = "https://www.google.com/" if rng.random() < 0.4 else ""
        for _ in range(1 + min(int(rng.expovariate(1 / 5.0)), 60)):
            when = at()
            properties = {"page": page, "referrer": referrer}
            items.append(self._event(user, session_id, catalog.PAGE_VIEW, properties, when))
            if rng.random() < VITALS_SAMPLE:
                vitals = self._performance(user, session_id, page, when)
                items.append(Item(Stream.PERFORMANCE, vitals))
                if vitals["page_load_time"] > 6_000:
                    load = {"page": page, "page_load_time": vitals["page_load_time"]}
                    items.append(self._event(user, session_id, catalog.SLOW_PAGE, load, when))
            choices = catalog.SECTION_INTERACTIONS[catalog.section_of(page)]
            for _ in range(min(int(rng.expovariate(1 / 1.3)), 12)):
                interaction = choices[min(int(rng.expovariate(1.2)), len(choices) - 1)]
                properties = {"page": page, "element": f"{interaction.event_name}_{rng.randrange(8)}"}
                items.append(self._event(user, session_id, interaction, properties, at()))
            if rng.random() < 0.01:
                error = {"page": page, "message": "TypeError: cannot read properties of undefined"}
                items.append(self._event(user, session_id, catalog.CLIENT_ERROR, error, at()))
            if rng.random() < 0.05:
                items.append(Item(Stream.ACTIVITIES, self._activity(user, session_id, page, at())))
            referrer = page
            page = self.pages[self._page_draw.draw(rng)]
        if rng.random() < 0.15:
            items.append(self._event(user, session_id, catalog.LOGOUT, {}, at()))
        return items

    def _event(
        self,
        user: User,
        session_id: str,
        what: catalog.Interaction,
        properties: dict[str, Any],
        when: float | None,
    ) -> Item:
        client = user.client
        body: dict[str, Any] = {
            "user_id": user.user_id,
            "session_id": session_id,
            "event_type": what.event_type.value,
            "event_name": what.event_name,
            "event_category": what.category.value,
            "properties": properties,
            "source": client.source.value,
            "platform": client.platform.value,
            "user_agent": client.user_agent,
            "ip_address": user.ip_address,
            "location": user.location,
        }
        if when is not None:
            body["timestamp"] = _iso(when)
        return Item(Stream.EVENTS, body)

    def _performance(self, user: User, session_id: str, page: str, when: float | None) -> dict[str, Any]:
        rng = self._rng
        client = user.client
        body: dict[str, Any] = {
            "user_id": user.user_id,
            "session_id": session_id,
            "page": page,
            **draw_vitals(rng, client.slowness * self._page_slowness[self._page_index[page]]),
            "network_info": {"effective_type": catalog.CONNECTIONS[min(int(rng.expovariate(1.0)), 3)]},
            "device_info": {"device_type": client.device_type},
        }
        if when is not None:
            body["timestamp"] = _iso(when)
        return body

    def _activity(self, user: User, session_id: str, page: str, when: float | None) -> dict[str, Any]:
        rng = self._rng
        severity, _ = catalog.SEVERITY_WEIGHTS[self._severity_draw.draw(rng)]
        kind = rng.choice(catalog.ACTIVITIES[Severity(severity)])
        body: dict[str, Any] = {
            "user_id": user.user_id,
            "session_id": session_id,
            "activity_type": kind.activity_type.value,
            "activity_category": kind.category.value,
            "description": kind.description,
            "details": {"page": page},
            "metadata": {"ip_address": user.ip_address, "platform": user.client.platform.value},
            "severity": severity.value,
            "tags": list(kind.tags),
        }
        if when is not None:
            body["timestamp"] = _iso(when)
        return body

    def _usage(self, user: User, day: str, start: float | None) -> dict[str, Any]:
        rng = self._rng
        sessions = 1 + min(int(rng.expovariate(1 / 1.5)), 20)
        average = min(4 * 3600, int(rng.lognormvariate(math.log(600), 0.8)))
        page_views = sum(1 + int(rng.expovariate(1 / 5.0)) for _ in range(sessions))
        unique = max(1, min(page_views, int(page_views * rng.uniform(0.3, 0.9))))
        last_used = _iso(start) if start is not None else _iso(self._now)
        features: dict[int, dict[str, Any]] = {}
        for _ in range(1 + min(int(rng.expovariate(1 / 2.0)), 8)):
            index = self._feature_draw.draw(rng)
            name, category = catalog.FEATURES[index]
            features.setdefault(
                index,
                {
                    "feature_name": name,
                    "category": category,
                    "usage_count": 1 + int(rng.expovariate(1 / 3.0)),
                    "total_time_spent": min(average * sessions, int(rng.lognormvariate(math.log(120), 1.0))),
                    "last_used": last_used,
                    "proficiency_score": round(rng.betavariate(2, 2), 2),
                },
            )
        engagement = min(100.0, 12.0 * math.log1p(page_views) + 4.0 * len(features) + rng.uniform(0, 10))
        days_since_signup = user.signup_days_ago
        if start is not None:  # the summary of an earlier day: the user was younger then
            days_since_signup = max(0, days_since_signup - int((self._now - start) // DAY_S))
        flow = [
            {"step_number": step, "page_path": self.pages[self._page_draw.draw(rng)], "action": "page_view"}
            for step in range(1, min(unique, 5) + 1)
        ]
        return {
            "user_id": user.user_id,
            "date": day,
            "session_count": sessions,
            "total_session_duration": average * sessions,
            "average_session_duration": average,
            "page_views": page_views,
            "unique_pages_visited": unique,
            "features_used": list(features.values()),
            "engagement_score": round(engagement, 2),
            "retention_data": {
                "is_new_user": days_since_signup < 7,
                "days_since_signup": days_since_signup,
                "churn_risk_score": round(rng.betavariate(1.5, 6), 2),
            },
            "user_flow": flow,
        }
