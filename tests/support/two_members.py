"""Test helper: two consumer-group members of the ``rollups`` agent group in one process sharing one
storage — what two worker processes on a ClickHouse server are, for chDB, whose data directory one process
owns. Run as ``python -m tests.support.two_members``; configured by the usual ``ANALYTICS_*`` variables."""

from __future__ import annotations

import asyncio
import sys

from faust.worker import Worker

from plumbing.clickhouse import open_client
from plumbing.kafka_admin import ensure_topics
from plumbing.storage import Storage
from schemas.topics import registry
from stream_processors.app import build_app
from stream_processors.dead_letters import KafkaDeadLetters
from stream_processors.pipeline import AgentGroup
from stream_processors.settings import WorkerSettings


def main() -> int:
    settings = WorkerSettings()
    asyncio.run(ensure_topics(settings.kafka_bootstrap, list(registry(settings.topic_prefix).values())))
    storage = Storage(lambda: open_client(settings.clickhouse_url, settings.clickhouse_database))
    dead_letters = KafkaDeadLetters(settings.kafka_bootstrap)
    first = build_app(settings, AgentGroup.ROLLUPS, storage, dead_letters)[0]
    second_settings = settings.model_copy(update={"worker_data_dir": f"{settings.worker_data_dir}-b"})
    second = build_app(second_settings, AgentGroup.ROLLUPS, storage, dead_letters)[0]
    Worker(first, second, loglevel="warning", quiet=True, redirect_stdouts=False).execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
