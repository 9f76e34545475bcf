"""The synthetic product's vocabulary: pages, event names, features, activities, client profiles.

Static data only, so the traffic model stays a small piece of arithmetic over these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.enums import (
    ActivityCategory,
    ActivityType,
    EventCategory,
    EventSource,
    EventType,
    Platform,
    Severity,
)

LANDING_PAGES = ("/", "/dashboard", "/marketplace", "/projects", "/login")
"""Where sessions start."""

_SECTIONS: tuple[tuple[str, int], ...] = (
    ("/projects/{}", 120),
    ("/projects/{}/editor", 120),
    ("/marketplace/items/{}", 150),
    ("/assets/{}", 80),
    ("/docs/{}", 60),
    ("/community/threads/{}", 60),
)


def page_catalog() -> tuple[str, ...]:
    """Every page, the popular fixed ones first; the model ranks them in this order (rank 1 = most viewed)."""
    fixed = (
        "/dashboard",
        "/projects",
        "/marketplace",
        "/",
        "/assets",
        "/settings",
        "/settings/profile",
        "/settings/billing",
        "/notifications",
        "/search",
        "/docs",
        "/community",
        "/login",
        "/pricing",
        "/help",
    )
    # interleave sections so the long tail mixes kinds of pages
    longest = max(count for _, count in _SECTIONS)
    tail = [
        pattern.format(number)
        for number in range(1, longest + 1)
        for pattern, count in _SECTIONS
        if number <= count
    ]
    return fixed + tuple(tail)


@dataclass(frozen=True, slots=True)
class Interaction:
    """An event a user can trigger on a page."""

    event_type: EventType
    event_name: str
    category: EventCategory


PAGE_VIEW = Interaction(EventType.USER_ACTION, "page_view", EventCategory.NAVIGATION)

SECTION_INTERACTIONS: dict[str, tuple[Interaction, ...]] = {
    "projects": (
        Interaction(EventType.USER_ACTION, "project_open", EventCategory.PROJECTS),
        Interaction(EventType.USER_ACTION, "project_save", EventCategory.PROJECTS),
        Interaction(EventType.BUSINESS_EVENT, "project_create", EventCategory.PROJECTS),
        Interaction(EventType.USER_ACTION, "button_click", EventCategory.INTERACTION),
    ),
    "marketplace": (
        Interaction(EventType.ENGAGEMENT_EVENT, "item_preview", EventCategory.MARKETPLACE),
        Interaction(EventType.BUSINESS_EVENT, "add_to_cart", EventCategory.MARKETPLACE),
        Interaction(EventType.BUSINESS_EVENT, "purchase", EventCategory.MARKETPLACE),
        Interaction(EventType.USER_ACTION, "search", EventCategory.INTERACTION),
    ),
    "assets": (
        Interaction(EventType.USER_ACTION, "asset_upload", EventCategory.ASSETS),
        Interaction(EventType.USER_ACTION, "asset_download", EventCategory.ASSETS),
        Interaction(EventType.USER_ACTION, "button_click", EventCategory.INTERACTION),
    ),
    "settings": (
        Interaction(EventType.USER_ACTION, "settings_update", EventCategory.SETTINGS),
        Interaction(EventType.USER_ACTION, "form_submit", EventCategory.INTERACTION),
    ),
    "docs": (
        Interaction(EventType.ENGAGEMENT_EVENT, "content_read", EventCategory.CONTENT),
        Interaction(EventType.ENGAGEMENT_EVENT, "video_play", EventCategory.CONTENT),
    ),
    "community": (
        Interaction(EventType.ENGAGEMENT_EVENT, "comment_post", EventCategory.CONTENT),
        Interaction(EventType.ENGAGEMENT_EVENT, "content_like", EventCategory.CONTENT),
    ),
    "other": (
        Interaction(EventType.USER_ACTION, "button_click", EventCategory.INTERACTION),
        Interaction(EventType.USER_ACTION, "search", EventCategory.INTERACTION),
    ),
}

LOGIN = Interaction(EventType.USER_ACTION, "login", EventCategory.AUTHENTICATION)
LOGOUT = Interaction(EventType.USER_ACTION, "logout", EventCategory.AUTHENTICATION)
CLIENT_ERROR = Interaction(EventType.ERROR_EVENT, "javascript_error", EventCategory.ERRORS)
SLOW_PAGE = Interaction(EventType.PERFORMANCE_EVENT, "slow_page_load", EventCategory.PERFORMANCE)


def section_of(page: str) -> str:
    head = page.split("/", 2)[1] if page != "/" else ""
    return head if head in SECTION_INTERACTIONS else "other"


FEATURES: tuple[tuple[str, str], ...] = (
    ("project_creation", "projects"),
    ("project_editor", "projects"),
    ("version_history", "projects"),
    ("asset_library", "assets"),
    ("asset_upload", "assets"),
    ("marketplace_search", "marketplace"),
    ("marketplace_checkout", "marketplace"),
    ("team_sharing", "collaboration"),
    ("comments", "collaboration"),
    ("export_pdf", "projects"),
    ("api_keys", "integration"),
    ("notifications", "settings"),
)
"""(feature_name, category), most used first."""


@dataclass(frozen=True, slots=True)
class ActivityKind:
    activity_type: ActivityType
    category: ActivityCategory
    description: str
    tags: tuple[str, ...]


ACTIVITIES: dict[Severity, tuple[ActivityKind, ...]] = {
    Severity.INFO: (
        ActivityKind(ActivityType.USER_ACTION, ActivityCategory.PROJECTS, "Created a project", ("projects",)),
        ActivityKind(ActivityType.DATA_CHANGE, ActivityCategory.ASSETS, "Uploaded an asset", ("assets",)),
        ActivityKind(ActivityType.AUTHENTICATION, ActivityCategory.ACCOUNT, "Signed in", ("auth",)),
        ActivityKind(ActivityType.USER_ACTION, ActivityCategory.COLLABORATION, "Invited a teammate", ()),
        ActivityKind(ActivityType.API_CALL, ActivityCategory.INTEGRATION, "Called the export API", ("api",)),
        ActivityKind(ActivityType.INFO, ActivityCategory.MARKETPLACE, "Purchased a marketplace item", ()),
    ),
    Severity.WARNING: (
        ActivityKind(
            ActivityType.WARNING, ActivityCategory.ASSETS, "Asset close to the size limit", ("quota",)
        ),
        ActivityKind(ActivityType.AUTHORIZATION, ActivityCategory.SECURITY, "Access denied to a project", ()),
        ActivityKind(ActivityType.WARNING, ActivityCategory.PAYMENT, "Card expires this month", ("billing",)),
    ),
    Severity.ERROR: (
        ActivityKind(ActivityType.ERROR, ActivityCategory.PROJECTS, "Project save failed", ("save",)),
        ActivityKind(ActivityType.ERROR, ActivityCategory.PAYMENT, "Payment declined", ("billing",)),
        ActivityKind(ActivityType.ERROR, ActivityCategory.INTEGRATION, "Webhook delivery failed", ("api",)),
    ),
    Severity.CRITICAL: (
        ActivityKind(ActivityType.ERROR, ActivityCategory.SYSTEM, "Data export crashed", ("export",)),
        ActivityKind(ActivityType.SYSTEM_ACTION, ActivityCategory.SECURITY, "Account locked", ("security",)),
    ),
}

SEVERITY_WEIGHTS: tuple[tuple[Severity, float], ...] = (
    (Severity.INFO, 0.86),
    (Severity.WARNING, 0.10),
    (Severity.ERROR, 0.035),
    (Severity.CRITICAL, 0.005),
)


@dataclass(frozen=True, slots=True)
class Client:
    """What a user's device sends with every event."""

    platform: Platform
    source: EventSource
    user_agent: str
    device_type: str
    slowness: float
    """Multiplier of web-vitals timings (phones are slower than desktops)."""


CLIENTS: tuple[tuple[Client, float], ...] = (
    (
        Client(
            Platform.WEB,
            EventSource.WEB_APP,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
            "desktop",
            1.0,
        ),
        0.45,
    ),
    (
        Client(
            Platform.WEB,
            EventSource.WEB_APP,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
            "desktop",
            0.9,
        ),
        0.2,
    ),
    (
        Client(
            Platform.MOBILE,
            EventSource.MOBILE_APP,
            "AnalyticsApp/3.4 (iPhone; iOS 17.5)",
            "mobile",
            1.6,
        ),
        0.2,
    ),
    (
        Client(
            Platform.TABLET,
            EventSource.MOBILE_APP,
            "AnalyticsApp/3.4 (iPad; iPadOS 17.5)",
            "tablet",
            1.3,
        ),
        0.07,
    ),
    (
        Client(
            Platform.DESKTOP, EventSource.DESKTOP_APP, "AnalyticsDesktop/2.1 (Electron 31)", "desktop", 0.8
        ),
        0.08,
    ),
)

LOCATIONS: tuple[tuple[str, str, int], ...] = (
    ("US", "New York", -5),
    ("US", "San Francisco", -8),
    ("GB", "London", 0),
    ("DE", "Berlin", 1),
    ("FR", "Paris", 1),
    ("IN", "Bangalore", 5),
    ("JP", "Tokyo", 9),
    ("BR", "São Paulo", -3),
    ("AU", "Sydney", 10),
)
"""(country, city, UTC offset in hours): the offset shifts a user's active hours."""

CONNECTIONS = ("4g", "wifi", "ethernet", "3g")
