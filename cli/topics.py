"""``analytics topics``: create every stream's topic and dead-letter topic on Kafka (those missing only)."""

from __future__ import annotations

import argparse
import asyncio

from plumbing.settings import CommonSettings, load_settings


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``topics [--bootstrap HOSTS] [--partitions N] [--replication-factor N]``; sets ``handler``."""
    parser = subparsers.add_parser("topics", help="create the stream and dead-letter topics on Kafka")
    parser.add_argument("--bootstrap", help="overrides ANALYTICS_KAFKA_BOOTSTRAP")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.set_defaults(handler=_cmd_topics)


def _cmd_topics(args: argparse.Namespace) -> int:
    from plumbing.kafka_admin import ensure_topics
    from schemas.topics import registry

    settings = load_settings(CommonSettings)
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    specs = list(registry(settings.topic_prefix, args.partitions).values())
    created = asyncio.run(ensure_topics(bootstrap, specs, args.replication_factor))
    for name in created:
        print(f"created {name}")
    print(f"{len(specs) * 2} topics present on {bootstrap} ({len(created)} created now)")
    return 0
