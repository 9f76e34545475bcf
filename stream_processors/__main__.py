"""``python -m stream_processors worker --agents raw,rollups``: run agent groups in one worker process.

Each agent group is its own Faust app and consumer group, so operators can run ``--agents raw`` and
``--agents rollups`` as separate deployments and scale each with more processes.

Shutdown is bounded (:mod:`plumbing.shutdown`): Faust stops its agents and commits what they acknowledged;
an agent still retrying a batch the store does not take is abandoned at the deadline. That is safe:
its offsets were not committed, so the batch is delivered again and its intent re-formed on restart.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from faust.worker import Worker

from plumbing.clickhouse import open_client
from plumbing.gc_tuning import WORKER_YOUNG_THRESHOLD, tune_for_service
from plumbing.kafka_admin import ensure_topics
from plumbing.logs import configure_logging, faust_logging_config
from plumbing.settings import load_settings
from plumbing.shutdown import ShutdownSettings, ShutdownWatchdog
from plumbing.storage import Storage
from schemas.topics import registry
from stream_processors.app import build_app, consumer_group
from stream_processors.dead_letters import KafkaDeadLetters
from stream_processors.metrics import WorkerMetrics
from stream_processors.operations import GroupWatch, OperationsServer
from stream_processors.pipeline import AgentGroup
from stream_processors.settings import WorkerSettings

log = logging.getLogger(__name__)

ABANDONS = "batches not yet stored (their offsets are not committed: delivered again on restart)"


class BoundedWorker(Worker):
    """Faust's worker, with the watchdog armed by the signal that starts its graceful stop."""

    def __init__(self, *services: Any, watchdog: ShutdownWatchdog, **options: Any) -> None:
        super().__init__(*services, **options)
        self.watchdog = watchdog

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """Logging is plumbing.logs' (passed as ``logging_config``): no progress spinner. At WARNING and
        above Faust would add its handler, turn the root logger to DEBUG and write cursor codes to
        standard output even off a terminal."""
        self.spinner = None

    def _on_sigterm(self) -> None:
        self.watchdog.on_signal(signal.SIGTERM)
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self.watchdog.on_signal(signal.SIGINT)
        super()._on_sigint()


def parse_groups(text: str) -> list[AgentGroup]:
    groups = []
    for name in (part.strip() for part in text.split(",")):
        try:
            groups.append(AgentGroup(name))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"unknown agent group {name!r}; choose from {', '.join(g.value for g in AgentGroup)}"
            ) from None
    if not groups:
        raise argparse.ArgumentTypeError("name at least one agent group")
    return list(dict.fromkeys(groups))


def run_worker(groups: Sequence[AgentGroup], settings: WorkerSettings | None = None) -> int:
    """Run ``groups`` until a signal stops them; ``settings`` default to the process's own
    (:func:`plumbing.settings.load_settings`)."""
    settings = settings or load_settings(WorkerSettings)
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(ensure_topics(settings.kafka_bootstrap, list(registry(settings.topic_prefix).values())))
    storage = Storage(
        lambda: open_client(settings.clickhouse_url, settings.clickhouse_database),
        settings.retry_max_s,
        connections=settings.worker_store_connections,
    )
    dead_letters = KafkaDeadLetters(settings.kafka_bootstrap)
    metrics = WorkerMetrics()
    metrics.count_store_retries(lambda: storage.failures)
    apps, watches = [], []
    for group in groups:
        app, handlers = build_app(settings, group, storage, dead_letters, metrics)
        apps.append(app)
        watches.append(
            GroupWatch(app, group.value, consumer_group(settings, group), list(handlers.values()), metrics)
        )
    operations = OperationsServer(
        watches, metrics, settings.worker_metrics_host, settings.worker_metrics_port, settings.kafka_bootstrap
    )
    worker = BoundedWorker(
        *apps,
        operations,
        watchdog=ShutdownWatchdog.from_settings(load_settings(ShutdownSettings), "worker", ABANDONS),
        loglevel=settings.log_level.lower(),
        logging_config=faust_logging_config(settings.log_level, settings.log_format),
        quiet=True,
        redirect_stdouts=False,
    )
    log.info("worker starting agent groups %s", ", ".join(g.value for g in groups))
    tune_for_service(WORKER_YOUNG_THRESHOLD)
    worker.execute_from_commandline()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream_processors")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run agent groups")
    worker.add_argument(
        "--agents", type=parse_groups, default=list(AgentGroup), help="raw,rollups (any subset)"
    )
    args = parser.parse_args(argv)
    return run_worker(args.agents)


if __name__ == "__main__":
    sys.exit(main())
