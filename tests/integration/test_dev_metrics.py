"""``analytics dev`` serves on its one ``/metrics`` the gateway's, the query API's and its embedded bus's
series (group ``embedded``), the bus counting what it stored as the Kafka workers do."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.topics import Stream
from tests.conftest import ClickHouseTarget
from tests.support.auth import bearer
from tests.support.dev_app import dev_app
from tests.support.examples import example

pytestmark = pytest.mark.clickhouse


async def test_the_embedded_bus_counts_its_batches_beside_the_gateway_and_the_query_api(
    clickhouse: ClickHouseTarget,
) -> None:
    app = dev_app(clickhouse)
    event = {**example(Stream.EVENTS, "valid_minimal_page_view.json"), "user_id": "metrics_user"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dev", headers=bearer()) as http:
            for _ in range(3):
                assert (await http.post("/analytics/events", json=event)).status_code == 200
            text = (await http.get("/metrics")).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    bus = {"stream": "events", "group": "embedded"}
    assert value("analytics_worker_events_total", outcome="stored", **bus) == 3
    assert value("analytics_worker_messages_total", **bus) == 3
    assert value("analytics_worker_freshness_seconds_count", **bus) == 3
    assert value("analytics_worker_insert_rows_total", table="analytics_events") == 3
    assert value("analytics_gateway_events_accepted_total", stream="events") == 3
    assert value("analytics_worker_store_retries_total") == 0
    names = {name for name, _ in samples}
    assert "analytics_query_clickhouse_duration_seconds_count" in names
    assert not any(name.startswith("analytics_worker_consumer_lag") for name in names)  # no Kafka here
