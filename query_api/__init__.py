"""Query API: dashboards and reports read from ClickHouse rollups over HTTP (deployable on its own)."""
